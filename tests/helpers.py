"""Test helpers: settings files for a subset of fixture columns, the truth they should yield, waits."""
from __future__ import annotations

import socket
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


def free_port() -> int:
    """A loopback port nothing listens on now (bound, then released): for a server to start on, or for a
    connection to be refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def new_postgres_database(server_url: str, name: str) -> str:
    """A new, empty database `name` on the PostgreSQL server of `server_url` (dropped first if it exists): its
    URL. For tests and benches that need a database of their own (drop it with `drop_postgres_database`)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from storage.db import normalise_url

    server = make_url(server_url)
    admin = create_engine(normalise_url(server.set(database="postgres").render_as_string(hide_password=False)),
                          isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop the database of `url` (closing this process's pooled connections to it first)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from storage.db import get_engine, normalise_url

    get_engine(url).dispose()
    parsed = make_url(url)
    admin = create_engine(normalise_url(parsed.set(database="postgres").render_as_string(hide_password=False)),
                          isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()
