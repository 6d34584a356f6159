"""Rules from case tables: each a pure function of facts and as_of."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from config.model import RuleSettings
from monitors.rules import RULES, MonthCount, UnitFacts, evaluate_rules
from storage.queries import AccountFact, ColumnFact

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = date(2020, 10, 10)


def column(category: str = "dynamic", last: datetime | None = datetime(2020, 10, 1, tzinfo=TZ), posts: int = 5,
           fetched: bool = True, error: str | None = None, partial: str | None = None,
           first: datetime | None = None, unreadable: str | None = None) -> ColumnFact:
    return ColumnFact("审计局", "工作动态", "http://127.0.0.1/sjj/gzdt/", category, True, posts, last, fetched, error,
                      partial, first, unreadable)


def account(last: datetime | None = datetime(2020, 10, 8, tzinfo=TZ), read: str | None = "ok",
            reason: str | None = None) -> AccountFact:
    return AccountFact("审计局", "weibo", "仓山审计", "http://127.0.0.1/u/1", last, read, reason, None)


def facts(months: tuple[int, ...] = (10, 10, 10, 0), columns: tuple[ColumnFact, ...] = (column(),),
          accounts: tuple[AccountFact, ...] = ()) -> UnitFacts:
    labels = ["2020-07", "2020-08", "2020-09", "2020-10"]
    return UnitFacts("审计局", "department",
                     [MonthCount(m, n, complete=m != "2020-10") for m, n in zip(labels, months)], list(columns),
                     list(accounts), tz=TZ)


CASES = [
    # (case, facts, expected [(rule, target-or-None, detail fragment)])
    ("all fine", facts(), []),
    ("seed 审计局", facts((3, 1, 0, 0)), [("quota.monthly", "2020-07", "7月发布3条，差7条"),
                                         ("quota.monthly", "2020-08", "差9条"), ("quota.monthly", "2020-09", "差10条")]),
    ("no quota column, no quota", facts((0, 0, 0, 0), (ColumnFact("区政府办", "仓山要闻", "http://127.0.0.1/ywdt/", "dynamic", False, 9,
                                          datetime(2020, 10, 9, tzinfo=TZ), True, None),)), []),
    ("exactly the quota is enough", facts((10, 11, 10, 0)), []),
    ("the running month is never judged", facts((10, 10, 10, 1)), []),
    ("dynamic 14 days is fine", facts(columns=(column(last=datetime(2020, 9, 26, tzinfo=TZ)),)), []),
    ("dynamic 15 days is stale", facts(columns=(column(last=datetime(2020, 9, 25, tzinfo=TZ)),)),
     [("column.stale", None, "15 天未更新")]),
    ("late evening counts in local time", facts(columns=(column(last=datetime(2020, 9, 26, 23, 30, tzinfo=TZ)),)), []),
    ("notice 183 days is fine", facts(columns=(column("notice", datetime(2020, 4, 10, tzinfo=TZ)),)), []),
    ("notice 184 days is stale", facts(columns=(column("notice", datetime(2020, 4, 9, tzinfo=TZ)),)),
     [("column.stale", None, "184 天")]),
    ("disclosure over a year", facts(columns=(column("disclosure", datetime(2019, 6, 1, tzinfo=TZ)),)),
     [("column.stale", None, "要求 365 天内")]),
    ("account posted 7 days ago", facts(accounts=(account(datetime(2020, 10, 3, 20, tzinfo=TZ)),)), []),
    ("account quiet for 8 days", facts(accounts=(account(datetime(2020, 10, 2, tzinfo=TZ)),)),
     [("account.quiet", "http://127.0.0.1/u/1", "已 8 天未更新")]),
    ("account silent for 15 days", facts(accounts=(account(datetime(2020, 9, 25, tzinfo=TZ)),)),
     [("account.silent", "http://127.0.0.1/u/1", "已 15 天未更新")]),
    ("an unreadable account is never silent",
     facts(accounts=(account(datetime(2020, 1, 1, tzinfo=TZ), "unreadable", "需要登录"), account(None, None))),
     [("account.unreadable", "http://127.0.0.1/u/1", "暂未能自动核验更新情况，请核实账号地址")]),
    ("blank column", facts(columns=(column(last=None, posts=0),)), [("column.blank", None, "空白栏目")]),
    ("a short month resting on a partial read says so",
     facts((3, 1, 10, 0), (column(partial="已读取 75/107 条", first=datetime(2020, 8, 3, tzinfo=TZ)),)),
     [("quota.monthly", "2020-07", "差7条（有栏目未读全"), ("quota.monthly", "2020-08", "差9条（有栏目未读全")]),
    ("a month after the oldest post read is sure",
     facts((10, 1, 0, 0), (column(partial="已读取 75/107 条", first=datetime(2020, 8, 3, tzinfo=TZ)),)),
     [("quota.monthly", "2020-08", "（有栏目未读全"), ("quota.monthly", "2020-09", "差10条")]),
    ("never read is not blank", facts(columns=(column(last=None, posts=0, fetched=False, error="HTTP 500 错误"),)),
     [("column.unreachable", None, "HTTP 500")]),
    ("a page with no list is unreadable, never blank",
     facts(columns=(column(last=None, posts=0, unreadable="未能识别信息列表（页面嵌套过深，超过 255 层，无法解析）"),)),
     [("column.unreadable", "http://127.0.0.1/sjj/gzdt/", "工作动态”无法读取：未能识别信息列表（页面嵌套过深")]),
    ("an unreadable column's old posts still age",
     facts(columns=(column(last=datetime(2020, 9, 1, tzinfo=TZ), unreadable="未能在页面中识别出信息列表"),)),
     [("column.stale", None, "39 天未更新"), ("column.unreadable", None, "无法读取：未能在页面中识别出信息列表")]),
]


@pytest.mark.parametrize("case, unit_facts, expected", CASES, ids=[c[0] for c in CASES])
def test_rules(case: str, unit_facts: UnitFacts, expected: list) -> None:
    found = evaluate_rules(unit_facts, AS_OF, RuleSettings())
    assert [f.rule for f in found] == [e[0] for e in expected]
    for finding, (_, target, fragment) in zip(found, expected):
        assert fragment in finding.detail
        if target:
            assert finding.target == target


def test_quota_is_a_setting() -> None:
    found = evaluate_rules(facts((5, 5, 5, 0)), AS_OF, RuleSettings(monthly_quota=5))
    assert found == []


def test_every_rule_is_documented_and_has_a_case() -> None:
    covered = {e[0] for c in CASES for e in c[2]}
    for rule_id, func in RULES.items():
        assert func.__doc__ and func.__doc__.strip(), rule_id
        assert rule_id in covered, f"{rule_id} has no case in CASES"


@pytest.mark.parametrize("acc, status", [
    (account(datetime(2020, 10, 3, tzinfo=TZ)), "正常"),
    (account(datetime(2020, 10, 2, tzinfo=TZ)), "预警"),
    (account(datetime(2020, 9, 26, tzinfo=TZ)), "预警"),
    (account(datetime(2020, 9, 25, tzinfo=TZ)), "不合格"),
    (account(datetime(2019, 9, 25, tzinfo=TZ), "unreadable", "HTTP 418"), "无法读取"),
    (account(None, None), "无法读取"),
])
def test_account_status(acc: AccountFact, status: str) -> None:
    from monitors.rules import account_status

    state = account_status(acc, AS_OF, RuleSettings(), TZ)
    assert state.status == status
    if status == "无法读取":
        assert state.reason


def test_months_on_partial_reads() -> None:
    from monitors.rules import months_on_partial_reads

    august = datetime(2020, 8, 3, tzinfo=TZ)
    assert months_on_partial_reads(facts()) == set()
    assert months_on_partial_reads(facts(columns=(column(partial="已读取 75/107 条", first=august),))) == {
        "2020-07", "2020-08"}
    # partial with no dated post: every month rests on it
    assert months_on_partial_reads(facts(columns=(column(partial="第 2 页读取失败", first=None, last=None),))) == {
        "2020-07", "2020-08", "2020-09", "2020-10"}
    not_quota = ColumnFact("审计局", "图片", "http://127.0.0.1/sjj/tp/", "other", False, 1, august, True, None,
                           "已读取 1/9 条", august)
    assert months_on_partial_reads(facts(columns=(column(), not_quota))) == set()


def test_a_partial_month_still_passes_when_the_quota_is_met() -> None:
    found = evaluate_rules(facts((10, 12, 10, 0), (column(partial="已读取 75/107 条", first=None),)), AS_OF,
                           RuleSettings())
    assert found == []
