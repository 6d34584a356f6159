"""Register imports at scale: `monitor accounts import` and `monitor columns import` on 5,000 to 50,000 rows.

    python bench/register_import.py [--sizes 5000 10000 50000] [--units-per-row 0.5] [--skip-over SECONDS]

One process. For each size N it writes (openpyxl write-only, not timed) a 福州市政务新媒体详细汇总表 of N accounts
(units 单位0..单位{N*units-per-row}, each on 新浪微博 and 微信公众号, every URL distinct, 2 % of rows repeating
an earlier URL: errors) and a 栏目维护分工表 of N columns over the same units, then times, in process:

  baseline  openpyxl alone: `load_workbook(read_only=True)` and every row's values (the floor of any import);
  accounts  `Monitor.import_accounts` (read, check, duplicates, settings comparison, TOML) as the CLI calls it;
  columns   `Monitor.import_columns` against settings that hold the N*units-per-row units;
  unknown   the same 分工表 with every row's unit missing from settings (未登记单位0..N-1): each row an error with
            a "是否为……？" suggestion, which compares the name with every known unit.

Lines: `import:` per size and kind (seconds, rows/s, ratio to the baseline of the same file, the process's peak
RSS so far: it only grows, so the largest size's is the one that counts), then
`scaling:` t(N)/t(smallest N) per kind: linear work gives about N/smallest (2, 10), quadratic its square.
`--skip-over S` skips the larger sizes of a kind once one took longer than S seconds (the old quadratic code).
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpyxl import Workbook, load_workbook

from config import load_settings
from config.toml_text import toml_str
from monitors.app import Monitor
from monitors.register import HEADERS

COLUMN_HEADER = ["序号", "栏目名称", "地址", "维护单位", "栏目类别", "是否考核", "备注"]


def write_register(path: Path, n: int, units: int) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("政务新媒体")
    ws.append(["福州市政务新媒体详细汇总表"])
    ws.append(["单位名称（盖章）：", None, None, "填表日期：2020年10月12日"])
    ws.append(HEADERS)
    for i in range(n):
        unit = f"单位{(i // 2) % units}"
        weibo = i % 2 == 0
        uid = 1_000_000 + (i - 8 if i % 50 == 49 else i)  # every 50th row repeats an earlier address
        url = f"https://weibo.com/u/{uid}" if weibo else f"https://mp.weixin.qq.com/s/acct{uid}"
        ws.append([i + 1, unit, "新浪微博" if weibo else "微信公众号", f"{unit}发布{i}", unit, url,
                   "是" if i % 3 else "否", f"联系人{i} 138{i:08d}", f"负责人{i} 139{i:08d}", "", "", ""])
    ws.append(["填表人：", None, "联系电话："])
    wb.save(path)


def write_columns(path: Path, n: int, units: int, unknown: bool = False) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("分工表")
    ws.append(["栏目维护分工表"])
    ws.append(COLUMN_HEADER)
    cats = ["动态类", "通知公告类", "人事规划类", "信息公开类", "其他类"]
    for i in range(n):
        path_i = i - 7 if i % 50 == 49 else i
        unit = f"未登记单位{i}" if unknown else f"单位{i % units}"
        ws.append([i + 1, f"栏目{i}", f"http://www.example.gov.cn/c{path_i}/", unit, cats[i % 5],
                   "是" if i % 2 else "", ""])
    wb.save(path)


def write_settings(path: Path, units: int, db: Path) -> None:
    lines = ["[monitor]", f"database_url = {toml_str('sqlite:///' + db.as_posix())}", "",
             "[[sites]]", 'name = "门户"', 'url = "http://www.example.gov.cn/"', ""]
    for u in range(units):
        lines += ["[[units]]", f"name = {toml_str(f'单位{u}')}", 'kind = "department"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def baseline(path: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    wb = load_workbook(path, read_only=True, data_only=True)
    rows = sum(1 for ws in wb.worksheets for _ in ws.iter_rows(values_only=True))
    wb.close()
    return time.perf_counter() - t0, rows


def timed(call: Callable[..., Any], *args: object) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = call(*args)
    return time.perf_counter() - t0, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 50000])
    ap.add_argument("--units-per-row", type=float, default=0.5, help="units = rows x this (default: 2 accounts a unit)")
    ap.add_argument("--skip-over", type=float, default=300.0, help="skip larger sizes of a kind after one this slow")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    kinds = ("accounts", "columns", "unknown")
    times: dict[str, dict[int, float]] = {k: {} for kind in kinds for k in (f"baseline {kind}", kind)}
    slow: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for n in a.sizes:
            units = max(1, int(n * a.units_per_row))
            reg, cols, conf = work / f"register-{n}.xlsx", work / f"columns-{n}.xlsx", work / f"settings-{n}.toml"
            unknown = work / f"unknown-{n}.xlsx"
            write_register(reg, n, units)
            write_columns(cols, n, units)
            write_columns(unknown, n, units, unknown=True)
            write_settings(conf, units, work / "monitor.db")
            app = Monitor(load_settings(conf))
            for kind, file in (("accounts", reg), ("columns", cols), ("unknown", unknown)):
                base, rows = baseline(file)
                times[f"baseline {kind}"][n] = base
                size = f"{file.stat().st_size / 1e6:.1f} MB"
                if kind in slow:
                    print(f"import: {kind} {n} rows skipped (a smaller size took over {a.skip_over:g} s)")
                    continue
                seconds, found = timed(app.import_accounts if kind == "accounts" else app.import_columns, file)
                times[kind][n] = seconds
                errors = sum(p.level == "error" for p in found.problems)
                print(f"import: {kind} {n} rows ({units} units, {size}, {rows} sheet rows): {seconds:.2f} s = "
                      f"{n / seconds:,.0f} rows/s; baseline openpyxl read {base:.2f} s; ratio {seconds / base:.1f}; "
                      f"{len(found.problems)} problems, {errors} errors; process peak RSS so far "
                      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
                if seconds > a.skip_over:
                    slow.add(kind)
    first = a.sizes[0]
    for kind in times:
        measured = times[kind]
        if first not in measured:
            continue
        parts = [f"{n}/{first} rows {measured[n] / measured[first]:.1f} (linear {n / first:g})"
                 for n in a.sizes[1:] if n in measured]
        print(f"scaling: {kind} " + ("; ".join(parts) or "one size only"))


if __name__ == "__main__":
    main()
