"""Column discovery: read a portal's home page and navigation, propose its list columns as `[[columns]]`.

Staff would otherwise type every column of a district portal by hand. `monitor discover URL` walks the site the
way a visitor does: the home page, its menus and boxes, the hub pages (部门频道, 镇街频道, 政府信息公开) and each
unit's channel page, following links on the same host only (never another host; a bounded number of pages, a few
requests at a time with a delay, a timeout). Article links are not followed: a column is reached through the
navigation, not through its posts.

A page becomes a proposed column when the crawler's own list reader (`crawler.extract.extract_entries`) reads it
as a list:
- at least MIN_DATED entries with a full date (half of its entries or more), or
- at least MIN_DATELESS entries without full dates (no-date and year-less lists) whose first post, opened, has
  a publication date (`crawler.dates.article_date`), or
- no entry and a "暂无信息" marker in the page body: a blank column, which the rules must see too;
and it is none of: the start page, an article (PubDate/ArticleTitle meta), a hub (two or more 更多 links, or one
更多 link to a list that holds its entries: a preview box), a list repeated on many pages (a 热点 sidebar).

Each proposal gets a name (ColumnName meta, else the breadcrumb's last item, else the title's first part, else the
text of the link that led to it), a category from its name (CATEGORY_WORDS) and a unit. The unit, first found wins:
  1. `--unit` (the whole site is that unit's, e.g. its own sub-site);
  2. a configured unit whose `url_prefixes` hold the URL (settings are the owner of record);
  3. the breadcrumb: a configured unit named in it, else the item after a hub (部门频道 > 审计局 > 工作动态);
  4. the unit of the hub page that linked to the column (its own breadcrumb: 镇街频道 > 仓山镇);
  5. a configured unit named in the page's keywords or title parts (ColumnKeywords "仓山要闻,区政府办,仓山区").
A unit found in 3 or 4 that settings do not have is proposed as a new `[[units]]` block; a column with no unit is
printed commented out, to be completed by hand.

Pure parts (page analysis, the list decision, names, categories, units, TOML) are separate from fetching
(`discover`, over the project's one plain client `crawler.readers.http.HttpClient`, whose `Response.text()`
is the one decoder `crawler.encoding.decode_html`).
"""
from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urldefrag, urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from config.loader import owner_by_prefix
from config.model import Settings, UnitSettings
from config.toml_text import toml_str, toml_value
from crawler.dates import article_date
from crawler.extract import BLANK_MARKERS, ListEntry, extract_entries, squash
from crawler.readers.exceptions import ReadError
from crawler.readers.http import HttpClient
from monitors.unit_names import UnitNames

MIN_DATED = 2  # one dated link is too little to call a page a column (a 最新 line, a notice banner)
MIN_DATELESS = 3  # dateless lists must be longer, and their first post must carry a date
REPEATED_ON = 3  # an entry listed on this many pages or more is page furniture (热点, 推荐)
MAX_LINK_TEXT = 24  # longer link texts are post titles, not menu entries
DEFAULT_MAX_PAGES = 500
DEFAULT_CONCURRENCY = 4
MAX_REDIRECTS = 5

# Category by the column's name, first match wins (国办秘函〔2019〕19号's scale: 动态/要闻 2 weeks, 通知公告/政策文件
# 6 months, 人事/规划计划 1 year). Disclosure first: 政府信息公开年报 is not a 公告.
CATEGORY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("disclosure", ("政府信息公开", "信息公开目录", "信息公开指南", "信息公开年报", "年报", "预决算", "依申请公开")),
    ("plan", ("人事", "规划计划", "规划", "计划", "任免")),
    ("notice", ("通知公告", "政策文件", "公告", "通知", "公示", "文件")),
    ("dynamic", ("动态", "要闻", "新闻", "资讯", "快讯", "工作信息")),
)
_HUB_WORD = re.compile(r"频道$|^(?:政府)?信息公开$|^(?:区直|县直|市直)?部门$|^(?:镇街|乡镇|乡镇街道|镇街道|街道)$"
                       r"|^(?:部门|镇街|乡镇)(?:信息公开|网站|专栏|栏目|导航)$")
_TOWNSHIP_HUB = re.compile(r"镇街|乡镇|街道")
_TOWNSHIP_NAME = re.compile(r"(?:镇|乡|街道|街道办事处)$")
_DEPARTMENT_NAME = re.compile(r"(?:局|委|委员会|办|办公室|中心|院|队|站|所)$")
_GENERIC_NAMES = {"首页", "网站首页", "主页", "正文", "频道首页", "列表", "列表页", "更多", "详情", "内容"}
_CRUMB_LABEL = re.compile(r"^\s*(?:当前位置|您的位置|您现在的位置|你的位置|你现在的位置|所在位置|位置)\s*[:：]?\s*")
_CRUMB_SPLIT = re.compile(r"\s*(?:>|＞|»|›|→|>>)\s*")
_CRUMB_NODE = re.compile(r"position|location|crumb|weizhi|dqwz|curpos|current", re.I)
_FURNITURE = re.compile(r"nav|menu|foot|header|crumb|position|location|side|hot|banner|copyright|bottom|friend|yqlj",
                        re.I)
_MORE_TEXT = re.compile(r"^(?:更多|查看更多|more|\+|>>|»)", re.I)
_PAGER_TEXT = re.compile(r"^(?:首页|上一页|下一页|上页|下页|尾页|末页|最后一页|\d+|[<>«»]+|第\d+页)$")
_PAGER_URL = re.compile(r"(?:^|/)(?:index|list|default)_\d+\.\w+$", re.I)
_PAGE_PARAMS = {"page", "pageno", "pageindex", "pagenum", "curpage", "currentpage", "pn", "p", "startrecord"}
_ARTICLE_URL = re.compile(
    r"t\d{8}_\d+|/art_|art_\d+|content_\d+|/content/|/show\.\w+\?|detail|article|/\d{5,}\.\w+$"
    r"|[?&](?:id|articleid|infoid|newsid|aid|docid)=\w|/\d{4}/\d{1,2}/\d{1,2}/", re.I)
_RESOURCE_URL = re.compile(
    r"\.(?:jpe?g|png|gif|bmp|svg|ico|webp|css|js|pdf|docx?|xlsx?|pptx?|wps|zip|rar|7z|mp[34]|avi|txt|xml|json)$", re.I)
_INDEX_NAMES = re.compile(r"(?:^|/)(?:index|default)\.(?:s?html?|jsp|aspx?|php)$", re.I)
_KEYWORD_SPLIT = re.compile(r"[,，;；、|\s_\-—–]+")


# ------------------------------------------------------------------------------------------ URLs


def url_key(url: str) -> str:
    """A URL compared loosely: no fragment, lower-case host, default port dropped, index.html = its folder."""
    url = urldefrag(url)[0]
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = _INDEX_NAMES.sub("/", parts.path or "/")
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def origin(url: str) -> str:
    """host[:port] of a URL (the scope of a discovery)."""
    return url_key(url).split("/", 1)[0]


def _followable(url: str, text: str, site: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or origin(url) != site:
        return False
    if _RESOURCE_URL.search(parts.path) or _ARTICLE_URL.search(url) or _PAGER_URL.search(parts.path):
        return False
    if any(k.lower() in _PAGE_PARAMS for k, _ in parse_qsl(parts.query)):
        return False
    return len(text) <= MAX_LINK_TEXT and not _PAGER_TEXT.match(text)


# ---------------------------------------------------------------------------------- page analysis


class PageUnreadable(Exception):
    """A page answered, but not with a page to read (HTTP error, a redirect off the site, not HTML)."""


class AlreadyQueued(Exception):
    """A redirect leads to a page already queued for reading."""


@dataclass(frozen=True)
class Link:
    url: str
    text: str
    more: bool  # a 更多 link in the page's content (not its furniture)


@dataclass
class PageFacts:
    """What one fetched page says about itself."""

    url: str
    title: str = ""
    meta: dict[str, str] = field(default_factory=dict)  # lower-cased names
    trail: list[str] = field(default_factory=list)  # breadcrumb items after 首页
    links: list[Link] = field(default_factory=list)
    entries: list[ListEntry] = field(default_factory=list)
    blank: bool = False  # a 暂无信息 marker in the content
    article: bool = False

    @property
    def more_urls(self) -> set[str]:
        return {url_key(link.url) for link in self.links if link.more}


def _in_furniture(el: lxml_html.HtmlElement) -> bool:
    node = el
    while node is not None and isinstance(node.tag, str) and node.tag not in ("body", "html"):
        if node.tag in ("nav", "header", "footer", "aside") or \
                _FURNITURE.search(f"{node.get('class', '')} {node.get('id', '')}"):
            return True
        node = node.getparent()
    return False


def _trail(doc: lxml_html.HtmlElement) -> list[str]:
    """The breadcrumb's items (当前位置：首页 > 部门频道 > 审计局 > 工作动态 -> [部门频道, 审计局, 工作动态])."""
    nodes = [el for el in doc.iter() if isinstance(el.tag, str)
             and _CRUMB_NODE.search(f"{el.get('class', '')} {el.get('id', '')}")]
    if not nodes:
        nodes = [el for el in doc.iter() if isinstance(el.tag, str) and _CRUMB_LABEL.match(el.text or "")
                 and el.tag not in ("html", "body")]
    for node in nodes:
        text = _CRUMB_LABEL.sub("", squash(node.text_content()))
        items = [item for item in _CRUMB_SPLIT.split(text) if item and item not in _GENERIC_NAMES]
        if items:
            return items
    return []


def analyse_page(text: str, url: str) -> PageFacts:
    """Meta, title, breadcrumb, links, list entries and markers of a decoded page."""
    facts = PageFacts(url=url)
    body = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    if not body.strip():
        return facts
    try:
        doc = lxml_html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return facts
    for meta in doc.iter("meta"):
        name = (meta.get("name") or meta.get("property") or "").strip().lower()
        if name and meta.get("content") and name not in facts.meta:
            facts.meta[name] = meta.get("content", "").strip()
    title = doc.find(".//title")
    facts.title = squash(title.text_content()) if title is not None else ""
    facts.article = "articletitle" in facts.meta or "pubdate" in facts.meta
    for bad in doc.xpath("//script|//style|//noscript"):
        if bad.getparent() is not None:
            bad.drop_tree()
    facts.trail = _trail(doc)
    seen: set[str] = set()
    for a in doc.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        target = urldefrag(urljoin(url, href))[0]
        label = squash(a.text_content()) or squash(a.get("title"))
        more = bool(_MORE_TEXT.match(label)) and url_key(target) != url_key(url) and not _in_furniture(a)
        key = (target, more)
        if str(key) in seen:
            continue
        seen.add(str(key))
        facts.links.append(Link(target, label, more))
    for el in doc.iter():
        if isinstance(el.tag, str) and BLANK_MARKERS.search(el.text or "") and not _in_furniture(el):
            facts.blank = True
            break
    facts.entries = extract_entries(text, url)
    return facts


# ------------------------------------------------------------------------------------ the decision


@dataclass(frozen=True)
class ListVerdict:
    is_list: bool
    reason: str  # Chinese: why (or why not)
    dated: int = 0
    newest: datetime | None = None
    needs_article: str | None = None  # dateless candidate: the first post to open


def list_verdict(facts: PageFacts, *, start_key: str, repeated: Counter, lists_by_key: dict[str, PageFacts]
                 ) -> ListVerdict:
    """Whether a page is a column list (before any article check); `repeated` counts entry URLs over all pages."""
    if url_key(facts.url) == start_key:
        return ListVerdict(False, "首页")
    if facts.article or _ARTICLE_URL.search(facts.url):
        return ListVerdict(False, "文章页")
    entries = facts.entries
    mores = facts.more_urls
    if len(mores) >= 2:
        return ListVerdict(False, f"频道页（{len(mores)} 个“更多”链接）")
    if not entries:
        return ListVerdict(True, "栏目暂无信息（空栏目）") if facts.blank else ListVerdict(False, "没有列表")
    urls = {e.url for e in entries}
    for more in mores:
        target = lists_by_key.get(more)
        if target is not None and len(urls & {e.url for e in target.entries}) >= 0.8 * len(urls):
            return ListVerdict(False, "频道页（预览框，条目都在其“更多”栏目中）")
    if sum(1 for u in urls if repeated[u] >= REPEATED_ON) * 2 >= len(urls):
        return ListVerdict(False, "各页重复的推荐列表")
    dated = [e.date for e in entries if e.date is not None]
    if len(dated) >= MIN_DATED and len(dated) * 2 >= len(entries):
        return ListVerdict(True, "列表", len(dated), max(dated))
    if len(entries) >= MIN_DATELESS:
        return ListVerdict(False, "列表无日期，待核对首条文章", len(dated), needs_article=entries[0].url)
    return ListVerdict(False, f"列表条目太少（{len(entries)} 条）")


def classify_category(name: str) -> tuple[str, str]:
    """(category, the word that decided it or "") for a column name."""
    for category, words in CATEGORY_WORDS:
        for word in words:
            if word in name:
                return category, word
    return "other", ""


def default_quota(category: str) -> bool:
    """Whether a unit's column counts towards its monthly quota by default: its 动态 and 通知公告/政策文件."""
    return category in ("dynamic", "notice")


def column_name(facts: PageFacts, link_text: str = "") -> tuple[str, str]:
    """(name, where it came from) of a column page."""
    meta = facts.meta.get("columnname", "").strip()
    if meta and meta not in _GENERIC_NAMES:
        return meta, "ColumnName"
    if facts.trail:
        return facts.trail[-1], "面包屑"
    first = _KEYWORD_SPLIT.split(facts.title, maxsplit=1)[0].strip() if facts.title else ""
    if first and first not in _GENERIC_NAMES:
        return first, "页面标题"
    return (link_text or facts.url), "链接文字"


@dataclass(frozen=True)
class UnitChoice:
    name: str  # "" when none was found
    source: str  # Chinese: where it came from
    known: bool = True  # in settings
    kind: str = "other"  # guessed [[units]] kind for a new unit


def _known_match(item: str, units: Iterable[UnitSettings]) -> str | None:
    """The configured unit `item` names (its name, an alias, 仓山区审计局 for 审计局: monitors.unit_names)."""
    return UnitNames.of(units).find(item)


def guess_kind(name: str, hub: str = "") -> str:
    if _TOWNSHIP_HUB.search(hub) or _TOWNSHIP_NAME.search(name):
        return "township"
    if "部门" in hub or _DEPARTMENT_NAME.search(name):
        return "department"
    return "other"


def unit_from_trail(items: list[str], units: tuple[UnitSettings, ...]) -> UnitChoice | None:
    """The unit a breadcrumb names (`items` without the page's own name): a configured unit, nearest the page
    first; else the item after a hub (部门频道 > 审计局)."""
    for item in reversed(items):
        if match := _known_match(item, units):
            return UnitChoice(match, "面包屑（" + " > ".join(items) + "）")
    for hub, item in zip(items, items[1:]):
        if _HUB_WORD.search(hub) and not _HUB_WORD.search(item) and item not in _GENERIC_NAMES:
            return UnitChoice(item, "面包屑（" + " > ".join(items) + "）", known=False, kind=guess_kind(item, hub))
    return None


def unit_from_words(facts: PageFacts, units: tuple[UnitSettings, ...]) -> str | None:
    """A configured unit named as one of the page's keywords or title parts."""
    words = [facts.meta.get(k, "") for k in ("columnkeywords", "keywords")] + [facts.title]
    for text in words:
        for token in _KEYWORD_SPLIT.split(text):
            if token and (match := _known_match(token, units)) == token:
                return match
    return None


def choose_unit(facts: PageFacts, settings: Settings, *, forced: str | None = None,
                hub: UnitChoice | None = None) -> UnitChoice:
    """The column's unit; the order is the module docstring's (--unit, url_prefixes, breadcrumb, hub, keywords)."""
    units = settings.units
    if forced:
        known = settings.unit(forced) is not None
        return UnitChoice(forced, "--unit", known, guess_kind(forced))
    if owner := owner_by_prefix(units, facts.url):
        return UnitChoice(owner, "单位的 url_prefixes")
    if choice := unit_from_trail(facts.trail[:-1], units):
        return choice
    if hub is not None and hub.name:
        return UnitChoice(hub.name, f"所在频道页（{hub.source}）", hub.known, hub.kind)
    if match := unit_from_words(facts, units):
        return UnitChoice(match, "页面关键词")
    return UnitChoice("", "未能确定")


# ------------------------------------------------------------------------------------ proposals


@dataclass(frozen=True)
class Proposal:
    url: str
    name: str
    name_source: str
    category: str
    category_word: str
    unit: UnitChoice
    entries: int
    dated: int
    newest: datetime | None
    newest_source: str  # 列表 | 首条文章 | ""
    blank: bool = False
    via: str = ""  # the page that linked to it

    @property
    def quota(self) -> bool:
        return default_quota(self.category)

    def comment(self) -> str:
        if self.blank:
            found = "栏目暂无信息（空栏目）"
        else:
            newest = f"最新 {self.newest:%Y-%m-%d}（{self.newest_source}）" if self.newest else "日期未知"
            found = f"列表 {self.entries} 条（带日期 {self.dated} 条），{newest}"
        category = f"名称含“{self.category_word}”" if self.category_word else "名称无类别词，按其他"
        unit = f"单位取自{self.unit.source}" if self.unit.name else "单位未能确定，请填写 unit 后取消注释"
        who = self.unit.name or "？"
        return f"# {who} · {self.name}：{found}；{unit}；类别：{category}；名称取自{self.name_source}"


def render_toml(proposals: list[Proposal], known_units: Iterable[str], source: str = "",
                skipped: int = 0) -> str:
    """[[units]] for units settings lack, then one commented [[columns]] block a proposal; blocks without a
    unit are commented out whole."""
    known = set(known_units)
    new_units: dict[str, str] = {}
    for p in proposals:
        if p.unit.name and p.unit.name not in known:
            new_units.setdefault(p.unit.name, p.unit.kind)
    head = [f"# 栏目发现{f'（{source}）' if source else ''}：新栏目 {len(proposals)} 个"
            f"{f'（另有 {skipped} 个已在设置中，未列出）' if skipped else ''}，新单位 {len(new_units)} 个。"
            "请逐条核对名称、单位、类别和 quota（按类别建议：动态、通知公告类计入）后使用。"]
    blocks = [f"# 新单位（取自面包屑或频道页）\n[[units]]\nname = {toml_str(u)}\nkind = {toml_str(k)}"
              for u, k in new_units.items()]
    for p in proposals:
        lines = ["[[columns]]", f"unit = {toml_str(p.unit.name)}", f"name = {toml_str(p.name)}",
                 f"url = {toml_str(p.url)}", f"category = {toml_str(p.category)}", f"quota = {toml_value(p.quota)}"]
        if not p.unit.name:
            lines = ["# " + line for line in lines]
        blocks.append("\n".join([p.comment(), *lines]))
    return "\n\n".join(head + blocks) + "\n"


# ------------------------------------------------------------------------------------- fetching


@dataclass
class Fetched:
    url: str  # after same-host redirects
    linked_as: str  # as the link that led here wrote it
    depth: int
    via: str  # referring page ("" for the start)
    link_text: str
    facts: PageFacts | None = None
    error: str = ""


@dataclass
class DiscoveryResult:
    start_url: str
    proposals: list[Proposal]
    skipped: list[Proposal]  # already configured (same URL)
    pages: dict[str, Fetched]  # url_key -> page read
    verdicts: dict[str, ListVerdict]
    requests: int
    seconds: float
    truncated: bool  # stopped at max_pages with links left

    def toml(self, settings: Settings) -> str:
        return render_toml(self.proposals, [u.name for u in settings.units], self.start_url, len(self.skipped))


class _Crawler:
    """Breadth-first, same host, `concurrency` requests at a time, `delay` seconds between a worker's requests."""

    def __init__(self, start: str, client: HttpClient, *, max_pages: int, max_depth: int, concurrency: int,
                 delay: float, progress: Callable[[str], None] | None, user_agent: str) -> None:
        self.start, self.site = start, origin(start)
        self.client, self.max_pages, self.max_depth = client, max_pages, max_depth
        self.concurrency, self.delay, self.progress = max(1, concurrency), delay, progress
        self.headers = {"User-Agent": user_agent} if user_agent else {}
        self.pages: dict[str, Fetched] = {}
        self.queued: set[str] = set()
        self.truncated = False

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    async def fetch_text(self, url: str, *, skip_queued: bool = False) -> tuple[str, str]:
        """(final URL, decoded text) following same-host redirects only; raises ReadError (network, a page
        over `[crawl] max_page_mb`) or PageUnreadable. With `skip_queued`, a redirect to a page already
        queued (`/x` → `/x/`) raises AlreadyQueued instead of reading that page a second time."""
        seen: list[str] = []
        while True:
            resp = await self.client.get(url, headers=self.headers, max_redirects=0)
            loc = resp.location
            if loc is None:
                break
            if origin(loc) != self.site:
                raise PageUnreadable(f"重定向到其他网站 {loc}，未跟随")
            if loc in seen or len(seen) >= MAX_REDIRECTS:
                raise PageUnreadable("重定向循环")
            if skip_queued:
                if url_key(loc) in self.queued:
                    raise AlreadyQueued(loc)
                self.queued.add(url_key(loc))
            seen.append(loc)
            url = loc
        if resp.status != 200:
            raise PageUnreadable(f"HTTP {resp.status}")
        ctype = resp.headers.get("content-type", "")
        if ctype and not re.search(r"html|xml", ctype, re.I):
            raise PageUnreadable(f"不是网页（{ctype.split(';')[0]}）")
        return resp.url, resp.text()

    async def run(self) -> None:
        queue: asyncio.Queue[Fetched] = asyncio.Queue()
        self.queued.add(url_key(self.start))
        queue.put_nowait(Fetched(self.start, self.start, 0, "", ""))

        async def worker() -> None:
            while True:
                item = await queue.get()
                try:
                    if len(self.pages) >= self.max_pages:
                        self.truncated = True
                        continue
                    try:
                        await self.read(item, queue)
                    except Exception as exc:  # noqa: BLE001 - one bad page (odd URL, parser error) ends no worker
                        item.error = f"{type(exc).__name__}: {exc}"[:200]
                        self.say(f"无法读取 {item.linked_as}：{item.error}")
                    if self.delay:
                        await asyncio.sleep(self.delay)
                finally:
                    queue.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(self.concurrency)]
        await queue.join()
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    async def read(self, item: Fetched, queue: asyncio.Queue) -> None:
        key = url_key(item.linked_as)
        self.pages[key] = item
        n = len(self.pages)
        try:
            item.url, text = await self.fetch_text(item.linked_as, skip_queued=True)
        except AlreadyQueued:
            del self.pages[key]  # another address of a page read anyway: nothing to say
            return
        except (ReadError, PageUnreadable) as exc:
            item.error = str(exc)
            self.say(f"[{n}/{self.max_pages}] 无法读取 {item.linked_as}：{exc}")
            return
        facts = await asyncio.get_running_loop().run_in_executor(None, analyse_page, text, item.url)
        item.facts = facts
        self.queued.add(url_key(item.url))
        dated = sum(1 for e in facts.entries if e.date)
        what = (f"列表 {len(facts.entries)} 条（带日期 {dated} 条）" if facts.entries
                else "暂无信息" if facts.blank else "无列表")
        self.say(f"[{n}/{self.max_pages}] 已读 {item.url}：{facts.meta.get('columnname') or facts.title[:20]}，{what}")
        if item.depth >= self.max_depth:
            return
        entry_urls = {e.url for e in facts.entries} if dated >= MIN_DATED else set()
        for link in facts.links:
            k = url_key(link.url)
            if k in self.queued or link.url in entry_urls or not _followable(link.url, link.text, self.site):
                continue
            self.queued.add(k)
            queue.put_nowait(Fetched(link.url, link.url, item.depth + 1, item.url, link.text))


def _hub_units(pages: dict[str, Fetched], settings: Settings) -> dict[str, UnitChoice]:
    """url_key -> the unit a hub page belongs to by its own breadcrumb (镇街频道 > 仓山镇)."""
    out = {}
    for key, page in pages.items():
        if page.facts is not None and page.facts.trail:
            choice = unit_from_trail(page.facts.trail, settings.units)
            if choice is not None:
                out[key] = choice
    return out


async def _discover(start_url: str, settings: Settings, *, unit: str | None, max_pages: int, max_depth: int,
                    concurrency: int, delay: float, timeout: float, progress: Callable[[str], None] | None,
                    client: HttpClient | None) -> DiscoveryResult:
    began = time.perf_counter()
    own = client is None
    client = client or HttpClient(timeout=timeout, max_workers=max(1, concurrency),
                                  max_bytes=int(settings.crawl.max_page_mb * 1024 * 1024))
    requests_before = client.request_count
    crawler = _Crawler(start_url, client, max_pages=max_pages, max_depth=max_depth, concurrency=concurrency,
                       delay=delay, progress=progress, user_agent=settings.crawl.user_agent)
    try:
        await crawler.run()
        pages = crawler.pages
        start = pages.get(url_key(start_url))
        if start is None or start.facts is None:
            raise PageUnreadable(start.error if start else "未能读取")
        read = {k: p for k, p in pages.items() if p.facts is not None}
        facts_of: dict[str, PageFacts] = {k: p.facts for k, p in pages.items() if p.facts is not None}
        repeated: Counter[str] = Counter(e.url for facts in facts_of.values()
                                         for e in {e.url: e for e in facts.entries}.values())
        by_key = {url_key(read[k].url): facts for k, facts in facts_of.items()}
        start_key = url_key(start.url)
        verdicts = {k: list_verdict(facts, start_key=start_key, repeated=repeated, lists_by_key=by_key)
                    for k, facts in facts_of.items()}
        dates: dict[str, datetime | None] = {}
        for k, verdict in verdicts.items():
            if verdict.needs_article and origin(verdict.needs_article) == crawler.site:
                dates[k] = await _article_date(crawler, verdict.needs_article)
        requests = client.request_count - requests_before
    finally:
        if own:
            client.close()
    hubs = _hub_units(read, settings)
    configured = {url_key(c.url) for c in settings.columns}
    proposals: list[Proposal] = []
    skipped: list[Proposal] = []
    proposed: set[str] = set()
    for k, page in read.items():
        verdict = verdicts[k]
        if url_key(page.url) in proposed:
            continue  # reached under two addresses (/x redirected to /x/)
        newest, newest_source = verdict.newest, "列表"
        if verdict.needs_article:
            newest = dates.get(k)
            if newest is None:
                continue
            verdict = verdicts[k] = ListVerdict(True, "列表（日期取自首条文章）", verdict.dated, newest)
            newest_source = "首条文章"
        if not verdict.is_list:
            continue
        facts = facts_of[k]
        name, name_source = column_name(facts, page.link_text)
        category, word = classify_category(name)
        hub = hubs.get(url_key(page.via)) if page.via else None
        proposal = Proposal(url=page.url, name=name, name_source=name_source, category=category,
                            category_word=word, unit=choose_unit(facts, settings, forced=unit, hub=hub),
                            entries=len(facts.entries), dated=verdict.dated, newest=newest,
                            newest_source=newest_source if newest else "", blank=not facts.entries, via=page.via)
        proposed.add(url_key(page.url))
        (skipped if url_key(page.url) in configured or k in configured else proposals).append(proposal)
    order = {u.name: i for i, u in enumerate(settings.units)}
    for found in (proposals, skipped):  # stable output whatever order the pages came back in
        found.sort(key=lambda p: (order.get(p.unit.name, len(order)), p.unit.name, url_key(p.url)))
    return DiscoveryResult(start_url, proposals, skipped, pages, verdicts, requests,
                           time.perf_counter() - began, crawler.truncated)


async def _article_date(crawler: _Crawler, url: str) -> datetime | None:
    try:
        _final, text = await crawler.fetch_text(url)
    except (ReadError, PageUnreadable) as exc:
        crawler.say(f"核对日期失败 {url}：{exc}")
        return None
    found = article_date(text)
    crawler.say(f"核对日期 {url}：{found:%Y-%m-%d}" if found else f"核对日期 {url}：文章没有日期")
    return found


def discover(start_url: str, settings: Settings, *, unit: str | None = None, max_pages: int = DEFAULT_MAX_PAGES,
             max_depth: int = 6, concurrency: int = DEFAULT_CONCURRENCY, delay: float | None = None,
             timeout: float | None = None, progress: Callable[[str], None] | None = None,
             client: HttpClient | None = None) -> DiscoveryResult:
    """Walk the site from `start_url` and propose its list columns (see the module docstring).

    Politeness comes from settings' [crawl] (download_delay, timeout, user_agent) unless given. Raises
    PageUnreadable when the start page cannot be read.
    """
    return asyncio.run(_discover(
        start_url, settings, unit=unit, max_pages=max_pages, max_depth=max_depth, concurrency=concurrency,
        delay=settings.crawl.download_delay if delay is None else delay,
        timeout=settings.crawl.timeout if timeout is None else timeout, progress=progress, client=client))


__all__ = ["CATEGORY_WORDS", "DiscoveryResult", "ListVerdict", "PageFacts", "Proposal", "UnitChoice",
           "analyse_page", "choose_unit", "classify_category", "column_name", "default_quota", "discover",
           "list_verdict", "render_toml", "unit_from_trail", "url_key"]
