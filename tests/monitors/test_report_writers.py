"""Report writers: build a QuarterReport from the seed notice's tables, write each format, read it back."""
from __future__ import annotations

import csv
import json
import zipfile
from datetime import date, datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from docx.oxml.ns import qn
from docx.enum.text import WD_LINE_SPACING
from docx.shared import Mm

from monitors.report.model import ColumnIssue, QuarterReport, UnitRow
from monitors.report.writers import WRITERS, register, write_report

TSV = Path(__file__).resolve().parents[2] / "fixtures" / "data" / "q3_2020_tables.tsv"
MONTHS = ["2020-07", "2020-08", "2020-09"]
QUOTA = 10
AS_OF = date(2020, 10, 10)


def seed_rows() -> list[dict]:
    with TSV.open(encoding="utf-8") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def unit_row(name: str, kind: str, counts: list[int]) -> UnitRow:
    months = dict(zip(MONTHS, counts))
    shortfalls = {m: QUOTA - n for m, n in months.items() if n < QUOTA}
    status = ";".join(f"{int(m[5:])}月-{d}" for m, d in shortfalls.items()) or "完成"
    return UnitRow(name, kind, months, shortfalls, status)


def issue(unit, column, category, last_post, limit) -> ColumnIssue:
    days = (AS_OF - last_post).days if last_post else None
    return ColumnIssue(unit, column, f"http://127.0.0.1:8700/{column}/", category, last_post, days, limit)


def build_report(units: list[UnitRow] | None = None, **changes) -> QuarterReport:
    if units is None:
        units = [unit_row(r["unit"], r["kind"], [int(r["jul"]), int(r["aug"]), int(r["sep"])])
                 for r in seed_rows()]
    kinds = ("township", "department")
    good = {k: [u.unit for u in sorted((u for u in units if u.kind == k and not u.shortfalls),
                                       key=lambda u: -u.total)][:5] for k in kinds}
    short = {k: [u.unit for u in units if u.kind == k and u.shortfalls] for k in kinds}
    always = {k: [u.unit for u in units if u.kind == k and len(u.shortfalls) == len(MONTHS)] for k in kinds}
    disclosure = issue("盖山镇", "政府信息公开目录", "disclosure", date(2019, 8, 1), 365)
    fields = dict(
        quarter="2020Q3", months=MONTHS, as_of=AS_OF, issuer="福州市仓山区人民政府办公室",
        district="仓山区", site_name="仓山区人民政府", quota=QUOTA, total_posts=2792, units=units,
        good_units=good, short_units=short, always_short_units=always,
        stale_columns=[issue("审计局", "工作动态", "dynamic", date(2020, 8, 21), 14),
                       issue("建设局", "项目质量安全监督信息", "notice", date(2020, 3, 2), 183),
                       disclosure],
        blank_columns=[issue("民政局", "社会组织、慈善组织", "other", None, 365)],
        disclosure_posts=194, disclosure_stale={"盖山镇": [disclosure]},
    )
    fields.update(changes)
    return QuarterReport(**fields)


@pytest.fixture(scope="module")
def report() -> QuarterReport:
    return build_report()


@pytest.fixture(scope="module")
def written(report, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    paths = write_report(report, out)
    return {p.suffix[1:]: p for p in paths}


# ----------------------------------------------------------------------------------------- registry


def test_registry_holds_the_three_formats_with_docstrings():
    assert set(WRITERS) >= {"docx", "xlsx", "json"}
    for name, fn in WRITERS.items():
        assert fn.__doc__ and fn.__doc__.strip(), name


def test_registry_refuses_duplicate_and_empty_names():
    with pytest.raises(ValueError):
        register("docx")(lambda r, p: p)
    with pytest.raises(ValueError):
        register("")
    with pytest.raises(ValueError):
        register("  ")


def test_unknown_format_is_refused_before_writing(report, tmp_path):
    with pytest.raises(ValueError, match="docx"):
        write_report(report, tmp_path / "out", formats=("docx", "pdf"))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_file_names(written):
    assert written["docx"].name == "通报-2020Q3.docx"
    assert written["xlsx"].name == "附件-2020Q3.xlsx"
    assert written["json"].name == "report-2020Q3.json"


def test_seed_arithmetic_is_corrected(report):
    statuses = {u.unit: u.status for u in report.units}
    assert statuses["上渡街道"] == "9月-7"  # the seed printed 9月-8
    assert statuses["螺洲镇"] == "7月-9;8月-2;9月-8"


# --------------------------------------------------------------------------------------------- json


def test_json_matches_the_contract(report, written):
    raw = written["json"].read_text(encoding="utf-8")
    assert "上渡街道" in raw  # ensure_ascii=False
    data = json.loads(raw)
    assert data["quarter"] == "2020Q3"
    assert data["total_posts"] == 2792
    assert len(data["units"]) == len(seed_rows()) == 35
    for entry, seed in zip(data["units"], seed_rows()):
        assert {"unit", "kind", "months", "status"} <= set(entry)
        assert entry["unit"] == seed["unit"] and entry["kind"] == seed["kind"]
        assert entry["months"] == {"2020-07": int(seed["jul"]), "2020-08": int(seed["aug"]),
                                   "2020-09": int(seed["sep"])}
        expected = seed["seed_status"] if seed["unit"] != "上渡街道" else "9月-7"
        assert entry["status"] == expected
    assert data["as_of"] == "2020-10-10"
    assert data["stale_columns"][0]["last_post"] == "2020-08-21"
    assert data["blank_columns"][0]["last_post"] is None
    assert data["disclosure_posts"] == 194


# --------------------------------------------------------------------------------------------- docx


def body_paragraphs(path: Path) -> list[str]:
    return [p.text for p in docx.Document(str(path)).paragraphs]


def test_docx_title_total_and_short_units(report, written):
    text = "\n".join(body_paragraphs(written["docx"]))
    doc = docx.Document(str(written["docx"]))
    title = doc.paragraphs[0].text.replace("\n", "")
    assert title == "关于2020年第三季度全区网站和政务新媒体检查情况的通报"
    assert doc.paragraphs[2].text == "区直各有关部门，各镇人民政府、街道办事处："
    assert "国办发〔2017〕47号" in text and "国办秘函〔2019〕19号" in text
    assert "一、仓山区人民政府门户网站维护情况" in text
    assert "共发布信息2792条" in text
    assert "每月发布信息应达到10条及以上" in text
    for units in report.short_units.values():
        for unit in units:
            assert unit in text, unit
    assert "其中螺洲镇第三季度每月均未达到考核要求（详见附件1）" in text
    assert "其中审计局第三季度每月均未达到考核要求（详见附件2）" in text
    # stale and blank columns named with their units, dates and days
    assert "审计局：“工作动态”（最近更新于2020年8月21日，已50天未更新" in text
    assert "民政局：“社会组织、慈善组织”" in text
    assert "本期未纳入政务新媒体监测数据。" in text
    assert "共主动公开政府信息194条" in text
    assert "盖山镇的“政府信息公开目录”栏目超过一年未更新" in text
    assert "四、下一步工作要求" in text and "【请填写下一步工作要求】" in text
    assert "专此通报" in text
    assert "附件：1.2020年第三季度镇街仓山区政府网站信息更新情况" in text
    assert "2.2020年第三季度区直部门仓山区政府网站信息更新情况" in text
    names = [p for p in doc.paragraphs if p.text in ("福州市仓山区人民政府办公室", "2020年10月10日")]
    assert [p.text for p in names] == ["福州市仓山区人民政府办公室", "2020年10月10日"]  # laid out: test_report_notice


def test_docx_page_setup_and_fonts(written):
    doc = docx.Document(str(written["docx"]))
    section = doc.sections[0]
    # docx stores twips: a millimetre value comes back within half a twip (318 EMU) of itself
    mm = {name: getattr(section, name) / Mm(1) for name in (
        "page_width", "page_height", "top_margin", "bottom_margin", "left_margin", "right_margin")}
    assert mm == pytest.approx({"page_width": 210, "page_height": 297, "top_margin": 37,
                                "bottom_margin": 35, "left_margin": 28, "right_margin": 26}, abs=0.01)
    title_runs = [r for r in doc.paragraphs[0].runs if r.text]
    assert all(r._element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体" for r in title_runs)
    assert all(r.font.size.pt == 22 for r in title_runs)
    body = next(p for p in doc.paragraphs if p.text.startswith("根据《国务院办公厅"))
    assert body.runs and all(r._element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312" for r in body.runs)
    assert all(r.font.size.pt == 16 for r in body.runs)
    normal = doc.styles["Normal"].paragraph_format  # body paragraphs inherit the fixed line pitch
    assert body.paragraph_format.line_spacing is None
    assert normal.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    assert normal.line_spacing.pt == pytest.approx(28.95, abs=0.05)
    assert body.paragraph_format.first_line_indent.pt == pytest.approx(32)
    heading = next(p for p in doc.paragraphs if p.text.startswith("一、"))
    assert heading.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"


def test_docx_footer_has_page_field_between_dashes(written):
    doc = docx.Document(str(written["docx"]))
    for footer in (doc.sections[0].footer, doc.sections[0].even_page_footer):
        xml = footer._element.xml
        instr = "".join(el.text for el in footer._element.iter(qn("w:instrText")))
        assert "PAGE" in instr
        assert footer.paragraphs[0].text.startswith("— ") and footer.paragraphs[0].text.endswith(" —")
        assert 'w:fldCharType="begin"' in xml
        sizes = {r.font.size.pt for r in footer.paragraphs[0].runs if r.font.size}
        assert sizes == {14}
    assert doc.settings.odd_and_even_pages_header_footer


def test_docx_attachment_tables(report, written):
    doc = docx.Document(str(written["docx"]))
    assert len(doc.tables) == 2
    for table, kind, name_header in ((doc.tables[0], "township", "镇街名称"),
                                     (doc.tables[1], "department", "单位名称")):
        assert [c.text for c in table.rows[0].cells] == [name_header] + ["网站信息更新数（单位：条）"] * 3 + ["完成情况"]
        assert [c.text for c in table.rows[1].cells] == [name_header, "7月", "8月", "9月", "完成情况"]
        units = report.units_of(kind)
        assert len(table.rows) == 2 + len(units)
        for row, unit in zip(table.rows[2:], units):
            cells = [c.text for c in row.cells]
            assert cells[0] == unit.unit
            assert cells[1:4] == [str(n) for n in unit.months.values()]
            assert cells[4].replace("\n", ";") == unit.status
    headings = [p for p in doc.paragraphs if p.text in ("附件1", "附件2")]
    assert [p.text for p in headings] == ["附件1", "附件2"]
    assert all(p.paragraph_format.page_break_before for p in headings)
    assert headings[0].runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"


# --------------------------------------------------------------------------------------------- xlsx


def test_xlsx_sheets_titles_headers_and_rows(report, written):
    wb = openpyxl.load_workbook(written["xlsx"])
    assert wb.sheetnames == ["附件1", "附件2", "栏目更新"]
    for sheet, kind, label, name_header in (("附件1", "township", "镇街", "镇街名称"),
                                           ("附件2", "department", "区直部门", "单位名称")):
        ws = wb[sheet]
        assert ws["A1"].value == f"2020年第三季度{label}仓山区政府网站信息更新情况"
        assert "A1:E1" in {str(r) for r in ws.merged_cells.ranges}
        assert [ws.cell(2, c).value for c in range(1, 6)] == [name_header, "网站信息更新数（单位：条）",
                                                              None, None, "完成情况"]
        assert [ws.cell(3, c).value for c in range(2, 5)] == ["7月", "8月", "9月"]
        assert ws.freeze_panes == "A4"
        units = report.units_of(kind)
        assert ws.max_row == 3 + len(units)
        for r, unit in enumerate(units, start=4):
            assert ws.cell(r, 1).value == unit.unit
            assert [ws.cell(r, c).value for c in (2, 3, 4)] == list(unit.months.values())
            assert ws.cell(r, 5).value.replace("\n", ";") == unit.status
            for c, month in zip((2, 3, 4), report.months):
                fill = ws.cell(r, c).fill
                if month in unit.shortfalls:
                    assert fill.fill_type == "solid" and fill.fgColor.rgb.endswith("FFC7CE")
                else:
                    assert fill.fill_type is None
            assert ws.cell(r, 1).font.name == "宋体"
        assert ws.column_dimensions["A"].width >= 2 * max(len(u.unit) for u in units)
    shangdu = next(r for r in range(4, 17) if wb["附件1"].cell(r, 1).value == "上渡街道")
    assert wb["附件1"].cell(shangdu, 5).value == "9月-7"
    assert wb["附件1"].cell(shangdu, 4).fill.fill_type == "solid"
    luozhou = next(r for r in range(4, 17) if wb["附件1"].cell(r, 1).value == "螺洲镇")
    assert wb["附件1"].cell(luozhou, 5).value == "7月-9\n8月-2\n9月-8"
    assert wb["附件1"].cell(luozhou, 5).alignment.wrap_text


def test_xlsx_column_sheet(report, written):
    ws = openpyxl.load_workbook(written["xlsx"])["栏目更新"]
    assert ws["A1"].value == "2020年第三季度仓山区人民政府门户网站栏目更新情况"
    assert ws.freeze_panes == "A3"
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=3)]
    assert [r[1:3] for r in rows] == [["审计局", "工作动态"], ["建设局", "项目质量安全监督信息"],
                                      ["盖山镇", "政府信息公开目录"], ["民政局", "社会组织、慈善组织"]]
    assert rows[0][4:7] == ["更新不及时", datetime(2020, 8, 21), 50]
    assert rows[3][4:6] == ["空白栏目", "无"]


def test_partial_reads_are_shown_in_the_column_sheet_the_unit_tables_and_the_json(tmp_path):
    partial = ColumnIssue("盖山镇", "工作动态", "http://127.0.0.1:8700/gsz/gzdt/", "dynamic", date(2020, 10, 8), 2, 14,
                          "已读取 75/107 条；第 6 页读取失败：HTTP 403 错误")
    units = [UnitRow("盖山镇", "township", dict(zip(MONTHS, (12, 6, 11))), {"2020-08": 4}, "8月-4",
                     ("2020-07", "2020-08"))]
    paths = write_report(build_report(units, partial_columns=[partial]), tmp_path)
    wb = openpyxl.load_workbook(next(p for p in paths if p.suffix == ".xlsx"))
    rows = [[c.value for c in row] for row in wb["栏目更新"].iter_rows(min_row=3)]
    assert rows[-1][1:5] == ["盖山镇", "工作动态", "动态要闻类",
                             "未读全：已读取 75/107 条；第 6 页读取失败：HTTP 403 错误"]
    township = wb["附件1"]
    row = next(r for r in township.iter_rows(min_row=4) if r[0].value == "盖山镇")
    assert [c.comment is not None for c in row[1:4]] == [True, True, False]
    assert "未读全" in row[1].comment.text
    data = json.loads(next(p for p in paths if p.suffix == ".json").read_text(encoding="utf-8"))
    assert data["units"][0]["partial_months"] == ["2020-07", "2020-08"]
    assert data["partial_columns"][0]["note"].startswith("已读取 75/107 条")


def test_xlsx_has_accounts_sheet_only_with_accounts(tmp_path):
    accounts = [{"unit": "大数据服务中心", "platform": "weibo", "name": "仓山发布", "status": "正常",
                 "reason": None, "last_post": date(2020, 10, 8)}]
    paths = write_report(build_report(accounts=accounts), tmp_path)
    wb = openpyxl.load_workbook(next(p for p in paths if p.suffix == ".xlsx"))
    assert wb.sheetnames == ["附件1", "附件2", "附件3", "栏目更新"]
    assert [c.value for c in wb["附件3"][3]] == [1, "大数据服务中心", "新浪微博", "仓山发布", datetime(2020, 10, 8), "正常"]
    text = "\n".join(body_paragraphs(next(p for p in paths if p.suffix == ".docx")))
    assert "本期未纳入政务新媒体监测数据" not in text
    assert "3.现开通政务新媒体情况" in text
    data = json.loads(next(p for p in paths if p.suffix == ".json").read_text(encoding="utf-8"))
    assert data["accounts"][0]["last_post"] == "2020-10-08"


# ------------------------------------------------------------------------------------ untrusted text


def test_hostile_names_do_not_break_the_files(tmp_path):
    hostile = "坏\x0b单位<script>alert(1)</script>&"
    formula = "=HYPERLINK(\"http://evil\",\"x\")"
    units = [unit_row(hostile, "township", [1, 20, 30]), unit_row(formula, "department", [10, 10, 10]),
             unit_row("正常局", "department", [12, 2, 30])]
    bad_column = issue(hostile, "栏目\x00\x1f名<b>", "dynamic", date(2020, 9, 1), 14)
    report = build_report(units=units, stale_columns=[bad_column], blank_columns=[],
                          disclosure_stale={hostile: [bad_column]}, site_name="站\x08点")
    paths = {p.suffix[1:]: p for p in write_report(report, tmp_path)}
    cleaned = "坏单位<script>alert(1)</script>&"

    with zipfile.ZipFile(paths["docx"]) as z:
        assert z.testzip() is None
    text = "\n".join(body_paragraphs(paths["docx"]))
    assert cleaned in text and "\x0b" not in text
    assert "“栏目名<b>”" in text
    doc = docx.Document(str(paths["docx"]))
    assert doc.tables[0].rows[2].cells[0].text == cleaned

    wb = openpyxl.load_workbook(paths["xlsx"])
    assert wb["附件1"]["A4"].value == cleaned
    assert wb["附件2"]["A4"].value == formula  # stays text, never a formula
    assert wb["附件2"]["A4"].data_type == "s"
    assert wb["栏目更新"]["C3"].value == "栏目名<b>"

    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["units"][0]["unit"] == hostile  # JSON keeps the crawled name as it was, escaped


def test_no_units_of_a_kind_and_no_issues(tmp_path):
    units = [unit_row("某局", "department", [10, 11, 12])]
    report = build_report(units=units, stale_columns=[], blank_columns=[], disclosure_stale={})
    paths = {p.suffix[1:]: p for p in write_report(report, tmp_path)}
    text = "\n".join(body_paragraphs(paths["docx"]))
    assert "1个区直部门中" in text and "（详见附件1）" in text
    assert "未发现更新不及时或空白的栏目" in text
    assert "附件：1.2020年第三季度区直部门仓山区政府网站信息更新情况" in text
    assert openpyxl.load_workbook(paths["xlsx"]).sheetnames == ["附件1", "栏目更新"]
