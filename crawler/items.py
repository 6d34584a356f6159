"""Items the column spider yields; the storage pipeline is their only consumer."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storage.models import FetchStatus
from storage.queries import PageRecord


@dataclass
class PostRow:
    url: str
    title: str
    published_at: datetime | None  # aware; None until the article page is read
    date_source: str | None  # list | article | none | None


@dataclass
class PageItem:
    """One list page's entries: stored in one transaction, so a kill loses or duplicates nothing."""

    column_id: int
    rows: list[PostRow]


@dataclass
class ArticleDateItem:
    """The date read from an article page (None: the page shows no date)."""

    column_id: int
    url: str
    published_at: datetime | None


@dataclass
class ColumnDoneItem:
    """A column's outcome in this run, recorded once all its requests have finished."""

    column_id: int
    status: FetchStatus
    reason: str | None = None
    http_status: int | None = None
    pages: int = 0
    requests: int = 0
    entries: int = 0
    etag: str | None = None
    last_modified: str | None = None
    problems: list[str] = field(default_factory=list)
    # The column's total as its page states it (recordCount, 共N条, jpage totalRecord), if it states one:
    # the pipeline compares it with the posts stored for the column (a short read is partial, never complete).
    stated_total: int | None = None
    run_id: int | None = None  # the run the outcome belongs to; None: the crawl's own (MONITOR_RUN_ID)


@dataclass
class PageContentItem:
    """A page read for the content checks (an article or a site's home page), stored whole in one transaction."""

    record: PageRecord
    run_id: int | None = None  # as ColumnDoneItem.run_id (a distributed worker serves run after run)
