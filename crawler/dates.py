"""Publication dates as Chinese government portals write them.

Hand-written regexes rather than dateparser/htmldate (DESIGN.md weighs both): list pages put a bare
`2020-09-15` or `2020年9月15日` beside each title and article pages label it `发布时间：`; the forms are few
and fixed, and both libraries guess missing years from the clock, which must never happen here (a
year-less `09-15` means "open the article", see `has_yearless_date`). htmldate's meta-first order is kept
in `article_date`.
"""
from __future__ import annotations

import re
from datetime import datetime

from lxml import html as lxml_html

# Sentinel year for year-less dates when a caller asks for them (require_year=False): a leap year so
# 02-29 survives, and far enough in the past that nobody mistakes it for a real publication date.
YEARLESS_YEAR = 1904

_TIME = r"(?:\s*(?:T|\s)?\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*(?:[:：分]\s*(\d{1,2})\s*秒?)?)?"
# 2020-09-15 / 2020-9-15 / 2020/9/15 / 2020.09.15 / 2020年9月15日, optionally followed by a time.
FULL_DATE_RE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})(?!\d)\s*日?" + _TIME
)
# 09-15, 9/15, [09-15], 9月15日 (not preceded by a year or another number).
_YEARLESS_RE = re.compile(
    r"(?<![\d年/.\-:])(?:(\d{1,2})\s*[-/]\s*(\d{1,2})|(\d{2})\.(\d{2})|(\d{1,2})\s*月\s*(\d{1,2})\s*日)(?![\d/.\-])"
)


def _build(y: str, mo: str, d: str, h: str | None, mi: str | None, s: str | None) -> datetime | None:
    try:
        day = datetime(int(y), int(mo), int(d))
    except ValueError:
        return None
    if h is not None and mi is not None:
        try:
            return day.replace(hour=int(h), minute=int(mi), second=int(s or 0))
        except ValueError:
            return day  # a bad time does not spoil a good date
    return day


def parse_date(text: str, *, require_year: bool = True) -> datetime | None:
    """The first valid full date (with optional time) in `text`, as a naive datetime.

    With require_year=False a year-less date (09-15, 9月15日) is returned in YEARLESS_YEAR when the
    text holds no full date; callers must treat that year as unknown.
    """
    if not text:
        return None
    for m in FULL_DATE_RE.finditer(text):
        found = _build(*m.groups())
        if found is not None:
            return found
    if not require_year:
        for m in _YEARLESS_RE.finditer(text):
            mo, d = next((m.group(i), m.group(i + 1)) for i in (1, 3, 5) if m.group(i))
            found = _build(str(YEARLESS_YEAR), mo, d, None, None, None)
            if found is not None:
                return found
    return None


def strip_dates(text: str) -> str:
    """`text` without its full dates (used to clean titles that carry their date inside the anchor)."""
    return FULL_DATE_RE.sub(" ", text)


def has_yearless_date(text: str) -> bool:
    """True when `text` holds a month-day date without a year and no full date (e.g. `[09-15]`)."""
    if not text or parse_date(text) is not None:
        return False
    for m in _YEARLESS_RE.finditer(text):
        mo, d = next((m.group(i), m.group(i + 1)) for i in (1, 3, 5) if m.group(i))
        if 1 <= int(mo) <= 12 and 1 <= int(d) <= 31:
            return True
    return False


# URL forms, most specific first: TRS t20200915_123.html, Hanweb /art/2020/9/15/art_..., /2020-09/15/,
# /202009/15/, and a bare 8-digit 20200915 between separators.
_URL_RES = [
    re.compile(r"/t((?:19|20)\d{2})(\d{2})(\d{2})_\d+"),
    re.compile(r"/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})/"),
    re.compile(r"/((?:19|20)\d{2})-(\d{1,2})[-/](\d{1,2})(?:/|[_.])"),
    re.compile(r"/((?:19|20)\d{2})(\d{2})/(\d{2})/"),
    re.compile(r"(?<=[/_\-=t])((?:19|20)\d{2})(\d{2})(\d{2})(?=[/_.\-&]|$)"),
]


def date_from_url(url: str) -> datetime | None:
    """A date encoded in an article URL; a weak hint only (a month-only folder /202009/ gives None)."""
    for rx in _URL_RES:
        for m in rx.finditer(url):
            found = _build(m.group(1), m.group(2), m.group(3), None, None, None)
            if found is not None:
                return found
    return None


# Meta names that carry the publication date, in order of trust. PubDate is the government meta set
# (政府网站发展指引, checked by the meta.missing rule); the others are what TRS, Hanweb and OpenGraph write.
_META_NAMES = (
    "pubdate", "publishdate", "firstpublishedtime", "article:published_time", "og:published_time",
    "publishtime", "publish_time", "releasedate", "dc.date.issued", "dcterms.issued", "dc.date",
    "createdate", "datepublished", "date",
)
# Labels before a visible date: strong ones say "published", weak ones are generic (日期/时间).
_STRONG_LABEL = re.compile(r"(?:发布时间|发布日期|发表时间|发表日期|发稿时间|公开日期|公开时间|发布于|上传时间)\s*[:：]?\s*")
_WEAK_LABEL = re.compile(r"(?:更新时间|成文日期|印发日期|日期|时间)\s*[:：]\s*")
# Dates introduced this way are the visitor's clock or a site banner, not the article's.
_CLOCK_PREFIX = re.compile(r"(?:今天是|今日|当前时间|现在是|今天)\s*[:：]?\s*$")
# Containers whose dates are never the article's (footer "更新时间", menus). Not "header": an article's
# own header block often carries its date.
_FURNITURE_WORDS = re.compile(r"foot|copyright|bottom|banquan|\bnav|menu", re.I)


def _meta_date(doc: lxml_html.HtmlElement) -> datetime | None:
    metas: dict[str, str] = {}
    for meta in doc.iter("meta"):
        key = (meta.get("name") or meta.get("property") or meta.get("itemprop") or "").strip().lower()
        content = meta.get("content")
        if key and content and key not in metas:
            metas[key] = content
    for name in _META_NAMES:
        if name in metas:
            found = parse_date(metas[name])
            if found is not None:
                return found
    return None


def _visible_text(doc: lxml_html.HtmlElement) -> str:
    body = doc.find("body")
    root = body if body is not None else doc
    for bad in root.xpath(".//script|.//style|.//noscript|.//select"):
        bad.drop_tree()
    for el in root.xpath(".//*[@class or @id]"):
        if el.getparent() is not None and _FURNITURE_WORDS.search(f"{el.get('class', '')} {el.get('id', '')}"):
            el.drop_tree()
    for el in root.xpath(".//footer|.//nav"):
        if el.getparent() is not None:
            el.drop_tree()
    return " ".join(t.strip() for t in root.itertext() if t.strip())


def _labelled(text: str, label: re.Pattern[str]) -> datetime | None:
    for m in label.finditer(text):
        nxt = FULL_DATE_RE.match(text, m.end())
        if nxt:
            found = _build(*nxt.groups())
            if found is not None:
                return found
    return None


def article_date(html: str) -> datetime | None:
    """Publication date of an article page: meta tags, then a labelled visible date, then the first
    full date just below the title. Footers, navigation and clock banners are ignored."""
    if not html or not html.strip():
        return None
    try:
        doc = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return None
    found = _meta_date(doc)
    if found is not None:
        return found
    text = _visible_text(doc)
    for label in (_STRONG_LABEL, _WEAK_LABEL):
        found = _labelled(text, label)
        if found is not None:
            return found
    # No label: the date line sits right under the title (h1/h2 or the <title> text).
    start = 0
    heads = doc.xpath("//h1|//h2|//*[contains(@class,'title')]")
    for h in heads:
        head_text = " ".join(h.text_content().split())
        if len(head_text) >= 4 and head_text in text:
            start = text.index(head_text)
            break
    window = text[start:start + 400] if start else text
    for m in FULL_DATE_RE.finditer(window):
        if _CLOCK_PREFIX.search(window[max(0, m.start() - 8):m.start()]):
            continue
        found = _build(*m.groups())
        if found is not None:
            return found
    return None
