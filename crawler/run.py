"""Run a crawl of the configured portal columns: Scrapy settings built from ours in one place.

Scrapy's Twisted reactor starts once per process. The CLI crawls once per process and runs in process
(`crawl_in_process`); everything that crawls more than once in a process (tests, the daemon) calls
`run_crawl`, which runs the same function in a child process: a fresh reactor each time, memory returned
to the system after each crawl, and a crash of one crawl cannot take the caller down.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from config.model import CrawlSettings
from crawler.items import ColumnDoneItem
from crawler.pipelines import READ, crawl_stopped
from storage import queries
from storage.db import EXIT_DATABASE_UNAVAILABLE, DatabaseUnavailable, is_outage, outage_message, prepare
from storage.crawl_lock import begin_run
from storage.db import get_sessionmaker
from storage.models import FetchStatus

if TYPE_CHECKING:
    from crawler.content.linkstep import LinkStepSummary

STATUS_LABELS = {FetchStatus.OK: "正常", FetchStatus.UNCHANGED: "无变化", FetchStatus.PARTIAL: "部分读取",
                 FetchStatus.ERROR: "失败", FetchStatus.UNREADABLE: "无法读取"}


Progress = bool | Callable[[str], None]  # True: lines on stderr; a callable: each line given to it; False: none

# Ours sit among Scrapy's defaults: charset repair after HttpCompressionMiddleware (590) has inflated the
# body on its way back (process_response runs from high numbers to low) and before MetaRefreshMiddleware
# (580) reads the text; conditional headers are added once the request has its User-Agent (500). Redirects
# (RedirectMiddleware, MetaRefreshMiddleware) are new requests: they pass OffsiteGuardMiddleware again.
DOWNLOADER_MIDDLEWARES = {
    # First of all (before RobotsTxtMiddleware, 100): nothing off the configured sites, not even robots.txt.
    "crawler.middlewares.OffsiteGuardMiddleware": 40,
    "crawler.middlewares.CharsetMiddleware": 585,
    "crawler.middlewares.ConditionalRequestMiddleware": 560,
    # Nearest the download handler (Scrapy's are at most 850), so it sees the handler's exception first.
    "crawler.middlewares.PageSizeMiddleware": 950,
}


# Scrapy 2.13+ on the asyncio reactor starts each download as a task that counts itself "transferring" only
# once it runs, so with no delay its downloader starts every queued request of a host at once, whatever
# CONCURRENT_REQUESTS_PER_DOMAIN (measured: 12 of 12 against a limit of 4). With any delay it starts one
# request, waits, and counts again: a floor this small keeps the per-host limit at no cost to the rate.
MIN_DOWNLOAD_DELAY = 0.001


def scrapy_settings(crawl: CrawlSettings, database_url: str, run_id: int) -> dict[str, Any]:
    """Polite by default: per-domain concurrency and delay (never 0: MIN_DOWNLOAD_DELAY), AutoThrottle,
    timeouts and retries."""
    return {
        "BOT_NAME": "gov-monitor",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": crawl.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrent_per_domain,
        "DOWNLOAD_DELAY": max(crawl.download_delay, MIN_DOWNLOAD_DELAY),
        "RANDOMIZE_DOWNLOAD_DELAY": True,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.1),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": crawl.autothrottle_target_concurrency,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        # A page over the limit (raw, or inflated from gzip) is cancelled mid-stream and is a failure.
        "DOWNLOAD_MAXSIZE": int(crawl.max_page_mb * 1024 * 1024),
        "DOWNLOAD_WARNSIZE": int(crawl.max_page_mb * 1024 * 1024) // 2,
        "RETRY_ENABLED": crawl.retries > 0,
        "RETRY_TIMES": crawl.retries,
        "REDIRECT_MAX_TIMES": 10,
        "COOKIES_ENABLED": True,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "LOG_INSTALL_ROOT_HANDLER": False,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "DOWNLOADER_MIDDLEWARES": DOWNLOADER_MIDDLEWARES,
        "ITEM_PIPELINES": {"crawler.pipelines.StoragePipeline": 300},
        # The storage pipeline is synchronous (each item one transaction, done before the next starts):
        # Scrapy's default of 100 item tasks per response only adds scheduling for nothing in parallel.
        "CONCURRENT_ITEMS": 1,
        # Scrapy re-reads and parses each callback's source on every response to warn of a generator returning a
        # value (its cache is keyed weakly by the bound method): 6 % of a crawl's CPU for a warning ours never need.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_RUN_ID": run_id,
    }


@dataclass(frozen=True)
class CrawlSummary:
    run_id: int
    columns: int
    ok: int
    failed: list[tuple[str, str, str]]  # (unit, column, reason)
    new_posts: int
    requests: int
    partial: list[tuple[str, str, str]] = field(default_factory=list)  # read, but not whole: (unit, column, reason)
    # read whole, with something to say all the same (suspicious dates): (unit, column, reason)
    notes: list[tuple[str, str, str]] = field(default_factory=list)
    links: LinkStepSummary | None = None  # the content checks' link step ([content] enabled), else None


def outcome_text(item: ColumnDoneItem, new_posts: int) -> str:
    """A column's outcome as its progress line says it: `正常，3 页，新增 12 条`, `无变化`, `失败`."""
    text = STATUS_LABELS.get(item.status, item.status)
    return text + f"，{item.pages} 页，新增 {new_posts} 条" if item.status in READ else text


class ProgressPrinter:
    """One line a column (to `line`, the caller's, else on `stream`, stderr): what a person watching a long
    crawl wants to see. A receiver of the pipeline's `column_settled` signal."""

    def __init__(self, targets: Sequence[queries.CrawlTarget], stream: TextIO | None = None,
                 line: Callable[[str], None] | None = None) -> None:
        self.names = {t.column_id: (t.unit, t.name) for t in targets}
        self.total = len(targets)
        self.done = 0
        self.stream = stream or sys.stderr
        self.line = line

    def __call__(self, item: ColumnDoneItem, new_posts: int) -> None:
        self.done += 1
        unit, name = self.names.get(item.column_id, ("?", "?"))
        width = len(str(self.total))
        line = f"[{self.done:>{width}}/{self.total}] {unit} · {name}：{outcome_text(item, new_posts)}"
        if item.reason:
            line += f"（{item.reason}）"
        if self.line is not None:
            self.line(line)
        else:
            print(line, file=self.stream, flush=True)


def crawl_in_process(settings: Settings, units: Sequence[str] | None = None, full: bool = False,
                     progress: Progress = True, run_id: int | None = None, *, prepared: bool = False) -> CrawlSummary:
    """Crawl in this process (once per process: see the module docstring). `progress`: True prints a line
    a column on stderr, a callable receives each line, False prints nothing. `prepared`: the caller has
    already migrated the database and loaded the settings into it. `run_id`: the caller started the run and
    holds its lock (`run_crawl`); else this starts it, marking runs left `running` by dead processes
    `interrupted` (storage.crawl_lock)."""
    url = settings.monitor.database_url
    sessions = get_sessionmaker(url) if prepared else prepare(settings)
    lock = None
    if run_id is None:
        run_id, lock, _ = begin_run(sessions, url, full)
    try:
        return _crawl_run(settings, sessions, units, full, progress, run_id)
    finally:
        if lock is not None:
            lock.release()  # after the run's row is final


def _crawl_run(settings: Settings, sessions: sessionmaker[Session], units: Sequence[str] | None, full: bool,
               progress: Progress, run_id: int) -> CrawlSummary:
    from scrapy.crawler import CrawlerProcess

    from crawler.middlewares import netloc
    from crawler.pipelines import column_settled, database_lost
    from crawler.spider import ColumnSpider

    url = settings.monitor.database_url
    with sessions.begin() as session:
        targets = queries.crawl_targets(session, units)
        queries.mark_running(session, run_id, [t.column_id for t in targets])

    lost: list[BaseException] = []  # the outage that stopped the crawl (crawler.pipelines.stop_for_outage)
    complete_urls = complete_urls_reader(sessions, lambda: crawler)
    netlocs = {netloc(s.url) for s in settings.sites} | {netloc(t.url) for t in targets}
    selectors = {c.url: c.selectors for c in settings.columns if c.selectors}
    if targets:
        process = CrawlerProcess(scrapy_settings(settings.crawl, url, run_id))
        crawler = process.create_crawler(ColumnSpider)
        crawler.signals.connect(lambda error: lost.append(error), signal=database_lost, weak=False)
        if progress:
            printer = ProgressPrinter(targets, line=progress if callable(progress) else None)
            # weak=False: the signal manager holds receivers weakly, and nothing else refers to this one.
            crawler.signals.connect(printer, signal=column_settled, weak=False)
        process.crawl(crawler, targets, complete_urls=complete_urls, full=full, timezone=settings.monitor.timezone,
                      selectors=selectors, allowed_netlocs={n for n in netlocs if n},
                      max_pages=settings.crawl.max_pages_per_column,
                      max_entries=settings.crawl.max_entries_per_page,
                      content=content_plan(settings, all_sites=not units))
        process.start()
    try:
        if lost:  # the run stays `running`: the next crawl marks it interrupted and reads its columns whole
            raise lost[0]
        links = None
        if settings.content.enabled and targets:
            from crawler.content.linkstep import check_run_links

            say = (progress if callable(progress) else _stderr_line) if progress else None
            links = check_run_links(settings, sessions, run_id, say)
        with sessions.begin() as session:
            queries.finish_run(session, run_id)
    except Exception as exc:
        if not is_outage(exc):
            raise
        raise DatabaseUnavailable(crawl_stopped(outage_message(exc, url))) from None
    return dataclasses.replace(summarize(settings, run_id), links=links)


def complete_urls_reader(sessions: sessionmaker[Session],
                         crawler_of: Callable[[], Any]) -> Callable[[list[str]], set[str]]:
    """The spider's `complete_urls`: which of the URLs are stored with their date settled. A database outage
    stops the crawl (crawler.pipelines.stop_for_outage on the crawler `crawler_of` gives) and reads as none."""
    from crawler.pipelines import stop_for_outage

    def complete_urls(urls: list[str]) -> set[str]:
        try:
            with sessions() as session:
                return queries.complete_urls(session, urls)
        except Exception as exc:
            if not is_outage(exc):
                raise
            stop_for_outage(crawler_of(), exc)
            return set()

    return complete_urls


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def content_plan(settings: Settings, all_sites: bool) -> Any:
    """The content checks' plan for the spider (`crawler.content.collect.ContentPlan`), None when they are off.
    The sites' home pages are read by a crawl of every unit (not by `crawl --unit`)."""
    if not settings.content.enabled:
        return None
    from pathlib import Path

    from crawler.content.collect import ContentPlan
    from crawler.content.textmatch import TextMatcher

    matcher = TextMatcher.from_settings(settings.content, Path(settings.path).parent)
    return ContentPlan(matcher, settings.content.max_articles_per_column,
                       tuple(s.url for s in settings.sites) if all_sites else ())


def summarize(settings: Settings, run_id: int) -> CrawlSummary:
    with get_sessionmaker(settings.monitor.database_url)() as session:
        fetches = queries.run_fetches(session, run_id)
        names = {t.column_id: (t.unit, t.name) for t in queries.crawl_targets(session)}
    reasons: dict[str, str] = {FetchStatus.RUNNING: "抓取中断，下次将完整重读该栏目"}
    # A page fetched but not readable as a list is a failed column: nothing of it could be read.
    failed = [(*names.get(f.column_id, ("?", "?")), f.reason or reasons.get(f.status, f.status))
              for f in fetches if f.status in (FetchStatus.ERROR, FetchStatus.RUNNING, FetchStatus.UNREADABLE)]
    partial = [(*names.get(f.column_id, ("?", "?")), f.reason or "") for f in fetches
               if f.status == FetchStatus.PARTIAL]
    notes = [(*names.get(f.column_id, ("?", "?")), f.reason) for f in fetches
             if f.status == FetchStatus.OK and f.reason]
    return CrawlSummary(run_id=run_id, columns=len(fetches), ok=len(fetches) - len(failed) - len(partial),
                        failed=failed, new_posts=sum(f.new_posts for f in fetches),
                        requests=sum(f.requests for f in fetches), partial=partial, notes=notes)


def problem_lines(summary: CrawlSummary) -> list[str]:
    """The columns a person must look at after a crawl: those read partly, those that failed, then those read
    whole with a remark (suspicious dates)."""
    return ([f"  未读全：{unit} · {column}：{reason}" for unit, column, reason in summary.partial]
            + [f"  失败：{unit} · {column}：{reason}" for unit, column, reason in summary.failed]
            + [f"  提示：{unit} · {column}：{reason}" for unit, column, reason in summary.notes])


def incomplete_line(summary: CrawlSummary) -> str | None:
    """`有 2 个栏目未读全、1 个栏目失败` when some column was not read whole (the crawl then exits 1), else None."""
    parts = ([f"{len(summary.partial)} 个栏目未读全"] if summary.partial else []) + \
            ([f"{len(summary.failed)} 个栏目失败"] if summary.failed else [])
    return f"有 {'、'.join(parts)}" if parts else None


def _child(settings: Settings, units: Sequence[str] | None, full: bool, progress: Progress, run_id: int) -> None:
    _stop_with_parent()
    try:
        crawl_in_process(settings, units, full, progress, run_id, prepared=True)  # the parent prepared it
    except Exception as exc:
        if not is_outage(exc):
            raise
        sys.exit(EXIT_DATABASE_UNAVAILABLE)  # the parent says so (run_crawl)


def _stop_with_parent() -> None:
    """Linux: a crawl child gets SIGTERM (a graceful Scrapy stop) if the process that started it dies."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_crawl(settings: Settings, units: Sequence[str] | None = None, full: bool = False,
              progress: Progress = False, *, prepared: bool = False) -> CrawlSummary:
    """Crawl in a child process (see the module docstring); returns the run's summary from the database.
    A callable `progress` runs in the child, so it must be picklable (a module-level function)."""
    sessions = get_sessionmaker(settings.monitor.database_url) if prepared else prepare(settings)
    run_id, lock, _ = begin_run(sessions, settings.monitor.database_url, full)  # held here for the child's life
    try:
        child = multiprocessing.get_context("spawn").Process(target=_child,
                                                             args=(settings, units, full, progress, run_id))
        child.start()
        child.join()
    finally:
        lock.release()
    if child.exitcode == EXIT_DATABASE_UNAVAILABLE:
        raise DatabaseUnavailable(crawl_stopped(outage_message(OSError("数据库写入失败"),
                                                               settings.monitor.database_url)))
    if child.exitcode != 0:
        raise RuntimeError(f"抓取子进程异常退出（退出码 {child.exitcode}）")
    return summarize(settings, run_id)
