"""Evaluation facts: units, each column's posts and newest fetch, posts counted between dates."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, distinct, exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from storage.models import WHOLE, Column, ColumnFetch, ColumnPost, FetchStatus, Post, Unit


@dataclass(frozen=True)
class UnitFact:
    name: str
    kind: str
    emails: tuple[str, ...]


@dataclass(frozen=True)
class ColumnFact:
    unit: str
    name: str
    url: str
    category: str
    quota: bool
    posts: int  # posts listed in the column published before the cut-off
    last_post: datetime | None  # newest dated post before the cut-off (aware)
    ever_fetched: bool  # at least one successful fetch: only then can "no post" mean blank
    last_error: str | None  # reason of the newest fetch when it failed
    # Why the newest finished read was partial (已读取 75/107 条, a page that failed …); None when it was whole.
    partial: str | None = None
    first_post: datetime | None = None  # oldest dated post before the cut-off: a partial read is sure only after it
    unreadable: str | None = None  # why the newest finished read found no list on the page (FetchStatus.UNREADABLE)
    fetch_run: int | None = None  # the crawl run of the newest finished fetch (a site's outage is judged per run)


def units(session: Session, names: Sequence[str] | None = None) -> list[UnitFact]:
    query = select(Unit).where(Unit.active).order_by(Unit.id)
    if names:
        query = query.where(Unit.name.in_(names))
    return [UnitFact(u.name, u.kind, tuple(e for e in u.emails.split(",") if e)) for u in session.scalars(query)]


def column_facts(session: Session, before: datetime, unit: str | None = None,
                 under: Sequence[str] | None = None) -> list[ColumnFact]:
    """Every active column's post count and newest post published before `before` (of `unit`, of the columns
    whose URL starts with one of `under`, when given)."""
    stats_query = (
        select(ColumnPost.column_id, func.count(Post.id).label("posts"), func.max(Post.published_at).label("last"),
               func.min(Post.published_at).label("first"))
        .join(Post, Post.id == ColumnPost.post_id)
        .where(Post.published_at < before)
        .group_by(ColumnPost.column_id)
    )
    if unit is not None:  # aggregate only the unit's columns, not the whole province
        unit_columns = select(Column.id).join(Unit).where(Unit.name == unit)
        stats_query = stats_query.where(ColumnPost.column_id.in_(unit_columns))
    if under is not None:  # only the columns of some sites (one site's column veto), not the whole province
        on_sites = or_(false(), *(Column.url.startswith(prefix, autoescape=True) for prefix in under))
        stats_query = stats_query.where(ColumnPost.column_id.in_(select(Column.id).where(on_sites)))
    stats = stats_query.subquery()
    # ever read whole: a look-up by (column_id, id) per column (ix_column_fetches_column_newest), not the history
    ok = exists().where(ColumnFetch.column_id == Column.id, ColumnFetch.status.in_(WHOLE))
    query = (
        select(Column, Unit.name, stats.c.posts, stats.c.last, stats.c.first, ok.label("fetched"))
        .join(Unit)
        .outerjoin(stats, stats.c.column_id == Column.id)
        .where(Column.active)
        .order_by(Unit.id, Column.id)
    )
    if unit is not None:
        query = query.where(Unit.name == unit)
    if under is not None:
        query = query.where(on_sites)
    rows = session.execute(query).all()
    newest = _newest_fetches(session, [c.id for c, *_ in rows])
    return [
        ColumnFact(unit=u, name=c.name, url=c.url, category=c.category, quota=c.quota, posts=posts or 0,
                   last_post=last, ever_fetched=bool(fetched),
                   last_error=_reason_if(newest.get(c.id), FetchStatus.ERROR),
                   partial=_reason_if(newest.get(c.id), FetchStatus.PARTIAL),
                   first_post=first, unreadable=_reason_if(newest.get(c.id), FetchStatus.UNREADABLE),
                   fetch_run=fetch[2] if (fetch := newest.get(c.id)) else None)
        for c, u, posts, last, first, fetched in rows
    ]


def _reason_if(fetch: tuple[str, str | None, int] | None, status: str) -> str | None:
    if fetch is None or fetch[0] != status:
        return None
    return fetch[1] or ""


def _newest_fetches(session: Session, column_ids: list[int]) -> dict[int, tuple[str, str | None, int]]:
    """(status, reason, run id) of each column's newest finished fetch (a run still going is not an outcome)."""
    if not column_ids:
        return {}
    # each column's newest by (column_id, id) (ix_column_fetches_column_newest): the cost follows the columns,
    # not the fetch history (as crawl_targets)
    older = aliased(ColumnFetch)
    newest = (select(older.id).where(older.column_id == Column.id, older.status != FetchStatus.RUNNING)
              .order_by(older.id.desc()).limit(1).scalar_subquery())
    query = (select(ColumnFetch.column_id, ColumnFetch.status, ColumnFetch.reason, ColumnFetch.run_id)
             .where(ColumnFetch.id.in_(select(newest).where(Column.id.in_(column_ids)))))
    return {cid: (status, reason, run) for cid, status, reason, run in session.execute(query)}


def unit_posts_between(session: Session, unit: str, start: datetime, end: datetime) -> int:
    """Distinct posts of the unit's quota columns published in [start, end)."""
    query = (
        select(func.count(distinct(Post.id)))
        .select_from(Post)
        .join(ColumnPost, ColumnPost.post_id == Post.id)
        .join(Column, Column.id == ColumnPost.column_id)
        .join(Unit, Unit.id == Column.unit_id)
        .where(Unit.name == unit, Column.quota, Column.active, Post.published_at >= start, Post.published_at < end)
    )
    return session.scalar(query) or 0


def unit_month_counts(session: Session, windows: Sequence[tuple[datetime, datetime]],
                      units: Sequence[str] | None = None) -> dict[str, list[int]]:
    """Each unit's distinct posts in each window [start, end), counted as `unit_posts_between` counts them
    (active quota columns; a post listed in two of the unit's columns once), for every unit or `units`, in one
    statement: a CASE over the windows gives each post its window (the bounds are bound parameters, compared as
    stored, so SQLite and PostgreSQL agree); a unit without posts in the windows is absent.

    The windows must not overlap (a post would count in the first only): ValueError. An empty window counts 0.
    """
    live = sorted((start, end, i) for i, (start, end) in enumerate(windows) if start < end)
    for (_, end, _), (start, _, _) in zip(live, live[1:]):
        if start < end:
            raise ValueError("overlapping windows")
    if not live or (units is not None and not units):
        return {}
    window = case(*((and_(Post.published_at >= start, Post.published_at < end), i) for start, end, i in live))
    # each (unit, window, post) once: a post listed in two of a unit's columns counts once for it
    listed = (select(Column.unit_id.label("unit_id"), window.label("window"), Post.id)
              .select_from(Post)
              .join(ColumnPost, ColumnPost.post_id == Post.id)
              .join(Column, Column.id == ColumnPost.column_id)
              .where(Column.quota, Column.active, Post.published_at >= live[0][0], Post.published_at < live[-1][1])
              .distinct())
    if units is not None:
        listed = listed.where(Column.unit_id.in_(select(Unit.id).where(Unit.name.in_(units))))
    rows = listed.subquery()
    counted = (select(rows.c.unit_id, rows.c.window, func.count().label("posts"))
               .where(rows.c.window.is_not(None)).group_by(rows.c.unit_id, rows.c.window).subquery())
    query = select(Unit.name, counted.c.window, counted.c.posts).join(counted, counted.c.unit_id == Unit.id)
    counts: dict[str, list[int]] = {}
    for unit, i, n in session.execute(query):
        counts.setdefault(unit, [0] * len(windows))[i] = n
    return counts


def posts_between(session: Session, start: datetime, end: datetime, category: str | None = None,
                  site_url: str | None = None) -> int:
    """Distinct posts published in [start, end) in active columns (of one category, of one site if given)."""
    cond = [Post.published_at >= start, Post.published_at < end, Column.active]
    if category:
        cond.append(Column.category == category)
    if site_url:
        cond.append(Column.url.startswith(site_url, autoescape=True))
    query = (select(func.count(distinct(Post.id))).select_from(Post)
             .join(ColumnPost, ColumnPost.post_id == Post.id).join(Column, Column.id == ColumnPost.column_id)
             .where(and_(*cond)))
    return session.scalar(query) or 0
