"""Reading the registers units send in as .xlsx: shared by the accounts register (monitors.register) and the
栏目维护分工表 (monitors.columns_register).

Forms are read by header titles, not positions: a title row and stamps above the header, merged cells, blank
rows and 填表人/注 lines below are normal. Problems are Chinese sentences starting with the row's label.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from monitors.report.xlsx_writer import clean_text

_SPACES = re.compile(r"\s+")
_URL = re.compile(r"https?://[^\s，。；;、）)】\]>\"'“”]+", re.I)
_BARE_URL = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?(?:/\S*)?$", re.I)
HEADER_SCAN_ROWS = 40  # the header is looked for in a sheet's first rows


class SheetError(Exception):
    """A file that cannot be read as the expected form at all; the message is for the user (Chinese), one line."""


@dataclass(frozen=True)
class Problem:
    row: int  # the number the message names the row by (序号, or the sheet row)
    level: str  # "error" | "warning"
    message: str  # Chinese, starting with 第N行：
    line: int = 0  # the sheet row


def norm(text: str) -> str:
    """A header or name compared loosely: NFKC, no whitespace, lower case, no trailing colon."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower().rstrip(":：")


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


def open_workbook(path: str | Path, what: str) -> Workbook:
    """The workbook at `path`; SheetError naming `what` (登记表, 分工表) when it is missing or not an .xlsx."""
    path = Path(path)
    if not path.is_file():
        raise SheetError(f"找不到{what} {path}")
    try:
        return load_workbook(path, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SheetError(f"无法读取{what} {path}：不是有效的 .xlsx 文件（{type(exc).__name__}）") from None
    except Exception as exc:  # openpyxl's InvalidFileException and the like  # noqa: BLE001
        raise SheetError(f"无法读取{what} {path}：{exc}") from None


def sheet_matrix(ws: Worksheet) -> list[list[object]]:
    """The sheet's values with every merged range filled from its top-left cell."""
    matrix = [list(row) for row in ws.iter_rows(values_only=True)]
    for merged in ws.merged_cells.ranges:
        value = ws.cell(merged.min_row, merged.min_col).value
        for r in range(merged.min_row, min(merged.max_row, len(matrix)) + 1):
            row = matrix[r - 1]
            for c in range(merged.min_col, merged.max_col + 1):
                while len(row) < c:
                    row.append(None)
                row[c - 1] = value
    return matrix


def find_header(workbook: Workbook, header_fields: Callable[[list[str]], dict[int, str] | None],
                missing: str) -> tuple[list[list[object]], int, dict[int, str]]:
    """(matrix, 0-based header row, column index -> field) of the first sheet whose first rows hold a row
    `header_fields` accepts; SheetError(`missing`) when none does."""
    for ws in workbook.worksheets:
        matrix = sheet_matrix(ws)
        for r, row in enumerate(matrix[:HEADER_SCAN_ROWS]):
            fields = header_fields([cell_text(v) for v in row])
            if fields:
                return matrix, r, fields
    raise SheetError(missing)


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


def closest_name(name: str, known: Iterable[str], cutoff: float = 0.5) -> str | None:
    """The known name most like `name` (difflib ratio >= cutoff), for "是否为……？" suggestions."""
    known = list(dict.fromkeys(known))
    found = difflib.get_close_matches(name, known, n=1, cutoff=cutoff)
    if found:
        return found[0]
    loose = {norm(k): k for k in known}
    found = difflib.get_close_matches(norm(name), list(loose), n=1, cutoff=cutoff)
    return loose[found[0]] if found else None
