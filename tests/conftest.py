"""Shared fixtures: real databases (SQLite file, local PostgreSQL) and the fixture portal on loopback."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text

POSTGRES_URL = os.environ.get("MONITOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def reset_postgres(url: str) -> None:
    from storage.db import get_engine

    engine = get_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # noqa: ANN001
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
