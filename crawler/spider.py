"""The column spider: reads any configured column with no per-site selectors.

For each column it fetches the list page, extracts the entries (`crawler.extract`), opens article pages
only for new entries whose list shows no full date, and follows the pagination (`crawler.pagination`)
until it reaches posts already stored. It yields items; `crawler.pipelines.StoragePipeline` writes them.

Incremental rule: continue to the next page only while the *last* entry of the current page is new. Lists
are newest-first below any pinned (置顶) items, so when the last entry is already stored everything after
it is too, while an old pinned item on top never stops the crawl early (DESIGN.md, "List pages lie").
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import scrapy
from scrapy.http import FormRequest, Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.web._newclient import ResponseFailed
from twisted.python.failure import Failure

from crawler.dates import article_date, suspicious
from crawler.extract import BLANK_MARKERS, ListEntry, read_list, unreadable_cause
from crawler.items import ArticleDateItem, ColumnDoneItem, PageContentItem, PageItem, PostRow
from crawler.middlewares import VALIDATORS, OffsiteRequest, Validators, netloc
from crawler.overrides import extract_with_selectors, next_page_with_selector
from crawler.pagination import PageRequest, hanweb_config, next_page, platform_config, stated_total
from storage.models import FetchStatus
from storage.queries import CrawlTarget

if TYPE_CHECKING:  # the content modules load only when a crawl checks content ([content] enabled)
    from crawler.content.collect import ContentPlan



@dataclass
class ColumnState:
    target: Any  # CrawlTarget
    pending: int = 0
    pages: int = 0
    requests: int = 0
    entries: int = 0
    status: FetchStatus = FetchStatus.OK
    reason: str | None = None
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    hanweb: Any = None
    platform: Any = None   # PlatformConfig of a provincial-platform list (static pages + list API)
    stated_total: int | None = None
    seen_pages: set[str] = field(default_factory=set)
    undated: int = 0
    article_failures: int = 0
    offsite: int = 0   # undated entries linking off the configured sites: neither fetched nor stored
    problems: list[str] = field(default_factory=list)
    unreadable: str | None = None   # why the first page, fetched, could not be read as a list
    odd_dates: list[str] = field(default_factory=list)   # suspicious dates seen: flagged, never a read problem
    articles_for_content: int = 0   # article pages opened for the content checks in this run


class ColumnSpider(scrapy.Spider):
    name = "columns"

    def __init__(self, targets: list[CrawlTarget], *, complete_urls: Callable[[list[str]], set[str]],
                 full: bool = False, timezone: str = "Asia/Shanghai", selectors: dict[str, Any] | None = None,
                 allowed_netlocs: set[str] | None = None, max_pages: int = 200, max_entries: int = 500,
                 content: ContentPlan | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.targets = targets
        self.complete_urls = complete_urls
        self.full = full
        self.tz = ZoneInfo(timezone)
        self.selectors = selectors or {}
        self.max_pages = max_pages
        self.max_entries = max_entries
        # OffsiteGuardMiddleware reads allowed_netlocs (host:port): a crawl never leaves the configured sites,
        # whatever dont_filter says; Scrapy's OffsiteMiddleware reads allowed_domains (host names).
        self.allowed_netlocs = (allowed_netlocs or set()) | {n for t in targets if (n := netloc(t.url))}
        self.allowed_domains = sorted({h for t in targets if (h := urlsplit(t.url).hostname)}
                                      | {n.rsplit(":", 1)[0] for n in self.allowed_netlocs})
        self.states: dict[int, ColumnState] = {t.column_id: ColumnState(t) for t in targets}
        self.requested_articles: set[str] = set()
        self.content = content  # [content] enabled: new posts' article pages and the home pages are read too

    def _full(self, state: ColumnState) -> bool:
        return self.full or state.target.needs_full

    # --- requests ------------------------------------------------------------------------------------

    async def start(self) -> Any:  # Scrapy >= 2.13
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[Request]:
        for target in self.targets:
            state = self.states[target.column_id]
            # Conditional request (ConditionalRequestMiddleware): a 304 costs the server nothing.
            validators = None if self._full(state) else Validators(target.etag, target.last_modified)
            yield self._list_request(state, PageRequest(target.url), first=True, validators=validators)
        for home in self.content.homes if self.content else ():
            if netloc(home) in self.allowed_netlocs:
                yield Request(home, callback=self.parse_home, errback=self.home_failed, dont_filter=True,
                              meta={"site_url": home}, priority=2)

    def _list_request(self, state: ColumnState, page: PageRequest, *, first: bool = False,
                      validators: Validators | None = None) -> Request:
        state.pending += 1
        state.requests += 1
        state.seen_pages.add(_page_key(page))
        meta: dict[str, Any] = {"column_id": state.target.column_id, "first": first, "page": page}
        if validators:
            meta[VALIDATORS] = validators
        kwargs: dict[str, Any] = dict(callback=self.parse_list, errback=self.list_failed, meta=meta,
                                      dont_filter=True)
        if page.method == "POST":
            return FormRequest(page.url, formdata=list(page.formdata), **kwargs)
        return Request(page.url, **kwargs)

    # --- list pages ----------------------------------------------------------------------------------

    def parse_list(self, response: Response) -> Iterator[Any]:
        state = self.states[response.meta["column_id"]]
        state.pending -= 1
        state.pages += 1
        if response.meta["first"]:
            state.http_status = response.status
            state.etag = _header(response, "ETag")
            state.last_modified = _header(response, "Last-Modified")
            if response.status == 304:
                state.status = FetchStatus.UNCHANGED
                yield from self._maybe_done(state)
                return
        html = response.text  # decoded by CharsetMiddleware's choice of codec
        if response.meta["first"]:
            state.hanweb = hanweb_config(html)
            state.platform = platform_config(html, response.url)
            state.stated_total = stated_total(html)
            if state.platform is not None and state.platform.offsite:
                state.problems.append(f"列表接口不在本站（{state.platform.api_url}），静态页以外的信息未读取")
            if _looks_truncated(html):
                state.problems.append("页面不完整（HTML 截断或损坏），已尽量读取")
        selectors = self.selectors.get(state.target.url)
        if selectors and selectors.item:
            entries = extract_with_selectors(html, response.url, selectors)
            found = len(entries)
            entries = entries[:self.max_entries]
        else:
            read = read_list(html, response.url, self.max_entries)
            entries, found = read.entries, read.found
        capped = found > (cap := self.max_entries)   # a page this long is a dump or a trap: no further pages
        if capped:
            state.problems.append(f"列表页有 {found} 条链接，超过上限 {cap} 条，只读取前 {cap} 条")
        if not entries and response.meta["first"] and not BLANK_MARKERS.search(html):
            state.unreadable = unreadable_cause(html)
        entries = self._plausible_dates(state, self._onsite_or_dated(state, entries))
        state.entries += len(entries)
        complete = self.complete_urls([e.url for e in entries])
        rows = [self._row(e) for e in entries]
        if rows:
            yield PageItem(state.target.column_id, rows)
        for entry in entries:
            if entry.url in complete or entry.url in self.requested_articles:
                continue
            for_content = self._wants_content(state, entry)
            if entry.needs_article or for_content:
                self.requested_articles.add(entry.url)
                state.pending += 1
                state.requests += 1
                yield Request(entry.url, callback=self.parse_article, errback=self.article_failed, dont_filter=True,
                              meta={"column_id": state.target.column_id, "post_url": entry.url,
                                    "for_date": entry.needs_article, "for_content": for_content}, priority=1)
        if entries and not capped and (self._full(state) or entries[-1].url not in complete):
            yield from self._next(state, html, response)
        yield from self._maybe_done(state)

    def _wants_content(self, state: ColumnState, entry: ListEntry) -> bool:
        """A new post's article page is read for the content checks: on a configured site, up to the plan's
        number a column and run (lists are newest first, so these are the newest posts)."""
        if self.content is None or netloc(entry.url) not in self.allowed_netlocs:
            return False
        from crawler.content.collect import is_attachment

        if is_attachment(entry.url):
            return False
        if state.articles_for_content >= self.content.max_articles:
            return False
        state.articles_for_content += 1
        return True

    def _onsite_or_dated(self, state: ColumnState, entries: list[ListEntry]) -> list[ListEntry]:
        """Drops the undated entries that link off the configured sites: their date is only on a page the crawl
        may not fetch, and a hostile list could pass any address off as the column's post. Dated entries that
        link elsewhere (a reprint on the city's portal) stay: the list dates them, no request is made."""
        kept = [e for e in entries if not e.needs_article or netloc(e.url) in self.allowed_netlocs]
        state.offsite += len(entries) - len(kept)
        return kept

    def _plausible_dates(self, state: ColumnState, entries: list[ListEntry]) -> list[ListEntry]:
        """Flags the dates before 1990 or after tomorrow. An old one is kept (the post exists, its date is what
        the site says); a future one is not a publication date: the article is opened for its own date (on a
        configured site), else the post is stored undated, so it never counts as the column's newest post."""
        today = datetime.now(self.tz).date()
        out = []
        for e in entries:
            why = suspicious(e.date.date(), today) if e.date is not None else None
            if why and e.date is not None:
                state.odd_dates.append(f"{e.date:%Y-%m-%d}（{why}）")
                if e.date.date() > today:
                    e = ListEntry(e.title, e.url, None, netloc(e.url) in self.allowed_netlocs)
            out.append(e)
        return out

    def _next(self, state: ColumnState, html: str, response: Response) -> Iterator[Request]:
        current: PageRequest = response.meta["page"]
        selectors = self.selectors.get(state.target.url)
        if selectors and selectors.next_page:
            page = next_page_with_selector(html, response.url, selectors)
        else:
            page = next_page(html, response.url, method=current.method, formdata=current.formdata,
                             first_page_url=state.target.url, hanweb=state.hanweb, platform=state.platform)
        if page is None or _page_key(page) in state.seen_pages:
            return
        if state.pages >= self.max_pages:
            state.problems.append(f"分页超过 {self.max_pages} 页，已停止")
            return
        yield self._list_request(state, page)

    def _row(self, entry: ListEntry) -> PostRow:
        if entry.date is not None and not entry.needs_article:
            return PostRow(entry.url, entry.title, entry.date.replace(tzinfo=self.tz), "list")
        if not entry.needs_article:   # a future date off the configured sites: undated, no article to open
            return PostRow(entry.url, entry.title, None, "none")
        return PostRow(entry.url, entry.title, None, None)

    def list_failed(self, failure: Failure) -> Iterator[Any]:
        request: Request = failure.request  # type: ignore[attr-defined]  # Scrapy attaches it to the failure
        state = self.states[request.meta["column_id"]]
        state.pending -= 1
        reason, status = describe_failure(failure)
        if request.meta.get("first"):
            state.status, state.reason, state.http_status = FetchStatus.ERROR, reason, status
        else:
            page: PageRequest = request.meta["page"]
            api = state.platform is not None and page.url == state.platform.api_url
            number = dict(page.formdata).get("page") if api else state.pages + 1   # the list API names its page
            state.problems.append(f"第 {number} 页读取失败：{reason}")
        yield from self._maybe_done(state)

    # --- article pages -------------------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Any]:
        state = self.states[response.meta["column_id"]]
        state.pending -= 1
        if response.meta.get("for_content") and self.content is not None and isinstance(response, TextResponse):
            from crawler.content.collect import article_record

            yield PageContentItem(article_record(response.text, response.url, state.target.column_id,
                                                 self.content.matcher))
        if response.meta.get("for_date", True):
            yield from self._article_date(state, response)
        yield from self._maybe_done(state)

    def _article_date(self, state: ColumnState, response: Response) -> Iterator[Any]:
        published = article_date(response.text, url=response.url)
        why = suspicious(published.date(), datetime.now(self.tz).date()) if published is not None else None
        if why and published is not None:
            state.odd_dates.append(f"{published:%Y-%m-%d}（{why}）")
            if published.date() > datetime.now(self.tz).date():
                published = None   # stored undated (flagged above, not counted as a date not found)
        elif published is None:
            state.undated += 1
        yield ArticleDateItem(state.target.column_id, response.meta["post_url"],
                              published.replace(tzinfo=self.tz) if published else None)

    def article_failed(self, failure: Failure) -> Iterator[Any]:
        request: Request = failure.request  # type: ignore[attr-defined]  # Scrapy attaches it to the failure
        state = self.states[request.meta["column_id"]]
        state.pending -= 1
        if request.meta.get("for_date", True):  # a page opened only for the content checks is no read problem
            state.article_failures += 1
        yield from self._maybe_done(state)

    # --- home pages (content checks) -----------------------------------------------------------------

    def parse_home(self, response: Response) -> Iterator[Any]:
        if response.status == 200 and isinstance(response, TextResponse):
            from crawler.content.collect import home_record

            yield PageContentItem(home_record(response.text, response.url, response.meta["site_url"],
                                              datetime.now(self.tz).date()))

    def home_failed(self, failure: Failure) -> None:
        """A home page that does not open is the availability probes' finding (site.unavailable), not ours."""

    # --- completion ----------------------------------------------------------------------------------

    def _maybe_done(self, state: ColumnState) -> Iterator[ColumnDoneItem]:
        if state.pending:
            return
        problems = list(state.problems)
        if state.offsite:
            problems.append(f"{state.offsite} 条无日期信息链接到站外地址，未打开也未收录")
        if state.undated:
            problems.append(f"{state.undated} 条信息无法识别发布日期")
        if state.article_failures:
            problems.append(f"{state.article_failures} 篇文章页无法打开，下次再读")
        status = state.status
        if status == FetchStatus.OK and state.unreadable:
            status = FetchStatus.UNREADABLE
            problems.insert(0, state.unreadable)
        elif status == FetchStatus.OK and problems:
            status = FetchStatus.PARTIAL
        notes = problems + ([odd_dates_note(state.odd_dates)] if state.odd_dates else [])
        yield ColumnDoneItem(
            column_id=state.target.column_id, status=status,
            reason=state.reason or ("；".join(notes) if notes else None),
            http_status=state.http_status, pages=state.pages, requests=state.requests, entries=state.entries,
            etag=state.etag if status == FetchStatus.OK else None,
            last_modified=state.last_modified if status == FetchStatus.OK else None,
            stated_total=state.stated_total,
        )


def odd_dates_note(odd: list[str], shown: int = 3) -> str:
    """`日期可疑：2099-01-01（晚于明天）、1900-01-01（早于 1990 年）等 5 条`: in the column's reason even when it
    was read whole (a suspicious date is the site's mistake, not a failed read)."""
    odd = list(dict.fromkeys(odd))   # a post flagged on its list and again on its article page counts once
    more = f"等 {len(odd)} 条" if len(odd) > shown else ""
    return f"日期可疑：{'、'.join(odd[:shown])}{more}"


def describe_failure(failure: Failure) -> tuple[str, int | None]:
    """A fetch failure as a reason a user understands (Chinese) and the HTTP status if any."""
    if isinstance(failure.value, OffsiteRequest):
        if failure.value.redirected:
            return f"重定向到站外地址 {failure.value.url}，未跟随", None
        return f"网址不在设定的站点内（{failure.value.url}），未抓取", None
    if isinstance(failure.value, HttpError):
        status = failure.value.response.status
        return f"HTTP {status} 错误", status
    if failure.check(TimeoutError, TCPTimedOutError, *_scrapy_errors("DownloadTimeoutError")):
        return "连接超时，服务器未在限定时间内响应", None
    if failure.check(DNSLookupError, *_scrapy_errors("CannotResolveHostError")):
        return "域名无法解析", None
    if failure.check(ConnectionRefusedError, *_scrapy_errors("DownloadConnectionRefusedError")):
        return "无法连接服务器（连接被拒绝）", None
    if failure.check(ResponseFailed, *_scrapy_errors("ResponseDataLossError", "DownloadFailedError")):
        return "连接中断，响应不完整", None
    message = str(failure.value)
    too_big = _MAXSIZE_RE.search(message)
    if too_big:
        return f"页面超过 {int(too_big.group(1)) / 1024 / 1024:g} MB，已停止读取", None
    if "redirect" in message.lower():
        return "重定向次数过多（可能是重定向循环）", None
    if "offsite" in message.lower() or "allowed_domains" in message:
        return "网址不在设定的站点域名内，未抓取", None
    return f"抓取失败：{type(failure.value).__name__} {message}".strip(), None


# Scrapy's messages when DOWNLOAD_MAXSIZE stops a download (while streaming, or while inflating gzip).
_MAXSIZE_RE = re.compile(r"(?:download max size|DOWNLOAD_MAXSIZE) \((\d+)(?: B)?\)")


def _scrapy_errors(*names: str) -> tuple[type, ...]:
    """Scrapy >= 2.14 wraps Twisted's download errors in its own exceptions; older versions do not."""
    import scrapy.exceptions

    return tuple(getattr(scrapy.exceptions, n) for n in names if hasattr(scrapy.exceptions, n))


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _looks_truncated(html: str) -> bool:
    tail = html[-2000:].lower()
    return "</html>" not in tail and "</body>" not in tail and "<datastore" not in html[:2000].lower()


def _page_key(page: PageRequest) -> str:
    return page.url + "|" + "&".join(f"{k}={v}" for k, v in page.formdata)

