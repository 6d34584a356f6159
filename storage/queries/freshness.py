"""How fresh the stored data is: the last crawl run, and when each active column was last read."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    newest = (select(ColumnFetch.column_id, func.max(ColumnFetch.finished_at).label("at"))
              .where(ColumnFetch.status != FetchStatus.RUNNING).group_by(ColumnFetch.column_id).subquery())
    query = (select(Column.url, newest.c.at).join(Unit).outerjoin(newest, newest.c.column_id == Column.id)
             .where(Column.active))
    if unit is not None:
        query = query.where(Unit.name == unit)
    return {url: at for url, at in session.execute(query)}
