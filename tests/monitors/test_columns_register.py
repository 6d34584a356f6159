"""The 栏目维护分工表 import (`monitor columns import`): checks, messages with Excel row numbers, TOML, --write."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from config import load_settings, parse_settings
from fixtures.portal import portal_columns, write_settings
from monitors.cli import main
from monitors.columns_register import category_of, read_columns, rows_to_toml

BASE = "http://www.example.gov.cn"
HEADER = ["序号", "栏目名称", "地址", "维护单位", "栏目类别", "备注"]


def write_sheet(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    """A 分工表 as units send it: a merged title row and a blank row above the header, 填表人 below."""
    wb = Workbook()
    ws = wb.active
    ws.append(["仓山区人民政府门户网站栏目维护分工表"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append([])
    ws.append(header)
    for row in rows:
        ws.append(row)
    ws.append([])
    ws.append(["填表人：", None, "联系电话："])
    wb.save(path)
    return path


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    """The portal's units, and its columns but the last ten (so those are new)."""
    path = tmp_path / "settings.toml"
    write_settings(path, BASE, f"sqlite:///{(tmp_path / 'monitor.db').as_posix()}")
    blocks = path.read_text(encoding="utf-8").split("[[columns]]")
    path.write_text("[[columns]]".join(blocks[:-10]), encoding="utf-8")
    return path


def new_columns() -> list:
    return portal_columns()[-10:]


LABELS = {"dynamic": "动态类", "notice": "通知公告类", "plan": "人事规划类", "disclosure": "信息公开类", "other": "其他"}


def test_a_good_sheet_becomes_columns(settings_path: Path, tmp_path: Path) -> None:
    rows = [[i, c.name, BASE + c.path, c.unit, LABELS[c.category] if i % 2 else c.category, ""]
            for i, c in enumerate(new_columns(), 1)]
    sheet = write_sheet(tmp_path / "分工表.xlsx", rows)
    settings = load_settings(settings_path)
    found, problems = read_columns(sheet, settings)
    assert [p for p in problems if p.level == "error"] == []
    assert [(r.line, r.unit, r.name, r.url, r.category) for r in found] == \
        [(i + 3, c.unit, c.name, BASE + c.path, c.category) for i, c in enumerate(new_columns(), 1)]
    combined = parse_settings(settings_path.read_text(encoding="utf-8") + "\n" + rows_to_toml(found, "分工表.xlsx"))
    assert {c.url for c in combined.columns} == {BASE + c.path for c in portal_columns()}


def test_problems_name_the_excel_row(settings_path: Path, tmp_path: Path) -> None:
    first, second = new_columns()[0], new_columns()[1]
    configured, elsewhere = portal_columns()[0], portal_columns()[1]
    rows = [
        [1, first.name, BASE + first.path, first.unit, "信息公开类"],                  # row 4: fine
        [2, "工作动态", BASE + "/new/gzdt/", "审记局", "动态类"],                      # row 5: unknown unit
        [3, second.name, BASE + first.path, second.unit, "信息公开类"],                # row 6: same URL as row 4
        [4, "通知公告", BASE + "/new/tzgg/", "审计局", ""],                            # row 7: no category
        [5, "专题", BASE + "/new/zt/", "审计局", "杂项类"],                            # row 8: unknown category
        [6, "空地址", "", "审计局", "其他"],                                          # row 9: no address
        [7, configured.name, BASE + configured.path, configured.unit, "dynamic"],   # row 10: configured: skipped
        [8, "另一栏目", BASE + elsewhere.path, "审计局", "dynamic"],                   # row 11: configured elsewhere
    ]
    sheet = write_sheet(tmp_path / "bad.xlsx", rows)
    found, problems = read_columns(sheet, load_settings(settings_path))
    errors = {p.line: p.message for p in problems if p.level == "error"}
    assert set(errors) == {5, 6, 7, 8, 9, 11}
    assert errors[5].startswith("第5行：") and "“审记局”" in errors[5] and "您是否要找：审计局？" in errors[5]
    assert "与第4行的地址相同" in errors[6]
    assert "栏目类别为空" in errors[7] and "通知公告类" in errors[7]
    assert "“杂项类”无法识别" in errors[8]
    assert "地址为空" in errors[9]
    assert f"属于“{elsewhere.unit}”的栏目“{elsewhere.name}”" in errors[11]
    warnings = [p.message for p in problems if p.level == "warning"]
    assert warnings == [f"第10行：栏目“{configured.name}”已在设置中，跳过"]
    assert [r.line for r in found] == [4]


def test_cli_errors_write_nothing_then_write_with_backup(settings_path: Path, tmp_path: Path) -> None:
    original = settings_path.read_text(encoding="utf-8")
    runner = CliRunner()
    bad = write_sheet(tmp_path / "bad.xlsx", [[1, "工作动态", BASE + "/new/gzdt/", "审记局", "动态类"]])
    result = runner.invoke(main, ["--config", str(settings_path), "columns", "import", str(bad), "--write"])
    assert result.exit_code == 1
    assert "[错误] 第4行：维护单位“审记局”不在设置的单位中，您是否要找：审计局？" in result.stderr
    assert settings_path.read_text(encoding="utf-8") == original and not (tmp_path / "settings.toml.bak").exists()

    good = write_sheet(tmp_path / "good.xlsx", [[i, c.name, BASE + c.path, c.unit, LABELS[c.category]]
                                                for i, c in enumerate(new_columns(), 1)])
    preview = runner.invoke(main, ["--config", str(settings_path), "columns", "import", str(good)])
    assert preview.exit_code == 0 and preview.stdout.count("[[columns]]") == 10
    assert settings_path.read_text(encoding="utf-8") == original
    written = runner.invoke(main, ["--config", str(settings_path), "columns", "import", str(good), "--write"])
    assert written.exit_code == 0, written.output
    assert (tmp_path / "settings.toml.bak").read_text(encoding="utf-8") == original
    assert len(load_settings(settings_path).columns) == len(portal_columns())
    again = runner.invoke(main, ["--config", str(settings_path), "columns", "import", str(good)])
    assert again.exit_code == 0 and "没有需要新增的栏目" in again.stderr

    missing = runner.invoke(main, ["--config", str(settings_path), "columns", "import", str(tmp_path / "no.xlsx")])
    assert missing.exit_code == 2 and "找不到栏目维护分工表" in missing.stderr
    headless = write_sheet(tmp_path / "headless.xlsx", [["a", "b"]], header=["甲", "乙"])
    result = runner.invoke(main, ["--config", str(settings_path), "columns", "import", str(headless)])
    assert result.exit_code == 2 and "找不到表头" in result.stderr


def test_category_labels() -> None:
    assert [category_of(x) for x in ("动态类", "通知公告类", "人事规划类", "信息公开类", "其他", "notice", "plan",
                                     " 规划计划 ", "杂项")] == \
        ["dynamic", "notice", "plan", "disclosure", "other", "notice", "plan", "plan", None]
