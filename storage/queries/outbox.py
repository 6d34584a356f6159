"""The outbox of alert emails and robot messages: written before sending and marked after, so nothing is lost or
sent twice. A row's `channel` is "email" (SMTP: recipients are addresses) or "apprise" (its one recipient is an
Apprise URL as settings write it, placeholders kept)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import OutboxEmail, utcnow
from storage.queries._sql import affected, dialect_insert

OUTBOX_INTERRUPTED = "发送中断，请人工确认"  # last_error of a row a crash left in `sending`: never retried by itself
# last_error of a row whose connection was lost after the whole message went out and before the server's reply:
# the server may have kept it, so it is not retried by itself either.
OUTBOX_IN_DOUBT = "发送结果不明（服务器在接收正文后断开），请人工确认是否已送达"
# The same for a robot message (channel apprise): the request went out and no answer came (read timeout).
OUTBOX_PUSH_IN_DOUBT = "推送结果不明（请求已发出但未收到应答），请人工确认是否已送达"
OUTBOX_UNSETTLED = (OUTBOX_INTERRUPTED, OUTBOX_IN_DOUBT, OUTBOX_PUSH_IN_DOUBT)  # failed rows that wait for a person
EMAIL, APPRISE = "email", "apprise"  # OutboxEmail.channel


class DeliveryInDoubt(Exception):
    """The email (or robot message) may or may not have been delivered (e.g. the connection dropped after DATA,
    a webhook request that got no answer): the row is marked OUTBOX_IN_DOUBT (OUTBOX_PUSH_IN_DOUBT) and never
    resent by itself.
    Raised by channels (monitors.alerts), defined here beside the state it leads to."""


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
    claimed_at: datetime | None = None  # None: never claimed, or claimed before revision 0005
    channel: str = EMAIL  # email | apprise


def _outbox_row(r: OutboxEmail) -> OutboxRow:
    split = lambda s: tuple(a for a in (s or "").split(",") if a)  # noqa: E731
    channel = r.channel or EMAIL
    # An Apprise URL may hold commas (?to=a,b): it is one recipient, never split
    recipients = (r.recipients,) if channel == APPRISE else split(r.recipients)
    return OutboxRow(r.id, r.key, r.unit, recipients, split(r.cc), r.subject, r.body_text, r.body_html,
                     r.status, r.attempts, r.last_error, r.created_at, r.sent_at, r.claimed_at, channel)


def add_outbox_email(session: Session, key: str, unit: str | None, recipients: Sequence[str], cc: Sequence[str],
                     subject: str, body_text: str, body_html: str, channel: str = EMAIL) -> bool:
    """Insert-or-ignore by key; True when written (False: the same email is already in the outbox)."""
    if channel == APPRISE and len(recipients) != 1:
        raise ValueError("an apprise row has exactly one recipient (its URL)")
    result = session.execute(dialect_insert(session)(OutboxEmail).values(
        key=key, unit=unit, channel=channel, recipients=",".join(recipients), cc=",".join(cc), subject=subject,
        body_text=body_text, body_html=body_html, status="pending", attempts=0, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["key"]).returning(OutboxEmail.id))
    return result.scalar() is not None  # RETURNING, not rowcount: psycopg reports -1 for this statement


def outbox_rows(session: Session, statuses: Sequence[str] | None = None) -> list[OutboxRow]:
    query = select(OutboxEmail).order_by(OutboxEmail.id)
    if statuses:
        query = query.where(OutboxEmail.status.in_(statuses))
    return [_outbox_row(r) for r in session.scalars(query)]


def outbox_to_send(session: Session) -> list[OutboxRow]:
    """Pending rows and failed ones to retry (not those interrupted or in doubt: they may have gone out)."""
    query = (select(OutboxEmail).where(
        (OutboxEmail.status == "pending")
        | ((OutboxEmail.status == "failed")
           & ((OutboxEmail.last_error.is_(None)) | OutboxEmail.last_error.not_in(OUTBOX_UNSETTLED))))
        .order_by(OutboxEmail.id))
    return [_outbox_row(r) for r in session.scalars(query)]


def claim_outbox(session: Session, row_id: int) -> bool:
    """pending/failed → sending, only if nobody else claimed it meanwhile (two senders never send one row)."""
    result = session.execute(update(OutboxEmail).where(OutboxEmail.id == row_id,
                                                       OutboxEmail.status.in_(("pending", "failed")))
                             .values(status="sending", attempts=OutboxEmail.attempts + 1, claimed_at=utcnow()))
    return affected(result) == 1


def mark_outbox_sent(session: Session, row_id: int, note: str | None = None) -> None:
    session.execute(update(OutboxEmail).where(OutboxEmail.id == row_id)
                    .values(status="sent", sent_at=utcnow(), last_error=note))


def mark_outbox_failed(session: Session, row_id: int, error: str) -> None:
    session.execute(update(OutboxEmail).where(OutboxEmail.id == row_id).values(status="failed", last_error=error))


def interrupt_stale_sending(session: Session, claimed_before: datetime) -> list[OutboxRow]:
    """Rows a crash left in `sending` → failed with OUTBOX_INTERRUPTED; they wait for a person.

    Age is judged by claimed_at (created_at for rows claimed before revision 0005): a row claimed before the
    cut-off is still `sending` only if its sender died (a live send takes seconds, see SMTP timeout).
    """
    claimed = func.coalesce(OutboxEmail.claimed_at, OutboxEmail.created_at)
    rows = list(session.scalars(select(OutboxEmail).where(OutboxEmail.status == "sending",
                                                          claimed < claimed_before)))
    for row in rows:
        row.status, row.last_error = "failed", OUTBOX_INTERRUPTED
    session.flush()
    return [_outbox_row(r) for r in rows]


def outbox_interrupted(session: Session) -> list[OutboxRow]:
    """Failed rows that wait for a person: interrupted by a crash or in doubt after a lost connection."""
    query = (select(OutboxEmail).where(OutboxEmail.status == "failed",
                                       OutboxEmail.last_error.in_(OUTBOX_UNSETTLED))
             .order_by(OutboxEmail.id))
    return [_outbox_row(r) for r in session.scalars(query)]


def settle_interrupted(session: Session, resend: bool) -> int:
    """A person checked the interrupted (or in doubt) rows: send them again (pending) or take them as sent."""
    values = dict(status="pending", last_error=None) if resend else dict(status="sent", last_error="人工确认已发送")
    result = session.execute(update(OutboxEmail).where(OutboxEmail.status == "failed",
                                                       OutboxEmail.last_error.in_(OUTBOX_UNSETTLED))
                             .values(**values))
    return affected(result)
