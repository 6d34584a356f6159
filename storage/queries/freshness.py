"""How fresh the stored data is: the last crawl run, and when each active column was last read."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Column, ColumnFetch, CrawlRun, FetchStatus, Unit


@dataclass(frozen=True)
class CrawlRunRow:
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | done | failed | interrupted
    full: bool


def last_crawl(session: Session) -> CrawlRunRow | None:
    """The newest crawl run (by start), or None when nothing was ever crawled."""
    run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(1)).first()
    return None if run is None else CrawlRunRow(run.started_at, run.finished_at, run.status, run.full)


def column_read_times(session: Session, unit: str | None = None) -> dict[str, datetime | None]:
    """Each active column's URL -> when its newest finished read ended (None: never read); of `unit` only."""
    newest_query = (select(ColumnFetch.column_id, func.max(ColumnFetch.finished_at).label("at"))
                    .where(ColumnFetch.status != FetchStatus.RUNNING).group_by(ColumnFetch.column_id))
    if unit is not None:  # the unit's columns' fetches only, not the province's whole history
        newest_query = newest_query.where(ColumnFetch.column_id.in_(select(Column.id).join(Unit)
                                                                    .where(Unit.name == unit)))
    newest = newest_query.subquery()
    query = (select(Column.url, newest.c.at).join(Unit).outerjoin(newest, newest.c.column_id == Column.id)
             .where(Column.active))
    if unit is not None:
        query = query.where(Unit.name == unit)
    return {url: at for url, at in session.execute(query)}


def data_version(session: Session) -> tuple[object, ...]:
    """A value that changes whenever anything an evaluation reads is written: the newest row (or the newest time)
    of each table the crawl, the account reads, the probes, the content checks and the 整改 loop write. Cheap:
    each is a max over a primary key or an indexed column."""
    from storage.models import (Account, AccountPost, FindingEvent, FindingState, LinkCheck, Page, Post, Probe)

    parts: list[Any] = [
        func.max(CrawlRun.id), func.max(CrawlRun.finished_at), func.max(ColumnFetch.id), func.max(Post.id),
        func.max(AccountPost.id), func.max(Probe.id), func.max(Page.id), func.max(LinkCheck.checked_at),
        func.max(FindingState.updated_at), func.max(FindingEvent.id), func.count(Unit.id), func.count(Column.id),
        func.max(Account.last_read_at)]
    return tuple(session.scalar(select(part)) for part in parts)
