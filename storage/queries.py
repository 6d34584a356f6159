"""Named queries and writes. Rules and writers never build SQL; they call these and get plain data."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, distinct, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import (
    Account,
    AccountPost,
    Column,
    ColumnFetch,
    ColumnPost,
    CrawlRun,
    Post,
    Site,
    Unit,
    utcnow,
)


# --- settings → database -------------------------------------------------------------------------------

def sync_settings(session: Session, settings) -> None:  # noqa: ANN001 (config.Settings; storage imports nothing of ours)
    """Load sites, units, columns and accounts from settings; rows no longer configured become inactive."""
    for site in settings.sites:
        row = session.scalar(select(Site).where(Site.url == site.url))
        if row is None:
            session.add(Site(name=site.name, url=site.url))
        else:
            row.name = site.name
    units = _sync(session, Unit, "name", settings.units,
                  lambda row, u: dict(kind=u.kind, emails=",".join(u.emails)))
    session.flush()
    _sync(session, Column, "url", settings.columns,
          lambda row, c: dict(unit_id=units[c.unit].id, name=c.name, category=c.category, quota=c.quota))
    _sync(session, Account, "url", settings.accounts,
          lambda row, a: dict(unit_id=units[a.unit].id, platform=a.platform, name=a.name))


def _sync(session: Session, model: type, key: str, configured: Sequence, values) -> dict:  # noqa: ANN001
    """Upsert `configured` into `model` by `key`; rows not configured any more are kept but inactive."""
    rows = {getattr(r, key): r for r in session.scalars(select(model))}
    for row in rows.values():
        row.active = False
    for item in configured:
        row = rows.get(getattr(item, key))
        if row is None:
            row = rows[getattr(item, key)] = model(**{key: getattr(item, key)})
            session.add(row)
        for attr, value in values(row, item).items():
            setattr(row, attr, value)
        row.active = True
    return rows


# --- crawl state ---------------------------------------------------------------------------------------

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
    return [CrawlTarget(c.id, unit, c.name, c.url, c.etag, c.last_modified, status not in ("ok", "unchanged"))
            for c, unit, status in session.execute(query)]


def mark_running(session: Session, run_id: int, column_ids: Sequence[int]) -> None:
    """Record that this run is about to crawl the columns; the final outcome replaces the mark."""
    for column_id in column_ids:
        record_fetch(session, run_id, column_id, status="running")


def complete_urls(session: Session, urls: Iterable[str]) -> set[str]:
    """URLs already stored with their date settled (found, or the article read and showed none)."""
    urls = list(urls)
    if not urls:
        return set()
    query = select(Post.url).where(Post.url.in_(urls), (Post.published_at.is_not(None)) | (Post.date_source == "none"))
    return set(session.scalars(query))


def _insert(session: Session):  # noqa: ANN202
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


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
    insert = _insert(session)
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


def finish_run(session: Session, run_id: int, status: str = "done") -> None:
    session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(status=status, finished_at=utcnow()))


def record_fetch(session: Session, run_id: int, column_id: int, *, status: str, reason: str | None = None,
                 http_status: int | None = None, pages: int = 0, requests: int = 0, entries: int = 0,
                 new_posts: int = 0) -> None:
    insert = _insert(session)
    values = dict(status=status, reason=reason, http_status=http_status, pages=pages, requests=requests,
                  entries=entries, new_posts=new_posts, finished_at=utcnow())
    session.execute(insert(ColumnFetch).values(run_id=run_id, column_id=column_id, **values)
                    .on_conflict_do_update(index_elements=["run_id", "column_id"], set_=values))


def save_validators(session: Session, column_id: int, etag: str | None, last_modified: str | None) -> None:
    session.execute(update(Column).where(Column.id == column_id).values(etag=etag, last_modified=last_modified))


def run_fetches(session: Session, run_id: int) -> list[ColumnFetch]:
    return list(session.scalars(select(ColumnFetch).where(ColumnFetch.run_id == run_id)))


# --- evaluation facts ----------------------------------------------------------------------------------

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


def units(session: Session, names: Sequence[str] | None = None) -> list[UnitFact]:
    query = select(Unit).where(Unit.active).order_by(Unit.id)
    if names:
        query = query.where(Unit.name.in_(names))
    return [UnitFact(u.name, u.kind, tuple(e for e in u.emails.split(",") if e)) for u in session.scalars(query)]


def column_facts(session: Session, before: datetime, unit: str | None = None) -> list[ColumnFact]:
    """Every active column's post count and newest post published before `before`."""
    stats = (
        select(ColumnPost.column_id, func.count(Post.id).label("posts"), func.max(Post.published_at).label("last"))
        .join(Post, Post.id == ColumnPost.post_id)
        .where(Post.published_at < before)
        .group_by(ColumnPost.column_id)
    )
    ok = select(ColumnFetch.column_id).where(ColumnFetch.status.in_(("ok", "unchanged"))).distinct()
    if unit is not None:  # aggregate only the unit's columns, not the whole province
        unit_columns = select(Column.id).join(Unit).where(Unit.name == unit)
        stats = stats.where(ColumnPost.column_id.in_(unit_columns))
        ok = ok.where(ColumnFetch.column_id.in_(unit_columns))
    stats, ok = stats.subquery(), ok.subquery()
    query = (
        select(Column, Unit.name, stats.c.posts, stats.c.last, ok.c.column_id)
        .join(Unit)
        .outerjoin(stats, stats.c.column_id == Column.id)
        .outerjoin(ok, ok.c.column_id == Column.id)
        .where(Column.active)
        .order_by(Unit.id, Column.id)
    )
    if unit is not None:
        query = query.where(Unit.name == unit)
    rows = session.execute(query).all()
    errors = _last_errors(session, [c.id for c, *_ in rows])
    return [
        ColumnFact(unit=u, name=c.name, url=c.url, category=c.category, quota=c.quota, posts=posts or 0,
                   last_post=last, ever_fetched=fetched is not None, last_error=errors.get(c.id))
        for c, u, posts, last, fetched in rows
    ]


def _last_errors(session: Session, column_ids: list[int]) -> dict[int, str]:
    if not column_ids:
        return {}
    newest = (select(ColumnFetch.column_id, func.max(ColumnFetch.id).label("id"))
              .where(ColumnFetch.column_id.in_(column_ids)).group_by(ColumnFetch.column_id).subquery())
    query = select(ColumnFetch).join(newest, newest.c.id == ColumnFetch.id).where(ColumnFetch.status == "error")
    return {f.column_id: f.reason or "" for f in session.scalars(query)}


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


def posts_between(session: Session, start: datetime, end: datetime, category: str | None = None) -> int:
    """Distinct posts published in [start, end) in active columns (of one category if given)."""
    cond = [Post.published_at >= start, Post.published_at < end, Column.active]
    if category:
        cond.append(Column.category == category)
    query = (select(func.count(distinct(Post.id))).select_from(Post)
             .join(ColumnPost, ColumnPost.post_id == Post.id).join(Column, Column.id == ColumnPost.column_id)
             .where(and_(*cond)))
    return session.scalar(query) or 0


# --- new-media accounts --------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountTarget:
    account_id: int
    unit: str
    platform: str
    name: str
    url: str


@dataclass(frozen=True)
class AccountPostRow:
    platform_id: str
    published_at: datetime  # aware
    title: str
    url: str | None


@dataclass(frozen=True)
class AccountFact:
    unit: str
    platform: str
    name: str
    url: str
    last_post: datetime | None  # newest stored post before the cut-off (aware)
    read_status: str | None  # ok | unreadable | None (never read)
    reason: str | None  # why it could not be read
    last_read_at: datetime | None


def account_targets(session: Session, units: Sequence[str] | None = None) -> list[AccountTarget]:
    query = select(Account, Unit.name).join(Unit).where(Account.active).order_by(Account.id)
    if units:
        query = query.where(Unit.name.in_(units))
    return [AccountTarget(a.id, u, a.platform, a.name, a.url) for a, u in session.execute(query)]


def store_account_read(session: Session, account_id: int, posts: Sequence[AccountPostRow] | None,
                       reason: str | None = None) -> int:
    """Store one read of an account: its posts (upsert by platform id), or why it could not be read."""
    account = session.get(Account, account_id)
    account.last_read_at = utcnow()
    if posts is None:
        account.status, account.reason = "unreadable", reason or "无法读取"
        return 0
    account.status, account.reason = "ok", None
    if not posts:
        return 0
    unique = {p.platform_id: p for p in posts}
    before = session.scalar(select(func.count()).select_from(AccountPost)
                            .where(AccountPost.account_id == account_id, AccountPost.platform_id.in_(unique)))
    session.execute(_insert(session)(AccountPost).values([
        {"account_id": account_id, "platform_id": p.platform_id, "published_at": p.published_at,
         "title": p.title[:2000], "url": p.url, "first_seen": utcnow()} for p in unique.values()
    ]).on_conflict_do_nothing(index_elements=["account_id", "platform_id"]))
    return len(unique) - (before or 0)


def account_facts(session: Session, before: datetime, unit: str | None = None) -> list[AccountFact]:
    newest = (select(AccountPost.account_id, func.max(AccountPost.published_at).label("last"))
              .where(AccountPost.published_at < before).group_by(AccountPost.account_id))
    if unit is not None:  # only the unit's accounts, not every account post of the province
        newest = newest.where(AccountPost.account_id.in_(select(Account.id).join(Unit).where(Unit.name == unit)))
    newest = newest.subquery()
    query = (select(Account, Unit.name, newest.c.last).join(Unit)
             .outerjoin(newest, newest.c.account_id == Account.id).where(Account.active).order_by(Account.id))
    if unit is not None:
        query = query.where(Unit.name == unit)
    return [AccountFact(u, a.platform, a.name, a.url, last, a.status, a.reason, a.last_read_at)
            for a, u, last in session.execute(query)]
