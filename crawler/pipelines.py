"""The storage pipeline: the crawler's only writer. Each item is one transaction, but for article dates: they
are stored DATE_BATCH at a time, and with the outcome of a column (so a column recorded as read holds all the
dates its articles showed) and when the spider closes. A kill loses at most the dates not yet stored: their
posts stay undated and the next crawl reads those articles again, so nothing stored is lost or duplicated.

Once a column's outcome is stored, the pipeline sends the `column_settled` signal (item: the settled
ColumnDoneItem, new_posts: the posts this run added to the column) through Scrapy's signal manager;
`crawler.run` connects the caller's progress output to it.

A database outage (`storage.db.is_outage`) at a write, or at the spider's read of stored URLs, stops the
crawl at once (`stop_for_outage`): the `database_lost` signal (error: the exception) tells `crawler.run`, the
spider is closed with the reason `database_unavailable` (no new request goes out) and later items are not
stored. What was stored stays; the columns left `running` are read whole by the next crawl.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler

from crawler.items import ArticleDateItem, ColumnDoneItem, PageContentItem, PageItem
from storage import queries
from storage.db import get_sessionmaker, is_outage
from storage.models import FetchStatus
from storage.queries.crawl import settle_post_dates

READ = (FetchStatus.OK, FetchStatus.PARTIAL)  # outcomes in which pages were read and entries stored
DATE_BATCH = 50  # article dates stored in one transaction (one UPDATE executemany)


# Scrapy signals are plain objects (scrapy/signals.py); receivers take keyword arguments item, new_posts.
column_settled = object()
database_lost = object()
OUTAGE_REASON = "database_unavailable"  # the spider's close reason after an outage


def crawl_stopped(why: str) -> str:
    """The one line of a crawl stopped by a database outage (`why`: storage.db.outage_message)."""
    return f"抓取已停止：{why}；已保存的内容不受影响，数据库恢复后重新运行 monitor crawl 即可"


def stop_for_outage(crawler: Crawler, error: BaseException) -> None:
    """The first outage of a crawl: say so (`database_lost`) and close the spider now; later calls do nothing."""
    if getattr(crawler, "_monitor_database_lost", False):
        return
    crawler._monitor_database_lost = True  # type: ignore[attr-defined]
    crawler.signals.send_catch_log(signal=database_lost, error=error)
    engine = crawler.engine
    if engine is None or engine.spider is None:
        return
    if hasattr(engine, "close_spider_async"):  # Scrapy >= 2.14
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(engine.close_spider_async(reason=OUTAGE_REASON))
    else:
        engine.close_spider(engine.spider, OUTAGE_REASON)


class StoragePipeline:
    def __init__(self, database_url: str, run_id: int, crawler: Crawler | None = None) -> None:
        self.crawler = crawler
        self.sessions = get_sessionmaker(database_url)
        self.run_id = run_id
        self.new_posts: dict[int, int] = {}
        self.dates: list[tuple[str, datetime | None]] = []  # article dates read, not stored yet

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        return cls(crawler.settings["MONITOR_DATABASE_URL"], crawler.settings.getint("MONITOR_RUN_ID"), crawler)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if self.crawler is not None and getattr(self.crawler, "_monitor_database_lost", False):
            return item  # the crawl is stopping: nothing more is stored
        try:
            return self._store(item)
        except Exception as exc:
            if self.crawler is None or not is_outage(exc):
                raise
            stop_for_outage(self.crawler, exc)
            return item

    def close_spider(self, spider: Spider | None = None) -> None:
        """Store the article dates still waiting (not after an outage: nothing more is stored then)."""
        if not self.dates or (self.crawler is not None and getattr(self.crawler, "_monitor_database_lost", False)):
            return
        try:
            with self.sessions.begin() as session:
                settle_post_dates(session, self.dates, "article")
            self.dates.clear()
        except Exception as exc:
            if self.crawler is None or not is_outage(exc):
                raise
            stop_for_outage(self.crawler, exc)

    def _store(self, item: Any) -> Any:
        if isinstance(item, PageItem):
            rows = [queries.EntryRow(r.url, r.title, r.published_at, r.date_source) for r in item.rows]
            with self.sessions.begin() as session:
                new = queries.store_entries(session, item.column_id, rows)
            self.new_posts[item.column_id] = self.new_posts.get(item.column_id, 0) + new
        elif isinstance(item, ArticleDateItem):
            self.dates.append((item.url, item.published_at))
            if len(self.dates) >= DATE_BATCH:
                with self.sessions.begin() as session:
                    settle_post_dates(session, self.dates, "article")
                self.dates.clear()
        elif isinstance(item, PageContentItem):
            with self.sessions.begin() as session:
                queries.store_page(session, self._run(item), item.record)
        elif isinstance(item, ColumnDoneItem):
            new = self.new_posts.pop(item.column_id, 0)  # a column settles once a run; a worker reads it again
            with self.sessions.begin() as session:
                settle_post_dates(session, self.dates, "article")
                listed = queries.listed_count(session, item.column_id)
                item = settle_completeness(item, listed)
                queries.record_fetch(session, self._run(item), item.column_id, status=item.status, reason=item.reason,
                                     http_status=item.http_status, pages=item.pages, requests=item.requests,
                                     entries=item.entries, new_posts=new, stated_total=item.stated_total,
                                     listed=listed if item.status != "error" else None)
                if item.status == FetchStatus.OK:  # validators only after a complete read of the column
                    queries.save_validators(session, item.column_id, item.etag, item.last_modified)
            self.dates.clear()
            if self.crawler is not None:
                self.crawler.signals.send_catch_log(signal=column_settled, item=item, new_posts=new)
        return item

    def _run(self, item: ColumnDoneItem | PageContentItem) -> int:
        """The item's run: its own (a distributed worker, crawler.distributed), else the crawl's."""
        return item.run_id if item.run_id is not None else self.run_id


def settle_completeness(item: ColumnDoneItem, listed: int) -> ColumnDoneItem:
    """A column whose page states a total and that holds fewer stored posts than that total was not read
    whole: it is partial (``已读取 75/107 条``), never complete, whatever the pages that were reached said.
    Stored posts count, not this run's entries, so an incremental read that stopped at known posts of a
    column read whole before is complete."""
    if item.stated_total is None or listed >= item.stated_total or item.status not in READ:
        return item
    shortfall = f"已读取 {listed}/{item.stated_total} 条"
    reason = f"{shortfall}；{item.reason}" if item.reason else shortfall
    return replace(item, status=FetchStatus.PARTIAL, reason=reason, etag=None, last_modified=None)
