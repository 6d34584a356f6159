"""Rules from case tables: each a pure function of facts and as_of."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from config.model import RuleSettings
from monitors.rules import RULES, MonthCount, UnitFacts, evaluate_rules, site_columns_veto
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


# --- site.columns_veto: counts the column findings per configured site ------------------------------------

PORTAL = ("仓山区人民政府", "http://127.0.0.1/")
SUB = ("仓山区教育局", "http://127.0.0.1/jyj/")
OLD = datetime(2019, 1, 1, tzinfo=TZ)  # stale for every category as of AS_OF


def veto_columns(stale_core: int = 0, stale_other: int = 0, blank: int = 0, root: str = PORTAL[1]) -> list[ColumnFact]:
    def one(i: int, kind: str, category: str, last: datetime | None, posts: int) -> ColumnFact:
        return ColumnFact("审计局", f"栏目{kind}{i}", f"{root}{kind}{i}/", category, False, posts, last, True, None)
    return ([one(i, "core", "dynamic" if i % 2 else "notice", OLD, 3) for i in range(stale_core)]
            + [one(i, "plan", "plan", OLD, 3) for i in range(stale_other)]
            + [one(i, "blank", "other", None, 0) for i in range(blank)]
            + [one(0, "fresh", "dynamic", datetime(2020, 10, 9, tzinfo=TZ), 3)])


def veto(columns: list[ColumnFact], params: RuleSettings | None = None) -> list[tuple[str, int | None, int | None]]:
    params = params or RuleSettings()
    unit = UnitFacts("审计局", "department", [], columns, tz=TZ)
    found = RULES["column.stale"](unit, AS_OF, params) + RULES["column.blank"](unit, AS_OF, params)
    return [(f.target, f.measure, f.limit) for f in site_columns_veto(found, columns, [PORTAL, SUB], params)
            if f.rule == "site.columns_veto" and f.severity == "veto"]


@pytest.mark.parametrize("counts, expected", [
    ((5, 0, 0), []), ((6, 0, 0), [(PORTAL[1], 6, 5)]),          # stale 动态/通知公告类: more than 5
    ((0, 10, 0), []), ((0, 11, 0), [(PORTAL[1], 11, 10)]),      # stale in all: more than 10
    ((5, 5, 0), []), ((5, 6, 0), [(PORTAL[1], 11, 10)]),        # core ones count in the total too
    ((0, 0, 5), []), ((0, 0, 6), [(PORTAL[1], 6, 5)]),          # blank: more than 5
])
def test_site_columns_veto_thresholds(counts: tuple[int, int, int], expected: list) -> None:
    assert veto(veto_columns(*counts)) == expected


def test_site_columns_veto_names_each_threshold_reached_and_follows_the_settings() -> None:
    columns = veto_columns(0, 12, 6)
    unit = UnitFacts("审计局", "department", [], columns, tz=TZ)
    params = RuleSettings()
    found = RULES["column.stale"](unit, AS_OF, params) + RULES["column.blank"](unit, AS_OF, params)
    [finding] = site_columns_veto(found, columns, [PORTAL, SUB], params)
    assert finding.detail == "网站“仓山区人民政府”超期未更新栏目 12 个（超过 10 个）、空白栏目 6 个（超过 5 个）"
    assert veto(veto_columns(0, 0, 3), RuleSettings(veto_blank_columns=2)) == [(PORTAL[1], 3, 2)]


def test_site_columns_veto_counts_each_column_on_its_own_site_only() -> None:
    # 5 on the portal and 5 under the sub-site (its longer prefix): neither more than 5
    assert veto(veto_columns(blank=5) + veto_columns(blank=5, root=SUB[1])) == []
    assert veto(veto_columns(blank=6, root=SUB[1])) == [(SUB[1], 6, 5)]
    # a column outside every configured site counts for none
    assert veto(veto_columns(blank=6, root="http://127.0.0.2/")) == []
