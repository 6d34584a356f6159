"""Test helpers: settings files for a subset of fixture columns, the truth they should yield, waits."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from config.toml_text import toml_str

FAST_CRAWL = """
[crawl]
download_delay = 0.0
autothrottle = false
concurrent_requests = 16
concurrent_per_domain = 8
timeout = {timeout}
retries = {retries}
"""


@dataclass(frozen=True)
class DemoRun:
    """What `monitor demo` left (tests/conftest.py `demo_run`)."""

    out: Path  # settings.toml, monitor.db and the Q3 2020 report files
    stderr: str  # its progress lines
    stdout: str = ""  # its summary: the quarter's shortfalls, the files written, the report's reminders


def write_test_settings(path: Path, base_url: str, columns: Iterable, database_url: str, *,
                        units: Iterable | None = None, timeout: float = 5.0, retries: int = 0,
                        extra: str = "") -> Path:
    """settings.toml for `columns` (fixture ColumnSpecs) of the site at base_url."""
    columns = list(columns)
    kinds = {u.name: u.kind for u in units or []}
    lines = ["[monitor]", f"database_url = {toml_str(database_url)}", "",
             "[[sites]]", 'name = "测试站点"', f"url = {toml_str(base_url + '/')}", ""]
    for unit in dict.fromkeys(c.unit for c in columns):
        lines += ["[[units]]", f"name = {toml_str(unit)}", f"kind = {toml_str(kinds.get(unit, 'department'))}", ""]
    for c in columns:
        lines += ["[[columns]]", f"unit = {toml_str(c.unit)}", f"name = {toml_str(c.name)}",
                  f"url = {toml_str(base_url + c.path)}", f"category = {toml_str(c.category)}",
                  f"quota = {'true' if c.quota else 'false'}", ""]
    path.write_text("\n".join(lines) + FAST_CRAWL.format(timeout=timeout, retries=retries) + extra, encoding="utf-8")
    return path


def truth(posts: Iterable, base_url: str, column_paths: set[str]) -> dict[str, tuple[str, str]]:
    """url -> (title, published minute 'YYYY-MM-DD HH:MM' or day) for posts listed in the given columns."""
    return {base_url + p.path: (p.title, p.published) for p in posts if p.column_path in column_paths}


def wait_until(predicate: Callable[[], object], timeout: float, what: str = "a condition", *,
               give_up: Callable[[], bool] | None = None, interval: float = 0.05) -> None:
    """Poll `predicate` until it is true; AssertionError after `timeout` s, or at once when `give_up()` is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        if give_up is not None and give_up():
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(interval)
