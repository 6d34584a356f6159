"""The storage pipeline: the crawler's only writer. Each item is one transaction."""
from __future__ import annotations

from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler

from crawler.items import ArticleDateItem, ColumnDoneItem, PageItem
from storage import queries
from storage.db import get_sessionmaker


class StoragePipeline:
    def __init__(self, database_url: str, run_id: int, crawler: Crawler | None = None) -> None:
        self.crawler = crawler
        self.sessions = get_sessionmaker(database_url)
        self.run_id = run_id
        self.new_posts: dict[int, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        return cls(crawler.settings["MONITOR_DATABASE_URL"], crawler.settings.getint("MONITOR_RUN_ID"), crawler)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if isinstance(item, PageItem):
            rows = [queries.EntryRow(r.url, r.title, r.published_at, r.date_source) for r in item.rows]
            with self.sessions.begin() as session:
                new = queries.store_entries(session, item.column_id, rows)
            self.new_posts[item.column_id] = self.new_posts.get(item.column_id, 0) + new
        elif isinstance(item, ArticleDateItem):
            with self.sessions.begin() as session:
                queries.settle_post_date(session, item.url, item.published_at, "article")
        elif isinstance(item, ColumnDoneItem):
            new = self.new_posts.get(item.column_id, 0)
            with self.sessions.begin() as session:
                queries.record_fetch(session, self.run_id, item.column_id, status=item.status, reason=item.reason,
                                     http_status=item.http_status, pages=item.pages, requests=item.requests,
                                     entries=item.entries, new_posts=new)
                if item.status == "ok":  # validators only after a complete read of the column
                    queries.save_validators(session, item.column_id, item.etag, item.last_modified)
            progress = getattr(self.crawler.spider, "progress", None) if self.crawler else None
            if progress:
                progress(item, new)
        return item
