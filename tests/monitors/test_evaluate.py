"""One evaluation for check, the report, the summary and the alerts: statuses agree with the findings."""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from config import parse_settings
from monitors.alerts.compose import got_worse
from monitors.app import Monitor
from monitors.rules import Finding, Severity
from storage import queries

TZ = ZoneInfo("Asia/Shanghai")
POSTS = {"2020-10": [3, 9, 20], "2020-11": [2, 5]}  # October complete and short; November running


def stored_app(db_url: str) -> Monitor:
    settings = parse_settings(f"""
[monitor]
database_url = "{db_url}"
[[units]]
name = "审计局"
kind = "department"
[[columns]]
unit = "审计局"
name = "工作动态"
url = "http://127.0.0.1:9/sjj/gzdt/"
""")
    app = Monitor(settings)
    with app.sessions.begin() as s:
        column = queries.crawl_targets(s)[0].column_id
        queries.store_entries(s, column, [
            queries.EntryRow(f"http://127.0.0.1:9/sjj/gzdt/{m}-{d}.html", f"标题{m}-{d}",
                             datetime(int(m[:4]), int(m[5:]), d, 9, tzinfo=TZ), "list")
            for m, days in POSTS.items() for d in days])
    return app


def test_a_report_inside_its_quarter_agrees_with_the_quota_findings(db_url: str, tmp_path: Path) -> None:
    app = stored_app(db_url)
    app.quarter_report("2020Q4", tmp_path, date(2020, 11, 15), allow_incomplete=True)
    unit = json.loads((tmp_path / "report-2020Q4.json").read_text(encoding="utf-8"))["units"][0]
    assert unit["months"] == {"2020-10": 3, "2020-11": 2, "2020-12": 0}
    assert unit["status"] == "10月-7"  # the running month (and the one to come) is never short
    findings = app.evaluate_all(date(2020, 11, 15)).unit("审计局").findings
    quota = [(f.target, f.limit - f.measure) for f in findings if f.rule == "quota.monthly"]
    # check's months: August to October complete (none, none, 3 posts), November running: never short
    assert quota == [("2020-08", 10), ("2020-09", 10), ("2020-10", 7)]
    assert app.check("审计局", date(2020, 11, 15)).shortfalls["2020-10"] == 7


def test_worse_is_decided_from_the_numbers_not_the_words() -> None:
    def told(measure: int, limit: int, since: date | None) -> queries.AlertStateRow:
        return queries.AlertStateRow("审计局", "column.stale", "u", "fail", "任何措辞", datetime(2020, 10, 1, tzinfo=TZ),
                                     None, date(2020, 10, 1), measure, limit, since)

    reworded = Finding("column.stale", Severity.FAIL, "u", "换了说法的描述", "审计局", 60, 14, date(2020, 8, 2))
    assert not got_worse(reworded, told(50, 14, date(2020, 8, 2)), 10)  # only older by the calendar
    assert got_worse(reworded, told(50, 14, date(2020, 8, 12)), 10)  # the newest post went back ten days
    short = Finding("quota.monthly", Severity.FAIL, "2020-09", "措辞", "审计局", 1, 10)
    was = queries.AlertStateRow("审计局", "quota.monthly", "2020-09", "fail", "x", datetime(2020, 10, 1, tzinfo=TZ),
                                None, date(2020, 10, 1), 3, 10, None)
    assert short.shortfall == 9 and got_worse(short, was, 0)  # 9 short now, 7 when told
    better = Finding("quota.monthly", Severity.FAIL, "2020-09", "措辞", "审计局", 5, 10)
    assert not got_worse(better, was, 0)


def test_the_columns_veto_reaches_check_the_report_and_the_centre(db_url: str, tmp_path: Path) -> None:
    """Six blank columns on the portal (of two units): one site.columns_veto for the site, its owner's too;
    a sub-site's blank column is not counted for the portal."""
    blank = "".join(f"""
[[columns]]
unit = "{'审计局' if i % 2 else '区政府办'}"
name = "空白{i}"
url = "http://127.0.0.1:9/k{i}/"
""" for i in range(6))
    settings = parse_settings(f"""
[monitor]
database_url = "{db_url}"
[[sites]]
name = "仓山区人民政府"
url = "http://127.0.0.1:9/"
unit = "区政府办"
[[sites]]
name = "教育局"
url = "http://127.0.0.1:9/jyj/"
[[units]]
name = "审计局"
kind = "department"
[[units]]
name = "区政府办"
kind = "department"
{blank}
[[columns]]
unit = "审计局"
name = "教育空白"
url = "http://127.0.0.1:9/jyj/kb/"
""")
    app = Monitor(settings)
    with app.sessions.begin() as s:
        run = queries.start_run(s, full=False)
        for target in queries.crawl_targets(s):  # read whole, nothing on it: blank
            queries.record_fetch(s, run, target.column_id, status="ok", pages=1)
        queries.finish_run(s, run)
    as_of = date.today()
    evaluation = app.evaluate_all(as_of)
    assert [(f.rule, f.severity, f.target, f.measure, f.limit) for f in evaluation.site_findings] == [
        ("site.columns_veto", "veto", "http://127.0.0.1:9/", 6, 5)]
    assert evaluation.site_findings[0].detail == "网站“仓山区人民政府”空白栏目 6 个（超过 5 个）"
    assert "site.columns_veto" in [f.rule for f in evaluation.unit("区政府办").findings]
    assert "site.columns_veto" not in [f.rule for f in evaluation.unit("审计局").findings]
    # check of one unit counts the other units' columns on the site too
    # (only the columns under its own sites' URLs are read for it: the sub-site's blank column stays the sub-site's)
    assert [(f.rule, f.measure) for f in app.check("区政府办", as_of).findings if f.severity == "veto"] == [
        ("site.columns_veto", 6)]
    quarter = f"{as_of.year}Q{(as_of.month - 1) // 3 + 1}"
    app.quarter_report(quarter, tmp_path, as_of, allow_incomplete=True)
    report = json.loads((tmp_path / f"report-{quarter}.json").read_text(encoding="utf-8"))
    assert [f["rule"] for f in report["site_findings"]] == ["site.columns_veto"]
