"""The main list of a column page (title, URL, date of each post) without per-site selectors.

Approach (learnt from gerapy-auto-extractor's list extractor, DESIGN.md, but rewritten: it needs numpy
and loguru, ignores dates, requires 5+ items and has no notion of page furniture):
- every anchor with a title-like text (5+ characters) is a candidate; each of its ancestors (up to a few
  levels) is a candidate *item* of the group "children of parent P with tag T";
- each group is scored by its item count, the share of items carrying a date, title length, the share of
  article-like URLs, and penalised when P sits in furniture (nav, footer, sidebar, 热点, 友情链接 …) or
  when its items hold many titles each (then P is a block of lists, not a list);
- the best group wins, joined by its same-shaped sibling groups: TRS splits long lists into <ul>s of 5, and
  the platform's "动静结合" pages wrap each <ul> in its own <div ms-visible="$showStatic(N)">, so siblings are
  matched by the tag/class path up to a common ancestor a few levels above (`_same_shape`).
A page's list is its own only outside page furniture: when the best group sits in a sidebar, 热点推荐, 相关链接,
nav or footer box (`_outside_main`), the page has no list (an empty 信息公开 table beside a hot list is blank, and
`unreadable_cause` says so by finding the empty list box; a page with no list box at all is unreadable).
Hanweb pages keep their list as HTML fragments in <record><![CDATA[…]]> and are read from there; the
provincial platform's list API answers JSON records (doctitle, docpuburl, pubdate), read by `json_records`.
"""
from __future__ import annotations

import html as html_lib
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
from urllib.parse import urldefrag, urljoin

from lxml import etree
from lxml import html as lxml_html

from crawler.dates import has_yearless_date, parse_date, strip_dates


@dataclass(frozen=True)
class ListEntry:
    title: str      # from title= attribute when present (full title), else anchor text; whitespace-normalised
    url: str        # absolute, fragment removed
    date: datetime | None   # full date found in the entry (None if none or year-less)
    needs_article: bool     # True when the entry has no full date: open the article to date it


MIN_TITLE = 5        # shorter anchors are menu entries (首页, 工作动态) or controls (更多, 下一页)
MAX_CLIMB = 4        # an item is at most this many levels above its title anchor
_CONTROL_TEXTS = re.compile(r"^(?:更多|more|查看更多|首页|上一页|下一页|尾页|末页|返回|打印|关闭|登录|注册)", re.I)
_DEAD_HREF = re.compile(r"^\s*(?:#|javascript:|mailto:|tel:|about:)", re.I)
# Class/id words of furniture containers; "right"/"left" are weak because many gov templates put the
# main list in div.right beside a left column menu.
_FURNITURE_STRONG = re.compile(
    r"nav|menu|foot|header|crumb|position|location|weizhi|dqwz|friend|yqlj|link|hot|rank|tuijian|recommend"
    r"|related|xgxx|sidebar|side|banner|share|tool|copyright|bottom", re.I)
_FURNITURE_WEAK = re.compile(r"right|left|aside", re.I)
_FURNITURE_HEADINGS = re.compile(r"热点|热门|推荐|排行|相关|友情链接|链接|专题|点击排行|当前位置|您的位置|导航")
# Page chrome and furniture as whole words of class/id tokens (`main-nav`, `hot-list`, `side2`, `footer_jcms`; not
# `hotel`, `photo` or `inside`): the one list of words, also crawler/content/page.py's (which adds search/print: a
# search result list can be a column's list, never an article's body).
CHROME_WORDS = (r"header|nav|navbar|menu|footer|foot|bottom|copyright|banquan|topbar|top-bar|toolbar|crumbs?"
                r"|breadcrumbs?|position|location|dqwz|weizhi")
FURNITURE_WORDS = CHROME_WORDS + (r"|sidebar|side|aside|share|bdshare|hot|related|xglj|xgxw|xgwz|xgwj|xgxx|tuijian"
                                  r"|recommend|rank|paihang|friendlinks?|yqlj|links")


def word_re(words: str) -> re.Pattern[str]:
    """A pattern matching one of `words` as a whole word of a class or id token."""
    return re.compile(rf"(?:^|[-_])(?:{words})(?=$|[-_\d])", re.I)


_BOX_RE = word_re(FURNITURE_WORDS)
_BOX_TAGS = frozenset({"header", "nav", "footer", "aside"})
# Headings of side boxes (热点推荐, 相关链接); a column's own heading may say 专题 or 链接, these never do.
_BOX_HEADINGS = re.compile(r"热点|热门|推荐|排行|相关(?:链接|信息|文章|阅读|新闻|文件|稿件)|友情链接")
# URLs that look like one article rather than a column index.
_ARTICLE_URL = re.compile(
    r"t\d{8}_\d+|/art_|art_\d+|/content|content_|detail|article|[?&](?:id|articleid|infoid|newsid|aid)=\w"
    r"|\.s?html?(?:$|\?)|\.jsp\?|\.aspx?\?|/\d{5,}|/\d{4}/\d{1,2}/\d{1,2}/|\.(?:pdf|docx?|xlsx?)$", re.I)
_INDEX_URL = re.compile(r"(?:/|/index\.s?html?|/default\.s?html?|/list\.s?html?)$", re.I)
BLANK_MARKERS = re.compile(
    r"暂无(?:信息|数据|内容|记录|文章|相关信息)|没有(?:相关)?(?:信息|记录|数据)|无相关信息|信息正在更新")
_RECORD_RE = re.compile(r"<record\b[^>]*>(.*?)</record>", re.I | re.S)
_CDATA_RE = re.compile(r"^\s*<!\[CDATA\[(.*)\]\]>\s*$", re.S)


# Whitespace folded to single spaces (titles, labels, visible text); discovery uses it too.
def squash(text: str | None) -> str:
    return " ".join((text or "").split())


def _clean_url(page_url: str, href: str) -> str:
    return urldefrag(urljoin(page_url, href.strip()))[0]


def _is_date_only(text: str) -> bool:
    # "2020-09-15", "[09-15]", "2020年9月15日": a date with at most brackets around it.
    if len(text) > 24 or not (parse_date(text) or has_yearless_date(text)):
        return False
    return re.search(r"[\u4e00-\u9fff]{2,}|[A-Za-z]{3,}", strip_dates(text)) is None


def _anchor_parts(a: lxml_html.HtmlElement) -> tuple[str, list[str]]:
    """The anchor's visible title and the dates printed in its own child elements
    (<a><span>标题</span><span>2020-09-15</span></a>); a date typed in the title itself stays there."""
    text = squash(a.text_content())
    dates = []
    for el in a.iterdescendants():
        piece = squash(el.text_content()) if isinstance(el.tag, str) else ""
        if piece and _is_date_only(piece):
            dates.append(piece)
            text = squash(text.replace(piece, " "))
    return text, dates


class _Anchors:
    """What is read off each anchor of one page, read once: an anchor is scored in up to MAX_CLIMB + 1 groups
    (its item at each level it climbs), and its title, parts and URL are the costly part of a score. Keyed by
    id(): each entry holds its element, so the id stays that element's for the memo's life."""

    def __init__(self, page_url: str) -> None:
        self.page_url = page_url
        self._titles: dict[int, tuple[lxml_html.HtmlElement, str]] = {}
        self._parts: dict[int, tuple[lxml_html.HtmlElement, tuple[str, list[str]]]] = {}
        self._urls: dict[int, tuple[lxml_html.HtmlElement, str, bool]] = {}

    def title(self, a: lxml_html.HtmlElement) -> str:
        hit = self._titles.get(id(a))
        if hit is None:
            title = squash(a.get("title"))
            hit = self._titles[id(a)] = (a, title if len(title) >= 2 else self.parts(a)[0])
        return hit[1]

    def parts(self, a: lxml_html.HtmlElement) -> tuple[str, list[str]]:
        hit = self._parts.get(id(a))
        if hit is None:
            hit = self._parts[id(a)] = (a, _anchor_parts(a))
        return hit[1]

    def url(self, a: lxml_html.HtmlElement) -> str:
        return self._url(a)[1]

    def is_article(self, a: lxml_html.HtmlElement) -> bool:
        """The anchor links to an article-like URL (not a column's index page)."""
        return self._url(a)[2]

    def _url(self, a: lxml_html.HtmlElement) -> tuple[lxml_html.HtmlElement, str, bool]:
        hit = self._urls.get(id(a))
        if hit is None:
            url = _clean_url(self.page_url, a.get("href", ""))
            hit = self._urls[id(a)] = (a, url, bool(_ARTICLE_URL.search(url)) and not _INDEX_URL.search(url))
        return hit


def _is_title_anchor(a: lxml_html.HtmlElement, anchors: _Anchors) -> bool:
    href = a.get("href")
    if not href or _DEAD_HREF.match(href):
        return False
    title = anchors.title(a)
    return len(title) >= MIN_TITLE and not _CONTROL_TEXTS.match(title)


def _item_text(item: lxml_html.HtmlElement) -> str:
    text = item.text_content()
    if item.tag == "a" and item.tail:
        text += " " + item.tail   # <a>…</a> (2020-09-15)<br> lists keep the date in the tail
    return squash(text)


def _main_anchor(anchors: list[lxml_html.HtmlElement], memo: _Anchors) -> lxml_html.HtmlElement:
    return anchors[0] if len(anchors) == 1 else max(anchors, key=lambda x: len(memo.title(x)))


def _date_text(item: lxml_html.HtmlElement, a: lxml_html.HtmlElement, memo: _Anchors) -> str:
    """The item's text without its title (a date typed in a title is not the post's date), plus any
    date printed inside the anchor."""
    title_text, inner_dates = memo.parts(a)
    rest = _item_text(item)
    for piece in (squash(a.text_content()), title_text, squash(a.get("title"))):
        if piece:
            rest = rest.replace(piece, " ")
    return " ".join([rest, *inner_dates])


def _entry(item: lxml_html.HtmlElement, anchors: list[lxml_html.HtmlElement], memo: _Anchors) -> ListEntry:
    a = _main_anchor(anchors, memo)
    date = parse_date(_date_text(item, a, memo))
    return ListEntry(title=memo.title(a), url=memo.url(a), date=date, needs_article=date is None)


def _has_date(text: str) -> bool:
    return parse_date(text) is not None or has_yearless_date(text)


def _is_furniture(node: lxml_html.HtmlElement) -> bool:
    words = f"{node.get('class', '')} {node.get('id', '')}"
    return node.tag in ("nav", "footer", "header", "aside") or bool(_FURNITURE_STRONG.search(words))


def _furniture_penalty(el: lxml_html.HtmlElement, page_title: str = "") -> float:
    """1.0 for a list in the page's content; less inside a sidebar-like box; 0.15 inside nav/header/footer; 0.2
    right after a short heading naming a side box (热点信息), unless the page's title names itself so (a column
    called 专题活动 under its own <h2>专题活动</h2>)."""
    penalty = 1.0
    depth = 0
    node: lxml_html.HtmlElement | None = el
    while node is not None and node.tag not in ("body", "html"):
        words = f"{node.get('class', '')} {node.get('id', '')}"
        if _is_furniture(node):
            return 0.15
        if _FURNITURE_WEAK.search(words):
            penalty = min(penalty, 0.7)
        # A heading just before the list (<h3>热点信息</h3><ul>…) names a side box.
        if depth < 2:
            prev = node.getprevious()
            heading = squash(prev.text_content()) if prev is not None else ""
            found = _FURNITURE_HEADINGS.search(heading) if len(heading) <= 12 else None
            if found is not None and found.group(0) not in page_title:
                return 0.2
        node = node.getparent()
        depth += 1
    return penalty


def is_furniture_box(el: lxml_html.HtmlElement) -> bool:
    """True for a header, nav, sidebar, hot list, related-links box or footer, by its tag or class/id words."""
    if el.tag in _BOX_TAGS:
        return True
    return any(_BOX_RE.search(t) for t in f"{el.get('class') or ''} {el.get('id') or ''}".split())


def _box_heading(el: lxml_html.HtmlElement, page_title: str) -> bool:
    """True when a short heading just before `el` names a side box (<h3>热点推荐</h3><ol>…), unless the page's
    title says the same (the column itself is called 热点推荐)."""
    prev = el.getprevious()
    if prev is None or not isinstance(prev.tag, str):
        return False
    heading = squash(prev.text_content())
    found = _BOX_HEADINGS.search(heading) if len(heading) <= 12 else None
    return found is not None and found.group(0) not in page_title


def _outside_main(group: _Group, page_title: str) -> bool:
    """True when the group's list sits in page furniture (a sidebar's 热点推荐, 相关链接, nav, footer): then it is
    never the column's own list."""
    node: lxml_html.HtmlElement | None = group.parent
    depth = 0
    while node is not None and node.tag not in ("body", "html"):
        if is_furniture_box(node) or (depth < 2 and _box_heading(node, page_title)):
            return True
        node, depth = node.getparent(), depth + 1
    return False


@dataclass
class _Group:
    parent: lxml_html.HtmlElement
    tag: str
    items: list[lxml_html.HtmlElement]
    score: float = 0.0
    penalty: float = 1.0
    dated: float = 0.0     # share of items carrying a date
    article: float = 0.0   # share of items linking to an article-like URL


SCORE_SAMPLE = 200   # a group's shares (dated, article links, title length) are measured on its first items


def _score(group: _Group, anchors_of: dict, memo: _Anchors, page_title: str) -> float:
    sample = group.items[:SCORE_SAMPLE]
    n = len(sample)
    titles = [anchors_of[id(i)] for i in sample]
    per_item = sum(len(t) for t in titles) / n
    mains = [_main_anchor(t, memo) for t in titles]
    lengths = [len(memo.title(a)) for a in mains]
    avg_len = sum(lengths) / n
    dated = sum(1 for i, a in zip(sample, mains) if _has_date(_date_text(i, a, memo))) / n
    article = sum(1 for a in mains if memo.is_article(a)) / n
    long_titles = sum(1 for x in lengths if x >= 8) / n
    group.penalty = _furniture_penalty(group.parent, page_title)
    group.dated, group.article = dated, article
    score = math.log2(len(group.items) + 1) * (0.4 + dated) * (0.3 + 0.7 * article) * (0.5 + 0.5 * long_titles)
    score *= min(1.0, avg_len / 10) * group.penalty
    if per_item > 1.5:   # several titles an item: the parent is a block of lists, not the list
        score /= per_item ** 1.5
    return score


def _groups(root: lxml_html.HtmlElement, memo: _Anchors,
            max_anchors: int | None = None) -> tuple[list[_Group], dict, int]:
    """The candidate groups, the title anchors of each item and how many title anchors the page has. Only the
    first `max_anchors` title anchors are grouped (a page of 20,000 links costs no more than one of a few
    hundred); the rest are counted."""
    anchors_of: dict[int, list] = defaultdict(list)
    members: dict[tuple[int, str], dict[int, lxml_html.HtmlElement]] = defaultdict(dict)
    parents: dict[int, lxml_html.HtmlElement] = {}
    furniture: dict[int, tuple[lxml_html.HtmlElement, bool]] = {}  # the element kept: its id stays its own
    titled = 0
    for a in root.iter("a"):
        if not _is_title_anchor(a, memo):
            continue
        titled += 1
        if max_anchors is not None and titled > max_anchors:
            continue
        node = a
        for _ in range(MAX_CLIMB + 1):
            parent = node.getparent()
            if parent is None or node.tag in ("body", "html"):
                break
            if node is not a:
                known = furniture.get(id(node))
                if known is None:
                    known = furniture[id(node)] = (node, _is_furniture(node))
                if known[1]:
                    break  # a footer or nav box is never one item of the list (it would pair with the list's box)
            anchors_of[id(node)].append(a)
            members[(id(parent), node.tag)][id(node)] = node
            parents[id(parent)] = parent
            node = parent
    groups = [_Group(parents[pid], tag, list(items.values())) for (pid, tag), items in members.items()]
    return groups, anchors_of, titled


MERGE_LEVELS = 3   # a list split into wrappers: the pieces meet at most this many levels above their parents


def _same_shape(a: _Group, b: _Group) -> bool:
    """b is another piece of list a: same item tag, items alike (dated, article links), not in worse
    furniture, and the same tag/class path from both parents up to a common ancestor (<ul>s of 5 under one
    <div>, or each <ul> in its own wrapper <div> under one <div>)."""
    if a.tag != b.tag or b.penalty < a.penalty:
        return False
    if abs(a.dated - b.dated) > 0.5 or abs(a.article - b.article) > 0.5:
        return False
    pa, pb = a.parent, b.parent
    for _ in range(MERGE_LEVELS):
        if pa.tag != pb.tag or pa.get("class") != pb.get("class"):
            return False
        ca, cb = pa, pb
        pa, pb = pa.getparent(), pb.getparent()
        if pa is None or pb is None or pa.tag in ("body", "html"):
            return False
        if pa is pb:
            return True
        if not (_bare_wrapper(pa, ca) and _bare_wrapper(pb, cb)):
            return False   # a box with its own heading or 更多 link: another column's list, not a piece
    return False


def _bare_wrapper(wrapper: lxml_html.HtmlElement, inner: lxml_html.HtmlElement) -> bool:
    """True when `wrapper` adds no text, heading or link of its own around `inner` (a $showStatic block)."""
    if squash(wrapper.text_content()) != squash(inner.text_content()):
        return False
    return sum(1 for _ in wrapper.iter("a")) == sum(1 for _ in inner.iter("a"))


def _main_list(root: lxml_html.HtmlElement, page_url: str, limit: int | None = None,
               page_title: str = "") -> tuple[list[ListEntry], _Group | None, int]:
    """The main list's entries (the first `limit` of them), its best group, and how many items it has (when the
    page has more title anchors than were grouped: how many title anchors it has)."""
    memo = _Anchors(page_url)
    groups, anchors_of, titled = _groups(root, memo, None if limit is None else 2 * limit + 200)
    for g in groups:
        g.score = _score(g, anchors_of, memo, page_title)
    best = max(groups, key=lambda g: g.score, default=None)
    if best is None or best.score <= 0.05:
        return [], None, 0
    chosen = [best] + [g for g in groups if g is not best and g.score > 0.05 and _same_shape(best, g)]
    order = {id(el): i for i, el in enumerate(root.iter())}
    items = sorted((i for g in chosen for i in g.items), key=lambda el: order.get(id(el), 0))
    found = len(items) if limit is None or titled <= 2 * limit + 200 else titled
    return [_entry(i, anchors_of[id(i)], memo) for i in items[:limit]], best, found


def _is_blank(root: lxml_html.HtmlElement, best: _Group | None) -> bool:
    """True when a "暂无信息" text outside furniture says the column is empty. A marker in some unrelated
    widget (在线访谈：暂无信息) does not blank a page whose best list is clean and lives elsewhere."""
    # Elements themselves, not id()s: lxml proxies are recreated on access, so ids are only stable for
    # elements we keep alive.
    near_best: list[lxml_html.HtmlElement] = []
    node = best.parent if best is not None else None
    for _ in range(3):   # the list box: the list's parent and two levels up, short of <body>
        if node is None or node.tag in ("body", "html"):
            break
        near_best.append(node)
        node = node.getparent()
    for el in root.iter():
        if not isinstance(el.tag, str) or not BLANK_MARKERS.search(f"{el.text or ''} {el.tail or ''}"):
            continue
        holder = el if BLANK_MARKERS.search(el.text or "") else el.getparent()
        if holder is None or _furniture_penalty(holder) < 0.7 or _hidden_template(holder):
            continue
        if best is None or best.penalty < 0.7:
            return True
        node, depth = holder, 0
        while node is not None and depth < 4:
            if any(node is kept for kept in near_best):
                return True
            node, depth = node.getparent(), depth + 1
    return False


# Attributes of client-side templates shown only on a condition (Avalon, Vue, Angular, Alpine).
_CONDITIONAL_ATTRS = ("ms-visible", "ms-if", "v-if", "v-show", "v-else", "ng-if", "ng-show", "ng-hide", "*ngif",
                      "x-show", "x-if")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def _hidden_template(el: lxml_html.HtmlElement) -> bool:
    """True when `el` sits in a conditionally shown template (<div ms-visible="data.length==0">暂无数据) or a
    hidden box: a text the script shows only when its data is empty does not say the column is blank."""
    node: lxml_html.HtmlElement | None = el
    for _ in range(3):
        if node is None or node.tag in ("body", "html"):
            return False
        attrs = {k.lower() for k in node.attrib}
        if attrs.intersection(_CONDITIONAL_ATTRS) or node.get("hidden") is not None \
                or _HIDDEN_STYLE.search(node.get("style") or ""):
            return True
        node = node.getparent()
    return False


def _dedupe(entries: list[ListEntry]) -> list[ListEntry]:
    # A pinned post often appears again at its own place; keep the first, with whatever date we found.
    out: dict[str, ListEntry] = {}
    for e in entries:
        kept = out.get(e.url)
        if kept is None:
            out[e.url] = e
        elif kept.date is None and e.date is not None:
            out[e.url] = ListEntry(kept.title, kept.url, e.date, False)
    return list(out.values())


def hanweb_records(text: str) -> list[str] | None:
    """The HTML fragments of a Hanweb <datastore> (first page or dataproxy response); None if absent."""
    if "<datastore" not in text.lower() and "<recordset" not in text.lower():
        return None
    records = []
    for raw in _RECORD_RE.findall(text):
        m = _CDATA_RE.match(raw)
        records.append(m.group(1) if m else html_lib.unescape(raw))
    return records


def _hanweb_entries(records: list[str], page_url: str) -> list[ListEntry]:
    entries = []
    for record in records:
        if not record.strip():
            continue
        try:
            frag = lxml_html.fragment_fromstring(record, create_parent="div")
        except (etree.ParserError, ValueError):
            continue
        memo = _Anchors(page_url)
        anchors = [a for a in frag.iter("a") if _is_title_anchor(a, memo)]
        if anchors:
            entries.append(_entry(frag, anchors, memo))
    return entries


# The provincial platform's list API (POST /fjdzapp/search): {"pageCount": 8, "data": [{"doctitle", …}]}.
_JSON_LISTS = ("data", "datas", "list", "records", "rows")
_JSON_TITLE = ("doctitle", "title")
_JSON_URL = ("docpuburl", "chnldocurl", "url", "link")
_JSON_DATE = ("pubdate", "docreltime", "publishtime", "pubtime")
_CN_TZ = ZoneInfo("Asia/Shanghai")   # epoch times of Chinese platforms are read on Beijing time


def json_records(text: str) -> list[dict] | None:
    """The records of a list API's JSON answer, or None when `text` is not such an answer."""
    body = text.lstrip()
    if not body.startswith("{"):
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    for key in _JSON_LISTS:
        if isinstance(answer.get(key), list):
            return [r for r in answer[key] if isinstance(r, dict)]
    return None


def _json_field(record: dict, keys: tuple[str, ...]) -> object:
    lowered = {str(k).lower(): v for k, v in record.items()}
    return next((lowered[k] for k in keys if lowered.get(k) not in (None, "")), None)


def _json_date(value: object) -> datetime | None:
    """"2020-09-21 10:12:00", or epoch milliseconds (or seconds) as a number or a string of digits."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc).astimezone(_CN_TZ).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_date(value) if isinstance(value, str) else None


def _json_entries(records: list[dict], page_url: str) -> list[ListEntry]:
    entries = []
    for record in records:
        title = squash(html_lib.unescape(_TAG_RE.sub("", str(_json_field(record, _JSON_TITLE) or ""))))
        href = _json_field(record, _JSON_URL)
        if not title or not isinstance(href, str) or _DEAD_HREF.match(href):
            continue
        lowered = {str(k).lower(): v for k, v in record.items()}
        date = next((d for d in (_json_date(lowered.get(k)) for k in _JSON_DATE) if d is not None), None)
        entries.append(ListEntry(title=title, url=_clean_url(page_url, href), date=date, needs_article=date is None))
    return entries


_TAG_RE = re.compile(r"<[^>]+>")   # search APIs highlight words in titles: <font color=red>仓山</font>


def parse_html(text: str) -> lxml_html.HtmlElement | None:
    """The one way a decoded page becomes an lxml tree (None for an empty or unparsable one)."""
    # lxml refuses str input carrying an XML encoding declaration, and NUL characters.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text or "").replace("\x00", "")
    if not text.strip():
        return None
    try:
        return lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None


@dataclass(frozen=True)
class ListRead:
    entries: list[ListEntry]   # the first `limit` entries, in page order
    found: int                 # how many the page lists (more than len(entries) when cut at `limit`)


def extract_entries(html: str, page_url: str) -> list[ListEntry]:
    """The posts listed on a column page (or a Hanweb dataproxy / platform list API response), in page order;
    [] if blank."""
    return read_list(html, page_url).entries


def read_list(html: str, page_url: str, limit: int | None = None) -> ListRead:
    """`extract_entries` reading at most `limit` entries, with the count the page lists."""
    if not html:
        return ListRead([], 0)
    records = hanweb_records(html)
    if records is not None:
        return ListRead(_dedupe(_hanweb_entries(records[:limit], page_url)), len(records))
    rows = json_records(html)
    if rows is not None:
        return ListRead(_dedupe(_json_entries(rows[:limit], page_url)), len(rows))
    doc = parse_html(html)
    if doc is None:
        return ListRead([], 0)
    base = doc.find(".//base[@href]")
    base_url = urljoin(page_url, base.get("href")) if base is not None else page_url
    page_title = squash(doc.findtext(".//title"))
    for bad in doc.xpath("//script|//style|//noscript|//select|//head|//comment()"):
        if bad.getparent() is not None:
            bad.drop_tree()   # keeps the tail text, unlike remove()
    body = doc.find("body")
    root = body if body is not None else doc
    entries, best, found = _main_list(root, base_url, limit, page_title)
    if _is_blank(root, best) or (best is not None and _outside_main(best, page_title)):
        # A page whose best list is the sidebar's (an empty 信息公开 table beside 热点推荐) has no list of its own.
        return ListRead([], 0)
    return ListRead(_dedupe(entries), found)


def unreadable_cause(html: str) -> str | None:
    """Why a column page that is not marked blank yields no list, as users read it; None when the page is a
    list that is simply empty (a Hanweb datastore or list API answer without records)."""
    records: list | None = hanweb_records(html)
    if records is None:
        records = json_records(html)
    if records is not None:
        return "未能识别信息列表（列表数据中没有可识别的标题和链接）" if any(records) else None
    if not _MARKUP_RE.search(html[:100_000]):
        return "未能识别信息列表（页面内容不是 HTML，可能是编码或文件类型与声明不符）"
    parser = lxml_html.HTMLParser()
    try:
        doc = lxml_html.document_fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", html), parser=parser)
    except (etree.ParserError, ValueError):
        return "未能识别信息列表（页面无法解析）"
    errors = [e.message for e in parser.error_log if e.type_name == "ERR_RESOURCE_LIMIT"]
    if any("depth" in m.lower() for m in errors):
        return f"未能识别信息列表（页面嵌套过深，超过 {_MAX_DEPTH} 层，无法解析）"
    if errors:
        return f"未能识别信息列表（页面超出解析限制：{errors[0]}）"
    if _empty_list_box(doc) and not _SCRIPTED_LIST.search(html):
        return None   # the column's own list is on the page, empty (a 信息公开 table with only its header row)
    return "未能在页面中识别出信息列表"


# A list box by its class/id: list, lb (列表), xxgk/gkml (信息公开), news, info, article.
_LIST_BOX = re.compile(r"list|(?:^|[-_])lb(?:$|[-_\d])|liebiao|xxgk|gkml|news|info|article", re.I)
# A page filling its list from script (an AJAX call, a template loop): an empty box there is no empty list.
_SCRIPTED_LIST = re.compile(r"\$\.(?:ajax|get|post|getJSON)\b|\.load\(|\bfetch\(|XMLHttpRequest|axios"
                            r"|\b(?:ms-for|ms-repeat|v-for|ng-repeat|x-for|th:each)\b|<template\b", re.I)


def _empty_list_box(doc: lxml_html.HtmlElement) -> bool:
    """True when the page's main region holds a list box with no item: a <ul>/<ol> named as a list with no <li>,
    or a table (named as a list, or with <th> headings) with no row besides its heading row; never one in page
    furniture or a hidden template."""
    anchors = _Anchors("")   # titles only: no URL is read here
    for box in doc.iter("ul", "ol", "table"):
        words = f"{box.get('class') or ''} {box.get('id') or ''}"
        if box.tag == "table":
            rows = [r for r in box.iter("tr") if any(True for _ in r.iter("td", "th"))]
            headed = any(True for _ in box.iter("th"))
            empty = len(rows) <= 1 and (headed or bool(_LIST_BOX.search(words))) \
                and not any(_is_title_anchor(a, anchors) for a in box.iter("a"))
        else:
            empty = bool(_LIST_BOX.search(words)) and not any(True for _ in box.iter("li"))
        if empty and not _hidden_template(box) \
                and not any(is_furniture_box(n) for n in (box, *box.iterancestors())):
            return True
    return False


_MARKUP_RE = re.compile(r"<(?:html|body|div|ul|li|table|a|p)\b", re.I)
_MAX_DEPTH = 255   # libxml2's nesting limit without XML_PARSE_HUGE (`huge_tree`, which we never turn on)
