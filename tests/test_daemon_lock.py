"""The daemon's lock across a PostgreSQL blip: a real `monitor daemon` whose database connection goes through a
TcpProxy the test cuts and restores (PostgreSQL then ends the daemon's session and drops its advisory lock).

The daemon probes `every 1s` and checks its lock every 0.3 s (MONITOR_LOCK_CHECK_SECONDS), so a run without
the lock would show within the test's few seconds.
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

import scheduler
from fixtures.portal import portal_columns
from fixtures.server import FixtureServer
from storage.db import get_engine, normalise_url
from tests.conftest import POSTGRES_URL
from tests.tcp_proxy import TcpProxy
from tests.test_scheduler import Daemon, make_settings, monitor, runs, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.environ.get("MONITOR_SKIP_POSTGRES") == "1",
                                                   reason="MONITOR_SKIP_POSTGRES=1")]
# A database of their own (advisory locks are per database): tests elsewhere reset `test` at any time.
URL = make_url(POSTGRES_URL).set(database="monitor_daemon_lock").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def server() -> Iterator[FixtureServer]:
    """The portal; its /faults/timeout/ page answers nothing for 1.5 s (a probe in flight across the cut)."""
    with FixtureServer(site="portal", timeout_delay=1.5) as srv:
        yield srv


@pytest.fixture(autouse=True)
def fast_daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh database; the daemon probes every second and checks its lock every 0.3 s."""
    monkeypatch.setenv("MONITOR_MIN_SCHEDULE_SECONDS", "1")
    monkeypatch.setenv(scheduler.ENV_LOCK_CHECK, "0.3")
    name = make_url(URL).database
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield
    get_engine(URL).dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def settings(tmp_path: Path, name: str, server: FixtureServer, database_url: str, *, slow: bool = False) -> Path:
    """Probes every second; `slow`: of the home page and of a page that takes 1.5 s."""
    folder = tmp_path / name
    folder.mkdir()
    path = make_settings(folder, server, portal_columns()[:1], probes="every 1s", db=database_url)
    if slow:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("[probes]\n", f'[probes]\npages = ["{server.base_url}/faults/timeout/"]\n'
                                                  "retries = 0\n"), encoding="utf-8")
    return path


def now() -> datetime:
    return datetime.now(UTC)


def lock_holder() -> int | None:
    """The PostgreSQL backend pid holding the daemon lock, or None."""
    with get_engine(URL).connect() as conn:
        return conn.execute(text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = :a "
                                 "AND objid = :b AND objsubid = 2 AND granted"),
                            {"a": scheduler.Lock.NAMESPACE, "b": scheduler.Lock(URL, "daemon").key}).scalar()


def session_start(pid: int) -> datetime:
    with get_engine(URL).connect() as conn:
        return conn.execute(text("SELECT backend_start FROM pg_stat_activity WHERE pid = :p"), {"p": pid}).scalar_one()


def run_ids(log: str) -> set[int]:
    return {int(m) for m in re.findall(r"job=probes event=start run=(\d+)", log)}


def test_a_blip_pauses_jobs_until_the_daemon_holds_its_lock_again(tmp_path: Path, server: FixtureServer) -> None:
    with TcpProxy(5432) as proxy:
        config = settings(tmp_path, "one", server, proxy.url(URL), slow=True)
        with Daemon(config, tmp_path / "daemon.log") as daemon:
            wait_for(lambda: len(runs(URL, "probes", "ok")) >= 1 and bool(runs(URL, "probes", "running")), 20,
                     "a probe run, then the next one under way", daemon)
            time.sleep(0.3)  # its slow page is in flight: its result will find the database gone
            in_flight = runs(URL, "probes", "running")[-1].id
            assert lock_holder() is not None
            cut = now()
            proxy.cut()
            wait_for(lambda: lock_holder() is None, 5, "PostgreSQL to drop the lock of the cut session")
            time.sleep(2)  # a blip of a couple of seconds: two probe runs fall due meanwhile
            assert not [r for r in runs(URL, "probes") if r.started_at > cut]  # nothing ran while cut off
            restored = now()
            proxy.restore()
            wait_for(lambda: lock_holder() is not None, 10, "the daemon to hold its lock again", daemon)
            wait_for(lambda: len([r for r in runs(URL, "probes", "ok") if r.started_at > restored]) >= 2, 10,
                     "two probe runs after the blip", daemon)
            holder = lock_holder()
            assert holder is not None
            regained = session_start(holder)  # the lock's new session: no run after the cut started before it
            late = [r for r in runs(URL, "probes") if r.started_at > cut]
            assert late and all(r.started_at > regained for r in late), (regained, [r.started_at for r in late])
            # a second daemon after the blip finds the lock taken again
            second = monitor(settings(tmp_path, "two", server, URL), "daemon", timeout=30)
            assert second.returncode == scheduler.EXIT_LOCKED and "已有守护进程在运行" in second.stderr, second.stderr
            assert daemon.stop() == 0
    log = daemon.text()
    assert log.index("event=lock_lost") < log.index("event=database_unavailable") < log.index("event=lock_regained")
    assert log.count("event=database_unavailable") == 1, log  # one line an outage, not one a job or a check
    assert "Traceback" not in log, log
    assert "job=probes event=start" in log.split("event=lock_regained", 1)[1]
    # the run cut short: one line, and its row written by the next run
    assert f"job=probes event=failed reason=database_unavailable run={in_flight} " in log, log
    [row] = [r for r in runs(URL, "probes") if r.id == in_flight]
    assert row.status == "failed" and row.message.startswith("数据库不可用：OperationalError"), row.message


def test_a_second_daemon_started_during_the_blip_never_runs_beside_the_first(tmp_path: Path,
                                                                           server: FixtureServer) -> None:
    with TcpProxy(5432) as proxy:
        first_config = settings(tmp_path, "one", server, proxy.url(URL))
        second_config = settings(tmp_path, "two", server, URL)  # straight to PostgreSQL: the blip is not its own
        with Daemon(first_config, tmp_path / "first.log") as first:
            wait_for(lambda: len(runs(URL, "probes", "ok")) >= 2, 20, "two probe runs", first)
            cut = now()
            proxy.cut()
            with Daemon(second_config, tmp_path / "second.log") as second:
                wait_for(lambda: "event=started" in second.text(), 15, "the second daemon to start", second)
                proxy.restore()
                restored = now()
                try:
                    code = first.proc.wait(10)
                except subprocess.TimeoutExpired:
                    raise AssertionError("the first daemon went on beside the second:\n" + first.text()[-3000:]) from None
                assert code == scheduler.EXIT_LOCKED, first.text()
                wait_for(lambda: len([r for r in runs(URL, "probes", "ok") if r.started_at > restored]) >= 2, 10,
                         "the second daemon's probe runs after the blip", second)
                assert second.stop() == 0
    first_log, second_log = first.text(), second.text()
    assert "event=lock_lost" in first_log and "另一守护进程" in first_log, first_log
    rows = {r.id: r for r in runs(URL, "probes")}
    mine, theirs = run_ids(first_log), run_ids(second_log)
    assert mine and theirs and not mine & theirs
    assert all(rows[i].started_at < cut for i in mine), first_log  # the first started nothing without its lock
    second_began = min(rows[i].started_at for i in theirs)
    # every run of the first ended (or was marked interrupted by the second) before the second's first run
    assert all(rows[i].finished_at is not None and rows[i].finished_at <= second_began for i in mine)
    assert "Traceback" not in first_log, first_log
