"""The 整改 loop's state machine (monitors/remediation.py) on SQLite and PostgreSQL: findings open with a deadline,
units acknowledge and claim fixes, the next check verifies or reopens, the centre verifies or reopens."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from config.loader import parse_settings
from monitors import remediation
from monitors.app import Monitor
from monitors.evaluate import Evaluation, UnitResult
from monitors.remediation import BadTransition, NoSuchFinding, NotAllowed, RemediationError
from monitors.rules import Finding, Severity, UnitFacts

AUDIT, TOWN = "审计局", "城门镇"
AUDIT_COLUMN = "http://127.0.0.1:9/sjj/gzdt/"
TOWN_COLUMN = "http://127.0.0.1:9/cmz/tzgg/"
OCT10 = date(2020, 10, 10)


def settings_text(url: str, fix_within_days: int = 10, centre: str = "") -> str:
    return f"""
[monitor]
database_url = "{url}"

[[sites]]
name = "仓山区人民政府"
url = "http://127.0.0.1:9/"

[[units]]
name = "{AUDIT}"
kind = "department"

[[units]]
name = "{TOWN}"
kind = "township"

[[columns]]
unit = "{AUDIT}"
name = "工作动态"
url = "{AUDIT_COLUMN}"
category = "dynamic"

[[columns]]
unit = "{TOWN}"
name = "通知公告"
url = "{TOWN_COLUMN}"
category = "notice"

[alerts]
fix_within_days = {fix_within_days}
{f'centre = ["{centre}"]' if centre else ""}
"""


@pytest.fixture
def monitor(db_url: str, tmp_path: Path) -> Monitor:
    path = tmp_path / "settings.toml"
    path.write_text(settings_text(db_url), encoding="utf-8")
    m = Monitor(parse_settings(path.read_text(encoding="utf-8"), str(path)))
    m.prepare()
    return m


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone(timedelta(hours=8)))


def evaluation(as_of: date, found: dict[str, list[tuple[str, str]]],
               judged: dict[str, set[str]] | None = None) -> Evaluation:
    """An evaluation as evaluate_all returns it: each unit's findings and the targets it judged (by default the
    unit's column, account and months as given)."""
    judged = judged if judged is not None else {AUDIT: {AUDIT_COLUMN, "2020-09"}, TOWN: {TOWN_COLUMN, "2020-09"}}
    units = [UnitResult(unit, "department", as_of, UnitFacts(unit, "department", [], []),
                        [Finding(rule, Severity.FAIL, target, f"{unit}的问题 {target}", unit)
                         for rule, target in found.get(unit, [])], [], frozenset(targets))
             for unit, targets in judged.items()]
    return Evaluation(as_of, [], units, [], [])


def sync(monitor: Monitor, ev: Evaluation, hour: int = 8) -> remediation.SyncReport:
    return remediation.sync(monitor, ev.as_of, evaluation=ev, now=at(ev.as_of, hour))


def state(monitor: Monitor, unit: str, target: str, as_of: date) -> remediation.FindingStatus:
    return next(s for s in remediation.states_for(monitor, unit, as_of) if s.target == target)


STALE = ("column.stale", AUDIT_COLUMN)


def test_open_acknowledge_fix_then_verified_when_gone(monitor: Monitor) -> None:
    report = sync(monitor, evaluation(OCT10, {AUDIT: [STALE]}))
    assert report.opened == [(AUDIT, *STALE)]
    s = state(monitor, AUDIT, AUDIT_COLUMN, OCT10)
    assert (s.state, s.label, s.deadline, s.overdue) == ("open", "待处理", date(2020, 10, 20), False)

    s = remediation.acknowledge(monitor, AUDIT, s.id, "已收到，正在补发", AUDIT, now=at(OCT10, 10))
    assert (s.state, s.label, s.note, s.updated_by) == ("acknowledged", "已确认", "已收到，正在补发", AUDIT)
    s = remediation.claim_fixed(monitor, AUDIT, s.id, "已发布两条动态", AUDIT, now=at(OCT10, 11))
    assert (s.state, s.label) == ("fixed", "已整改待核实")

    # a check the same day, still finding it, does not reopen the claim (its data may predate the fix)
    assert sync(monitor, evaluation(OCT10, {AUDIT: [STALE]}), hour=15).reopened == []
    report = sync(monitor, evaluation(date(2020, 10, 11), {}))
    assert report.verified == [(AUDIT, *STALE)]
    s = state(monitor, AUDIT, AUDIT_COLUMN, date(2020, 10, 11))
    assert (s.state, s.label, s.updated_by, s.note) == ("verified", "已核实", "系统自动核实", remediation.GONE_NOTE)
    assert [(e.state, e.actor) for e in s.events] == [
        ("open", "系统自动核实"), ("acknowledged", AUDIT), ("fixed", AUDIT), ("verified", "系统自动核实")]

    # it comes back: reopened, with a deadline from that day
    report = sync(monitor, evaluation(date(2020, 10, 15), {AUDIT: [STALE]}))
    assert report.reopened == [(AUDIT, *STALE)] and report.opened == []
    s = state(monitor, AUDIT, AUDIT_COLUMN, date(2020, 10, 15))
    assert (s.state, s.label, s.deadline, s.note) == ("reopened", "重新打开", date(2020, 10, 25), remediation.BACK_NOTE)


def test_a_claimed_fix_still_found_the_next_day_is_reopened(monitor: Monitor) -> None:
    sync(monitor, evaluation(OCT10, {AUDIT: [STALE]}))
    s = state(monitor, AUDIT, AUDIT_COLUMN, OCT10)
    remediation.claim_fixed(monitor, AUDIT, s.id, "已更新", AUDIT, now=at(OCT10, 11))
    assert sync(monitor, evaluation(date(2020, 10, 11), {AUDIT: [STALE]})).reopened == [(AUDIT, *STALE)]
    s = state(monitor, AUDIT, AUDIT_COLUMN, date(2020, 10, 11))
    assert s.state == "reopened" and "仍发现" in s.note and s.deadline == date(2020, 10, 21)


def test_an_open_finding_that_disappears_is_verified_but_only_where_judged(monitor: Monitor) -> None:
    sync(monitor, evaluation(OCT10, {AUDIT: [STALE], TOWN: [("column.blank", TOWN_COLUMN)]}))
    # the town's column was not judged this time (its site failed as a whole): its state stays
    ev = evaluation(date(2020, 10, 12), {}, judged={AUDIT: {AUDIT_COLUMN}, TOWN: set()})
    assert sync(monitor, ev).verified == [(AUDIT, *STALE)]
    assert state(monitor, AUDIT, AUDIT_COLUMN, date(2020, 10, 12)).note == "已自动核实：最近一次检查未再发现"
    assert state(monitor, TOWN, TOWN_COLUMN, date(2020, 10, 12)).state == "open"
    # a unit left out of the evaluation (check --unit of another) is not touched either
    ev = evaluation(date(2020, 10, 13), {}, judged={AUDIT: {AUDIT_COLUMN}})
    assert sync(monitor, ev).verified == []


def test_deadline_and_overdue(monitor: Monitor) -> None:
    sync(monitor, evaluation(OCT10, {AUDIT: [STALE], TOWN: [("column.blank", TOWN_COLUMN)]}))
    on_deadline = state(monitor, AUDIT, AUDIT_COLUMN, date(2020, 10, 20))
    assert (on_deadline.deadline, on_deadline.overdue, on_deadline.days_overdue) == (date(2020, 10, 20), False, 0)
    late = state(monitor, AUDIT, AUDIT_COLUMN, date(2020, 10, 23))
    assert (late.overdue, late.days_overdue) == (True, 3)
    # acknowledged is still owed; a claimed fix is not overdue
    remediation.acknowledge(monitor, AUDIT, late.id, "", AUDIT, now=at(OCT10, 10))
    town = state(monitor, TOWN, TOWN_COLUMN, OCT10)
    remediation.claim_fixed(monitor, TOWN, town.id, "已补充内容", TOWN, now=at(OCT10, 10))
    overdue = remediation.overdue(remediation.states_for(monitor, None, date(2020, 10, 23)))
    assert [(s.unit, s.state, s.days_overdue) for s in overdue] == [(AUDIT, "acknowledged", 3)]


def test_units_act_on_their_own_findings_the_centre_on_all(monitor: Monitor) -> None:
    sync(monitor, evaluation(OCT10, {AUDIT: [STALE], TOWN: [("column.blank", TOWN_COLUMN)]}))
    audit = state(monitor, AUDIT, AUDIT_COLUMN, OCT10)
    with pytest.raises(NoSuchFinding):
        remediation.acknowledge(monitor, TOWN, audit.id, "不是我们的", TOWN)
    with pytest.raises(NoSuchFinding):
        remediation.acknowledge(monitor, AUDIT, 999_999, "", AUDIT)
    with pytest.raises(NotAllowed):  # the guard under verify/reopen: a unit never verifies its own finding
        remediation._act(monitor, audit.id, "verified", ("open",), "", AUDIT, unit=AUDIT, centre=False,
                         note_required=False, now=None)
    with pytest.raises(RemediationError, match="请填写说明"):
        remediation.claim_fixed(monitor, AUDIT, audit.id, "  ", AUDIT)
    with pytest.raises(BadTransition):
        remediation.reopen(monitor, audit.id, "未整改")  # open: nothing to reopen
    s = remediation.claim_fixed(monitor, AUDIT, audit.id, "已更新栏目", AUDIT, now=at(OCT10, 11))
    with pytest.raises(BadTransition):
        remediation.acknowledge(monitor, AUDIT, s.id, "", AUDIT)
    s = remediation.reopen(monitor, s.id, "栏目仍无新信息", now=at(date(2020, 10, 12), 9))
    assert (s.state, s.updated_by, s.deadline) == ("reopened", "区大数据服务中心", date(2020, 10, 22))
    with pytest.raises(RemediationError, match="请填写说明"):
        remediation.reopen(monitor, s.id, "")
    s = remediation.verify(monitor, s.id, "", now=at(date(2020, 10, 13), 9))
    assert (s.state, s.label) == ("verified", "已核实")
    assert [e.state for e in s.events] == ["open", "fixed", "reopened", "verified"]


def test_sync_after_a_real_evaluation_and_months_leaving_the_units_range(monitor: Monitor) -> None:
    """evaluate_all on columns never read: every complete month is short; only September (the last complete
    month) is the units' to fix. In November, September leaves their range and is closed by the system."""
    report = remediation.sync(monitor, OCT10)
    assert sorted(report.opened) == [(TOWN, "quota.monthly", "2020-09"), (AUDIT, "quota.monthly", "2020-09")]
    assert remediation.sync(monitor, OCT10).opened == []  # idempotent
    report = remediation.sync(monitor, date(2020, 11, 5))
    assert sorted(report.opened) == [(TOWN, "quota.monthly", "2020-10"), (AUDIT, "quota.monthly", "2020-10")]
    assert sorted(report.verified) == [(TOWN, "quota.monthly", "2020-09"), (AUDIT, "quota.monthly", "2020-09")]
    september = state(monitor, AUDIT, "2020-09", date(2020, 11, 5))
    assert (september.state, september.note) == ("verified", remediation.MONTH_PAST_NOTE)
    october = state(monitor, AUDIT, "2020-10", date(2020, 11, 5))
    assert (october.state, october.deadline) == ("open", date(2020, 11, 15))


def test_emails_show_the_state_and_the_summary_escalates_overdue_findings(db_url: str, tmp_path: Path) -> None:
    from monitors.alerts import plan_alerts

    path = tmp_path / "settings.toml"
    path.write_text(settings_text(db_url, centre="centre@cangshan.example.gov.cn"), encoding="utf-8")
    monitor = Monitor(parse_settings(path.read_text(encoding="utf-8"), str(path)))
    remediation.sync(monitor, OCT10)  # September short for both units, deadline 2020-10-20
    audit = state(monitor, AUDIT, "2020-09", OCT10)
    remediation.acknowledge(monitor, AUDIT, audit.id, "本月补足", AUDIT, now=at(OCT10, 10))
    as_of = date(2020, 10, 25)
    remediation.sync(monitor, as_of)
    with monitor.sessions() as session:
        plan = plan_alerts(session, monitor.settings, as_of)
    emails = {u.unit: u.email for u in plan.units}
    assert "〔已确认，待整改〕" in emails[AUDIT].text and "〔已确认，待整改〕" in emails[AUDIT].html
    assert "〔" not in emails[TOWN].text  # open: the email itself asks for the fix
    assert plan.summary is not None
    text = plan.summary.text
    assert "逾期未整改（2 项" in text and "逾期未整改（2 项" in plan.summary.html
    late = text.split("逾期未整改")[1].splitlines()[1:3]
    assert all("整改时限 2020-10-20，已逾期 5 天" in line for line in late)
    assert any(line.strip().startswith(AUDIT) and "状态：已确认" in line for line in late)
    assert any(line.strip().startswith(TOWN) and "状态：待处理" in line for line in late)
    # a claimed fix is no longer escalated
    town = state(monitor, TOWN, "2020-09", as_of)
    remediation.claim_fixed(monitor, TOWN, town.id, "已补发", TOWN, now=at(as_of, 10))
    with monitor.sessions() as session:
        summary = plan_alerts(session, monitor.settings, as_of).summary
    assert summary is not None and "逾期未整改（1 项" in summary.text and "状态：待处理" not in summary.text


def test_a_finding_replaced_by_a_worse_one_on_the_same_account_is_closed_as_such(monitor: Monitor) -> None:
    account = "https://weibo.com/u/123"
    judged = {AUDIT: {account}}
    sync(monitor, evaluation(OCT10, {AUDIT: [("account.quiet", account)]}, judged))
    report = sync(monitor, evaluation(date(2020, 10, 20), {AUDIT: [("account.silent", account)]}, judged))
    assert report.opened == [(AUDIT, "account.silent", account)]
    quiet = next(s for s in remediation.states_for(monitor, AUDIT, date(2020, 10, 20)) if s.rule == "account.quiet")
    assert quiet.state == "verified" and quiet.note == remediation.SUPERSEDED_NOTE


def test_the_centres_verification_is_contradicted_only_by_a_later_days_check(monitor: Monitor) -> None:
    sync(monitor, evaluation(OCT10, {AUDIT: [STALE]}))
    s = state(monitor, AUDIT, AUDIT_COLUMN, OCT10)
    remediation.verify(monitor, s.id, "已电话核实，栏目已更新", now=at(OCT10, 10))
    assert sync(monitor, evaluation(OCT10, {AUDIT: [STALE]}), hour=15).reopened == []
    assert sync(monitor, evaluation(date(2020, 10, 11), {AUDIT: [STALE]})).reopened == [(AUDIT, *STALE)]
