"""The 整改 loop (issue 12): each finding of a unit has a state, changed by the unit, the centre or the checks.

    open ──(unit: 确认收到)──> acknowledged ──(unit: 已整改)──> fixed ──(next check: gone)──> verified
      │                                                          └──(next check: still there)──> reopened
      └──(next check: gone, from open/acknowledged/reopened too)──> verified ──(found again)──> reopened

- A finding enters the loop when an evaluation that stands for "now" finds it (`sync` after each alerts run):
  state open, deadline = that day + `[alerts] fix_within_days` (the 整改时限 its email gives).
- The centre may verify (核实通过) or reopen (重新打开, with a note) any finding; a unit acts on its own only.
- `sync_states` clears only targets the evaluation judged (`UnitResult.evaluated`; a column whose site failed as
  a whole is not judged), and reopens a claimed fix or the centre's 核实通过 only on a check of a later day (a
  check run the same day may rest on data read before the fix).
- A reopened finding gets a new deadline from the day it was reopened.
- Months before the last complete one are the centre's only (as in the alerts: `split_older_months`): they do
  not enter the loop, and a month finding that grows older than that is closed by the system with a note.
Every change is a FindingEvent: who (the unit's name, 区大数据服务中心, 系统自动核实), when, the note.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from monitors.evaluate import Evaluation, evaluate_all
from storage import queries
from storage.queries import FindingEventRow, FindingStateRow


class Monitor(Protocol):
    """What the loop needs of the application (monitors.app.Monitor), named structurally: the alerts import
    this module, and the application imports the alerts."""

    settings: Settings

    @property
    def sessions(self) -> sessionmaker[Session]: ...

STATES = ("open", "acknowledged", "fixed", "verified", "reopened")
STATE_LABELS = {"open": "待处理", "acknowledged": "已确认", "fixed": "已整改待核实", "verified": "已核实",
                "reopened": "重新打开"}
AWAITING_FIX = ("open", "acknowledged", "reopened")  # the unit still owes a fix: these can be overdue
CENTRE_ACTOR = "区大数据服务中心"
SYSTEM_ACTOR = "系统自动核实"
GONE_NOTE = "已自动核实：最近一次检查未再发现"
BACK_NOTE = "最近一次检查再次发现该问题"
STILL_NOTE = "报已整改，但{day}的检查仍发现该问题"
SUPERSEDED_NOTE = "该账号的问题已变为另一项（如由预警转为不合格），按新问题跟踪（系统自动关闭）"
# A rule's findings that replace another's on the same target: the one replaced is closed, never "fixed" (an
# account gone from 预警 to 不合格, or to 无法读取). The alerts use the same table (monitors.alerts.compose).
SUPERSEDED_BY: dict[str, tuple[str, ...]] = {"account.quiet": ("account.silent", "account.unreadable"),
                                             "account.silent": ("account.quiet", "account.unreadable")}
MONTH_PAST_NOTE = "该月份已过提醒范围，停止跟踪（系统自动关闭）"
NOTE_MAX = 2000
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
_MONTH = re.compile(r"\d{4}-\d{2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RemediationError(Exception):
    """An action refused; its message is one line in Chinese. `status` is the HTTP status a route answers."""

    status = 400


class NoSuchFinding(RemediationError):
    status = 404


class NotAllowed(RemediationError):
    status = 403


class BadTransition(RemediationError):
    status = 409


@dataclass(frozen=True)
class FindingStatus:
    """A finding's place in the loop as the pages, the API and the emails show it."""

    id: int
    unit: str
    rule: str
    target: str
    state: str
    label: str  # 待处理 / 已确认 / 已整改待核实 / 已核实 / 重新打开
    note: str  # the last change's note
    updated_by: str
    updated_at: datetime
    opened_at: datetime
    deadline: date | None
    overdue: bool  # past its deadline and not fixed or verified
    days_overdue: int
    events: tuple[FindingEventRow, ...] = ()
    updated_local: str = ""  # updated_at in the site's time zone, "YYYY-MM-DD HH:MM"
    history: tuple[tuple[str, str, str, str], ...] = ()  # the events as shown: (local time, who, state label, note)

    def to_json(self) -> dict:
        return {"id": self.id, "unit": self.unit, "rule": self.rule, "target": self.target, "state": self.state,
                "state_label": self.label, "note": self.note, "updated_by": self.updated_by,
                "updated_at": self.updated_at.isoformat(), "opened_at": self.opened_at.isoformat(),
                "deadline": self.deadline.isoformat() if self.deadline else None, "overdue": self.overdue,
                "days_overdue": self.days_overdue,
                "events": [{"state": e.state, "state_label": STATE_LABELS.get(e.state, e.state), "note": e.note,
                            "actor": e.actor, "at": e.at.isoformat()} for e in self.events]}


def status_of(row: FindingStateRow, as_of: date, tz: tzinfo = timezone.utc) -> FindingStatus:
    late = (as_of - row.deadline).days if row.deadline is not None and row.state in AWAITING_FIX else 0
    return FindingStatus(row.id, row.unit, row.rule, row.target, row.state, STATE_LABELS.get(row.state, row.state),
                         row.note, row.updated_by, row.updated_at, row.opened_at, row.deadline, late > 0,
                         max(late, 0), row.events, f"{row.updated_at.astimezone(tz):%Y-%m-%d %H:%M}",
                         tuple((f"{e.at.astimezone(tz):%Y-%m-%d %H:%M}", e.actor, STATE_LABELS.get(e.state, e.state),
                                e.note) for e in row.events))


@dataclass
class SyncReport:
    """What one sync changed: (unit, rule, target) keys."""

    opened: list[tuple[str, str, str]] = field(default_factory=list)
    verified: list[tuple[str, str, str]] = field(default_factory=list)
    reopened: list[tuple[str, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"整改状态：新增 {len(self.opened)} 项，自动核实 {len(self.verified)} 项，"
                f"重新打开 {len(self.reopened)} 项")


def last_complete_month(as_of: date) -> str:
    """'YYYY-MM' of the month before as_of's: older months are the centre's only (as in the alerts)."""
    return f"{as_of.replace(day=1) - timedelta(days=1):%Y-%m}"


def is_past_month(target: str, as_of: date) -> bool:
    return _MONTH.fullmatch(target) is not None and target < last_complete_month(as_of)


# --- the checks' side ------------------------------------------------------------------------------------

def sync_states(session: Session, evaluation: Evaluation, as_of: date, *, fix_within_days: int = 10,
                tz: tzinfo = DEFAULT_TZ, now: datetime | None = None) -> SyncReport:
    """Bring the states in line with an evaluation that stands for `as_of` ("now"): new findings open (with
    their deadline), claimed or open ones no longer found among the targets judged are verified, fixed or
    verified ones found again are reopened. Writes in the caller's transaction."""
    at = now or datetime.now(timezone.utc)
    deadline = as_of + timedelta(days=fix_within_days)
    covered = evaluation.site_covered
    found: set[tuple[str, str, str]] = set()
    judged: dict[str, frozenset[str]] = {}
    for result in evaluation.units:
        judged[result.unit] = result.evaluated - covered
        for f in result.findings:
            if (f.rule == "column.unreachable" and f.target in covered) or is_past_month(f.target, as_of):
                continue  # the site's failure, or a month the unit is not told about: the centre's
            found.add((result.unit, f.rule, f.target))
    report = SyncReport()
    rows = {(s.unit, s.rule, s.target): s for s in queries.finding_states(session, units=sorted(judged))}
    for key in sorted(found):
        row = rows.get(key)
        if row is None:
            queries.open_finding_state(session, *key, at=at, deadline=deadline, actor=SYSTEM_ACTOR,
                                       note="检查发现该问题")
            report.opened.append(key)
        elif row.state in ("fixed", "verified") and (row.updated_by == SYSTEM_ACTOR
                                                     or row.updated_at.astimezone(tz).date() < as_of):
            # a person's claim or check is contradicted only by a check of a later day (same-day data may
            # predate it); what the system verified is reopened whenever it is found again
            note = BACK_NOTE if row.state == "verified" else STILL_NOTE.format(day=as_of.isoformat())
            queries.change_finding_state(session, row.id, "reopened", note=note, actor=SYSTEM_ACTOR, at=at,
                                         deadline=deadline)
            report.reopened.append(key)
    for key, row in rows.items():
        if key in found or row.state == "verified":
            continue
        unit, rule, target = key
        if any((unit, r, target) in found for r in SUPERSEDED_BY.get(rule, ())):
            # 预警 became 不合格 (or 无法读取): the new finding is the one to fix
            queries.change_finding_state(session, row.id, "verified", note=SUPERSEDED_NOTE, actor=SYSTEM_ACTOR, at=at)
            report.verified.append(key)
        elif is_past_month(target, as_of):
            queries.change_finding_state(session, row.id, "verified", note=MONTH_PAST_NOTE, actor=SYSTEM_ACTOR, at=at)
            report.verified.append(key)
        elif target in judged[unit]:
            queries.change_finding_state(session, row.id, "verified", note=GONE_NOTE, actor=SYSTEM_ACTOR, at=at)
            report.verified.append(key)
    return report


def sync(monitor: Monitor, as_of: date, evaluation: Evaluation | None = None,
         now: datetime | None = None) -> SyncReport:
    """The application's entry: after the evaluation that stands for `as_of` (the alerts job, `monitor alerts`),
    sync the 整改 states in one transaction (evaluating again when no evaluation is given)."""
    settings = monitor.settings
    with monitor.sessions.begin() as session:
        evaluation = evaluation or evaluate_all(session, settings, as_of)
        return sync_states(session, evaluation, as_of, fix_within_days=settings.alerts.fix_within_days,
                           tz=ZoneInfo(settings.monitor.timezone), now=now)


# --- the people's side -----------------------------------------------------------------------------------

def today(monitor: Monitor) -> date:
    return datetime.now(ZoneInfo(monitor.settings.monitor.timezone)).date()


def states_for(monitor: Monitor, unit: str | None, as_of: date | None = None, *,
               states: Sequence[str] | None = None, events: bool = True) -> list[FindingStatus]:
    """The states of `unit`'s findings (None: every unit's), overdue judged as of `as_of` (default today)."""
    as_of = as_of or today(monitor)
    with monitor.sessions() as session:  # prepared: the 整改 tables are there
        rows = queries.finding_states(session, unit, states=states, events=events)
    tz = ZoneInfo(monitor.settings.monitor.timezone)
    return [status_of(r, as_of, tz) for r in rows]


def with_states(findings: Sequence[dict], statuses: Sequence[FindingStatus]) -> list[dict]:
    """A unit's findings (findings_json dicts) each with its "state" (a FindingStatus, or None when the finding
    has not entered the loop yet): what the unit page passes to _finding_actions.html."""
    by_key = {(s.rule, s.target): s for s in statuses}
    return [{**f, "state": by_key.get((f["rule"], f["target"]))} for f in findings]


def _clean_note(note: str, required: bool) -> str:
    note = _CONTROL.sub("", note).strip()  # line breaks kept; NUL and the like never reach the database
    if required and not note:
        raise RemediationError("请填写说明")
    if len(note) > NOTE_MAX:
        raise RemediationError(f"说明不能超过 {NOTE_MAX} 字")
    return note


def _act(monitor: Monitor, finding_id: int, to: str, allowed_from: Sequence[str], note: str, actor: str, *,
         unit: str | None, centre: bool, note_required: bool, now: datetime | None,
         new_deadline: bool = False) -> FindingStatus:
    """One person's change: the finding must exist and be `unit`'s (the centre may act on all), its state one
    of `allowed_from`."""
    note = _clean_note(note, note_required)
    at = now or datetime.now(timezone.utc)
    settings = monitor.settings
    with monitor.sessions.begin() as session:
        row = queries.finding_state(session, finding_id)
        if row is None or (unit is not None and row.unit != unit):
            raise NoSuchFinding("没有这个问题，或它不属于本单位")
        if not centre and to in ("verified", "reopened"):
            raise NotAllowed("只有区大数据服务中心可以核实或重新打开问题")
        if row.state not in allowed_from:
            raise BadTransition(f"该问题当前为“{STATE_LABELS.get(row.state, row.state)}”，不能改为"
                                f"“{STATE_LABELS[to]}”")
        local_day = at.astimezone(ZoneInfo(settings.monitor.timezone)).date()
        deadline = local_day + timedelta(days=settings.alerts.fix_within_days) if new_deadline else None
        queries.change_finding_state(session, row.id, to, note=note, actor=actor, at=at, deadline=deadline)
        changed = queries.finding_state(session, row.id)
    assert changed is not None
    return status_of(changed, today(monitor) if now is None else local_day, ZoneInfo(settings.monitor.timezone))


def acknowledge(monitor: Monitor, unit: str | None, finding_id: int, note: str, actor: str, *,
                centre: bool = False, now: datetime | None = None) -> FindingStatus:
    """The unit (or the centre for it) says it received the finding (确认收到), with a note."""
    return _act(monitor, finding_id, "acknowledged", ("open", "reopened", "acknowledged"), note, actor,
                unit=unit, centre=centre, note_required=False, now=now)


def claim_fixed(monitor: Monitor, unit: str | None, finding_id: int, note: str, actor: str, *,
                centre: bool = False, now: datetime | None = None) -> FindingStatus:
    """The unit says it fixed the finding (已整改), saying how; the next check verifies or reopens it."""
    return _act(monitor, finding_id, "fixed", AWAITING_FIX, note, actor, unit=unit, centre=centre,
                note_required=True, now=now)


def verify(monitor: Monitor, finding_id: int, note: str, actor: str = CENTRE_ACTOR, *,
           now: datetime | None = None) -> FindingStatus:
    """The centre confirms the fix (核实通过)."""
    return _act(monitor, finding_id, "verified", ("open", "acknowledged", "fixed", "reopened"), note, actor,
                unit=None, centre=True, note_required=False, now=now)


def reopen(monitor: Monitor, finding_id: int, note: str, actor: str = CENTRE_ACTOR, *,
           now: datetime | None = None) -> FindingStatus:
    """The centre reopens a claimed or verified finding (重新打开), saying why; a new deadline runs from today."""
    return _act(monitor, finding_id, "reopened", ("fixed", "verified"), note, actor, unit=None, centre=True,
                note_required=True, now=now, new_deadline=True)


def overdue(statuses: Sequence[FindingStatus]) -> list[FindingStatus]:
    return [s for s in statuses if s.overdue]
