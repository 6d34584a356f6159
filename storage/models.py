"""SQLAlchemy 2 models: sites, units, columns, posts, accounts and crawl runs.

Idempotence lives in the schema: a post is unique by URL and an account post by (account, platform id), so
any crawl can be repeated or resumed without duplicates. All datetimes are timezone-aware (stored as UTC).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class AwareDateTime(TypeDecorator[datetime]):
    """Stores UTC without zone (SQLite has none), always returns aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to an aware column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime), "impl is DateTime: the driver hands back a datetime"
        return value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000), unique=True)


class Unit(Base):
    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # township | department | other
    emails: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    columns: Mapped[list[Column]] = relationship(back_populates="unit")


class Column(Base):
    __tablename__ = "columns"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    category: Mapped[str] = mapped_column(String(20))
    quota: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False once removed from settings
    # Validators of the first page, saved only after a complete crawl of the column (conditional requests).
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[Unit] = relationship(back_populates="columns")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(AwareDateTime, index=True)
    # Where the date came from: list | article | none (the article was read and showed no date).
    # NULL published_at with date_source NULL means the article page is still to be read.
    date_source: Mapped[str | None] = mapped_column(String(10))
    first_seen: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    column_id: Mapped[int] = mapped_column(ForeignKey("columns.id"))  # the column it was first seen in


class ColumnPost(Base):
    """A post listed in a column (the same article can be listed in two columns)."""

    __tablename__ = "column_posts"
    column_id: Mapped[int] = mapped_column(ForeignKey("columns.id"), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), primary_key=True)
    # post -> its columns without reading the table (month counts from the posts of the months: migration 0010)
    __table_args__ = (Index("ix_column_posts_post_column", "post_id", "column_id"),)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | done | failed


class FetchStatus(StrEnum):
    """A column's outcome in one crawl run (stored as these words in column_fetches.status)."""

    RUNNING = "running"      # this run is on it (a kill leaves it so: the next crawl reads the column whole)
    OK = "ok"                # read to the end, or to posts already stored
    UNCHANGED = "unchanged"  # the server answered 304 to the stored validators
    PARTIAL = "partial"      # read, but not whole (a page failed, short of the stated total, …)
    ERROR = "error"          # the first page could not be read
    UNREADABLE = "unreadable"  # the first page was read but holds no list we recognise, and no "暂无信息"


# Outcomes after which the column is known to hold what it showed: read whole, or unchanged since.
WHOLE = (FetchStatus.OK, FetchStatus.UNCHANGED)


class ColumnFetch(Base):
    """One column's outcome in one crawl run."""

    __tablename__ = "column_fetches"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    column_id: Mapped[int] = mapped_column(ForeignKey("columns.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # a FetchStatus
    reason: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    new_posts: Mapped[int] = mapped_column(Integer, default=0)
    stated_total: Mapped[int | None] = mapped_column(Integer)  # the column's total as its page states it
    listed: Mapped[int | None] = mapped_column(Integer)  # posts stored for the column after this fetch
    finished_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("run_id", "column_id"),
                      Index("ix_column_fetches_column_newest", "column_id", "id"))


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str | None] = mapped_column(String(20))  # last read: ok | unreadable
    reason: Mapped[str | None] = mapped_column(Text)
    last_read_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    # The first of the reads that failed since the last good one (None while it reads): "since when" unreadable.
    unreadable_since: Mapped[datetime | None] = mapped_column(AwareDateTime)


class AccountPost(Base):
    __tablename__ = "account_posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    platform_id: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(AwareDateTime)
    title: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(2000))
    first_seen: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    __table_args__ = (
        UniqueConstraint("account_id", "platform_id"),
        Index("ix_account_posts_account_published", "account_id", "published_at"),
    )


class Probe(Base):
    """One availability probe of a site's page (国办秘函〔2019〕19号: 15 s, at least 20 a day)."""

    __tablename__ = "probes"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_url: Mapped[str] = mapped_column(String(1000))
    url: Mapped[str] = mapped_column(String(1000))
    started_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    http_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_probes_site_started", "site_url", "started_at"),)


class OutboxEmail(Base):
    """An email written before it is sent and marked sent after: nothing lost, nothing sent twice."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)  # e.g. "2020-10-10:unit:审计局": one email a run
    unit: Mapped[str | None] = mapped_column(String(200))
    # "email" (SMTP) or "apprise": a robot message (钉钉, 企业微信, webhook) whose recipient is one Apprise URL as
    # settings write it ({env:NAME} placeholders kept); its key is the email's key + a digest of that URL.
    channel: Mapped[str] = mapped_column(String(20), default="email", server_default="email")
    recipients: Mapped[str] = mapped_column(Text)  # comma-separated addresses, or the one Apprise URL
    cc: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    # When a sender last claimed it (→ `sending`): a row `sending` long after this was left by a dead sender.
    # Null on rows claimed before revision 0005 (judged by created_at).
    claimed_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class AlertState(Base):
    """What a unit was last told about one finding, so the same finding is not sent again too soon."""

    __tablename__ = "alert_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(1000))
    severity: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str] = mapped_column(Text)
    first_sent_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    last_sent_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    # The finding's numbers when told (monitors.rules.Finding): "worse" compares these, never the detail's words.
    # Null on rows told before revision 0004.
    measure: Mapped[int | None] = mapped_column(Integer)
    limit: Mapped[int | None] = mapped_column("limit_value", Integer)
    since: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (UniqueConstraint("unit", "rule", "target"),)


class JobRun(Base):
    """One run of a scheduled job: what `monitor status` shows."""

    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    # running | ok | failed | skipped | interrupted (stopped by a signal, or left running by a dead process)
    status: Mapped[str] = mapped_column(String(20), default="running")
    message: Mapped[str | None] = mapped_column(Text)


class Page(Base):
    """A page read for the content checks (issue 11): a new post's article page, or a site's home page. One row a
    URL, replaced whole by each new read of it (its links and hits with it)."""

    __tablename__ = "pages"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # article | home
    column_id: Mapped[int | None] = mapped_column(ForeignKey("columns.id"), index=True)  # article: read for it
    site_url: Mapped[str | None] = mapped_column(String(1000))  # home: the configured site's URL
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    fetched_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    title: Mapped[str] = mapped_column(Text, default="")
    meta_missing: Mapped[str] = mapped_column(String(300), default="")  # the standard meta tags it lacks, " "-joined
    newest_date: Mapped[date | None] = mapped_column(Date)  # home: the newest date on its dated lists
    dated_items: Mapped[int] = mapped_column(Integer, default=0)  # home: the dated list items it shows
    links_skipped: Mapped[int] = mapped_column(Integer, default=0)  # links past the per-page cap, not checked


class PageLink(Base):
    """A link, image or attachment on a page (articles: only those in the body)."""

    __tablename__ = "page_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # link | image | attachment
    text: Mapped[str] = mapped_column(Text, default="")  # the link's text or the image's alt


class PageHit(Base):
    """A typo or sensitive word found in an article's text when it was read (the text itself is not kept)."""

    __tablename__ = "page_hits"
    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(30))  # content.typo | content.sensitive
    term: Mapped[str] = mapped_column(String(200))
    suggestion: Mapped[str] = mapped_column(String(200), default="")
    context: Mapped[str] = mapped_column(Text, default="")
    serious: Mapped[bool] = mapped_column(Boolean, default=False)  # a protected term written wrong


class LinkCheck(Base):
    """The shared cache of link checks: each URL's newest outcome, checked again only after
    `[content] link_check_days` (or at once when undetermined)."""

    __tablename__ = "link_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    checked_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    ok: Mapped[bool | None] = mapped_column(Boolean)  # None: undetermined (its host could not be reached at all)
    http_status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(Text, default="")


class FindingState(Base):
    """A finding's place in the 整改 loop (issue 12): open → acknowledged → fixed → verified, or reopened; one row
    a (unit, rule, target), kept while the finding comes and goes."""

    __tablename__ = "finding_states"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(1000))
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | acknowledged | fixed | verified | reopened
    note: Mapped[str] = mapped_column(Text, default="")  # the last note given with a change
    updated_by: Mapped[str] = mapped_column(String(200), default="")  # who made the last change (unit or centre)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    opened_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    deadline: Mapped[date | None] = mapped_column(Date)  # 整改时限: [alerts] fix_within_days after it was opened
    __table_args__ = (UniqueConstraint("unit", "rule", "target"),)


class FindingEvent(Base):
    """One change of a finding's state: who, when, with what note (the history a unit's page shows)."""

    __tablename__ = "finding_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    state_id: Mapped[int] = mapped_column(ForeignKey("finding_states.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class WebState(Base):
    """Small values the dashboard keeps (its signing secret when none is given in the environment)."""

    __tablename__ = "web_state"
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
