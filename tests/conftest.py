"""Shared fixtures: real databases (SQLite file, local PostgreSQL), the fixture portal on loopback, the demo.

`python -m pytest -m "not slow"` is the quick loop: the demo, end-to-end crawls, Chromium and daemon runs are
marked `slow` (every test that uses the demo is marked here).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.helpers import DemoRun

POSTGRES_URL = os.environ.get("MONITOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def reset_postgres(url: str) -> None:
    from storage.db import get_engine

    engine = get_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on each backend. PostgreSQL is required unless MONITOR_SKIP_POSTGRES=1."""
    from storage.db import migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'monitor.db'}"
    else:
        if os.environ.get("MONITOR_SKIP_POSTGRES") == "1":
            pytest.skip("MONITOR_SKIP_POSTGRES=1")
        url = POSTGRES_URL
        reset_postgres(url)
    migrate(url)
    yield url


@pytest.fixture(scope="session")
def portal() -> Iterator:
    """The fixture portal (仓山区, Q3 2020) served on a free loopback port for the whole test session."""
    from fixtures.server import FixtureServer

    with FixtureServer(site="portal", timeout_delay=30.0) as server:
        yield server


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`monitor demo` run once for the session (a subprocess: it crawls, and Scrapy's reactor runs once a process).

    Shared by every test that needs the demo's database: read it only; a test that changes the database or the
    settings works on a copy of the directory (see tests/monitors/test_alerts.py `Site`).
    """
    out = tmp_path_factory.mktemp("demo")
    result = subprocess.run([sys.executable, "-m", "monitors.cli", "demo", "--out", str(out), "--port", "0"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return DemoRun(out, result.stderr, result.stdout)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the demo (directly or through another fixture) is slow."""
    for item in items:
        if "demo_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
