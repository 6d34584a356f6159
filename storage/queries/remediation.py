"""The 整改 loop's storage: each finding's state (one row a (unit, rule, target)) and its history of changes.

The rules of the loop (which change is allowed, who may make it) are in monitors/remediation.py; here only
reads and writes, each change written together with its event.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from storage.models import FindingEvent, FindingState


@dataclass(frozen=True)
class FindingEventRow:
    state: str
    note: str
    actor: str
    at: datetime  # aware UTC


@dataclass(frozen=True)
class FindingStateRow:
    id: int
    unit: str
    rule: str
    target: str
    state: str  # open | acknowledged | fixed | verified | reopened
    note: str
    updated_by: str
    updated_at: datetime
    opened_at: datetime
    deadline: date | None
    events: tuple[FindingEventRow, ...] = ()  # oldest first; empty unless asked for


def finding_states_ready(session: Session) -> bool:
    """Whether the database has the 整改 tables (revision 0008): a read-only use case on an older database
    treats every finding as having no state yet."""
    return inspect(session.connection()).has_table(FindingState.__tablename__)


def _row(s: FindingState, events: Sequence[FindingEventRow] = ()) -> FindingStateRow:
    return FindingStateRow(s.id, s.unit, s.rule, s.target, s.state, s.note, s.updated_by, s.updated_at,
                           s.opened_at, s.deadline, tuple(events))


def _events(session: Session, ids: Sequence[int]) -> dict[int, list[FindingEventRow]]:
    out: dict[int, list[FindingEventRow]] = {}
    if not ids:
        return out
    for chunk in range(0, len(ids), 500):  # bounded IN lists
        query = (select(FindingEvent).where(FindingEvent.state_id.in_(ids[chunk:chunk + 500]))
                 .order_by(FindingEvent.id))
        for e in session.scalars(query):
            out.setdefault(e.state_id, []).append(FindingEventRow(e.state, e.note, e.actor, e.at))
    return out


def finding_states(session: Session, unit: str | None = None, *, units: Sequence[str] | None = None,
                   states: Sequence[str] | None = None, events: bool = False) -> list[FindingStateRow]:
    """The states of `unit`'s findings (or of `units`, or of all), optionally only in `states`, with their
    events when asked; ordered by unit, then as they were opened."""
    query = select(FindingState).order_by(FindingState.unit, FindingState.id)
    if unit is not None:
        query = query.where(FindingState.unit == unit)
    if units is not None:
        query = query.where(FindingState.unit.in_(list(units)))
    if states is not None:
        query = query.where(FindingState.state.in_(list(states)))
    rows = list(session.scalars(query))
    history = _events(session, [s.id for s in rows]) if events else {}
    return [_row(s, history.get(s.id, ())) for s in rows]


def finding_state(session: Session, state_id: int) -> FindingStateRow | None:
    """One finding's state with its events, or None."""
    row = session.get(FindingState, state_id)
    return None if row is None else _row(row, _events(session, [row.id]).get(row.id, ()))


def open_finding_state(session: Session, unit: str, rule: str, target: str, *, at: datetime, deadline: date,
                       actor: str, note: str = "") -> int:
    """A new finding: its state row (open) and first event; returns its id."""
    row = FindingState(unit=unit, rule=rule, target=target, state="open", note=note, updated_by=actor,
                       updated_at=at, opened_at=at, deadline=deadline)
    session.add(row)
    session.flush()
    session.add(FindingEvent(state_id=row.id, state="open", note=note, actor=actor, at=at))
    return row.id


def change_finding_state(session: Session, state_id: int, state: str, *, note: str, actor: str, at: datetime,
                         deadline: date | None = None) -> None:
    """Move a finding to `state` (with a new deadline when given), recording who, when and why."""
    row = session.get(FindingState, state_id)
    if row is None:
        raise LookupError(state_id)
    row.state, row.note, row.updated_by, row.updated_at = state, note, actor, at
    if deadline is not None:
        row.deadline = deadline
    session.add(FindingEvent(state_id=state_id, state=state, note=note, actor=actor, at=at))
    session.flush()
