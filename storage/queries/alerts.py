"""What each unit was told about its findings, and when (monitors/alerts decides from it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import AlertState


@dataclass(frozen=True)
class AlertStateRow:
    unit: str
    rule: str
    target: str
    severity: str
    detail: str
    last_sent_at: datetime  # aware; the evaluation date the unit was last told about it (local midnight)
    cleared_at: datetime | None
    told_on: date | None = None  # date of last_sent_at in the site's timezone
    measure: int | None = None  # the finding's numbers when told (None on rows told before revision 0004)
    limit: int | None = None
    since: date | None = None


def alert_states(session: Session, tz: tzinfo | None = None) -> list[AlertStateRow]:
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
