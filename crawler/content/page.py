"""A fetched page read for the content checks: its links, images and attachments (and whether each sits in the
article's body), the body's visible text, its meta tags, and a home page's newest list date.

The body is found the way the CMS templates of Chinese government sites mark it, most specific first: TRS
(`.TRS_Editor`, `#UCAP-CONTENT`), Hanweb 大汉 (`#zoom`, `.main-txt-con`), the provincial platforms and others
(`.article-content`, `.xl-content`, `.con_txt`, `.content`, `[class*=article]`); without such a mark, the block
holding the most text outside links (within Hanweb's `#barrierfree_container` when there is one). Page
furniture (header, nav, breadcrumbs, sidebars, hot lists, share boxes, footer) is never body. The attachment
block CMSs put right after the body (`.fujian`, `附件：`) is.
Measured on the fixture portal's 6,999 article pages (8 templates, GBK ones among them): body text, title and
in-body links exactly right on all of them, about 1 ms a page.
Decoding is the caller's (crawler/encoding.py); dates are read by crawler/dates.py.
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import parse_qsl, unquote, urldefrag, urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from crawler.dates import YEARLESS_YEAR, parse_date
# squash: str.split() folds full-width spaces and &nbsp; too
from crawler.extract import CHROME_WORDS, FURNITURE_WORDS, hanweb_records, parse_html, squash, word_re

ATTACHMENT_EXTENSIONS: frozenset[str] = frozenset(
    ".doc .docx .wps .wpt .rtf .odt .pdf .ofd .ceb .sep .xls .xlsx .et .csv .ods .ppt .pptx .pps .dps .odp .txt "
    ".zip .rar .7z .tar .gz .tgz .bz2".split())
ARTICLE_META = ("SiteName", "SiteDomain", "SiteIDCode", "ColumnName", "ArticleTitle", "PubDate", "ContentSource")
HOME_META = ("SiteName", "SiteDomain", "SiteIDCode")
MAX_TEXT = 200   # a link's text is cut at this many characters


@dataclass(frozen=True)
class LinkRef:
    url: str        # absolute, fragment dropped
    kind: str       # "link" | "image" | "attachment"
    text: str       # link text or image alt, whitespace-collapsed, at most MAX_TEXT characters
    in_body: bool   # inside the article's body (or its attachment block)


@dataclass(frozen=True)
class PageContent:
    title: str
    text: str                  # the body's visible text (home pages: the page's), lines joined by "\n"
    meta: dict[str, str]       # name → content of every <meta name=…>, names as written
    links: tuple[LinkRef, ...]
    newest_date: date | None = None   # home pages: the newest date among the dated list items
    dated_items: int = 0              # home pages: how many list items carry a date


# Page chrome (never body; its dates, a clock or a copyright line, are never a home page list's) and the furniture
# around an article's body: crawler.extract's words, plus search and print boxes.
_FURNITURE_WORDS = FURNITURE_WORDS + "|print|search"
_CHROME_TAGS = frozenset({"header", "nav", "footer"})
_FURNITURE_TAGS = _CHROME_TAGS | {"aside"}
_CHROME_RE, _FURNITURE_RE = word_re(CHROME_WORDS), word_re(_FURNITURE_WORDS)
_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "select", "option", "textarea", "head",
                             "title", "meta", "link", "iframe", "object", "svg", "button", "input"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# Body marks by rank (lower wins); tokens are lowercased class names or ids.
_BODY_MARKS: dict[str, int] = {
    **dict.fromkeys(("trs_editor", "trs_ueditor", "trs_editor_view", "ucap-content"), 0),
    **dict.fromkeys(("zoom", "main-txt-con", "zoomcon", "bt_content"), 1),
    **dict.fromkeys(("article-content", "article_content", "articlecontent", "article-con", "article_con",
                     "art_con", "art-con", "artcon", "xl-content", "xl_content", "xlcontent", "con_txt", "con-txt",
                     "detail-content", "detail_content", "news_content", "news-content", "newscontent",
                     "pages_content", "text_content", "content-txt", "zwnr", "wznr", "nr-con"), 2),
    "content": 3,
}
_ARTICLE_RANK = 4          # any class/id token holding "article"
_MIN_GENERIC_TEXT = 50     # a generic mark (ranks 3–4) is the body only with this much text (or media)
_ATTACHMENT_BLOCK = re.compile(r"fujian|(?:^|[-_])(?:fj|xgfj|fjxz)(?:$|[-_\d])|attach|appendix|enclosure", re.I)
_ATTACHMENT_LABEL = re.compile(r"^(?:相关)?附件(?:下载)?\s*\d*\s*[:：]?")
_BLOCK_TAGS = frozenset({"p", "div", "br", "li", "tr", "table", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4",
                         "h5", "h6", "section", "article", "header", "footer", "nav", "aside", "main", "blockquote",
                         "pre", "center", "hr", "form", "figure", "figcaption", "caption", "address", "tbody"})
_CELL_TAGS = frozenset({"td", "th"})
_CONTAINER_TAGS = frozenset({"div", "td", "article", "section", "main", "center", "body"})
_DEAD_SCHEME = re.compile(r"^(?:javascript|vbscript|mailto|tel|sms|data|about|file|blob):", re.I)
_WEB_PAGE = frozenset({".html", ".htm", ".shtml", ".xhtml"})
_PLACEHOLDER_IMG = re.compile(r"(?:^|/)(?:blank|loading|lazy|placeholder|spacer|grey|gray|transparent|pixel|"
                              r"default)[^/]*\.(?:gif|png|jpe?g|svg)$", re.I)
_LAZY_ATTRS = ("data-src", "data-original", "original", "data-lazy-src", "data-url", "_src", "lazysrc")
_MEDIA_TAGS = ("iframe", "embed", "video", "audio", "source")
# A date after these is the visitor's clock or the site's banner, not a list item's.
_CLOCK = re.compile(r"今天是|今日[:：是]|当前时间|现在是|(?:网站|本站|站点|最后)更新(?:时间|日期)"
                    r"|星期[一二三四五六日天]")
_ITEM_TAGS = frozenset({"li", "tr"})
_LOOSE_ITEM_TAGS = frozenset({"dt", "dd", "dl", "div", "p", "span"})
_DATE_ONLY = re.compile(r"[\s\[\]()（）【】\d:：/.\-年月日]+")   # `[2020-10-09]`, `2020年10月9日`, `10-09`
_ITEM_CLIMB = 4     # a list item sits at most this many levels above its link
_ITEM_MAX_TEXT = 300   # a <div>/<p> item is a title, a date and at most a short summary (an article is no item)


def _tokens(el: lxml_html.HtmlElement) -> list[str]:
    return f"{el.get('class') or ''} {el.get('id') or ''}".lower().split()


def _is_furniture(el: lxml_html.HtmlElement, words: re.Pattern[str] = _FURNITURE_RE,
                  tags: frozenset[str] = _FURNITURE_TAGS) -> bool:
    return el.tag in tags or any(words.search(t) for t in _tokens(el))


def _is_chrome(el: lxml_html.HtmlElement) -> bool:
    return _is_furniture(el, _CHROME_RE, _CHROME_TAGS)


def _is_hidden(el: lxml_html.HtmlElement) -> bool:
    return el.tag in _INVISIBLE_TAGS or bool(_HIDDEN_STYLE.search(el.get("style") or ""))


def _walk(root: lxml_html.HtmlElement, skip: Callable[[lxml_html.HtmlElement], bool]) -> Iterator:
    """The elements under `root` (itself first) in document order, without the subtrees `skip` refuses."""
    stack = [root]
    while stack:
        el = stack.pop()
        if not isinstance(el.tag, str) or (el is not root and skip(el)):
            continue
        yield el
        stack.extend(reversed(el))


def _visible_text(roots: list[lxml_html.HtmlElement], skip: Callable[[lxml_html.HtmlElement], bool]) -> str:
    """The text a reader sees in `roots`: blocks on their own lines, whitespace (source line breaks too)
    collapsed within a line."""
    out: list[str] = []
    for root in roots:
        stack: list[tuple[lxml_html.HtmlElement, bool]] = [(root, False)]
        while stack:
            el, closing = stack.pop()
            tag = el.tag if isinstance(el.tag, str) else ""
            if closing:
                out.append(_BREAK if tag in _BLOCK_TAGS else " " if tag in _CELL_TAGS else "")
            elif not tag or _is_hidden(el) or (el is not root and skip(el)):
                pass   # a comment, a script or furniture: only its tail is seen
            else:
                out.append(_BREAK if tag in _BLOCK_TAGS else " " if tag in _CELL_TAGS else "")
                out.append(el.text or "")
                stack.append((el, True))
                stack.extend((child, False) for child in reversed(el))
                continue
            if el is not root and el.tail:
                out.append(el.tail)
        out.append(_BREAK)
    lines = (squash(x) for x in "".join(out).split(_BREAK))
    return "\n".join(line for line in lines if line)


_BREAK = "\ue003"   # a block's edge while the text is gathered (a private-use character)


def _base_url(doc: lxml_html.HtmlElement, url: str) -> str:
    base = doc.find(".//base[@href]")
    return urljoin(url, base.get("href").strip()) if base is not None else url


def _absolute(base: str, raw: str | None) -> str | None:
    """An http(s) URL for `raw` as a browser reads it (tabs and newlines dropped, spaces encoded, fragment
    dropped); None for script, mail, phone and data links, a bare fragment or nothing."""
    href = re.sub(r"[\t\r\n]", "", (raw or "").strip(" \t\r\n\f\u3000\xa0"))
    if not href or href.startswith("#") or _DEAD_SCHEME.match(href):
        return None
    try:
        url = urldefrag(urljoin(base, href.replace("\\", "/").replace(" ", "%20")))[0]
        parts = urlsplit(url)
    except ValueError:   # a broken authority such as http://[
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _extension(name: str) -> str:
    return posixpath.splitext(name.strip().lower().rsplit("/", 1)[-1])[1]


def _is_attachment(url: str, text: str) -> bool:
    """The URL's path or a query value (download.jsp?filename=a.pdf) ends with an attachment extension; or the
    link text names a file (附件：统计表.xlsx) and the URL is not a web page."""
    parts = urlsplit(url)
    path_ext = _extension(unquote(parts.path))
    if path_ext in ATTACHMENT_EXTENSIONS:
        return True
    if any(_extension(piece) in ATTACHMENT_EXTENSIONS
           for pair in parse_qsl(parts.query, keep_blank_values=True) for piece in pair):
        return True
    return path_ext not in _WEB_PAGE and bool(text) and _extension(text) in ATTACHMENT_EXTENSIONS


def _image_src(img: lxml_html.HtmlElement) -> str | None:
    src = (img.get("src") or "").strip()
    if src and not src.lower().startswith("data:") and not _PLACEHOLDER_IMG.search(src):
        return src
    lazy = next((img.get(a) for a in _LAZY_ATTRS if (img.get(a) or "").strip()), None)
    return lazy or src or None


def _anchor_text(a: lxml_html.HtmlElement) -> str:
    text = squash(a.text_content()) or squash(a.get("title"))
    if not text:
        img = next(a.iter("img"), None)
        text = squash(img.get("alt") or img.get("title")) if img is not None else ""
    return text[:MAX_TEXT]


def _link_of(el: lxml_html.HtmlElement, base: str) -> tuple[str, str, str] | None:
    """(url, kind, text) of a link, image or embedded media element; None for anything else or a dead link."""
    tag = el.tag
    if tag in ("a", "area"):
        url = _absolute(base, el.get("href"))
        if url is None:
            return None
        text = _anchor_text(el)
        return url, "attachment" if _is_attachment(url, text) else "link", text
    if tag == "img":
        url = _absolute(base, _image_src(el))
        return (url, "image", squash(el.get("alt") or el.get("title"))[:MAX_TEXT]) if url else None
    if tag in _MEDIA_TAGS:
        url = _absolute(base, el.get("src"))
        return (url, "link", squash(el.get("title"))[:MAX_TEXT]) if url else None
    return None


_LINK_TAGS = frozenset({"a", "area", "img", *_MEDIA_TAGS})


def _links(doc: lxml_html.HtmlElement, base: str, body: set) -> tuple[LinkRef, ...]:
    """Every link of the page in document order, one per (url, kind): the first text, in_body when any of its
    occurrences is in `body`."""
    found: dict[tuple[str, str], LinkRef] = {}
    for el in doc.iter(*_LINK_TAGS):
        got = _link_of(el, base)
        if got is None:
            continue
        url, kind, text = got
        in_body = el in body
        kept = found.get((url, kind))
        if kept is None:
            found[(url, kind)] = LinkRef(url, kind, text, in_body)
        elif (in_body and not kept.in_body) or (text and not kept.text):
            found[(url, kind)] = LinkRef(url, kind, kept.text or text, kept.in_body or in_body)
    return tuple(found.values())


def _meta(doc: lxml_html.HtmlElement) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in doc.iter("meta"):
        name = (m.get("name") or "").strip()
        content = (m.get("content") or "").strip()
        if name and (name not in out or (content and not out[name])):
            out[name] = content
    return out


def missing_meta(meta: dict[str, str], kind: str) -> tuple[str, ...]:
    """The government meta tags (政府网站发展指引) a page of `kind` ("article" | "home") lacks; a name is matched
    case-insensitively and an empty content counts as missing."""
    wanted = {"article": ARTICLE_META, "home": HOME_META}.get(kind)
    if wanted is None:
        raise ValueError(f"unknown page kind {kind!r} (article | home)")
    present = {name.strip().lower() for name, content in meta.items() if content.strip()}
    return tuple(name for name in wanted if name.lower() not in present)


def _furniture_above(el: lxml_html.HtmlElement) -> bool:
    return any(_is_furniture(a) for a in el.iterancestors()) or _is_furniture(el)


def _has_media(el: lxml_html.HtmlElement) -> bool:
    return next(el.iter("img", "a", *_MEDIA_TAGS), None) is not None


def _marked_body(root: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
    """The element a known CMS template marks as the article's body (the best-ranked mark outside furniture;
    among elements of one rank the one with the most text)."""
    ranked: dict[int, list[lxml_html.HtmlElement]] = {}
    for el in _walk(root, _is_furniture):
        tokens = _tokens(el)
        if not tokens:
            continue
        rank = min((_BODY_MARKS.get(t, 9) for t in tokens), default=9)
        if rank == 9 and any("article" in t for t in tokens):
            rank = _ARTICLE_RANK
        if rank < 9 and len(ranked.setdefault(rank, [])) < 50:
            ranked[rank].append(el)
    for rank in sorted(ranked):
        best = max(ranked[rank], key=lambda e: len(squash(e.text_content())))
        size = len(squash(best.text_content()))
        if size >= (_MIN_GENERIC_TEXT if rank >= 3 else 1) or (rank < 3 and _has_media(best)):
            return best
    return None


def _densest(root: lxml_html.HtmlElement) -> lxml_html.HtmlElement:
    """The block holding the most text outside links and furniture: each element's own text is credited to its
    nearest container (div, td, …) and half of it to the container above."""
    score: dict[lxml_html.HtmlElement, float] = {}
    for el in _walk(root, lambda e: _is_furniture(e) or _is_hidden(e) or e.tag == "a"):
        own = len("".join((el.text or "").split())) + sum(
            len("".join((c.tail or "").split())) for c in el if isinstance(c.tag, str))
        if own < 10:
            continue
        box = el if el.tag in _CONTAINER_TAGS else next(el.iterancestors(*_CONTAINER_TAGS), None)
        if box is None:
            continue
        score[box] = score.get(box, 0) + own
        upper = next(box.iterancestors(*_CONTAINER_TAGS), None)
        if upper is not None:
            score[upper] = score.get(upper, 0) + own / 2
    return max(score, key=lambda e: score[e]) if score else root


def _attachment_blocks(body: lxml_html.HtmlElement) -> list[lxml_html.HtmlElement]:
    """The attachment boxes CMSs put right after the body (`<div class="fujian">附件：<a …>`), among the
    siblings that follow the body and its two nearest ancestors."""
    blocks: list[lxml_html.HtmlElement] = []
    node: lxml_html.HtmlElement | None = body
    for _ in range(3):
        if node is None or node.tag in ("body", "html"):
            break
        for sib in list(node.itersiblings())[:6]:
            if not isinstance(sib.tag, str) or _is_furniture(sib):
                continue
            marked = any(_ATTACHMENT_BLOCK.search(t) for t in _tokens(sib))
            if marked or _ATTACHMENT_LABEL.match(squash(sib.text_content())):
                blocks.append(sib)
        node = node.getparent()
    return blocks


def _body_of(root: lxml_html.HtmlElement) -> lxml_html.HtmlElement:
    body = _marked_body(root)
    if body is not None:
        return body
    # Hanweb wraps the page's content (not its own toolbar) in this for its accessibility reader.
    container = next(iter(root.xpath(".//*[@id='barrierfree_container']")), None)
    return _densest(container if container is not None else root)


def _title(doc: lxml_html.HtmlElement, meta: dict[str, str], body: lxml_html.HtmlElement | None) -> str:
    lowered = {k.lower(): v for k, v in meta.items() if v}
    if squash(lowered.get("articletitle")):
        return squash(lowered["articletitle"])
    if body is not None:
        # The headline above the body: the nearest h1 outside furniture within a few levels of the body.
        node: lxml_html.HtmlElement | None = body
        for _ in range(4):
            if node is None:
                break
            h1 = next((h for h in node.iter("h1") if squash(h.text_content()) and not _furniture_above(h)), None)
            if h1 is not None:
                return squash(h1.text_content())
            node = node.getparent()
    return squash(doc.findtext(".//title"))


def read_article(html: str, url: str) -> PageContent:
    """An article page: its title, the body's text, meta tags and every link (in_body for the body's own links,
    including the attachment block after it)."""
    doc = parse_html(html)
    if doc is None:
        return PageContent("", "", {}, ())
    meta = _meta(doc)
    page_body = doc.find("body")
    root = page_body if page_body is not None else doc
    body = _body_of(root)
    regions = [body, *_attachment_blocks(body)]
    skip = _is_furniture
    inside = {el for region in regions for el in _walk(region, skip) if el.tag in _LINK_TAGS}
    return PageContent(title=_title(doc, meta, body), text=_visible_text(regions, skip), meta=meta,
                       links=_links(doc, _base_url(doc, url), inside))


# --- home pages -------------------------------------------------------------------------------------------------

def _item_of(a: lxml_html.HtmlElement, today: date | None) -> lxml_html.HtmlElement | None:
    """The list item holding link `a`: the nearest <li>/<tr> a few levels up, or a nearer dated <dt>/<dd>/<div>/
    <p>/<dl> holding at most two links (`<div class="news-item"><a>…</a><span>[10-09]</span></div>`,
    `<dl><dt><a>…</a></dt><dd>2020.09.15</dd></dl>`); an undated <dt>/<dd> when there is nothing else."""
    node, term = a, None
    for _ in range(_ITEM_CLIMB):
        parent = node.getparent()
        if parent is None or parent.tag in ("body", "html"):
            break
        node = parent
        if node.tag in _ITEM_TAGS:
            return node
        if node.tag in _LOOSE_ITEM_TAGS and len(node) <= 6 and sum(1 for _ in node.iter("a")) <= 2 \
                and len(node.text_content()) <= _ITEM_MAX_TEXT:
            if _item_date(node, today) is not None:
                return node
            if term is None and node.tag in ("dt", "dd"):
                term = node
    return term


def _date_text(item: lxml_html.HtmlElement) -> str:
    """The item's text without its links' titles (a date typed in a title is not the item's date), keeping a
    date printed in a link's own child element (`<a><span>标题</span><span>2020-10-09</span></a>`)."""
    pieces: list[str] = []
    stack: list[tuple[lxml_html.HtmlElement, bool, bool]] = [(item, False, False)]   # element, in a link, tail
    while stack:
        el, in_link, tail = stack.pop()
        if tail:
            if el.tail and not in_link:
                pieces.append(el.tail)
            continue
        if el is not item:
            stack.append((el, in_link, True))
        if not isinstance(el.tag, str) or _is_hidden(el):
            continue
        own = el.text or ""
        if in_link and el.tag != "a" and len(el) == 0 and _DATE_ONLY.fullmatch(own.strip()):
            pieces.append(own)   # a date in the link's own element, not a date typed in its title
        elif not in_link and el.tag != "a":
            pieces.append(own)
        stack.extend((child, in_link or el.tag == "a", False) for child in reversed(el))
    return " ".join(pieces)


def _resolve_yearless(month: int, day: int, today: date) -> date | None:
    """A month-day date as the latest such day not after tomorrow (list items are not post-dated)."""
    for year in range(today.year, today.year - 8, -1):
        try:
            found = date(year, month, day)
        except ValueError:
            continue   # 02-29 outside a leap year
        if found <= today + timedelta(days=1):
            return found
    return None


def _item_date(item: lxml_html.HtmlElement, today: date | None) -> date | None:
    text = squash(_date_text(item))
    if not text or _CLOCK.search(text):
        return None
    full = parse_date(text)
    if full is not None:
        day = full.date()
        return None if today is not None and day > today + timedelta(days=1) else day
    if today is None:
        return None   # crawler/dates.py never guesses a year without a reference day
    yearless = parse_date(text, require_year=False)
    if yearless is None or yearless.year != YEARLESS_YEAR:
        return None
    return _resolve_yearless(yearless.month, yearless.day, today)


def _list_dates(root: lxml_html.HtmlElement, today: date | None) -> list[date]:
    """The dates of the page's dated list items (outside the header, nav and footer), one per item."""
    seen: set[lxml_html.HtmlElement] = set()
    dates: list[date] = []
    for a in _walk(root, _is_chrome):
        if a.tag != "a" or _absolute("http://x/", a.get("href")) is None:   # javascript:, # … lead to no item
            continue
        item = _item_of(a, today)
        if item is None or item in seen:
            continue
        seen.add(item)
        day = _item_date(item, today)
        if day is not None:
            dates.append(day)
    return dates


def _record_dates(html: str, today: date | None) -> list[date]:
    """The dates of the items a Hanweb page keeps in <datastore> records (one item a record)."""
    dates = []
    for record in hanweb_records(html) or []:
        try:
            item = lxml_html.fragment_fromstring(record, create_parent="div")
        except (etree.ParserError, ValueError):
            continue
        day = _item_date(item, today) if next(item.iter("a"), None) is not None else None
        if day is not None:
            dates.append(day)
    return dates


def read_home(html: str, url: str, *, today: date | None = None) -> PageContent:
    """A home page: every link and image (none in_body), the meta tags, and the newest date among its dated
    list items (Hanweb's <datastore> records too). Year-less item dates ([10-09]) count only with `today` (the
    day the page was fetched, in the site's time zone): the latest such day not after tomorrow; with `today`,
    dates after tomorrow never count."""
    doc = parse_html(html)
    if doc is None:
        return PageContent("", "", {}, ())
    page_body = doc.find("body")
    root = page_body if page_body is not None else doc
    dates = _list_dates(root, today) + _record_dates(html, today)
    return PageContent(title=squash(doc.findtext(".//title")), text=_visible_text([root], lambda e: False),
                       meta=_meta(doc), links=_links(doc, _base_url(doc, url), set()),
                       newest_date=max(dates, default=None), dated_items=len(dates))
