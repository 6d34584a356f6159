"""The database unavailable (issue 9, part 3): every command one line and exit 4; a crawl stopped at its first
failed write and completed by a rerun; read-only commands on a read-only SQLite file; orphaned crawl runs.

Real parts only: the `monitor` command in a subprocess (its exit code as a script sees it), PostgreSQL on
127.0.0.1:5432 behind tests/tcp_proxy.py (cut: connections reset, connects refused), the fixture portal.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fixtures.portal import portal_columns, portal_posts
from storage import queries
from storage.crawl_lock import RunLock
from storage.db import EXIT_DATABASE_UNAVAILABLE, get_sessionmaker, migrate, normalise_url
from storage.models import ColumnFetch, ColumnPost, CrawlRun, Post
from tests.conftest import POSTGRES_URL, reset_postgres
from tests.helpers import free_port, truth, wait_until, write_test_settings
from tests.tcp_proxy import TcpProxy

PASSWORD = "s3cret-pw"


def monitor(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitors.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=config.parent)


def start_monitor(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "monitors.cli", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=config.parent)


def postgres_only() -> None:
    if os.environ.get("MONITOR_SKIP_POSTGRES") == "1":
        pytest.skip("MONITOR_SKIP_POSTGRES=1")


def columns_named(*paths: str) -> list:
    by_path = {c.path: c for c in portal_columns()}
    return [by_path[p] for p in paths]


# --- every command: one line, exit 4 --------------------------------------------------------------------

COMMANDS = [
    ("check", "--unit", "区政府办"),
    ("check", "--unit", "区政府办", "--no-crawl"),
    ("crawl",),
    ("report", "--quarter", "2020Q3", "--out", "out"),
    ("alerts", "--dry-run"),
    ("alerts", "--send"),
    ("status",),
    ("daemon", "--once", "crawl"),
    ("init",),
]



@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_command_says_one_line_and_exits_4_when_the_database_port_is_closed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    from click.testing import CliRunner

    from monitors.cli import main

    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/test"
    config = write_test_settings(tmp_path / "settings.toml", "http://127.0.0.1:9", columns_named("/zwgk/tzgg/"), url)
    monkeypatch.chdir(tmp_path)  # report --out out
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == EXIT_DATABASE_UNAVAILABLE, (result.exception, result.stderr[-1500:])
    assert result.stderr.splitlines() == [
        f"错误：数据库不可用（postgresql://postgres:***@{url.rsplit('@', 1)[1]}，口令已隐去）：连接被拒绝"]
    assert PASSWORD not in result.stdout + result.stderr


def test_a_script_sees_exit_4_and_one_line(tmp_path: Path) -> None:
    """The real command in its own process: the exit code and stderr a script sees."""
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/test"
    config = write_test_settings(tmp_path / "settings.toml", "http://127.0.0.1:9", columns_named("/zwgk/tzgg/"), url)
    result = monitor(config, "check", "--unit", "区政府办")
    assert result.returncode == EXIT_DATABASE_UNAVAILABLE
    assert result.stderr.splitlines() == [
        f"错误：数据库不可用（postgresql://postgres:***@{url.rsplit('@', 1)[1]}，口令已隐去）：连接被拒绝"]


def test_a_cut_proxy_is_one_line_too(tmp_path: Path) -> None:
    """The connection accepted, then reset (a server going down): the same line, its reason the lost connection."""
    postgres_only()
    with TcpProxy(5432) as proxy:
        proxy.cut()
        config = write_test_settings(tmp_path / "settings.toml", "http://127.0.0.1:9", columns_named("/zwgk/tzgg/"),
                                     proxy.url(POSTGRES_URL))
        result = monitor(config, "report", "--quarter", "2020Q3", "--out", "out")
    assert result.returncode == EXIT_DATABASE_UNAVAILABLE
    assert result.stderr.splitlines() == [f"错误：数据库不可用（{proxy.url(POSTGRES_URL)}）：连接中断"]


# --- PostgreSQL lost mid-crawl ---------------------------------------------------------------------------

SLOW_CRAWL = ("download_delay = 0.0", "download_delay = 0.15"), ("concurrent_per_domain = 8",
                                                                  "concurrent_per_domain = 1")


def slow_settings(path: Path, base_url: str, columns: list, database_url: str) -> Path:
    write_test_settings(path, base_url, columns, database_url, timeout=30)  # a busy machine fails no page
    body = path.read_text(encoding="utf-8")
    for old, new in SLOW_CRAWL:
        body = body.replace(old, new)
    path.write_text(body, encoding="utf-8")
    return path


def post_count(url: str) -> int:
    """Posts stored so far (0 while the database is still being created)."""
    from sqlalchemy.exc import OperationalError

    try:
        with get_sessionmaker(url)() as session:
            return session.scalar(select(func.count()).select_from(Post)) or 0
    except OperationalError:
        return 0


@pytest.fixture
def own_postgres() -> str:
    """A database of this module's own on the test server (`<db>_outage`, created once), fresh and migrated:
    other test runs resetting the shared one meanwhile cannot break a crawl in progress, nor this theirs."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    postgres_only()
    base = make_url(POSTGRES_URL)
    name = f"{base.database}_outage"
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base.set(database=name).render_as_string(hide_password=False)
    reset_postgres(url)
    migrate(url)
    return url


def test_postgres_dropped_mid_crawl_stops_it_at_once_and_a_rerun_completes_it(portal, tmp_path: Path,
                                                                               own_postgres: str) -> None:
    db = own_postgres
    columns = columns_named("/zwgk/tzgg/", "/col/col1112/index.html")
    with TcpProxy(5432) as proxy:
        config = slow_settings(tmp_path / "settings.toml", portal.base_url, columns, proxy.url(db))
        crawl = start_monitor(config, "crawl")
        wait_until(lambda: post_count(db) > 0, 60, "the first stored posts",
                   give_up=lambda: crawl.poll() is not None)
        proxy.cut()
        cut_at, requests_at_cut = time.monotonic(), portal.request_count
        out, err = crawl.communicate(timeout=60)
        stopped_after = time.monotonic() - cut_at
        requests_after_cut = portal.request_count - requests_at_cut
        stored_before_rerun = post_count(db)
        print(f"stopped {stopped_after:.2f} s after the cut, {requests_after_cut} requests after it, "
              f"{stored_before_rerun} posts stored")

        assert crawl.returncode == EXIT_DATABASE_UNAVAILABLE, err[-2000:]
        assert "Traceback" not in err, err[-2000:]
        last = err.splitlines()[-1]
        assert last.startswith("错误：抓取已停止：数据库不可用（postgresql://postgres@127.0.0.1:"), last
        assert last.endswith("已保存的内容不受影响，数据库恢复后重新运行 monitor crawl 即可"), last
        assert stopped_after < 10, stopped_after
        assert requests_after_cut <= 3, requests_after_cut  # concurrency 1: at most what was in flight
        want = truth(portal_posts(), portal.base_url, {c.path for c in columns})
        assert 0 < stored_before_rerun < len(want)

        proxy.restore()
        rerun = monitor(config, "crawl")  # incremental: the columns left running are read whole
        assert rerun.returncode == 0, rerun.stderr[-2000:]

    with get_sessionmaker(db)() as session:
        urls = list(session.scalars(select(Post.url)))
        listed = session.scalar(select(func.count()).select_from(ColumnPost))
        runs = list(session.execute(select(CrawlRun.status, CrawlRun.finished_at).order_by(CrawlRun.id)))
    assert sorted(urls) == sorted(want)  # nothing lost, nothing twice
    assert listed == len(want)
    assert [status for status, _ in runs] == ["interrupted", "done"]
    assert all(finished is not None for _, finished in runs)


# --- a read-only SQLite file -----------------------------------------------------------------------------

def file_state(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.fixture(scope="module")
def crawled_sqlite(portal, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """A SQLite database after a crawl of two fixture columns (in a subprocess: Scrapy's reactor); copy it."""
    columns = columns_named("/zwgk/tzgg/", "/col/col1112/index.html")
    tmp = tmp_path_factory.mktemp("crawled")
    db = tmp / "monitor.db"
    done = monitor(write_test_settings(tmp / "write.toml", portal.base_url, columns, f"sqlite:///{db}"), "crawl")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not Path(f"{db}-wal").exists()  # closed cleanly: the file is the whole database
    return db, columns


def read_only_copy(crawled: tuple[Path, list], tmp_path: Path) -> Path:
    db = tmp_path / "data" / "monitor.db"
    db.parent.mkdir()
    shutil.copy2(crawled[0], db)
    return db


def test_read_only_commands_work_on_a_read_only_sqlite_file_and_change_nothing(
        portal, crawled_sqlite: tuple[Path, list], tmp_path: Path) -> None:
    db = read_only_copy(crawled_sqlite, tmp_path)
    url = f"sqlite:///file:{db}?mode=ro&uri=true"
    config = write_test_settings(tmp_path / "settings.toml", portal.base_url, crawled_sqlite[1], url)
    before = file_state(db)

    check = monitor(config, "check", "--unit", "区政府办", "--no-crawl", "--as-of", "2020-10-10")
    assert check.returncode in (0, 1) and "Traceback" not in check.stderr, check.stderr[-2000:]
    assert "区政府办 检查结果" in check.stdout
    report = monitor(config, "report", "--quarter", "2020Q3", "--out", str(tmp_path / "out"))
    assert report.returncode == 0, report.stderr[-2000:]
    assert (tmp_path / "out" / "report-2020Q3.json").exists()
    dry = monitor(config, "alerts", "--dry-run", "--as-of", "2020-10-10")
    assert dry.returncode == 0, dry.stderr[-2000:]
    status = monitor(config, "status")
    assert status.returncode == 0, status.stderr[-2000:]
    assert file_state(db) == before

    crawl = monitor(config, "crawl")  # a command that writes: one line, exit 4, nothing written
    assert crawl.returncode == EXIT_DATABASE_UNAVAILABLE, crawl.stderr[-2000:]
    assert crawl.stderr.splitlines() == [f"错误：数据库只读（{url}）：本命令需要写入数据库"]
    assert file_state(db) == before


def test_mode_ro_alone_opens_the_file_read_only(portal, crawled_sqlite: tuple[Path, list], tmp_path: Path) -> None:
    """`?mode=ro` without `uri=true` (SQLite ignores it there, and would write): read-only all the same."""
    db = read_only_copy(crawled_sqlite, tmp_path)
    config = write_test_settings(tmp_path / "settings.toml", portal.base_url, crawled_sqlite[1],
                                 f"sqlite:///{db}?mode=ro")
    before = file_state(db)
    check = monitor(config, "check", "--unit", "区政府办", "--no-crawl", "--as-of", "2020-10-10")
    assert check.returncode in (0, 1) and "区政府办 检查结果" in check.stdout, check.stderr[-2000:]
    assert file_state(db) == before


def test_a_read_only_database_older_than_this_version_is_one_line_and_exit_4(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    url = f"sqlite:///{db}"
    from alembic import command
    from alembic.config import Config

    from storage.db import MIGRATIONS, get_engine

    alembic = Config()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    with get_engine(url).begin() as connection:
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "0001")
    get_engine(url).dispose()
    config = write_test_settings(tmp_path / "settings.toml", "http://127.0.0.1:9",
                                 columns_named("/zwgk/tzgg/"), f"{url}?mode=ro")
    before = file_state(db)
    for args in (("check", "--unit", "区政府办", "--no-crawl"), ("alerts", "--dry-run")):
        result = monitor(config, *args)
        assert result.returncode == EXIT_DATABASE_UNAVAILABLE, (args, result.stderr[-2000:])
        assert result.stderr.splitlines() == [f"错误：数据库只读（{url}?mode=ro），且尚未初始化或需要升级："
                                              "请在可写的数据库上运行一次 monitor init"], args
    assert file_state(db) == before


# --- orphaned crawl runs ---------------------------------------------------------------------------------

def test_a_killed_crawls_run_becomes_interrupted_at_the_next_start(portal, tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    url = f"sqlite:///{db}"
    columns = columns_named("/zwgk/tzgg/", "/col/col1112/index.html")
    config = slow_settings(tmp_path / "settings.toml", portal.base_url, columns, url)
    killed = start_monitor(config, "crawl")
    wait_until(lambda: post_count(url) > 0, 60, "the first stored posts",
               give_up=lambda: killed.poll() is not None)
    killed.kill()
    killed.communicate(timeout=30)
    with get_sessionmaker(url)() as session:
        assert list(session.scalars(select(CrawlRun.status))) == ["running"]

    # A crawl running now, in this process (its row committed with its lock held), is not marked.
    with get_sessionmaker(url)() as session:
        live = queries.start_run(session, False)
        lock = RunLock(url, live)
        lock.acquire()
        session.commit()
    try:
        rerun = monitor(config, "crawl", "--unit", "人社局")
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert run_statuses(url) == ["interrupted", "running", "done"]  # the live one untouched
    finally:
        lock.release()
    with get_sessionmaker(url)() as session:
        first = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).first()
        assert first is not None and first.finished_at is not None
        fetches = list(session.execute(select(ColumnFetch.status, ColumnFetch.reason)
                                       .where(ColumnFetch.run_id == first.id)))
    assert fetches and all(status == "partial" and "中断" in (reason or "") for status, reason in fetches)


def run_statuses(url: str) -> list[str]:
    with get_sessionmaker(url)() as session:
        return list(session.scalars(select(CrawlRun.status).order_by(CrawlRun.id)))



def test_begin_run_marks_only_the_runs_nobody_holds(db_url: str) -> None:
    """Both backends, in one process: flock and advisory locks are per open file / per session."""
    from storage.crawl_lock import begin_run
    from storage.models import Column, Site, Unit

    sessions = get_sessionmaker(db_url)
    with sessions.begin() as session:
        site = Site(name="s", url="http://127.0.0.1:9/")
        unit = Unit(name="u", kind="department")
        session.add_all([site, unit])
        session.flush()
        column = Column(unit_id=unit.id, name="c", url="http://127.0.0.1:9/c/", category="dynamic", quota=True)
        session.add(column)
        session.flush()
        dead = queries.start_run(session, False)  # left running by a process that died: no lock
        queries.mark_running(session, dead, [column.id])
    with sessions() as session:
        live = queries.start_run(session, False)
        held = RunLock(db_url, live)
        held.acquire()
        session.commit()
    try:
        new, lock, marked = begin_run(sessions, db_url, full=False)
        lock.release()
        assert marked == 1
        assert run_statuses(db_url) == ["interrupted", "running", "running"]
        with sessions() as session:
            fetch = session.scalars(select(ColumnFetch).where(ColumnFetch.run_id == dead)).one()
        assert fetch.status == "partial" and fetch.reason and "中断" in fetch.reason and fetch.finished_at
    finally:
        held.release()
    _, lock, marked = begin_run(sessions, db_url, full=False)  # now both are orphans: `live` and `new`
    lock.release()
    assert marked == 2 and run_statuses(db_url)[:3] == ["interrupted"] * 3
