"""Register and 分工表 imports refuse hostile files before they cost memory or time: a zip bomb (sizes declared
in the archive, checked before inflating), too many rows (counted while they stream), with one Chinese line and
exit 2 from the CLI, never a traceback. Read-only reading still fills merged cells and reads past a wrong
declared dimension."""
from __future__ import annotations

import re
import resource
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from monitors import sheets
from monitors.cli import main
from monitors.register import HEADERS, read_register, rows_to_toml
from monitors.sheets import SheetError


def _register(path: Path, rows: int = 3, merged: bool = False) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["福州市政务新媒体详细汇总表"])
    ws.append(HEADERS)
    for i in range(rows):
        ws.append([i + 1, "教育局", "新浪微博", f"仓山教育{i}", "教育局", f"https://weibo.com/u/{1000000 + i}", "是",
                   "陈某 13800000001"])
    if merged:
        ws.merge_cells(start_row=3, start_column=2, end_row=2 + rows, end_column=2)
    wb.save(path)
    return path


def _with_member(src: Path, dst: Path, name: str, size: int, fill: bytes = b"A") -> Path:
    """`src` with the member `name` replaced by `size` bytes of valid XML that deflate a thousandfold."""
    head = b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"' \
           b' count="1" uniqueCount="1"><si><t>'
    tail = b"</t></si></sst>"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if item.filename != name:
                zout.writestr(item, zin.read(item.filename))
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zout.open(info, "w", force_zip64=True) as out:
            out.write(head)
            chunk = fill * (1 << 20)
            left = size - len(head) - len(tail)
            while left > 0:
                out.write(chunk[:left])
                left -= len(chunk)
            out.write(tail)
    return dst


@pytest.fixture(scope="module")
def settings_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("limits") / "settings.toml"
    path.write_text('[monitor]\ndatabase_url = "sqlite:///unused.db"\n\n[[units]]\nname = "教育局"\nkind = "department"\n',
                    encoding="utf-8")
    return path


def test_a_compressed_bomb_is_refused_before_inflating(tmp_path: Path, settings_file: Path) -> None:
    plain = _register(tmp_path / "plain.xlsx")
    # 50 MB of shared strings in about 50 KB: over the ratio (and the shared-strings limit).
    bomb = _with_member(plain, tmp_path / "bomb.xlsx", "xl/sharedStrings.xml", 50 * 1024 * 1024)
    assert bomb.stat().st_size < 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SheetError, match="压缩炸弹") as caught:
        read_register(bomb)
    assert "xl/sharedStrings.xml" in str(caught.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 40 * 1024  # KB: nothing inflated
    for command in (["accounts", "import"], ["columns", "import"]):
        result = CliRunner().invoke(main, ["--config", str(settings_file), *command, str(bomb)])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert re.search(r"错误：无法读取(登记表|栏目维护分工表) .*压缩比为 \d+:1，超过 200:1，不予读取（可能是压缩炸弹）",
                         result.output), result.output
        assert "Traceback" not in result.output


def test_declared_total_over_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _register(tmp_path / "plain.xlsx")
    # Incompressible-looking enough to pass the ratio: the total is what is over.
    monkeypatch.setattr(sheets, "MAX_UNPACKED_MB", 8)
    big = _with_member(plain, tmp_path / "big.xlsx", "docProps/custom.xml", 9 * 1024 * 1024)
    with pytest.raises(SheetError, match=r"解压后共 9 MB，超过 8 MB，不予读取"):
        read_register(big)


def test_shared_strings_over_the_limit_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheets, "MAX_SHARED_STRINGS_MB", 1)
    big = _with_member(_register(tmp_path / "plain.xlsx"), tmp_path / "strings.xlsx", "xl/sharedStrings.xml",
                       2 * 1024 * 1024)
    with pytest.raises(SheetError, match=r"xl/sharedStrings.xml 解压后 2 MB，超过 1 MB"):
        read_register(big)


def test_too_many_rows_are_refused_while_they_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     settings_file: Path) -> None:
    monkeypatch.setattr(sheets, "MAX_ROWS", 50)
    ok = _register(tmp_path / "ok.xlsx", rows=48)  # title + header + 48 rows: 50
    assert len(read_register(ok)[0]) == 48
    over = _register(tmp_path / "over.xlsx", rows=49)
    with pytest.raises(SheetError, match="工作表“Sheet”超过 50 行，不予读取：请拆分后分批导入"):
        read_register(over)
    result = CliRunner().invoke(main, ["--config", str(settings_file), "accounts", "import", str(over)])
    assert result.exit_code == 2 and "超过 50 行" in result.output and "Traceback" not in result.output


def test_read_only_fills_merged_cells_and_reads_past_a_wrong_dimension(tmp_path: Path) -> None:
    path = _register(tmp_path / "merged.xlsx", rows=4, merged=True)
    rows, _ = read_register(path)
    assert [(r.no, r.unit) for r in rows] == [(i, "教育局") for i in range(1, 5)]
    # A generator that writes <dimension ref="A1"/> whatever the sheet holds: every row is still read.
    wrong = tmp_path / "dimension.xlsx"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(wrong, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>', data)
            zout.writestr(item, data)
    assert [(r.no, r.unit) for r in read_register(wrong)[0]] == [(i, "教育局") for i in range(1, 5)]


def test_units_resolve_as_before_with_an_index(tmp_path: Path) -> None:
    """rows_to_toml's units: the same name, else the one equal loosely (办事处/人民政府 dropped), else new."""
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for i, unit in enumerate(["三叉街街道办事处", "三叉街街道", "新单位", "新单位", "另一单位人民政府"], 1):
        ws.append([i, unit, "新浪微博", f"号{i}", "", f"https://weibo.com/u/{2000000 + i}", "是", "陈某 13800000001"])
    wb.save(tmp_path / "units.xlsx")
    rows, _ = read_register(tmp_path / "units.xlsx")
    text = rows_to_toml(rows, ["三叉街街道", "另一单位"])
    assert re.findall(r'\[\[units\]\]\nname = "([^"]+)"', text) == ["新单位"]
    assert re.findall(r'^unit = "([^"]+)"', text, re.M) == ["三叉街街道", "三叉街街道", "新单位", "新单位", "另一单位"]


def test_unknown_units_get_a_suggestion_up_to_a_limit(tmp_path: Path) -> None:
    """Each suggestion compares a name with every known unit: the first 100 distinct unknown names get one, the
    rest the plain message, so a sheet of thousands of unknown units costs no rows x units comparisons."""
    from config import load_settings
    from monitors.columns_register import read_columns

    conf = tmp_path / "settings.toml"
    conf.write_text('[monitor]\ndatabase_url = "sqlite:///unused.db"\n\n'
                    + "".join(f'[[units]]\nname = "单位{i}"\nkind = "department"\n\n' for i in range(20)), encoding="utf-8")
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "栏目名称", "地址", "维护单位", "栏目类别"])
    for i in range(105):
        ws.append([i + 1, f"栏目{i}", f"http://www.example.gov.cn/c{i}/", f"未登记单位{i % 102}", "动态类"])
    wb.save(tmp_path / "分工表.xlsx")
    _, problems = read_columns(tmp_path / "分工表.xlsx", load_settings(conf))
    units = [p.message for p in problems if "维护单位" in p.message]
    assert len(units) == 105
    assert sum("您是否要找：单位" in m for m in units) == 100 + 3  # rows 101-103 repeat names already answered
    assert units[100] == "第102行：维护单位“未登记单位100”不在设置的单位中，请先在设置中添加该单位"
