"""The request for the next page of a column list, whatever pager the CMS draws.

Styles, tried in this order because the earlier ones are unambiguous when present:
0. Fujian's provincial platform (TRS "动静结合", Avalon `listModel`): the first `maxStaticIndex` pages are in the
   column page, the rest come from its list API (`POST /fjdzapp/search`, JSON), page by page.
1. Hanweb 大汉 jcms: records in a <datastore>, further groups fetched by POST from dataproxy.jsp.
2. TRS WCM: `createPageHTML(countPage, currentPage, "index", "html")`, pages index.html, index_1.html…
3. Links: 下一页 / 下页 / > / » (by text, title, class "next"), or an onclick location.
4. Numbered pagers: the link whose text is the current page number plus one (?page=N, list_N.html).
Every answer differs from the current page (loop guard) and None means "last page".
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit

from lxml import html as lxml_html


@dataclass(frozen=True)
class PageRequest:
    url: str
    method: str = "GET"
    formdata: tuple[tuple[str, str], ...] = ()   # POST form fields, in order


@dataclass(frozen=True)
class HanwebConfig:
    """The jpage pager settings, only present on a Hanweb column's first page."""
    proxy_url: str = "/module/web/jpage/dataproxy.jsp"
    per_page: int = 15
    group_size: int = 3
    total_record: int | None = None
    params: tuple[tuple[str, str], ...] = field(default=())   # the ajaxParam form fields


# --- Hanweb -------------------------------------------------------------------------------------

_JPAGE_RE = re.compile(r"\.jpage\s*\(\s*\{(.*?)\}\s*\)", re.S)
_AJAX_RE = re.compile(r"['\"]?ajaxParam['\"]?\s*:\s*\{(.*?)\}", re.S)
_PAIR_RE = re.compile(r"""['"]?([A-Za-z_]\w*)['"]?\s*:\s*(?:'([^']*)'|"([^"]*)"|([^,}\s]+))""")
_RECORD_RE = re.compile(r"<record\b[^>]*>", re.I)
_NEXTGROUP_RE = re.compile(r"<nextgroup>\s*(?:<!\[CDATA\[)?.*?href=['\"]([^'\"]+)", re.I | re.S)
_TOTAL_TAG_RE = re.compile(r"<totalrecord>\s*(\d+)\s*</totalrecord>", re.I)
# Fields the dataproxy expects when the page carries no jpage config (read from the nextgroup href).
_HANWEB_FIELDS = ("col", "appid", "webid", "path", "columnid", "sourceContentType", "unitid", "webname",
                  "permissiontype")


def _pairs(body: str) -> list[tuple[str, str]]:
    return [(m.group(1), next(g for g in m.groups()[1:] if g is not None)) for m in _PAIR_RE.finditer(body)]


def _int(value: str | None, default: int | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def hanweb_config(html: str) -> HanwebConfig | None:
    """The Hanweb jpage settings of a first page, or None when the page is not a Hanweb list."""
    if "<datastore" not in html.lower() and ".jpage" not in html:
        return None
    cfg: dict[str, str] = {}
    params: tuple[tuple[str, str], ...] = ()
    m = _JPAGE_RE.search(html)
    if m:
        body = m.group(1) + "}"
        ajax = _AJAX_RE.search(body)
        if ajax:
            params = tuple(_pairs(ajax.group(1)))
            body = body[:ajax.start()] + body[ajax.end():]
        cfg = {k.lower(): v for k, v in _pairs(body)}
    if not params:
        ng = _NEXTGROUP_RE.search(html)
        if ng:
            query = dict(parse_qsl(urlsplit(ng.group(1).replace("&amp;", "&")).query, keep_blank_values=True))
            params = tuple((k, query[k]) for k in _HANWEB_FIELDS if k in query)
    total = _int(cfg.get("totalrecord"), None)
    if total is None:
        tag = _TOTAL_TAG_RE.search(html)
        total = int(tag.group(1)) if tag else None
    if not m and not params:
        return None
    return HanwebConfig(
        proxy_url=cfg.get("proxyurl") or HanwebConfig.proxy_url,
        per_page=_int(cfg.get("perpage"), 15) or 15,
        group_size=_int(cfg.get("groupsize"), 3) or 3,
        total_record=total,
        params=params,
    )


def _hanweb_next(html: str, page_url: str, formdata: tuple[tuple[str, str], ...],
                 hanweb: HanwebConfig | None, first_page_url: str | None) -> PageRequest | None:
    query = dict(parse_qsl(urlsplit(page_url).query))
    records = len(_RECORD_RE.findall(html))
    tag = _TOTAL_TAG_RE.search(html)
    if hanweb is None:
        hanweb = hanweb_config(html)
    total = hanweb.total_record if hanweb else None
    if tag:
        total = int(tag.group(1))
    if "startrecord" in query and "endrecord" in query:
        # A dataproxy response: the next group follows the previous request's endrecord.
        start, end = _int(query["startrecord"], 1) or 1, _int(query["endrecord"], 0) or 0
        span = end - start + 1
        per_page = _int(query.get("perpage"), None) or (hanweb.per_page if hanweb else 15)
        proxy = page_url.split("?", 1)[0]
        if records < span:   # a short (or empty) group is the last one
            return None
        start, end = end + 1, end + span
    else:
        if hanweb is None:
            return None
        span = hanweb.per_page * hanweb.group_size
        per_page = hanweb.per_page
        proxy = urljoin(first_page_url or page_url, hanweb.proxy_url)
        if records < span:   # the first page already holds every record
            return None
        start, end = span + 1, 2 * span
    if total is not None and start > total:
        return None
    params = formdata or (hanweb.params if hanweb else ())
    url = f"{proxy}?{urlencode({'startrecord': start, 'endrecord': end, 'perpage': per_page})}"
    return PageRequest(url=url, method="POST", formdata=tuple((str(k), str(v)) for k, v in params))


# --- Fujian provincial platform (TRS 动静结合 + Avalon listModel) ---------------------------------------

@dataclass(frozen=True)
class PlatformConfig:
    """A "动静结合" list: static pages in the column page, then the list API from page static_pages + 1."""
    api_url: str                        # absolute, resolved against the column page
    static_pages: int                   # maxStaticIndex
    per_page: int                       # prepage
    record_count: int | None            # recordCount as the page states it
    args: tuple[tuple[str, str], ...]   # listArgs form fields (channelid, classsql, sortfield)
    offsite: bool = False               # the API lives on another host: never followed


_OBJECT_RE = r"\b{name}\s*=\s*\{{([^{{}}]*)\}}"
_LISTMODEL_RE = re.compile(r"\blistModel\s*\(\s*\{(.*?)\}\s*\)\s*;?", re.S)
_DEFAULT_PLATFORM_API = "/fjdzapp/search"


def _js_object(html: str, name: str) -> dict[str, str]:
    """The flat `var name = {k: v, …}` literal of a page script (values as written, quotes removed)."""
    m = re.search(_OBJECT_RE.format(name=re.escape(name)), html)
    return dict(_pairs(m.group(1))) if m else {}


def _nested(body: str, key: str) -> dict[str, str]:
    m = re.search(rf"\b{key}\s*:\s*\{{([^{{}}]*)\}}", body)
    return dict(_pairs(m.group(1))) if m else {}


def _resolve(value: str | None, scope: dict[str, dict[str, str]]) -> str | None:
    """`SiteInfo.searchId` → the value in that object; literals stay as they are."""
    if value is None:
        return None
    m = re.fullmatch(r"([A-Za-z_$][\w$]*)\.([A-Za-z_$][\w$]*)", value.strip())
    if m and m.group(1) in scope:
        return scope[m.group(1)].get(m.group(2))
    return value


def platform_config(html: str, page_url: str) -> PlatformConfig | None:
    """The list API settings of a platform column page (pageChnlInfo, SiteInfo, listModel), or None."""
    if "pageChnlInfo" not in html and "listModel" not in html:
        return None
    info, site = _js_object(html, "pageChnlInfo"), _js_object(html, "SiteInfo")
    model = _LISTMODEL_RE.search(html)
    body = model.group(1) if model else ""
    api, args, bar = _nested(body, "listApi"), _nested(body, "listArgs"), _nested(body, "pagebar")
    if not info and not api:
        return None
    scope = {"pageChnlInfo": info, "SiteInfo": site}
    url = _resolve(api.get("url"), scope)
    if url is None:
        if "动静" not in info.get("quickMode", ""):
            return None
        url = _DEFAULT_PLATFORM_API   # the platform's standard API when the page names none
    if not args:
        args = {"channelid": "SiteInfo.searchId", "classsql": "pageChnlInfo.classsql",
                "sortfield": "pageChnlInfo.sortfield"}
    fields = tuple((k, v) for k, v in ((k, _resolve(v, scope)) for k, v in args.items()) if v is not None)

    def number(key: str) -> int | None:
        return _int(_resolve(bar.get(key), scope), None) if key in bar else _int(info.get(key), None)

    api_url = _clean(urljoin(page_url, url))
    return PlatformConfig(api_url=api_url, static_pages=max(number("maxStaticIndex") or 1, 1),
                          per_page=number("prepage") or 15, record_count=number("recordCount"), args=fields,
                          offsite=urlsplit(api_url).netloc != urlsplit(page_url).netloc)


def platform_request(cfg: PlatformConfig, page: int) -> PageRequest:
    return PageRequest(cfg.api_url, "POST", (*cfg.args, ("page", str(page)), ("prepage", str(cfg.per_page))))


def _platform_next(text: str, page_url: str, formdata: tuple[tuple[str, str], ...],
                   cfg: PlatformConfig) -> PageRequest | None:
    if cfg.offsite:
        return None
    current = _int(dict(formdata).get("page"), None) if _clean(page_url) == cfg.api_url else None
    if current is None:   # the column page: its static pages are read, the API takes over after them
        if cfg.record_count is not None and math.ceil(cfg.record_count / cfg.per_page) <= cfg.static_pages:
            return None
        return platform_request(cfg, cfg.static_pages + 1)
    try:
        answer = json.loads(text)
    except ValueError:
        return None
    data = answer.get("data") if isinstance(answer, dict) else None
    if not data:
        return None
    count = _int(answer.get("pageCount"), None)
    if (count is not None and current >= count) or (count is None and len(data) < cfg.per_page):
        return None
    return platform_request(cfg, current + 1)


# --- stated totals -------------------------------------------------------------------------------

_STATED_SCRIPT = re.compile(r"""\b(?:recordCount|totalRecord)['"]?\s*[:=]\s*['"]?(\d+)""", re.I)
_STATED_TEXT = re.compile(r"共\s*(\d+)\s*条")
_ANCHOR_RE = re.compile(r"<a\b[^>]*>.*?</a>", re.I | re.S)
_TAG_RE = re.compile(r"<[^>]+>")


def stated_total(html: str) -> int | None:
    """The number of posts a column page says it holds: pageChnlInfo recordCount, jpage totalRecord or
    <totalrecord>, or a visible 共N条 / 共 N 条记录 (titles excluded); None when the page states none."""
    if not html:
        return None
    for pattern in (_STATED_SCRIPT, _TOTAL_TAG_RE):
        m = pattern.search(html)
        if m:
            return int(m.group(1))
    visible = _TAG_RE.sub("", _ANCHOR_RE.sub(" ", re.sub(r"<script\b.*?</script>", " ", html, flags=re.I | re.S)))
    m = _STATED_TEXT.search(visible)
    return int(m.group(1)) if m else None


# --- TRS createPageHTML --------------------------------------------------------------------------

_CREATE_RE = re.compile(r"\bcreatePageHTML\s*\(([^)]*)\)")
_ARG_RE = re.compile(r"""'([^']*)'|"([^"]*)"|(-?\d+)|([A-Za-z_$][\w$]*)""")


def _trs_args(html: str) -> tuple[int, int, str, str] | None:
    for m in _CREATE_RE.finditer(html):
        if re.search(r"function\s*$", html[max(0, m.start() - 12):m.start()]):
            continue   # the pager's own definition, not a call
        ints: list[int] = []
        strs: list[str] = []
        for a in _ARG_RE.finditer(m.group(1)):
            s1, s2, num, ident = a.groups()
            if num is not None:
                ints.append(int(num))
            elif ident is not None:
                var = re.search(rf"\b{re.escape(ident)}\s*=\s*['\"]?(\d+)", html)
                if var:
                    ints.append(int(var.group(1)))
            else:
                strs.append(s1 if s1 is not None else s2)
        # (count, current, prefix, suffix) or ('div', count, current, prefix, suffix, records).
        if len(ints) >= 2 and len(strs) >= 2:
            return ints[0], ints[1], strs[-2], strs[-1]
    return None


def _trs_next(html: str, page_url: str) -> PageRequest | None:
    args = _trs_args(html)
    if args is None:
        return None
    count, current, prefix, suffix = args
    name = urlsplit(page_url).path.rsplit("/", 1)[-1]
    m = re.fullmatch(rf"{re.escape(prefix)}(?:_(\d+))?\.{re.escape(suffix)}", name)
    if m:   # the file name is the truth; the script's currentPage is stale on some cached pages
        current = int(m.group(1) or 0)
    nxt = current + 1
    if nxt >= count:
        return None
    return PageRequest(urljoin(page_url, f"{prefix}_{nxt}.{suffix}"))


# --- links ---------------------------------------------------------------------------------------

_NEXT_TEXTS = {"下一页", "下页", "下一頁", "后一页", ">", "»", ">>", "›", "next", "next>", "下一页>", "下一页>>",
               "下一页»", "[下一页]", "<下一页>", "下一页 >"}
_LAST_TEXTS = {"尾页", "末页", "最后一页", "last", "»|", ">|"}
_DEAD_HREF = re.compile(r"^\s*(?:#.*|javascript:.*|about:blank)?\s*$", re.I)
_ONCLICK_URL = re.compile(r"""(?:location(?:\.href)?\s*=|window\.open\()\s*['"]([^'"]+)['"]""")
_TOTAL_PAGES = re.compile(r"共\s*(\d+)\s*页|/\s*(\d+)\s*页|页次\s*[:：]?\s*\d+\s*/\s*(\d+)")
_PAGE_PARAMS = ("page", "pageindex", "pageno", "pagenum", "curpage", "currentpage", "p", "pn", "pagenow")


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text or "").lower()


def _clean(url: str) -> str:
    return urldefrag(url)[0]


def _current_number(page_url: str) -> int | None:
    parts = urlsplit(page_url)
    for k, v in parse_qsl(parts.query):
        if k.lower() in _PAGE_PARAMS and v.isdigit():
            return int(v)
    m = re.search(r"_(\d+)\.\w+$", parts.path)
    return int(m.group(1)) if m else None


def _link_next(doc: lxml_html.HtmlElement, page_url: str) -> PageRequest | None | Literal[False]:
    """A PageRequest, None when a next control exists but is dead (last page), False when absent."""
    seen_dead = False
    for a in doc.iter("a"):
        text = _norm(a.text_content())
        if not text:
            img = a.find(".//img")
            text = _norm(img.get("alt", "")) if img is not None else ""
        label = _norm(a.get("title", "")) + _norm(a.get("aria-label", ""))
        klass = (a.get("class") or "").lower()
        is_next = (text in _NEXT_TEXTS or "下一页" in label or text.startswith("下一页")
                   or re.search(r"\bnext\b", klass) is not None)
        if not is_next:
            continue
        href = a.get("href") or ""
        if _DEAD_HREF.match(href):
            m = _ONCLICK_URL.search(a.get("onclick") or "") or _ONCLICK_URL.search(href)
            if not m:
                seen_dead = True
                continue
            href = m.group(1)
        target = _clean(urljoin(page_url, href.strip()))
        if target == _clean(page_url):
            seen_dead = True
            continue
        return PageRequest(target)
    if seen_dead:
        return None
    # 下一页 printed as plain text (a <span> or bare text) on the last page.
    for el in doc.iter("span", "em", "font", "li", "div", "b", "strong", "button"):
        if _norm(el.text_content()) in ("下一页", "下页") and el.find(".//a") is None:
            return None
    return False


def _number_next(doc: lxml_html.HtmlElement, page_url: str, text: str) -> PageRequest | None:
    current = _current_number(page_url) or 1
    total = None
    m = _TOTAL_PAGES.search(text)
    if m:
        total = int(next(g for g in m.groups() if g))
    if total is not None and current >= total:
        return None
    want = str(current + 1)
    for a in doc.iter("a"):
        if _norm(a.text_content()) in (want, f"[{want}]", f"第{want}页"):
            href = a.get("href") or ""
            if _DEAD_HREF.match(href):
                continue
            target = _clean(urljoin(page_url, href.strip()))
            if target != _clean(page_url):
                return PageRequest(target)
    return None


def next_page(html: str, page_url: str, *, method: str = "GET",
              formdata: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
              first_page_url: str | None = None, hanweb: HanwebConfig | None = None,
              platform: PlatformConfig | None = None) -> PageRequest | None:
    """The request for the page after `page_url` (whose body is `html`), or None on the last page.

    For Hanweb pass the POST's full URL (with startrecord/endrecord) as page_url, its formdata, and the
    HanwebConfig read from the first page with `hanweb_config`; for the provincial platform the
    PlatformConfig read from the column page with `platform_config` (and the API POST's formdata).
    """
    if not html:
        return None
    pairs = tuple((name, value) for name, value in formdata)
    if platform is not None:
        return _platform_next(html, page_url, pairs, platform)
    lowered = html[:200000].lower()
    if "<datastore" in lowered or hanweb is not None or "startrecord=" in page_url.lower():
        return _hanweb_next(html, page_url, pairs, hanweb, first_page_url)
    if "createpagehtml" in lowered:
        found = _trs_next(html, page_url)
        if found is not None or _trs_args(html) is not None:
            return found if found is None or _clean(found.url) != _clean(page_url) else None
    try:
        doc = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return None
    base = doc.find(".//base[@href]")
    base_url = urljoin(page_url, base.get("href")) if base is not None else page_url
    for bad in doc.xpath("//script|//style"):
        bad.drop_tree()
    linked = _link_next(doc, base_url)
    if linked is not False:
        if isinstance(linked, PageRequest) and _clean(linked.url) == _clean(page_url):
            return None
        return linked
    found = _number_next(doc, base_url, " ".join(doc.text_content().split()))
    if found is not None and _clean(found.url) == _clean(page_url):
        return None
    return found
