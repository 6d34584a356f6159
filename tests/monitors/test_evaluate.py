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
