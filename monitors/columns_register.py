"""The 栏目维护分工表: which unit maintains which portal column, as units send it in (.xlsx).

`monitor columns import FILE.xlsx` reads it (header row with 栏目/栏目名称, 地址/网址/URL, 维护单位/责任单位,
类别/栏目类别; optional 序号, 是否考核, 备注), checks every row and turns the good ones into `[[columns]]` blocks
for `settings.toml`. Reading and messages follow the accounts register (monitors.register, monitors.sheets),
except that rows are named by their sheet row, the number Excel shows at the left.

Errors (the import writes nothing): a unit settings do not have (with the closest known name), an address that is
empty or not http(s), an address twice in the file or already configured for another unit or name, a category
missing or unknown. Warnings: a row already in settings as it stands (skipped), a unit matched loosely.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config.model import CATEGORIES, CATEGORY_LABELS, ColumnSettings, Settings
from config.toml_text import toml_value
from monitors.discover import classify_category, default_quota, url_key
from monitors.sheets import Problem, cell_text, find_header, header_fields, http_url, norm, open_workbook
from monitors.unit_names import UnitNames

TITLE = "栏目维护分工表"
_HEADER_ALIASES = {
    "序号": "no", "编号": "no",
    "栏目": "name", "栏目名称": "name", "栏目名": "name",
    "地址": "url", "网址": "url", "url": "url", "栏目地址": "url", "栏目网址": "url", "链接": "url", "链接地址": "url",
    "栏目url": "url",
    "维护单位": "unit", "责任单位": "unit", "单位": "unit", "单位名称": "unit", "所属单位": "unit", "牵头单位": "unit",
    "类别": "category", "栏目类别": "category", "栏目类型": "category", "类型": "category", "category": "category",
    "是否考核": "quota", "考核": "quota", "计入考核": "quota", "是否计入考核": "quota", "纳入考核": "quota",
    "quota": "quota",
    "备注": "note",
}
_HEADER_PREFIXES = (("维护单位", "unit"), ("责任单位", "unit"), ("栏目地址", "url"), ("栏目类别", "category"),
                    ("是否", "quota"))
# Category labels (after norm, a trailing 类 dropped) -> ours; the English names are accepted as they are.
CATEGORY_NAMES = {
    "动态": "dynamic", "工作动态": "dynamic", "要闻": "dynamic", "新闻": "dynamic", "要闻动态": "dynamic",
    "动态要闻": "dynamic",
    "通知公告": "notice", "通知": "notice", "公告": "notice", "政策文件": "notice", "通知公告政策文件": "notice",
    "通知公告、政策文件": "notice",
    "人事": "plan", "规划计划": "plan", "人事规划": "plan", "人事规划计划": "plan", "人事、规划计划": "plan",
    "规划": "plan", "计划": "plan",
    "信息公开": "disclosure", "政府信息公开": "disclosure", "信息公开目录": "disclosure", "公开目录": "disclosure",
    "其他": "other", "其它": "other",
    **{c: c for c in CATEGORIES},
}
_YES = ("是", "y", "yes", "true", "1", "√", "✓", "计入", "考核")
_NO = ("否", "n", "no", "false", "0", "×", "不")


@dataclass(frozen=True)
class ColumnRow:
    line: int  # sheet row, as Excel shows it
    unit: str  # the settings unit
    unit_written: str  # as the sheet wrote it
    name: str
    url: str
    category: str
    quota: bool

    def to_column(self) -> ColumnSettings:
        return ColumnSettings(unit=self.unit, name=self.name, url=self.url, category=self.category, quota=self.quota)


def category_of(text: str) -> str | None:
    """Ours for a sheet's category (动态类, 通知公告类, notice, …), or None."""
    key = norm(text)
    if key in CATEGORY_NAMES:
        return CATEGORY_NAMES[key]
    key = key.removesuffix("类").removesuffix("栏目")
    return CATEGORY_NAMES.get(key)


def _quota(text: str, category: str) -> bool | None:
    key = norm(text)
    if not key:
        return default_quota(category)
    if key.startswith(_NO):
        return False
    if key.startswith(_YES):
        return True
    return None


def _header_fields(cells: list[str]) -> dict[int, str] | None:
    return header_fields(cells, _HEADER_ALIASES, _HEADER_PREFIXES, ("name", "url", "unit"))


def read_columns(path: str | Path, settings: Settings) -> tuple[list[ColumnRow], list[Problem]]:
    """The sheet's new columns, checked against itself and settings, and the problems (errors first, by row).

    Raises monitors.sheets.SheetError when the file cannot be read as a 分工表 at all.
    """
    matrix, header, fields = find_header(
        open_workbook(path, TITLE), _header_fields,
        f"找不到表头：{TITLE}应有“栏目名称”“地址”“维护单位”“栏目类别”等列")
    known = UnitNames.of(settings.units)
    configured = {url_key(c.url): c for c in settings.columns}
    rows: list[ColumnRow] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}  # url key -> sheet row
    for r in range(header + 1, len(matrix)):
        line = r + 1
        cells = [cell_text(v) for v in matrix[r]]
        first = next((c for c in cells if c), "")
        if first.startswith(("填表人", "注：", "注:")) or first == "注":
            break
        if _header_fields(cells):
            continue  # the header repeated on a printed page
        values = {f: cells[i] for i, f in fields.items() if i < len(cells) and cells[i]}
        if not any(v for f, v in values.items() if f != "no"):
            continue
        row, row_problems = _check_row(line, values, known)
        problems += row_problems
        if row is None:
            continue
        key = url_key(row.url)
        if key in seen:
            problems.append(Problem(line, "error", f"第{line}行：与第{seen[key]}行的地址相同（{row.url}），重复登记",
                                    line))
            continue
        seen[key] = line
        if (old := configured.get(key)) is not None:
            if (old.unit, old.name) == (row.unit, row.name):
                problems.append(Problem(line, "warning", f"第{line}行：栏目“{row.name}”已在设置中，跳过", line))
            else:
                problems.append(Problem(line, "error", f"第{line}行：地址已在设置中，属于“{old.unit}”的栏目“{old.name}”"
                                                      f"（{row.url}），与本行的“{row.unit}”“{row.name}”不符", line))
            continue
        if not any(p.level == "error" for p in row_problems):
            rows.append(row)
    problems.sort(key=lambda p: (p.level != "error", p.line))
    return rows, problems


def _check_row(line: int, values: dict[str, str], known: UnitNames) -> tuple[ColumnRow | None, list[Problem]]:
    problems: list[Problem] = []

    def problem(level: str, message: str) -> None:
        problems.append(Problem(line, level, f"第{line}行：{message}", line))

    name, unit_written = values.get("name", ""), values.get("unit", "")
    if not name:
        problem("error", "栏目名称为空")
    unit = ""
    if not unit_written:
        problem("error", "维护单位为空")
    else:
        unit = known.resolve(unit_written)
        if unit not in known:
            problem("error", known.unknown(unit_written, "请先在设置中添加该单位", "维护单位"))
        elif unit != unit_written:
            problem("warning", f"维护单位“{unit_written}”按设置中的“{unit}”记入")
    address = values.get("url", "")
    url = http_url(address)
    if not address:
        problem("error", "地址为空")
    elif not url:
        problem("error", f"地址“{address}”不是有效的网址")
    written = values.get("category", "")
    category = category_of(written) if written else None
    if not written or category is None:
        guess, _ = classify_category(name)
        hint = f"（按栏目名称应为“{CATEGORY_LABELS[guess]}”？）" if name else ""
        labels = "、".join(CATEGORY_LABELS.values())
        problem("error", f"栏目类别为空{hint}" if not written
                else f"栏目类别“{written}”无法识别，应为{labels}之一{hint}")
    quota = _quota(values.get("quota", ""), category or "other")
    if quota is None:
        problem("warning", f"“是否考核”应填“是”或“否”，而不是“{values['quota']}”，按类别默认处理")
        quota = default_quota(category or "other")
    if category is None or any(p.level == "error" for p in problems):  # no category was reported as an error
        return (None, problems) if not url else (ColumnRow(line, unit, unit_written, name, url, category or "other",
                                                           quota), problems)
    return ColumnRow(line, unit, unit_written, name, url, category, quota), problems


def rows_to_toml(rows: list[ColumnRow], source: str = "") -> str:
    """One commented `[[columns]]` block a row."""
    blocks = [f"# {TITLE}导入{f'（{source}）' if source else ''}：栏目 {len(rows)} 个"]
    for row in rows:
        note = "" if row.unit == row.unit_written else f"，表中单位“{row.unit_written}”按“{row.unit}”记入"
        column = row.to_column()
        lines = [f"# 第{row.line}行{note}", "[[columns]]"]
        lines += [f"{key} = {toml_value(getattr(column, key))}" for key in ("unit", "name", "url", "category", "quota")]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


__all__ = ["CATEGORY_LABELS", "CATEGORY_NAMES", "ColumnRow", "category_of", "read_columns", "rows_to_toml"]
