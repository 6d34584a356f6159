"""New-media accounts: the accounts to read, their reads and posts, their facts for the rules."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Account, AccountPost, Unit, utcnow
from storage.queries._sql import dialect_insert


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
    unreadable_since: datetime | None = None  # the first failed read since the last good one


def account_targets(session: Session, units: Sequence[str] | None = None) -> list[AccountTarget]:
    query = select(Account, Unit.name).join(Unit).where(Account.active).order_by(Account.id)
    if units:
        query = query.where(Unit.name.in_(units))
    return [AccountTarget(a.id, u, a.platform, a.name, a.url) for a, u in session.execute(query)]


def store_account_read(session: Session, account_id: int, posts: Sequence[AccountPostRow] | None,
                       reason: str | None = None) -> int:
    """Store one read of an account: its posts (upsert by platform id), or why it could not be read."""
    account = session.get_one(Account, account_id)
    account.last_read_at = utcnow()
    if posts is None:
        if account.status != "unreadable" or account.unreadable_since is None:
            account.unreadable_since = account.last_read_at
        account.status, account.reason = "unreadable", reason or "无法读取"
        return 0
    account.status, account.reason, account.unreadable_since = "ok", None, None
    if not posts:
        return 0
    unique = {p.platform_id: p for p in posts}
    before = session.scalar(select(func.count()).select_from(AccountPost)
                            .where(AccountPost.account_id == account_id, AccountPost.platform_id.in_(unique)))
    session.execute(dialect_insert(session)(AccountPost).values([
        {"account_id": account_id, "platform_id": p.platform_id, "published_at": p.published_at,
         "title": p.title[:2000], "url": p.url, "first_seen": utcnow()} for p in unique.values()
    ]).on_conflict_do_nothing(index_elements=["account_id", "platform_id"]))
    return len(unique) - (before or 0)


def account_facts(session: Session, before: datetime, unit: str | None = None) -> list[AccountFact]:
    newest_query = (select(AccountPost.account_id, func.max(AccountPost.published_at).label("last"))
              .where(AccountPost.published_at < before).group_by(AccountPost.account_id))
    if unit is not None:  # only the unit's accounts, not every account post of the province
        unit_accounts = select(Account.id).join(Unit).where(Unit.name == unit)
        newest_query = newest_query.where(AccountPost.account_id.in_(unit_accounts))
    newest = newest_query.subquery()
    query = (select(Account, Unit.name, newest.c.last).join(Unit)
             .outerjoin(newest, newest.c.account_id == Account.id).where(Account.active).order_by(Account.id))
    if unit is not None:
        query = query.where(Unit.name == unit)
    return [AccountFact(u, a.platform, a.name, a.url, last, a.status, a.reason, a.last_read_at, a.unreadable_since)
            for a, u, last in session.execute(query)]


def accounts_unknown_at(session: Session, cut: datetime) -> list[str]:
    """URLs of the accounts whose newest post before `cut` is unknown: every post stored was published and
    first read after it (reading began later, and the page read did not reach back that far)."""
    query = (select(Account.url).join(AccountPost, AccountPost.account_id == Account.id).where(Account.active)
             .group_by(Account.url)
             .having(func.min(AccountPost.published_at) >= cut, func.min(AccountPost.first_seen) >= cut))
    return list(session.scalars(query))
