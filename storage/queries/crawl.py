"""Crawl state: the columns to crawl, runs, each column's fetch outcome, the posts a list page holds."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session, aliased

from storage.models import WHOLE, Column, ColumnFetch, ColumnPost, CrawlRun, FetchStatus, Post, Unit, utcnow
from storage.queries._sql import dialect_insert

POSTS = cast(Table, Post.__table__)  # Core statements: no ORM bookkeeping on the crawl's hot path
COLUMN_POSTS = cast(Table, ColumnPost.__table__)


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
    # Each column's newest fetch that stored anything, looked up by (column_id, id) (ix_column_fetches_column_newest):
    # the cost follows the columns, not the fetch history.
    older = aliased(ColumnFetch)
    newest = (select(older.id).where(older.column_id == Column.id, older.status != "error")
              .order_by(older.id.desc()).limit(1).scalar_subquery())
    query = (select(Column, Unit.name, ColumnFetch.status).join(Unit)
             .outerjoin(ColumnFetch, ColumnFetch.id == newest)
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
    query = select(POSTS.c.url).where(POSTS.c.url.in_(urls),
                                      POSTS.c.published_at.is_not(None) | (POSTS.c.date_source == "none"))
    return set(session.scalars(query))


@dataclass(frozen=True)
class EntryRow:
    url: str
    title: str
    published_at: datetime | None  # aware
    date_source: str | None  # list | article | none | None (still to read the article)


def store_entries(session: Session, column_id: int, rows: Sequence[EntryRow]) -> int:
    """Store a page's entries as posts and the column's listing; returns how many posts were new.

    Set-based, in the caller's transaction (a page is stored whole or not at all, a replay duplicates
    nothing): one SELECT of the page's stored posts, an insert-or-ignore of the others (executemany,
    RETURNING the new ids), a date UPDATE only for posts stored undated before this page, and the
    column's links in one insert-or-ignore. Each statement is compiled once, whatever the page's size.
    """
    if not rows:
        return 0
    unique = {r.url: r for r in rows}
    stored: dict[str, tuple[int, bool]] = {  # url -> (id, undated)
        url: (pid, published is None) for pid, url, published in session.execute(
            select(POSTS.c.id, POSTS.c.url, POSTS.c.published_at).where(POSTS.c.url.in_(unique)))
    }
    ids = [pid for pid, _ in stored.values()]
    fresh = [r for url, r in unique.items() if url not in stored]
    new = 0
    if fresh:
        now = utcnow()
        insert = dialect_insert(session)
        inserted = session.execute(
            insert(POSTS).on_conflict_do_nothing(index_elements=["url"]).returning(POSTS.c.id, POSTS.c.url),
            [{"url": r.url, "title": r.title[:2000], "published_at": r.published_at, "date_source": r.date_source,
              "first_seen": now, "column_id": column_id} for r in fresh],
        ).all()
        new = len(inserted)
        ids += [pid for pid, _ in inserted]
        if new < len(fresh):  # another writer stored some of them between the SELECT and the INSERT
            missing = {r.url for r in fresh} - {url for _, url in inserted}
            ids += session.scalars(select(POSTS.c.id).where(POSTS.c.url.in_(missing))).all()
    # A date found now settles a post stored earlier without one.
    settle = [{"u": url, "p": r.published_at, "s": r.date_source} for url, r in unique.items()
              if r.published_at is not None and url in stored and stored[url][1]]
    if settle:
        session.execute(update(POSTS).where(POSTS.c.url == bindparam("u"), POSTS.c.published_at.is_(None))
                        .values(published_at=bindparam("p"), date_source=bindparam("s")), settle)
    link = dialect_insert(session)(COLUMN_POSTS).on_conflict_do_nothing(index_elements=["column_id", "post_id"])
    session.execute(link, [{"column_id": column_id, "post_id": i} for i in ids])
    return new


def settle_post_date(session: Session, url: str, published_at: datetime | None, source: str) -> None:
    """The article page was read: store its date, or mark it as showing none."""
    settle_post_dates(session, [(url, published_at)], source)


def settle_post_dates(session: Session, dates: Sequence[tuple[str, datetime | None]], source: str) -> None:
    """Article pages were read: `settle_post_date` for each (url, date), in one executemany UPDATE."""
    if not dates:
        return
    session.execute(update(POSTS).where(POSTS.c.url == bindparam("u"), POSTS.c.published_at.is_(None))
                    .values(published_at=bindparam("p"), date_source=bindparam("s")),
                    [{"u": url, "p": when, "s": source if when else "none"} for url, when in dates])


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
