"""`monitor check` as the centre reads it: everything the JSON shows, months with their year, when the data was
read (warned when older than a day), dates as people write them, a future date refused.

A small SQLite database written through the storage queries a crawl uses (a read that ended three days ago, an
account that could not be read), and the demo's database for the text beside the report.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from config import load_settings
from monitors.app import Monitor
from monitors.cli import main
from storage import queries
from storage.models import ColumnFetch
from tests.helpers import DemoRun

SETTINGS = """
[monitor]
database_url = "sqlite:///{db}"

[[units]]
name = "审计局"

[[columns]]
unit = "审计局"
name = "工作动态"
url = "http://127.0.0.1:9/sjj/gzdt/"
category = "{category}"

[[accounts]]
unit = "审计局"
platform = "wechat"
name = "仓山审计"
url = "http://127.0.0.1:9/s/sjj"
"""


def monitor(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def seeded(tmp_path: Path, read_days_ago: float, category: str = "dynamic") -> Path:
    """Settings and a database holding one crawl of the column (partial) and one failed read of the account,
    both ended `read_days_ago` days ago."""
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS.format(db=tmp_path / "m.db", category=category), encoding="utf-8")
    app = Monitor(load_settings(path))
    when = datetime.now(timezone.utc) - timedelta(days=read_days_ago)
    with app.prepare()() as session:
        run = queries.start_run(session, full=False)
        column = queries.crawl_targets(session)[0].column_id
        queries.store_entries(session, column, [queries.EntryRow(
            "http://127.0.0.1:9/sjj/gzdt/1.html", "审计工作会议", datetime(2020, 8, 3, 9, tzinfo=timezone.utc), "list")])
        queries.record_fetch(session, run, column, status="partial", reason="已读取 1/3 条", pages=1)
        queries.finish_run(session, run)
        session.execute(update(ColumnFetch).values(finished_at=when))
        account = queries.account_targets(session)[0].account_id
        queries.store_account_read(session, account, None, "需要登录")
        session.commit()
    from storage.models import Account

    with app.sessions() as session:
        session.execute(update(Account).values(last_read_at=when))
        session.commit()
    return path


def test_check_text_shows_accounts_partial_reads_months_with_year_and_when_the_data_was_read(tmp_path: Path) -> None:
    config = str(seeded(tmp_path, read_days_ago=0.01))
    text = monitor("--config", config, "check", "--unit", "审计局", "--as-of", "2020-10-10", "--no-crawl").stdout
    lines = text.splitlines()
    assert lines[1].startswith("数据更新于 20") and not any(line.startswith("警告") for line in lines)
    assert any(line.split()[:2] == ["2020年8月", "1"] for line in lines)  # the month with its year
    assert not any(line.strip().startswith("8月") for line in lines)
    row = next(line for line in lines if "工作动态" in line)
    assert "动态要闻类" in row and "未读全（已读取 1/3 条）" in row and "http://127.0.0.1:9/sjj/gzdt/" in row
    account = next(line for line in lines if "仓山审计" in line)
    assert "微信公众号" in account and "无法读取（需要登录）" in account and "http://127.0.0.1:9/s/sjj" in account

    data = json.loads(monitor("--config", config, "check", "--unit", "审计局", "--as-of", "2020-10-10",
                              "--no-crawl", "--format", "json").stdout)
    assert {"unit", "as_of", "months", "partial_months", "columns", "accounts", "findings"} <= set(data)
    assert data["data"]["stale"] is False and data["data"]["never_read"] == 0
    assert datetime.fromisoformat(data["data"]["newest"]) > datetime.now(timezone.utc) - timedelta(hours=1)


def test_check_warns_when_the_data_was_read_more_than_a_day_ago(tmp_path: Path) -> None:
    config = str(seeded(tmp_path, read_days_ago=3))
    result = monitor("--config", config, "check", "--unit", "审计局", "--as-of", "2020-10-10", "--no-crawl")
    three_days_ago = f"{(datetime.now(ZoneInfo('Asia/Shanghai')) - timedelta(days=3)).date()}"  # [monitor] timezone
    warning = next(line for line in result.stdout.splitlines() if line.startswith("警告："))
    assert "超过 1 天未读取" in warning and "monitor crawl" in warning
    assert result.stdout.splitlines()[1].startswith(f"数据更新于 {three_days_ago}")
    data = json.loads(monitor("--config", config, "check", "--unit", "审计局", "--as-of", "2020-10-10",
                              "--no-crawl", "--format", "json").stdout)
    assert data["data"]["stale"] is True


@pytest.mark.parametrize("written", ["2020-10-10", "2020/10/10", "2020年10月10日", "2020-10-10 ", "2020/1/5"])
def test_dates_are_taken_as_people_write_them(tmp_path: Path, written: str) -> None:
    config = str(seeded(tmp_path, read_days_ago=0.01))
    result = monitor("--config", config, "check", "--unit", "审计局", "--as-of", written, "--no-crawl")
    assert result.exit_code in (0, 1), result.output
    expected = "2020-01-05" if written == "2020/1/5" else "2020-10-10"
    assert result.stdout.splitlines()[0] == f"审计局 检查结果（截至 {expected}）"


@pytest.mark.parametrize("written, message", [
    ("2030-10-10", "错误：日期 2030-10-10 晚于今天"),
    ("2020-13-01", "错误：'2020-13-01' 不是有效的日期"),
    ("10/10", "错误：日期格式应为 YYYY-MM-DD（如 2020-10-10、2020/10/10 或 2020年10月10日）"),
    ("2020-10/10", "错误：日期格式应为"),
])
def test_a_future_or_malformed_date_is_refused_in_one_line(tmp_path: Path, written: str, message: str) -> None:
    config = str(seeded(tmp_path, read_days_ago=0.01))
    for args in (["check", "--unit", "审计局", "--no-crawl"], ["alerts", "--dry-run"]):
        result = monitor("--config", config, *args, "--as-of", written)
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.strip().startswith(message) and len(result.stderr.strip().splitlines()) == 1


def test_tomorrow_is_refused_and_today_taken(tmp_path: Path) -> None:
    config = str(seeded(tmp_path, read_days_ago=0.01))
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    ok = monitor("--config", config, "check", "--unit", "审计局", "--as-of", today.isoformat(), "--no-crawl")
    assert ok.exit_code in (0, 1) and f"截至 {today.isoformat()}" in ok.stdout
    late = monitor("--config", config, "check", "--unit", "审计局", "--as-of", f"{today + timedelta(days=1)}",
                   "--no-crawl")
    assert late.exit_code == 2 and "晚于今天" in late.stderr


def test_settings_take_the_category_label_and_check_shows_the_reports_label(tmp_path: Path) -> None:
    from config.model import CATEGORY_LABELS
    from monitors.report.model import CATEGORY_LABELS as REPORT_LABELS

    assert REPORT_LABELS is CATEGORY_LABELS and CATEGORY_LABELS["dynamic"] == "动态要闻类"
    for written in ("动态要闻类", "动态要闻", "dynamic"):
        (tmp_path / written).mkdir()
        config = seeded(tmp_path / written, read_days_ago=0.01, category=written)
        assert load_settings(config).columns[0].category == "dynamic"
        text = monitor("--config", str(config), "check", "--unit", "审计局", "--as-of", "2020-10-10",
                       "--no-crawl").stdout
        assert "动态要闻类" in next(line for line in text.splitlines() if "工作动态" in line)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "settings.toml").write_text(SETTINGS.format(db=bad / "m.db", category="动态"), encoding="utf-8")
    result = monitor("--config", str(bad / "settings.toml"), "check", "--unit", "审计局", "--no-crawl")
    assert result.exit_code == 2 and "dynamic（动态要闻类）、notice（通知公告类）" in result.stderr


def test_check_on_the_demo_shows_the_accounts_and_the_reports_labels(demo_run: DemoRun) -> None:
    config = str(demo_run.out / "settings.toml")
    text = monitor("--config", config, "check", "--unit", "文体旅局", "--as-of", "2020-10-10", "--no-crawl").stdout
    lines = text.splitlines()
    assert "政务新媒体账号：" in lines and lines[1].startswith("数据更新于 ")
    account = next(line for line in lines if "仓山区文化体育和旅游局" in line)
    assert "无法读取（" in account
    assert [line.split()[0] for line in lines if line.strip().startswith("2020年")] == [
        "2020年7月", "2020年8月", "2020年9月", "2020年10月"]
    sheet_labels = {cell.value for ws in openpyxl.load_workbook(demo_run.out / "附件-2020Q3.xlsx").worksheets
                    for row in ws.iter_rows() for cell in row if isinstance(cell.value, str)}
    check_labels = {line.split()[1] for line in lines if "http://" in line and "类" in line}
    assert check_labels and check_labels <= sheet_labels | {"其他"}
    assert date.fromisoformat(json.loads(monitor("--config", config, "check", "--unit", "文体旅局", "--as-of",
                                                 "2020-10-10", "--no-crawl", "--format", "json").stdout)["as_of"])
