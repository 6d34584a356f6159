"""Crawl state: the columns to crawl, runs, each column's fetch outcome, the posts a list page holds."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import WHOLE, Column, ColumnFetch, ColumnPost, CrawlRun, FetchStatus, Post, Unit, utcnow
from storage.queries._sql import dialect_insert


@dataclass(frozen=True)
class CrawlTarget:
    column_id: int
    unit: str
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    # True unless the column's last crawl that stored anything read it to the end: a crawl killed or
    # broken off half-way leaves older pages unread, so the incremental stop rule cannot be trusted.
    needs_full: bool = True


def crawl_targets(session: Session, units: Sequence[str] | None = None) -> list[CrawlTarget]:
    latest = (select(ColumnFetch.column_id, func.max(ColumnFetch.id).label("id"))
              .where(ColumnFetch.status != "error").group_by(ColumnFetch.column_id).subquery())
    query = (select(Column, Unit.name, ColumnFetch.status).join(Unit)
             .outerjoin(latest, latest.c.column_id == Column.id)
             .outerjoin(ColumnFetch, ColumnFetch.id == latest.c.id)
             .where(Column.active).order_by(Unit.id, Column.id))
    if units:
        query = query.where(Unit.name.in_(units))
    return [CrawlTarget(c.id, unit, c.name, c.url, c.etag, c.last_modified, status not in WHOLE)
            for c, unit, status in session.execute(query)]


def mark_running(session: Session, run_id: int, column_ids: Sequence[int]) -> None:
    """Record that this run is about to crawl the columns; the final outcome replaces the mark."""
    for column_id in column_ids:
        record_fetch(session, run_id, column_id, status=FetchStatus.RUNNING)


def complete_urls(session: Session, urls: Iterable[str]) -> set[str]:
    """URLs already stored with their date settled (found, or the article read and showed none)."""
    urls = list(urls)
    if not urls:
        return set()
    query = select(Post.url).where(Post.url.in_(urls), (Post.published_at.is_not(None)) | (Post.date_source == "none"))
    return set(session.scalars(query))


@dataclass(frozen=True)
class EntryRow:
    url: str
    title: str
    published_at: datetime | None  # aware
    date_source: str | None  # list | article | none | None (still to read the article)


def store_entries(session: Session, column_id: int, rows: Sequence[EntryRow]) -> int:
    """Upsert a page's entries into posts and the column's listing; returns how many posts were new.

    One statement per table, so a page is stored whole or not at all, and a replay duplicates nothing.
    """
    if not rows:
        return 0
    insert = dialect_insert(session)
    now = utcnow()
    unique = {r.url: r for r in rows}
    before = session.scalar(select(func.count()).select_from(Post).where(Post.url.in_(unique)))
    session.execute(
        insert(Post).values([
            {"url": r.url, "title": r.title[:2000], "published_at": r.published_at, "date_source": r.date_source,
             "first_seen": now, "column_id": column_id} for r in unique.values()
        ]).on_conflict_do_nothing(index_elements=["url"])
    )
    # A date found now settles a post stored earlier without one.
    for r in unique.values():
        if r.published_at is not None:
            session.execute(update(Post).where(Post.url == r.url, Post.published_at.is_(None))
                            .values(published_at=r.published_at, date_source=r.date_source))
    ids = session.scalars(select(Post.id).where(Post.url.in_(unique))).all()
    session.execute(
        insert(ColumnPost).values([{"column_id": column_id, "post_id": i} for i in ids])
        .on_conflict_do_nothing(index_elements=["column_id", "post_id"])
    )
    return len(unique) - (before or 0)


def settle_post_date(session: Session, url: str, published_at: datetime | None, source: str) -> None:
    """The article page was read: store its date, or mark it as showing none."""
    session.execute(update(Post).where(Post.url == url, Post.published_at.is_(None))
                    .values(published_at=published_at, date_source=source if published_at else "none"))


def start_run(session: Session, full: bool) -> int:
    run = CrawlRun(full=full, status="running", started_at=utcnow())
    session.add(run)
    session.flush()
    return run.id


def running_runs(session: Session) -> list[int]:
    """Ids of the crawl runs whose row says `running` (storage.crawl_lock tells which really are)."""
    return list(session.scalars(select(CrawlRun.id).where(CrawlRun.status == "running").order_by(CrawlRun.id)))


def interrupt_runs(session: Session, run_ids: Sequence[int], reason: str) -> None:
    """Runs left `running` by a dead process become `interrupted`; their columns still `running` become
    `partial` with `reason` (not whole: the next crawl reads them in full, as it did for `running`)."""
    if not run_ids:
        return
    now = utcnow()
    session.execute(update(CrawlRun).where(CrawlRun.id.in_(run_ids), CrawlRun.status == "running")
                    .values(status="interrupted", finished_at=now))
    session.execute(update(ColumnFetch).where(ColumnFetch.run_id.in_(run_ids),
                                              ColumnFetch.status == FetchStatus.RUNNING)
                    .values(status=FetchStatus.PARTIAL, reason=reason, finished_at=now))


def finish_run(session: Session, run_id: int, status: str = "done") -> None:
    session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(status=status, finished_at=utcnow()))


def record_fetch(session: Session, run_id: int, column_id: int, *, status: str, reason: str | None = None,
                 http_status: int | None = None, pages: int = 0, requests: int = 0, entries: int = 0,
                 new_posts: int = 0, stated_total: int | None = None, listed: int | None = None) -> None:
    insert = dialect_insert(session)
    values = dict(status=status, reason=reason, http_status=http_status, pages=pages, requests=requests,
                  entries=entries, new_posts=new_posts, stated_total=stated_total, listed=listed,
                  finished_at=utcnow())
    session.execute(insert(ColumnFetch).values(run_id=run_id, column_id=column_id, **values)
                    .on_conflict_do_update(index_elements=["run_id", "column_id"], set_=values))


def listed_count(session: Session, column_id: int) -> int:
    """Posts stored as listed in the column (an article listed twice in it counts once)."""
    return session.scalar(select(func.count()).select_from(ColumnPost).where(ColumnPost.column_id == column_id)) or 0


def save_validators(session: Session, column_id: int, etag: str | None, last_modified: str | None) -> None:
    session.execute(update(Column).where(Column.id == column_id).values(etag=etag, last_modified=last_modified))


def run_fetches(session: Session, run_id: int) -> list[ColumnFetch]:
    return list(session.scalars(select(ColumnFetch).where(ColumnFetch.run_id == run_id)))
