"""The notice's attachments as one workbook (附件1 镇街, 附件2 区直部门, 附件3 政务新媒体, 附件5 内容问题, 栏目更新).

Laid out like the seed notice's tables: a merged title row, a two-row header (名称 | 网站信息更新数 over the
quarter's three months | 完成情况), one row per unit in the model's order, short months filled light red.

openpyxl (not xlsxwriter) because the tests read the workbook back with the same library, and it is already a
dependency. This module also owns the attachment plan (which attachments exist, their numbers and titles)
and the text cleaning of crawled strings; the docx writer imports both so the notice and the workbook agree.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from config.model import PLATFORM_LABELS
from monitors.content_rules import CONTENT_LABELS
from monitors.report.model import (
    CATEGORY_LABELS,
    FORM_TITLE,
    KIND_LABELS,
    ColumnIssue,
    ContentIssue,
    QuarterReport,
    UnitRow,
)
from monitors.rules import PARTIAL_MONTH_NOTE, AccountState, Severity
from monitors.textable import display_width

# Characters XML 1.0 forbids (openpyxl raises IllegalCharacterError, python-docx ValueError) plus the C1
# controls and lone surrogates that crawled pages carry. Names come from crawled pages: untrusted.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")

# The name column's header per kind, as the seed prints it.
NAME_HEADERS = {"township": "镇街名称", "department": "单位名称", "other": "单位名称"}

FONT_NAME = "宋体"
SHORT_FILL = PatternFill(fill_type="solid", fgColor="FFC7CE")  # Excel's "light red fill"
SHORT_FONT_COLOR = "9C0006"
_THIN = Side(style="thin", color="000000")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def clean_text(value: object) -> str:
    """A crawled string made safe for XML and for one line: invalid characters dropped, whitespace folded."""
    text = _XML_INVALID.sub("", str(value))
    return _SPACES.sub(" ", text).strip()


def month_label(month: str) -> str:
    """'2020-07' -> '7月'"""
    return f"{int(month[5:7])}月"


def status_lines(status: str) -> str:
    """'8月-4;9月-1' -> '8月-4\\n9月-1' (the seed prints one short month a line)."""
    return "\n".join(part for part in clean_text(status).split(";") if part)


def season_label(report: QuarterReport) -> str:
    """'2020年第三季度' -> '第三季度'"""
    return report.quarter_label.split("年", 1)[1]


@dataclass(frozen=True)
class Attachment:
    number: int
    kind: str  # township | department | other | accounts | form | content
    title: str  # the title printed above the table
    listing: str  # the line in the notice's 附件： list


def attachments(report: QuarterReport) -> list[Attachment]:
    """The notice's attachments in order: one a kind of unit that has units, then the accounts if any."""
    plan: list[Attachment] = []
    for kind in ("township", "department", "other"):
        if not report.units_of(kind):
            continue
        label = KIND_LABELS.get(kind, kind)
        title = f"{report.quarter_label}{label}{clean_text(report.district)}政府网站信息更新情况"
        plan.append(Attachment(len(plan) + 1, kind, title, title))
    if report.accounts:
        title = "现开通政务新媒体情况"
        plan.append(Attachment(len(plan) + 1, "accounts", title, title))
        # The form units fill in and return (monitor accounts export's layout, written blank beside the notice).
        plan.append(Attachment(len(plan) + 1, "form", FORM_TITLE, FORM_TITLE))
    if report.content_issues is not None:  # the content checks are on: their list, even when empty
        title = f"{report.quarter_label}{clean_text(report.district)}政府网站内容问题清单"
        plan.append(Attachment(len(plan) + 1, "content", title, title))
    return plan


# --- the content checks' problems (issue 11) --------------------------------------------------------------

CONTENT_HEADERS = ["序号", "单位", "问题类型", "页面", "链接或词语", "链接文字或上下文", "检查结果"]
CONTENT_WIDTHS = {4: 34, 5: 34, 6: 34, 7: 22}  # the wrapping columns' widths at most (page, link, words, result)
NO_CONTENT_ISSUES = "本季度未发现内容问题"
SERIOUS_TYPO = "严重表述错误"


def is_home_issue(issue: ContentIssue) -> bool:
    """A problem of a site's home page (counted apart, as the national indicators count them)."""
    return issue.home


def content_label(issue: ContentIssue) -> str:
    """链接无法打开, or 首页链接无法打开 for the home page's; 错别字 with a serious one's 严重表述错误."""
    label = CONTENT_LABELS.get(issue.rule, issue.rule)
    if issue.rule == "content.typo" and issue.severity == Severity.VETO:
        return f"{label}（{SERIOUS_TYPO}）"
    if is_home_issue(issue) and not label.startswith("首页"):
        return "首页" + label
    return label


def evidence_outcome(rule: str, outcome: str) -> str:
    """What a piece of evidence found, for a reader: a typo's right form as 应为“…”, the meta tags missing."""
    outcome = clean_text(outcome)
    if rule == "content.typo":
        return f"应为“{outcome}”" if outcome else "错别字"
    if rule == "content.sensitive":
        return outcome or "敏感词"
    if rule == "meta.missing":
        return f"缺少 {outcome}" if outcome else "缺少元数据"
    return outcome


def content_row(issue: ContentIssue) -> list[str]:
    """单位 | 问题类型 | 页面 | 链接或词语 | 链接文字或上下文 | 检查结果 of one problem. A page without meta tags is
    its own row (the page, its title); a stale home page has no evidence: its sentence is the result."""
    unit = clean_text(issue.unit) or "—"
    if issue.rule == "meta.missing":
        return [unit, content_label(issue), clean_text(issue.item or issue.page), "", clean_text(issue.text),
                evidence_outcome(issue.rule, issue.outcome)]
    outcome = evidence_outcome(issue.rule, issue.outcome) if issue.item else clean_text(issue.detail)
    return [unit, content_label(issue), clean_text(issue.page), clean_text(issue.item), clean_text(issue.text),
            outcome]


DATE_FORMAT = "yyyy-mm-dd"


def as_date(value: object) -> date | None:
    """A stored time or date (a datetime, a date, or ISO text) as the calendar date it names; None if none."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def account_field(account: object, name: str) -> object:
    """An account row's field whether the new-media monitor hands us a dict or a dataclass."""
    if isinstance(account, dict):
        return account.get(name)
    return getattr(account, name, None)


ACCOUNT_HEADERS = ["序号", "维护单位", "政务新媒体类型", "政务新媒体名称", "最近更新", "状态"]


# An account the crawler could not read, as the published notice words it: never the crawler's error (the
# centre's summary and the unit's email carry the reason).
NOT_VERIFIED = "暂未能自动核验"


def account_rows(report: QuarterReport) -> list[list[str]]:
    """序号 | 维护单位 | 政务新媒体类型 | 政务新媒体名称 | 最近更新 | 状态 for each account."""
    rows = []
    for i, account in enumerate(report.accounts, 1):
        platform = clean_text(account_field(account, "platform") or "")
        status = clean_text(account_field(account, "status") or "")
        if status == AccountState.UNREADABLE:
            status = NOT_VERIFIED
        rows.append([
            str(i),
            clean_text(account_field(account, "unit") or ""),
            PLATFORM_LABELS.get(platform, platform),
            clean_text(account_field(account, "name") or ""),
            str(account_field(account, "last_post") or "")[:10] or "—",
            status,
        ])
    return rows


def set_cell(ws: Worksheet, row: int, col: int, value: object, *, bold: bool = False, size: int = 11,
         align: str = "center", wrap: bool = False) -> Cell:
    cell = ws.cell(row=row, column=col)
    cell.value = value
    if isinstance(value, str):
        # A crawled name starting with "=" must stay text, never become a formula.
        cell.data_type = "s"
    cell.font = Font(name=FONT_NAME, size=size, bold=bold)
    cell.alignment = Alignment(horizontal=align, vertical="center", wrap_text=wrap)
    cell.border = BORDER
    return cell


TITLE_SIZE = 16


def write_title(ws: Worksheet, text: str, ncols: int) -> None:
    """The merged title row; it wraps, and `print_setup` makes the row tall enough for its lines."""
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
    cell = set_cell(ws, 1, 1, text, bold=True, size=TITLE_SIZE, wrap=True)
    cell.border = Border()
    ws.row_dimensions[1].height = 30


# Column widths are in characters of the default 11 pt font: about 2 mm each when printed. A4 is 297 mm.
MM_PER_WIDTH = 2.0
DEFAULT_ROW_PT = 15


def header_rows(ws: Worksheet, title: str, headers: list[str]) -> None:
    """A sheet's title row and its frozen row of headers (the data starts on row 3)."""
    write_title(ws, title, len(headers))
    for c, header in enumerate(headers, 1):
        set_cell(ws, 2, c, header, bold=True)
    ws.freeze_panes = "A3"


def print_setup(ws: Worksheet, header_rows: tuple[int, int]) -> None:
    """Make a sheet print: A4, landscape when the table is wider than tall, one page wide (as many pages
    tall as it needs), centred, the header rows repeated on every page, the title row tall enough for its
    wrapped lines, an autofilter on the last header row over the data rows."""
    first, last_header = header_rows
    last_row = ws.max_row
    ncols = ws.max_column
    widths = [ws.column_dimensions[get_column_letter(c)].width or 8.43 for c in range(1, ncols + 1)]
    title = ws.cell(row=1, column=1).value
    if title:
        per_line = sum(widths) * 11 / TITLE_SIZE
        lines = -(-display_width(str(title)) // max(1, int(per_line)))
        ws.row_dimensions[1].height = max(30, lines * TITLE_SIZE * 1.5)
    height_pt = sum(ws.row_dimensions[r].height or DEFAULT_ROW_PT for r in range(1, last_row + 1))
    wide = sum(widths) * MM_PER_WIDTH > height_pt * 25.4 / 72
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE if wide else ws.ORIENTATION_PORTRAIT
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as the rows need
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.print_title_rows = f"{first}:{last_header}"
    if last_row > last_header:
        ws.auto_filter.ref = f"A{last_header}:{get_column_letter(ncols)}{last_row}"


def fit_widths(ws: Worksheet, first_row: int, minimum: dict[int, int] | None = None) -> None:
    """Column widths from the longest line in each column (CJK counted 2), ignoring the merged title."""
    widths: dict[int, int] = dict(minimum or {})
    # A header merged across columns is shared by them (its own minimum is given): it does not widen the first.
    spanning = {(m.min_row, m.min_col) for m in ws.merged_cells.ranges if m.max_col > m.min_col}
    for row in ws.iter_rows(min_row=first_row):
        for cell in row:
            if cell.value is None or type(cell).__name__ == "MergedCell" or (cell.row, cell.column) in spanning:
                continue
            longest = max(display_width(line) for line in str(cell.value).split("\n"))
            widths[cell.column] = max(widths.get(cell.column, 0), longest)
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(width + 4, 80)


def _units_sheet(wb: Workbook, report: QuarterReport, attachment: Attachment) -> None:
    ws = wb.create_sheet(f"附件{attachment.number}")
    rows: list[UnitRow] = report.units_of(attachment.kind)
    nmonths = len(report.months)
    ncols = nmonths + 2
    write_title(ws, attachment.title, ncols)
    # Two-row header: 名称 and 完成情况 span both rows, 网站信息更新数 spans the months.
    set_cell(ws, 2, 1, NAME_HEADERS.get(attachment.kind, "单位名称"), bold=True)
    ws.merge_cells(start_row=2, start_column=1, end_row=3, end_column=1)
    set_cell(ws, 2, 2, "网站信息更新数（单位：条）", bold=True)
    ws.merge_cells(start_row=2, start_column=2, end_row=2, end_column=nmonths + 1)
    for i, month in enumerate(report.months):
        set_cell(ws, 3, 2 + i, month_label(month), bold=True)
    set_cell(ws, 2, ncols, "完成情况", bold=True)
    ws.merge_cells(start_row=2, start_column=ncols, end_row=3, end_column=ncols)
    for merged in ws.merged_cells.ranges:  # borders on every cell of a merged header
        if merged.min_row >= 2:
            for row in ws.iter_rows(min_row=merged.min_row, max_row=merged.max_row,
                                    min_col=merged.min_col, max_col=merged.max_col):
                for cell in row:
                    cell.border = BORDER
    ws.freeze_panes = "A4"

    for r, unit in enumerate(rows, start=4):
        set_cell(ws, r, 1, clean_text(unit.unit))
        for i, month in enumerate(report.months):
            cell = set_cell(ws, r, 2 + i, unit.months.get(month, 0))
            if month in unit.shortfalls:
                cell.fill = SHORT_FILL
                cell.font = Font(name=FONT_NAME, size=11, color=SHORT_FONT_COLOR)
            if month in unit.partial_months:
                cell.comment = Comment(f"{PARTIAL_MONTH_NOTE.strip('（）')}：见“栏目更新”表", "监测系统")
        status = status_lines(unit.status)
        set_cell(ws, r, ncols, status, wrap=True)
        ws.row_dimensions[r].height = max(1, status.count("\n") + 1) * 15 + 3
    # The header text spans the months: give each month column a third of it at least.
    month_min = -(-display_width("网站信息更新数（单位：条）") // nmonths) if nmonths else 6
    fit_widths(ws, 2, {2 + i: month_min for i in range(nmonths)})
    print_setup(ws, (2, 3))


def _accounts_sheet(wb: Workbook, report: QuarterReport, attachment: Attachment) -> None:
    ws = wb.create_sheet(f"附件{attachment.number}")
    headers = ACCOUNT_HEADERS
    header_rows(ws, attachment.title, headers)
    for r, (account, values) in enumerate(zip(report.accounts, account_rows(report)), start=3):
        # 序号 a number and 最近更新 a date in the sheet (the notice's table prints the same as text).
        last_post = account_field(account, "last_post")
        typed: list[object] = [r - 2, *values[1:4], as_date(last_post) or values[4], *values[5:]]
        for c, value in enumerate(typed, 1):
            cell = set_cell(ws, r, c, value, align="center" if c in (1, 3, 5) else "left")
            if isinstance(value, date):
                cell.number_format = DATE_FORMAT
    fit_widths(ws, 2)
    print_setup(ws, (2, 2))


def column_issue_row(issue: ColumnIssue, problem: str) -> list[object]:
    return [
        clean_text(issue.unit),
        clean_text(issue.column),
        CATEGORY_LABELS.get(issue.category, clean_text(issue.category)),
        problem,
        issue.last_post or "无",
        issue.days_since if issue.days_since is not None else "",
        issue.limit_days,
        clean_text(issue.url),
    ]


def _columns_sheet(wb: Workbook, report: QuarterReport) -> None:
    ws = wb.create_sheet("栏目更新")
    headers = ["序号", "单位", "栏目", "类别", "问题", "最近更新", "未更新天数", "更新期限（天）", "网址"]
    title = f"{report.quarter_label}{clean_text(report.site_name)}门户网站栏目更新情况"
    header_rows(ws, title, headers)
    issues = ([(i, "更新不及时") for i in report.stale_columns] + [(i, "空白栏目") for i in report.blank_columns]
              + [(i, f"未读全：{clean_text(i.note)}") for i in report.partial_columns]
              + [(i, f"无法读取：{clean_text(i.note)}") for i in report.unreadable_columns])
    for r, (issue, problem) in enumerate(issues, start=3):
        values = [r - 2, *column_issue_row(issue, problem)]
        for c, value in enumerate(values, 1):
            cell = set_cell(ws, r, c, value, align="left" if c in (2, 3, 9) else "center")
            if isinstance(value, date):
                cell.number_format = DATE_FORMAT
            if c == 5:
                cell.fill = SHORT_FILL
    fit_widths(ws, 2)
    print_setup(ws, (2, 2))


def _content_sheet(wb: Workbook, report: QuarterReport, attachment: Attachment) -> None:
    ws = wb.create_sheet(f"附件{attachment.number}")
    headers = CONTENT_HEADERS
    header_rows(ws, attachment.title, headers)
    issues = report.content_issues or []
    if not issues:
        set_cell(ws, 3, 1, NO_CONTENT_ISSUES)
        ws.merge_cells(start_row=3, start_column=1, end_row=3, end_column=len(headers))
    for r, issue in enumerate(issues, start=3):
        for c, value in enumerate([r - 2, *content_row(issue)], 1):
            # the page, the link and the words wrap inside fit_widths' widest column
            set_cell(ws, r, c, value, align="center" if c in (1, 3) else "left", wrap=c in (4, 5, 6, 7))
    fit_widths(ws, 2, {c: display_width(h) for c, h in enumerate(headers, 1)})
    # long URLs and contexts wrap in columns a landscape A4 page holds at a readable size
    for col, cap in CONTENT_WIDTHS.items():
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = min(ws.column_dimensions[letter].width or cap, cap)
    for r in range(3, 3 + len(issues)):  # a row as tall as its most wrapped cell (spreadsheets do not grow it)
        lines = max(-(-display_width(str(ws.cell(r, c).value or "")) // max(1, int(ws.column_dimensions[
            get_column_letter(c)].width or 10) - 2)) for c in CONTENT_WIDTHS)
        ws.row_dimensions[r].height = max(1, lines) * DEFAULT_ROW_PT + 3
    print_setup(ws, (2, 2))
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE  # seven columns of URLs and sentences


def write_xlsx(report: QuarterReport, path: Path) -> Path:
    """Write the attachments workbook to `path` and return it."""
    wb = Workbook()
    wb.remove(wb.active)
    for attachment in attachments(report):
        if attachment.kind == "accounts":
            _accounts_sheet(wb, report, attachment)
        elif attachment.kind == "content":
            _content_sheet(wb, report, attachment)
        elif attachment.kind in KIND_LABELS:  # the form (附件4) is a workbook of its own: writers.write_form
            _units_sheet(wb, report, attachment)
    _columns_sheet(wb, report)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
