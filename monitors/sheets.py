"""Reading the registers units send in as .xlsx: shared by the accounts register (monitors.register) and the
栏目维护分工表 (monitors.columns_register).

Forms are read by header titles, not positions: a title row and stamps above the header, merged cells, blank
rows and 填表人/注 lines below are normal. Problems are Chinese sentences starting with the row's label.
"""
from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.constants import SHEET_MAIN_NS

from monitors.report.xlsx_writer import clean_text
from monitors.unit_names import norm

_URL = re.compile(r"https?://[^\s，。；;、）)】\]>\"'“”]+", re.I)
_BARE_URL = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?(?:/\S*)?$", re.I)
HEADER_SCAN_ROWS = 40  # the header is looked for in a sheet's first rows
# Limits of a register (a hostile or broken file fails with a Chinese reason instead of taking the machine): a
# province's register is a few thousand rows and a few MB unpacked. Checked before anything is inflated
# (check_archive) or while the rows stream in (sheet_matrix).
MAX_ROWS = 100_000  # rows that are not blank, in one sheet
MAX_COLUMNS = 64  # columns read of each row (the forms have 7 to 14)
MAX_UNPACKED_MB = 200  # the declared size of everything in the .xlsx, unpacked
MAX_SHARED_STRINGS_MB = 64  # the shared strings, all held in memory while the rows are read
MAX_RATIO = 200  # unpacked : packed of one member over RATIO_FLOOR bytes (real sheets: 5 to 30)
RATIO_FLOOR = 10 * 1024 * 1024
MAX_MEMBERS = 10_000


class SheetError(Exception):
    """A file that cannot be read as the expected form at all; the message is for the user (Chinese), one line."""


@dataclass(frozen=True)
class Problem:
    row: int  # the number the message names the row by (the sheet row; 0 for a summary)
    level: str  # "error" | "warning"
    message: str  # Chinese, starting with 第N行：
    line: int = 0  # the sheet row (0: a summary of the whole sheet)


def cell_text(value: object) -> str:
    """A cell as one line of text: numbers without '.0', dates as YYYY-MM-DD, whitespace folded."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, date):
        value = value.isoformat()[:10]
    return clean_text(value)


def http_url(text: str) -> str:
    """The first http(s) URL in a cell ('www.x.gov.cn/…' gets https://), or ''."""
    text = text.strip()
    found = _URL.search(text)
    if found:
        url = found.group(0)
    elif _BARE_URL.match(text):
        url = "https://" + text
    else:
        return ""
    try:
        parts = urlsplit(url)  # raises on a bracket left open ("http://[::1" when the cell read "http://[::1]/")
        _ = parts.port  # raises on a port out of range or not a number
    except ValueError:
        return ""
    return url if parts.hostname else ""


def check_archive(path: Path, what: str) -> None:
    """SheetError unless the .xlsx (a zip) is small enough to open, judged from the sizes its directory declares
    before anything is inflated (zipfile never inflates a member past its declared size)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SheetError(f"无法读取{what} {path}：不是有效的 .xlsx 文件（{type(exc).__name__}）") from None
    refuse = f"无法读取{what} {path}：{{}}，不予读取（可能是压缩炸弹）"
    if len(members) > MAX_MEMBERS:
        raise SheetError(refuse.format(f"压缩包内有 {len(members)} 个文件，超过 {MAX_MEMBERS} 个"))
    total = sum(m.file_size for m in members)
    if total > MAX_UNPACKED_MB * 1024 * 1024:
        raise SheetError(refuse.format(f"解压后共 {total / 1024 / 1024:,.0f} MB，超过 {MAX_UNPACKED_MB} MB"))
    for m in members:
        if m.filename.lower().endswith("sharedstrings.xml") and m.file_size > MAX_SHARED_STRINGS_MB * 1024 * 1024:
            raise SheetError(refuse.format(f"其中 {m.filename} 解压后 {m.file_size / 1024 / 1024:,.0f} MB，"
                                           f"超过 {MAX_SHARED_STRINGS_MB} MB"))
        if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise SheetError(refuse.format(f"其中 {m.filename} 的压缩比为 {m.file_size // max(m.compress_size, 1)}:1，"
                                           f"超过 {MAX_RATIO}:1"))


def open_workbook(path: str | Path, what: str) -> Workbook:
    """The workbook at `path`, read-only (rows stream from the file; close it when done); SheetError naming
    `what` (登记表, 分工表) when it is missing, not an .xlsx, or over the limits (`check_archive`)."""
    path = Path(path)
    if not path.is_file():
        raise SheetError(f"找不到{what} {path}")
    check_archive(path, what)
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SheetError(f"无法读取{what} {path}：不是有效的 .xlsx 文件（{type(exc).__name__}）") from None
    except Exception as exc:  # openpyxl's InvalidFileException and the like  # noqa: BLE001
        raise SheetError(f"无法读取{what} {path}：{exc}") from None


def _merged_ranges(ws: ReadOnlyWorksheet) -> list[CellRange]:
    """The sheet's merged ranges, which a read-only sheet does not parse: its <mergeCell ref="A1:L1"/>
    elements, streamed from the sheet's part."""
    ranges: list[CellRange] = []
    merge, row = f"{{{SHEET_MAIN_NS}}}mergeCell", f"{{{SHEET_MAIN_NS}}}row"
    with ws.parent._archive.open(ws._worksheet_path) as part:
        for _, element in etree.iterparse(part, events=("end",), tag=(merge, row), resolve_entities=False,
                                          no_network=True):
            if element.tag == merge:
                try:
                    ranges.append(CellRange(element.get("ref")))
                except (ValueError, TypeError):
                    pass  # a ref that is no range: nothing to fill
            element.clear()  # rows too: the parsed tree never holds more than one
            while element.getprevious() is not None:
                del element.getparent()[0]
    return ranges


def sheet_matrix(ws: ReadOnlyWorksheet | Worksheet) -> list[list[object]]:
    """The sheet's values (its first MAX_COLUMNS columns) with every merged range filled from its top-left
    cell; SheetError when more than MAX_ROWS rows are not blank."""
    blank: list[object] = []  # shared by the blank rows (never written: a merged range gives a row its own list)
    matrix: list[list[object]] = []
    filled = 0
    if isinstance(ws, ReadOnlyWorksheet):
        ws.reset_dimensions()  # the declared dimension may be wrong ("A1"): read the rows that are there
    for values in ws.iter_rows(max_col=MAX_COLUMNS, values_only=True):
        if all(v is None or v == "" for v in values):
            matrix.append(blank)
            continue
        filled += 1
        if filled > MAX_ROWS:
            raise SheetError(f"工作表“{ws.title}”超过 {MAX_ROWS} 行，不予读取：请拆分后分批导入")
        row = list(values)
        while row[-1] is None:  # read-only rows come padded to MAX_COLUMNS
            row.pop()
        matrix.append(row)
    while matrix and matrix[-1] is blank:
        matrix.pop()
    merged = _merged_ranges(ws) if isinstance(ws, ReadOnlyWorksheet) else list(ws.merged_cells.ranges)
    for rng in merged:
        if rng.min_row > len(matrix) or rng.min_col > MAX_COLUMNS:
            continue
        top = matrix[rng.min_row - 1]
        value = top[rng.min_col - 1] if rng.min_col <= len(top) else None
        for r in range(rng.min_row, min(rng.max_row, len(matrix)) + 1):
            row = matrix[r - 1]
            if row is blank:
                row = matrix[r - 1] = []
            for c in range(rng.min_col, min(rng.max_col, MAX_COLUMNS) + 1):
                while len(row) < c:
                    row.append(None)
                row[c - 1] = value
    return matrix


def find_header(workbook: Workbook, header_fields: Callable[[list[str]], dict[int, str] | None],
                missing: str) -> tuple[list[list[object]], int, dict[int, str]]:
    """(matrix, 0-based header row, column index -> field) of the first sheet whose first rows hold a row
    `header_fields` accepts; SheetError(`missing`) when none does. The workbook is closed when done."""
    try:
        for ws in workbook.worksheets:
            matrix = sheet_matrix(ws)
            for r, row in enumerate(matrix[:HEADER_SCAN_ROWS]):
                fields = header_fields([cell_text(v) for v in row])
                if fields:
                    return matrix, r, fields
        raise SheetError(missing)
    finally:
        workbook.close()


def header_fields(cells: list[str], aliases: dict[str, str], prefixes: Iterable[tuple[str, str]] = (),
                  required: Iterable[str] = ()) -> dict[int, str] | None:
    """Column index -> field for a header row (titles compared by `norm`, exact alias first, then a prefix);
    None when a `required` field is missing (the row is not the header)."""
    fields: dict[int, str] = {}
    for i, cell in enumerate(cells):
        key = norm(cell)
        if not key:
            continue
        field = aliases.get(key)
        if field is None:
            field = next((f for prefix, f in prefixes if key.startswith(prefix)), None)
        if field is not None:
            fields[i] = field
    return fields if set(required) <= set(fields.values()) else None
