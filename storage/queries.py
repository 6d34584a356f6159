"""Named queries and writes. Rules and writers never build SQL; they call these and get plain data."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import and_, case, distinct, func, select, update
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
    JobRun,
    Post,
    Probe,
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
                 new_posts: int = 0, stated_total: int | None = None, listed: int | None = None) -> None:
    insert = _insert(session)
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
    # Why the newest finished read was partial (已读取 75/107 条, a page that failed …); None when it was whole.
    partial: str | None = None
    first_post: datetime | None = None  # oldest dated post before the cut-off: a partial read is sure only after it


def units(session: Session, names: Sequence[str] | None = None) -> list[UnitFact]:
    query = select(Unit).where(Unit.active).order_by(Unit.id)
    if names:
        query = query.where(Unit.name.in_(names))
    return [UnitFact(u.name, u.kind, tuple(e for e in u.emails.split(",") if e)) for u in session.scalars(query)]


def column_facts(session: Session, before: datetime, unit: str | None = None) -> list[ColumnFact]:
    """Every active column's post count and newest post published before `before`."""
    stats = (
        select(ColumnPost.column_id, func.count(Post.id).label("posts"), func.max(Post.published_at).label("last"),
               func.min(Post.published_at).label("first"))
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
        select(Column, Unit.name, stats.c.posts, stats.c.last, stats.c.first, ok.c.column_id)
        .join(Unit)
        .outerjoin(stats, stats.c.column_id == Column.id)
        .outerjoin(ok, ok.c.column_id == Column.id)
        .where(Column.active)
        .order_by(Unit.id, Column.id)
    )
    if unit is not None:
        query = query.where(Unit.name == unit)
    rows = session.execute(query).all()
    newest = _newest_fetches(session, [c.id for c, *_ in rows])
    return [
        ColumnFact(unit=u, name=c.name, url=c.url, category=c.category, quota=c.quota, posts=posts or 0,
                   last_post=last, ever_fetched=fetched is not None,
                   last_error=_reason_if(newest.get(c.id), "error"), partial=_reason_if(newest.get(c.id), "partial"),
                   first_post=first)
        for c, u, posts, last, first, fetched in rows
    ]


def _reason_if(fetch: tuple[str, str | None] | None, status: str) -> str | None:
    if fetch is None or fetch[0] != status:
        return None
    return fetch[1] or ""


def _newest_fetches(session: Session, column_ids: list[int]) -> dict[int, tuple[str, str | None]]:
    """(status, reason) of each column's newest finished fetch (a run still going is not an outcome)."""
    if not column_ids:
        return {}
    newest = (select(ColumnFetch.column_id, func.max(ColumnFetch.id).label("id"))
              .where(ColumnFetch.column_id.in_(column_ids), ColumnFetch.status != "running")
              .group_by(ColumnFetch.column_id).subquery())
    query = select(ColumnFetch.column_id, ColumnFetch.status, ColumnFetch.reason).join(
        newest, newest.c.id == ColumnFetch.id)
    return {cid: (status, reason) for cid, status, reason in session.execute(query)}


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


# --- daemon: availability probes and job runs ----------------------------------------------------------

@dataclass(frozen=True)
class ProbeRow:
    site_url: str
    url: str
    started_at: datetime  # aware
    ok: bool
    http_status: int | None
    latency_ms: int | None
    error: str | None


@dataclass(frozen=True)
class ProbeStats:
    """The probes of one page of a site in a window."""

    site_url: str
    url: str
    total: int
    failed: int
    days: int  # distinct UTC days holding probes (a hint at whether ≥ 20 a day were made)

    @property
    def ratio(self) -> float:
        return self.failed / self.total if self.total else 0.0


def store_probe(session: Session, row: ProbeRow) -> None:
    session.add(Probe(site_url=row.site_url, url=row.url, started_at=row.started_at, ok=row.ok,
                      http_status=row.http_status, latency_ms=row.latency_ms, error=row.error))


def probe_stats(session: Session, start: datetime, end: datetime) -> list[ProbeStats]:
    """Per probed page: probes and failed probes started in [start, end)."""
    failed = func.sum(case((Probe.ok.is_(False), 1), else_=0))
    query = (select(Probe.site_url, Probe.url, func.count(Probe.id), failed)
             .where(Probe.started_at >= start, Probe.started_at < end)
             .group_by(Probe.site_url, Probe.url).order_by(Probe.site_url, Probe.url))
    sqlite = session.get_bind().dialect.name == "sqlite"
    day = func.date(Probe.started_at) if sqlite else func.date_trunc("day", Probe.started_at)
    days = dict(((s, u), n) for s, u, n in session.execute(
        select(Probe.site_url, Probe.url, func.count(distinct(day)))
        .where(Probe.started_at >= start, Probe.started_at < end).group_by(Probe.site_url, Probe.url)))
    return [ProbeStats(site, url, total, int(bad or 0), days.get((site, url), 0))
            for site, url, total, bad in session.execute(query)]


def recent_probes(session: Session, url: str, limit: int = 20) -> list[ProbeRow]:
    query = select(Probe).where(Probe.url == url).order_by(Probe.started_at.desc(), Probe.id.desc()).limit(limit)
    return [ProbeRow(p.site_url, p.url, p.started_at, p.ok, p.http_status, p.latency_ms, p.error)
            for p in session.scalars(query)]


@dataclass(frozen=True)
class JobRunRow:
    id: int
    job: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | ok | failed | skipped | interrupted
    message: str | None


def start_job_run(session: Session, job: str) -> int:
    run = JobRun(job=job, started_at=utcnow(), status="running")
    session.add(run)
    session.flush()
    return run.id


def finish_job_run(session: Session, run_id: int, status: str, message: str | None = None) -> None:
    session.execute(update(JobRun).where(JobRun.id == run_id)
                    .values(status=status, message=message, finished_at=utcnow()))


def interrupt_job_runs(session: Session, job: str, message: str) -> int:
    """Runs of `job` left `running` by a process that died: called only while holding the job's lock."""
    result = session.execute(update(JobRun).where(JobRun.job == job, JobRun.status == "running")
                             .values(status="interrupted", message=message, finished_at=utcnow()))
    return result.rowcount or 0


def last_job_runs(session: Session) -> dict[str, JobRunRow]:
    """The newest run of each job."""
    newest = select(func.max(JobRun.id)).group_by(JobRun.job)
    return {r.job: JobRunRow(r.id, r.job, r.started_at, r.finished_at, r.status, r.message)
            for r in session.scalars(select(JobRun).where(JobRun.id.in_(newest)))}


def job_runs(session: Session, job: str | None = None, limit: int = 100) -> list[JobRunRow]:
    query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if job is not None:
        query = query.where(JobRun.job == job)
    return [JobRunRow(r.id, r.job, r.started_at, r.finished_at, r.status, r.message) for r in session.scalars(query)]


JOB_STORE_TABLE = "apscheduler_jobs"  # APScheduler's SQLAlchemyJobStore creates and owns it (not Alembic)


def job_next_runs(session: Session) -> dict[str, datetime | None]:
    """Next run time of each job in the daemon's job store (empty before the daemon's first start)."""
    from sqlalchemy import Float, MetaData, Table, inspect
    from sqlalchemy import Column as SqlColumn, Unicode

    if not inspect(session.get_bind()).has_table(JOB_STORE_TABLE):
        return {}
    table = Table(JOB_STORE_TABLE, MetaData(), SqlColumn("id", Unicode(191)), SqlColumn("next_run_time", Float(25)))
    return {job: datetime.fromtimestamp(ts, timezone.utc) if ts is not None else None
            for job, ts in session.execute(select(table.c.id, table.c.next_run_time))}


# --- alerts: what units were told, and the outbox of emails --------------------------------------------
# (monitors/alerts: the outbox is written before sending and marked after, so nothing is lost or sent twice)

from storage.models import AlertState, OutboxEmail  # noqa: E402  (kept with its section)

OUTBOX_INTERRUPTED = "发送中断，请人工确认"  # last_error of a row a crash left in `sending`: never retried by itself


@dataclass(frozen=True)
class AlertStateRow:
    unit: str
    rule: str
    target: str
    severity: str
    detail: str
    last_sent_at: datetime  # aware; the evaluation date the unit was last told about it (local midnight)
    cleared_at: datetime | None
    told_on: object = None  # date of last_sent_at in the site's timezone
    measure: int | None = None  # the finding's numbers when told (None on rows told before revision 0004)
    limit: int | None = None
    since: date | None = None


def alert_states(session: Session, tz=None) -> list[AlertStateRow]:  # noqa: ANN001 (a tzinfo)
    rows = session.scalars(select(AlertState).order_by(AlertState.id))
    return [AlertStateRow(s.unit, s.rule, s.target, s.severity, s.detail, s.last_sent_at, s.cleared_at,
                          (s.last_sent_at.astimezone(tz) if tz else s.last_sent_at).date(),
                          s.measure, s.limit, s.since) for s in rows]


def record_alert_told(session: Session, unit: str, rule: str, target: str, severity: str, detail: str,
                      at: datetime, *, measure: int | None = None, limit: int | None = None,
                      since: date | None = None) -> None:
    """The unit is told about a finding (new, worse or again) at `at`; a cleared one is open again."""
    row = session.scalar(select(AlertState).where(AlertState.unit == unit, AlertState.rule == rule,
                                                  AlertState.target == target))
    if row is None:
        session.add(AlertState(unit=unit, rule=rule, target=target, severity=severity, detail=detail,
                               first_sent_at=at, last_sent_at=at, cleared_at=None,
                               measure=measure, limit=limit, since=since))
        session.flush()  # a second finding on the same key in this transaction must find this row
        return
    if row.cleared_at is not None:
        row.first_sent_at = at
    row.severity, row.detail, row.last_sent_at, row.cleared_at = severity, detail, at, None
    row.measure, row.limit, row.since = measure, limit, since


def record_alert_cleared(session: Session, unit: str, rule: str, target: str, at: datetime) -> None:
    session.execute(update(AlertState).where(AlertState.unit == unit, AlertState.rule == rule,
                                             AlertState.target == target, AlertState.cleared_at.is_(None))
                    .values(cleared_at=at))


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    unit: str | None
    recipients: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    body_text: str
    body_html: str
    status: str  # pending | sending | sent | failed
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def _outbox_row(r: OutboxEmail) -> OutboxRow:
    split = lambda s: tuple(a for a in (s or "").split(",") if a)  # noqa: E731
    return OutboxRow(r.id, r.key, r.unit, split(r.recipients), split(r.cc), r.subject, r.body_text, r.body_html,
                     r.status, r.attempts, r.last_error, r.created_at, r.sent_at)


def add_outbox_email(session: Session, key: str, unit: str | None, recipients: Sequence[str], cc: Sequence[str],
                     subject: str, body_text: str, body_html: str) -> bool:
    """Insert-or-ignore by key; True when written (False: the same email is already in the outbox)."""
    result = session.execute(_insert(session)(OutboxEmail).values(
        key=key, unit=unit, recipients=",".join(recipients), cc=",".join(cc), subject=subject, body_text=body_text,
        body_html=body_html, status="pending", attempts=0, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["key"]).returning(OutboxEmail.id))
    return result.scalar() is not None  # RETURNING, not rowcount: psycopg reports -1 for this statement


def outbox_rows(session: Session, statuses: Sequence[str] | None = None) -> list[OutboxRow]:
    query = select(OutboxEmail).order_by(OutboxEmail.id)
    if statuses:
        query = query.where(OutboxEmail.status.in_(statuses))
    return [_outbox_row(r) for r in session.scalars(query)]


def outbox_to_send(session: Session) -> list[OutboxRow]:
    """Pending rows and failed ones to retry (not those a crash interrupted: they may have gone out)."""
    query = (select(OutboxEmail).where(
        (OutboxEmail.status == "pending")
        | ((OutboxEmail.status == "failed")
           & ((OutboxEmail.last_error.is_(None)) | (OutboxEmail.last_error != OUTBOX_INTERRUPTED))))
        .order_by(OutboxEmail.id))
    return [_outbox_row(r) for r in session.scalars(query)]


def claim_outbox(session: Session, row_id: int) -> bool:
    """pending/failed → sending, only if nobody else claimed it meanwhile (two senders never send one row)."""
    result = session.execute(update(OutboxEmail).where(OutboxEmail.id == row_id,
                                                       OutboxEmail.status.in_(("pending", "failed")))
                             .values(status="sending", attempts=OutboxEmail.attempts + 1))
    return (result.rowcount or 0) == 1


def mark_outbox_sent(session: Session, row_id: int, note: str | None = None) -> None:
    session.execute(update(OutboxEmail).where(OutboxEmail.id == row_id)
                    .values(status="sent", sent_at=utcnow(), last_error=note))


def mark_outbox_failed(session: Session, row_id: int, error: str) -> None:
    session.execute(update(OutboxEmail).where(OutboxEmail.id == row_id).values(status="failed", last_error=error))


def interrupt_stale_sending(session: Session, created_before: datetime) -> list[OutboxRow]:
    """Rows a crash left in `sending` → failed with OUTBOX_INTERRUPTED; they wait for a person.

    The outbox has no "claimed at" column, so age is judged by created_at: a row older than the cut-off is
    still `sending` only if its sender died (a live send takes seconds, see SMTP timeout).
    """
    rows = list(session.scalars(select(OutboxEmail).where(OutboxEmail.status == "sending",
                                                          OutboxEmail.created_at < created_before)))
    for row in rows:
        row.status, row.last_error = "failed", OUTBOX_INTERRUPTED
    session.flush()
    return [_outbox_row(r) for r in rows]


def outbox_interrupted(session: Session) -> list[OutboxRow]:
    query = (select(OutboxEmail).where(OutboxEmail.status == "failed", OutboxEmail.last_error == OUTBOX_INTERRUPTED)
             .order_by(OutboxEmail.id))
    return [_outbox_row(r) for r in session.scalars(query)]


def settle_interrupted(session: Session, resend: bool) -> int:
    """A person checked the interrupted rows: send them again (pending) or take them as sent."""
    values = dict(status="pending", last_error=None) if resend else dict(status="sent", last_error="人工确认已发送")
    result = session.execute(update(OutboxEmail).where(OutboxEmail.status == "failed",
                                                       OutboxEmail.last_error == OUTBOX_INTERRUPTED).values(**values))
    return result.rowcount or 0
