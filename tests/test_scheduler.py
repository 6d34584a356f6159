"""The daemon as users run it: a real `monitor daemon` subprocess against the fixture portal on loopback.

Jobs run on short interval schedules (`every 2s`) so the tests never wait for a cron minute. The failing
job is a real failure, not a test hook: `[schedule] out` names a regular file, so the monthly summary
cannot create its directory.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import types
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import scheduler
from config import SettingsError, load_settings, parse_settings
from config.loader import parse_schedule
from fixtures.portal import portal_columns, portal_posts
from fixtures.server import FixtureServer
from storage import queries
from storage.db import get_engine, get_sessionmaker, migrate
from storage.models import ColumnFetch, JobRun, Post, Probe
from tests.helpers import truth, wait_until, write_test_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server() -> Iterator[FixtureServer]:
    with FixtureServer(site="portal", timeout_delay=5.0) as srv:
        yield srv


@pytest.fixture(scope="module")
def columns(server: FixtureServer) -> list:
    """Three small columns in three page styles; their pages fetched once so the first crawl is not cold."""
    counts: dict[str, int] = {}
    for p in portal_posts():
        counts[p.column_path] = counts.get(p.column_path, 0) + 1
    chosen, styles = [], set()
    for c in portal_columns():
        if 5 <= counts.get(c.path, 0) <= 40 and c.style not in styles and len(chosen) < 3:
            chosen.append(c)
            styles.add(c.style)
    for c in chosen:
        urllib.request.urlopen(server.base_url + c.path, timeout=10).read()
    return chosen


SCHEDULE = """
[schedule]
crawl = "{crawl}"
accounts = "off"
probes = "{probes}"
alerts = "off"
monthly = "{monthly}"
quarterly = "off"
out = "{out}"

[probes]
retry_delay = 0.2
"""


def make_settings(tmp_path: Path, server: FixtureServer, columns: list, *, crawl: str = "off",
                  probes: str = "off", monthly: str = "off", out: Path | None = None, db: str | None = None) -> Path:
    db = db or f"sqlite:///{tmp_path / 'monitor.db'}"
    extra = SCHEDULE.format(crawl=crawl, probes=probes, monthly=monthly, out=out or tmp_path / "reports")
    path = write_test_settings(tmp_path / "settings.toml", server.base_url, columns, db, extra=extra)
    migrate(db)  # so the test can read job_runs before the daemon's first job
    return path


@pytest.fixture(autouse=True)
def short_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon tests run `every 1s` jobs: lower the loader's 60 s floor (here and in the daemon child)."""
    monkeypatch.setenv("MONITOR_MIN_SCHEDULE_SECONDS", "1")


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


class Daemon:
    """`monitor --config X daemon` in its own session (so a SIGKILL can take its crawl child too)."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "monitors.cli", "--config", str(config), "daemon"],
                                     cwd=config.parent, env=env(), stdout=self.handle, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            if sig == signal.SIGKILL:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.handle.close()

    def __enter__(self) -> "Daemon":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.handle.close()


def monitor(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitors.cli", "--config", str(config), *args], cwd=config.parent,
                          env=env(), capture_output=True, text=True, timeout=timeout)


def wait_for(check: Callable[[], bool], timeout: float, what: str, daemon: Daemon | None = None) -> None:
    """wait_until, giving up when the daemon died, with its log in the failure."""
    gone = (lambda: daemon.proc.poll() is not None) if daemon is not None else None
    try:
        wait_until(check, timeout, what, give_up=gone, interval=0.2)
    except AssertionError as exc:
        log = f"\n--- daemon log ---\n{daemon.text()[-4000:]}" if daemon else ""
        raise AssertionError(f"{exc}{log}") from None


def runs(url: str, job: str, status: str | None = None) -> list[JobRun]:
    with get_sessionmaker(url)() as s:
        query = select(JobRun).where(JobRun.job == job).order_by(JobRun.id)
        if status:
            query = query.where(JobRun.status == status)
        return list(s.scalars(query))


def stored_urls(url: str) -> set[str]:
    with get_sessionmaker(url)() as s:
        return set(s.scalars(select(Post.url)))


def expected_urls(server: FixtureServer, columns: list) -> set[str]:
    return set(truth(portal_posts(), server.base_url, {c.path for c in columns}))


def crawling(url: str) -> bool:
    """A crawl child has marked its columns `running` and not yet finished them all."""
    with get_sessionmaker(url)() as s:
        return s.scalar(select(ColumnFetch.id).where(ColumnFetch.status == "running").limit(1)) is not None


def probe_count(url: str) -> int:
    with get_sessionmaker(url)() as s:
        return len(s.scalars(select(Probe.id)).all())


# --- the daemon end to end -----------------------------------------------------------------------------

@pytest.mark.slow
def test_daemon_runs_jobs_survives_a_failing_job_refuses_a_second_and_stops_on_sigterm(
        tmp_path: Path, server: FixtureServer, columns: list, db_url: str) -> None:
    """On SQLite and on PostgreSQL (the server set-up of the README)."""
    not_a_dir = tmp_path / "reports-is-a-file"
    not_a_dir.write_text("x")
    config = make_settings(tmp_path, server, columns, crawl="every 2s", probes="every 1s", monthly="every 2s",
                           out=not_a_dir, db=db_url)
    url = load_settings(config).monitor.database_url
    with Daemon(config, tmp_path / "daemon.log") as daemon:
        # several crawls in a row in one daemon (each in its own child process), probes, and a job that fails
        wait_for(lambda: len(runs(url, "crawl", "ok")) >= 2 and len(runs(url, "monthly", "failed")) >= 2
                 and len(runs(url, "probes", "ok")) >= 3, 45, "two crawls, two failed summaries, three probes", daemon)
        assert stored_urls(url) >= expected_urls(server, columns)
        assert probe_count(url) >= 3
        # the daemon went on after the failure: a job finished after the first failed run
        first_failure = runs(url, "monthly", "failed")[0]
        assert any(r.started_at > first_failure.finished_at for r in runs(url, "probes", "ok"))
        assert "FileExistsError" in (first_failure.message or "")

        second = monitor(config, "daemon", timeout=30)
        assert second.returncode == scheduler.EXIT_LOCKED
        assert "已有守护进程在运行" in second.stderr

        status = monitor(config, "status")
        assert status.returncode == 0, status.stderr
        assert "守护进程：运行中" in status.stdout
        lines = {job: next(line for line in status.stdout.splitlines() if f"（{job}）" in line) for job in scheduler.JOBS}
        assert "每 2 秒" in lines["crawl"] and ("成功" in lines["crawl"] or "运行中" in lines["crawl"])
        assert "失败" in lines["monthly"] or "运行中" in lines["monthly"]
        assert "从未运行" in lines["accounts"]
        assert any(f"{date.today().year}-" in part for part in lines["probes"].split("  ")[-2:])  # a next run

        started = time.monotonic()
        assert daemon.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 12
    log = daemon.text()
    assert "INFO scheduler event=started" in log and "event=stopping signal=SIGTERM" in log
    assert log.rstrip().splitlines()[-1].endswith("INFO scheduler event=stopped")
    failed = next(line for line in log.splitlines() if "job=monthly event=failed" in line)
    assert failed.split()[2:4] == ["ERROR", "scheduler"]
    assert "Traceback (most recent call last)" in log.split(failed, 1)[1]
    assert "job=crawl event=ok" in log and "job=probes event=start" in log
    failures = [line for line in log.splitlines() if "event=failed" in line]
    assert failures and all("job=monthly" in line and "FileExistsError" in line for line in failures), failures
    assert all(r.status != "running" for job in scheduler.JOBS for r in runs(url, job))
    assert monitor(config, "status").stdout.startswith("守护进程：未运行")


@pytest.mark.slow
def test_sigkill_then_restart_loses_nothing(tmp_path: Path, server: FixtureServer, columns: list) -> None:
    config = make_settings(tmp_path, server, columns, crawl="every 1s")
    url = load_settings(config).monitor.database_url
    with Daemon(config, tmp_path / "first.log") as daemon:
        wait_for(lambda: bool(runs(url, "crawl", "running")) and crawling(url), 20, "a crawl to be mid-way", daemon)
        daemon.stop(signal.SIGKILL)
    killed = runs(url, "crawl", "running")
    assert killed, "the killed run is left running"
    with Daemon(config, tmp_path / "second.log") as daemon:
        wait_for(lambda: bool(runs(url, "crawl", "ok")), 30, "a crawl after the restart", daemon)
        assert daemon.stop() == 0
    assert [r.status for r in runs(url, "crawl") if r.id == killed[0].id] == ["interrupted"]
    assert "job=crawl event=interrupted runs=1" in daemon.text()
    assert stored_urls(url) >= expected_urls(server, columns)


@pytest.mark.slow
def test_once_runs_one_job_now(tmp_path: Path, server: FixtureServer, columns: list) -> None:
    config = make_settings(tmp_path, server, columns)
    url = load_settings(config).monitor.database_url
    result = monitor(config, "daemon", "--once", "crawl")
    assert result.returncode == 0, result.stderr
    assert "job=crawl event=ok" in result.stderr and "未读全 0 个，失败 0 个" in result.stderr
    assert stored_urls(url) >= expected_urls(server, columns)
    assert [r.status for r in runs(url, "crawl")] == ["ok"]
    bad = monitor(config, "daemon", "--once", "nosuchjob")
    assert bad.returncode == 2 and "没有任务“nosuchjob”" in bad.stderr and "Traceback" not in bad.stderr


# --- in process: schedules, locks, the alerts job --------------------------------------------------------

def test_schedule_forms_and_settings_errors() -> None:
    assert parse_schedule("every 2s") == ("every", 2.0)
    assert parse_schedule("every 60m") == ("every", 3600.0)
    assert parse_schedule("0 9 10 1,4,7,10 *") == ("cron", "0 9 10 1,4,7,10 *")
    assert parse_schedule("off") == ("off", None)
    defaults = parse_settings("").schedule
    assert (defaults.crawl, defaults.accounts, defaults.alerts) == ("0 2 * * *", "0 */4 * * *", "30 8 * * *")
    assert (defaults.monthly, defaults.quarterly) == ("0 9 1 * *", "0 9 10 1,4,7,10 *")
    with pytest.raises(SettingsError, match=r"settings.toml:3 schedule.crawl: .*cron"):
        parse_settings('[schedule]\nprobes = "every 1h"\ncrawl = "0 25 * * *"\n')
    with pytest.raises(SettingsError, match=r"schedule.probes"):
        parse_settings('[schedule]\nprobes = "hourly"\n')


def test_default_probes_make_at_least_20_a_day_and_quarters_are_the_previous_one() -> None:
    now = datetime.now(ZoneInfo("Asia/Shanghai"))  # an interval counts from when it is made
    assert scheduler.runs_a_day(scheduler.make_trigger(parse_settings("").schedule.probes, "Asia/Shanghai"), now) >= 20
    assert scheduler.runs_a_day(scheduler.make_trigger("0 */4 * * *", "Asia/Shanghai"), now) == 6
    assert scheduler.make_trigger("off", "Asia/Shanghai") is None
    assert scheduler.previous_quarter(date(2026, 1, 10)) == "2025Q4"
    assert scheduler.previous_quarter(date(2026, 10, 10)) == "2026Q3"


def test_lock_is_exclusive_per_database(db_url: str) -> None:
    first, second = scheduler.Lock(db_url, "daemon"), scheduler.Lock(db_url, "daemon")
    other_job = scheduler.Lock(db_url, "job-crawl")
    assert first.acquire()
    try:
        assert not second.acquire() and second.holder
        assert other_job.acquire()
        other_job.release()
        assert scheduler.daemon_running(db_url)
    finally:
        first.release()
    assert second.acquire()
    second.release()
    assert scheduler.daemon_running(db_url) is None


def test_alerts_job_calls_run_alerts_or_says_it_is_not_available(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 server: FixtureServer, columns: list) -> None:
    config = make_settings(tmp_path, server, columns)
    settings = load_settings(config)
    url = settings.monitor.database_url
    monkeypatch.setitem(sys.modules, "monitors.alerts", None)  # not written yet
    assert scheduler.run_job("alerts", str(config)) == "skipped"
    assert "alerts not available" in runs(url, "alerts")[-1].message

    calls = []

    def run_alerts(settings, as_of, send=True):
        calls.append((settings.path, as_of, send))
        return "3 封邮件已发送"

    monkeypatch.setitem(sys.modules, "monitors.alerts", types.SimpleNamespace(run_alerts=run_alerts))
    assert scheduler.run_once(str(config), "alerts") == 0
    assert calls == [(str(config), datetime.now(ZoneInfo("Asia/Shanghai")).date(), True)]
    assert runs(url, "alerts")[-1].status == "ok" and runs(url, "alerts")[-1].message == "3 封邮件已发送"


def test_restart_keeps_an_unchanged_job_and_replaces_a_changed_one(tmp_path: Path, server: FixtureServer,
                                                                   columns: list) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    config = make_settings(tmp_path, server, columns, crawl="0 2 * * *", probes="every 60m")
    settings = load_settings(config)
    url = settings.monitor.database_url

    def start():
        sched = scheduler.daemon_scheduler(jobstores={"default": SQLAlchemyJobStore(engine=get_engine(url))},
                                    timezone=ZoneInfo("Asia/Shanghai"))
        sched.start(paused=True)
        return sched

    sched = start()
    scheduler._register_jobs(sched, settings, str(config))
    assert {j.id for j in sched.get_jobs()} == {"crawl", "probes"}
    due = datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC"))
    sched.modify_job("crawl", next_run_time=due)  # as if it fell due while the daemon was stopped
    sched.shutdown(wait=False)

    sched = start()
    scheduler._register_jobs(sched, settings, str(config))
    assert sched.get_job("crawl").next_run_time == due  # kept: it will run once, late, within its grace
    assert sched.get_job("crawl").misfire_grace_time == scheduler.MISFIRE_GRACE["crawl"]
    assert sched.get_job("probes").executor == "light"
    changed = load_settings(make_settings(tmp_path, server, columns, crawl="0 3 * * *"))
    scheduler._register_jobs(sched, changed, str(config))
    assert sched.get_job("crawl").next_run_time.hour == 3 and sched.get_job("probes") is None
    sched.shutdown(wait=False)
    with get_sessionmaker(url)() as session:
        assert set(queries.job_next_runs(session)) == {"crawl"}
