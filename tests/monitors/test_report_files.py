"""The report's files: a file the office edited is never overwritten (CLI, daemon), a quarter not yet over
is refused, 附件4 is written and listed, and the workbook prints (A4, orientation, one page wide, print
titles, autofilter, numbers and dates as such). Files written for real and read back."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import openpyxl
import pytest
from click.testing import CliRunner

import scheduler
from config import load_settings
from monitors.app import BadInput, Monitor
from monitors.cli import main
from monitors.register import HEADERS, REGISTER_TITLE, read_register
from monitors.report.writers import HASHES, write_report
from storage import queries
from storage.db import migrate
from tests.monitors.test_report_writers import build_report

ACCOUNTS = [{"unit": "大数据服务中心", "platform": "weibo", "name": "仓山发布", "status": "正常", "reason": None,
             "last_post": "2020-09-28T10:00:00+08:00"}]


def edit(path: Path, text: str = "办公室修改的段落") -> None:
    doc = docx.Document(str(path))
    doc.add_paragraph(text)
    doc.save(str(path))


def has(path: Path, text: str) -> bool:
    return any(p.text == text for p in docx.Document(str(path)).paragraphs)


def test_an_edited_notice_is_kept_and_the_new_one_written_beside_it(tmp_path: Path) -> None:
    report = build_report()
    first = write_report(report, tmp_path)
    notice = tmp_path / "通报-2020Q3.docx"
    assert (tmp_path / HASHES).exists() and first.kept == []
    assert write_report(report, tmp_path).kept == []  # unchanged since written: rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(p.name for p in first)

    edit(notice)
    again = write_report(report, tmp_path)
    beside = tmp_path / "通报-2020Q3（2）.docx"
    assert again.kept == [(notice, beside)] and beside in again
    assert has(notice, "办公室修改的段落") and not has(beside, "办公室修改的段落")
    assert write_report(report, tmp_path).kept == [(notice, beside)]  # （2） is ours: rewritten, no （3）
    assert not (tmp_path / "通报-2020Q3（3）.docx").exists()

    edit(beside, "又改了")
    assert write_report(report, tmp_path).kept == [(notice, tmp_path / "通报-2020Q3（3）.docx")]
    forced = write_report(report, tmp_path, force=True)
    assert forced.kept == [] and not has(notice, "办公室修改的段落")


def test_a_file_we_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "附件-2020Q3.xlsx").write_bytes(b"the office's own workbook")
    written = write_report(build_report(), tmp_path, formats=("xlsx",))
    assert (tmp_path / "附件-2020Q3.xlsx").read_bytes() == b"the office's own workbook"
    assert list(written) == [tmp_path / "附件-2020Q3（2）.xlsx"]


def app_on(tmp_path: Path, out: Path) -> tuple[Monitor, Path]:
    config = tmp_path / "settings.toml"
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    config.write_text(f"""
[monitor]
database_url = "{url}"
[schedule]
out = "{out}"
[[units]]
name = "审计局"
kind = "department"
[[columns]]
unit = "审计局"
name = "工作动态"
url = "http://127.0.0.1:9/sjj/gzdt/"
""", encoding="utf-8")
    migrate(url)
    app = Monitor(load_settings(config))
    with app.sessions.begin() as s:
        queries.sync_settings(s, app.settings)
    return app, config


def current_quarter() -> str:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"


def test_a_quarter_not_yet_over_is_refused_unless_allowed(tmp_path: Path) -> None:
    app, config = app_on(tmp_path, tmp_path / "out")
    with pytest.raises(BadInput, match="才结束.*--allow-incomplete"):
        app.quarter_report(current_quarter(), tmp_path / "out")
    with pytest.raises(BadInput, match="通报日期 2020-09-15 在季度结束之前"):
        app.quarter_report("2020Q3", tmp_path / "out", date(2020, 9, 15))
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(main, ["--config", str(config), "report", "--quarter", current_quarter(),
                                       "--out", str(tmp_path / "cli")])
    assert result.exit_code == 2 and "--allow-incomplete" in result.output
    result = CliRunner().invoke(main, ["--config", str(config), "report", "--quarter", current_quarter(),
                                       "--out", str(tmp_path / "cli"), "--allow-incomplete"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli" / f"通报-{current_quarter()}.docx").exists()


def test_report_command_keeps_an_edited_notice_and_says_so(tmp_path: Path) -> None:
    app, config = app_on(tmp_path, tmp_path / "out")
    args = ["--config", str(config), "report", "--quarter", "2020Q3", "--out", str(tmp_path / "r"),
            "--doc-number", "仓政办〔2020〕12号"]
    assert CliRunner().invoke(main, args).exit_code == 0
    notice = tmp_path / "r" / "通报-2020Q3.docx"
    assert has(notice, "仓政办〔2020〕12号")
    edit(notice)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0
    assert "已被修改过，未覆盖；新文件写入 通报-2020Q3（2）.docx" in result.output
    assert "下一步工作要求”仍是待填写的占位文字" in result.output
    assert has(notice, "办公室修改的段落")
    assert CliRunner().invoke(main, [*args, "--force"]).exit_code == 0
    assert not has(notice, "办公室修改的段落")


def test_the_daemons_quarterly_job_never_overwrites_an_edited_notice(tmp_path: Path) -> None:
    out = tmp_path / "out"
    app, config = app_on(tmp_path, out)
    assert scheduler.run_once(str(config), "quarterly") == 0
    quarter = scheduler.previous_quarter(datetime.now(ZoneInfo("Asia/Shanghai")).date())
    notice = out / f"通报-{quarter}.docx"
    edit(notice)
    assert scheduler.run_once(str(config), "quarterly") == 0
    assert has(notice, "办公室修改的段落")
    assert (out / f"通报-{quarter}（2）.docx").exists()


def test_form_is_written_blank_and_listed(tmp_path: Path) -> None:
    paths = write_report(build_report(accounts=ACCOUNTS), tmp_path)
    form = tmp_path / "附件4-2020Q3.xlsx"
    assert form in paths
    notice = docx.Document(str(tmp_path / "通报-2020Q3.docx"))
    lines = [p.text for p in notice.paragraphs]
    assert f"4.{REGISTER_TITLE}" in lines
    # and printed in the notice as the seed does: the blank form on a landscape page of its own
    assert lines[-7:-4] == ["附件4", REGISTER_TITLE, "单位名称（盖章）：" + "　" * 16 + "填表日期："]
    assert notice.sections[-1].page_width > notice.sections[-1].page_height
    assert [c.text for c in notice.tables[-1].rows[0].cells] == HEADERS
    ws = openpyxl.load_workbook(form).active
    assert ws["A1"].value == REGISTER_TITLE and [c.value for c in ws[3]] == HEADERS
    # the form prints as the attachments do: A4 landscape, one page wide, its header row on every page
    assert (ws.page_setup.paperSize, ws.page_setup.orientation, ws.page_setup.fitToWidth) == (9, "landscape", 1)
    assert ws.print_title_rows == "$3:$3"
    rows, problems = read_register(form)  # what a unit returns reads back with `monitor accounts import`
    assert rows == [] and not [p for p in problems if p.level == "error"]
    # Without monitored accounts there is neither 附件3 nor the form.
    assert not any("附件4" in p.name for p in write_report(build_report(), tmp_path / "none"))


def test_attachments_print_on_a4_one_page_wide_with_titles_and_filters(tmp_path: Path) -> None:
    paths = write_report(build_report(accounts=ACCOUNTS), tmp_path, formats=("xlsx",))
    wb = openpyxl.load_workbook(paths[0])
    for ws in wb.worksheets:
        assert ws.page_setup.paperSize == 9, ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_options.horizontalCentered
        assert ws.auto_filter.ref
    township = wb["附件1"]
    assert township.print_title_rows == "$2:$3" and township.auto_filter.ref == "A3:E16"
    assert wb["附件3"].print_title_rows == "$2:$2" and wb["栏目更新"].print_title_rows == "$2:$2"
    assert wb["栏目更新"].page_setup.orientation == "landscape"  # the URLs make it wider than tall
    assert township.row_dimensions[1].height >= 30 and township["A1"].alignment.wrap_text
    accounts = wb["附件3"]
    assert accounts["A3"].value == 1 and accounts["A3"].data_type == "n"
    assert accounts["E3"].value == datetime(2020, 9, 28) and accounts["E3"].number_format == "yyyy-mm-dd"
    columns = wb["栏目更新"]
    assert columns["A3"].value == 1 and columns["F3"].value == datetime(2020, 8, 21)
    assert columns["F3"].is_date


def test_accounts_are_judged_at_the_quarters_end_when_read_then(tmp_path: Path) -> None:
    """Read since September: the account was silent at 9-30 (newest 9-10) though it posted on 10-05. Read
    only from 10-08 on (every post newer than 9-30): its state at 9-30 is unknown, so all are judged as of
    the notice's date, and the notice says that date."""
    from storage.models import AccountPost

    app, config = app_on(tmp_path, tmp_path / "out")
    config.write_text(config.read_text(encoding="utf-8") + """
[[accounts]]
unit = "审计局"
platform = "feed"
name = "审计之声"
url = "http://127.0.0.1:9/sjj/feed.xml"
""", encoding="utf-8")
    app = Monitor(load_settings(config))
    tz = ZoneInfo("Asia/Shanghai")
    with app.sessions.begin() as s:
        queries.sync_settings(s, app.settings)
        target = queries.account_targets(s)[0]
        queries.store_account_read(s, target.account_id, [])
        for n, (day, seen) in enumerate([((9, 10), (9, 10)), ((10, 5), (10, 8))]):
            s.add(AccountPost(account_id=target.account_id, platform_id=str(n), title="t",
                              published_at=datetime(2020, *day, 9, tzinfo=tz),
                              first_seen=datetime(2020, *seen, 12, tzinfo=tz)))
    written = app.quarter_report("2020Q3", tmp_path / "q", date(2020, 10, 10))
    text = "\n".join(p.text for p in docx.Document(str(next(p for p in written if p.suffix == ".docx"))).paragraphs)
    assert "截至第三季度末，我区登记在册的政务新媒体共1个，其中2周内无更新、判定为不合格的有：审计局“审计之声”" in text

    with app.sessions.begin() as s:  # the September read never happened: first seen after the quarter
        s.query(AccountPost).filter(AccountPost.platform_id == "0").delete()
    written = app.quarter_report("2020Q3", tmp_path / "q2", date(2020, 10, 10))
    text = "\n".join(p.text for p in docx.Document(str(next(p for p in written if p.suffix == ".docx"))).paragraphs)
    assert "截至2020年10月10日，我区登记在册的政务新媒体共1个，均按要求及时更新信息" in text
