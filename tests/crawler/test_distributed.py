"""The distributed mode (crawler.distributed) end to end: `monitor crawl --distributed` and `monitor worker`
subprocesses on the local Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432), against the fixture portal
on loopback (the fixture portal; the synthetic province for the kill test). Each test has its own PostgreSQL database and its own Redis key prefix, both removed after it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from config import load_settings
from crawler.distributed import Keys, Seed
from crawler.run import run_crawl
from fixtures.portal import portal_columns
from storage.db import get_sessionmaker, migrate
from storage.models import Column, ColumnFetch, ColumnPost, Post
from tests.conftest import POSTGRES_URL
from tests.helpers import (drop_postgres_database, free_port, new_postgres_database, wait_until,
                           write_test_settings)

redis = pytest.importorskip("redis")
pytestmark = pytest.mark.slow  # worker processes crawl the fixture portal end to end

ROOT = Path(__file__).resolve().parents[2]


def make_database() -> str:
    url = new_postgres_database(POSTGRES_URL, f"monitor_dist_{uuid.uuid4().hex[:10]}")
    migrate(url)
    return url


@pytest.fixture
def databases() -> Iterator[list[str]]:
    """Fresh migrated PostgreSQL databases, as many as the test asks for (`new()`), dropped afterwards."""
    if os.environ.get("MONITOR_SKIP_POSTGRES") == "1":
        pytest.skip("MONITOR_SKIP_POSTGRES=1")
    made: list[str] = []
    yield made
    for url in made:
        drop_postgres_database(url)


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:10]}"
    client = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    yield name
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)


def settings_file(path: Path, base_url: str, columns: list, url: str, prefix: str, **distributed: object) -> Path:
    extra = "\n[distributed]\n" + f'key_prefix = "{prefix}"\n' + "".join(f"{k} = {v}\n" for k, v in distributed.items())
    return write_test_settings(path, base_url, columns, url, extra=extra)


def monitor(config: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MONITOR_DATABASE_URL", None)
    return subprocess.Popen([sys.executable, "-m", "monitors.cli", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


def posts(url: str) -> set[tuple]:
    with get_sessionmaker(url)() as s:
        return {(p.url, p.title, p.published_at, p.date_source) for p in s.scalars(select(Post))}


def outcomes(url: str, run_id: int | None = None) -> dict[str, tuple]:
    """Each column's outcome in the run (default the newest), by the column's URL."""
    with get_sessionmaker(url)() as s:
        run_id = run_id or s.scalar(select(func.max(ColumnFetch.run_id)))
        rows = s.execute(select(Column.url, ColumnFetch).join(Column, Column.id == ColumnFetch.column_id)
                         .where(ColumnFetch.run_id == run_id)).all()
        return {u: (f.status, f.reason, f.pages, f.requests, f.entries, f.new_posts, f.listed) for u, f in rows}


def no_duplicates(url: str) -> None:
    with get_sessionmaker(url)() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == \
            s.scalar(select(func.count(func.distinct(Post.url))))
        links = s.execute(select(ColumnPost.column_id, ColumnPost.post_id)).all()
        assert len(links) == len(set(links))


def test_one_worker_reads_what_a_local_crawl_reads_and_a_column_seeded_twice_once(
        portal, tmp_path: Path, databases: list[str], prefix: str) -> None:
    seen: dict[str, list] = {}
    for c in portal_columns():  # two columns of each page style
        if len(seen.setdefault(c.style, [])) < 2:
            seen[c.style].append(c)
    columns = [c for cs in seen.values() for c in cs]
    local_db, shared_db = make_database(), make_database()
    databases += [local_db, shared_db]
    local = load_settings(settings_file(tmp_path / "local.toml", portal.base_url, columns, local_db, prefix))
    assert not run_crawl(local, full=True).failed

    config = settings_file(tmp_path / "shared.toml", portal.base_url, columns, shared_db, prefix)
    client = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    keys = Keys(prefix)
    coordinator = monitor(config, "crawl", "--distributed", "--full")
    wait_until(lambda: client.llen(keys.seeds) == len(columns), 30, "the seeds",
               give_up=lambda: coordinator.poll() is not None)
    first = Seed.loads(client.lindex(keys.seeds, -1))
    client.lpush(keys.seeds, first.dumps())  # the same seed again (same run, column, attempt): read once
    worker = monitor(config, "worker", "--id", "solo", "--exit-when-idle")
    code, err = finish(coordinator)
    assert code == 0, err[-2000:]
    assert f"抓取完成：{len(columns)} 个栏目，{len(columns)} 个完整读取" in err
    wcode, werr = finish(worker)
    assert wcode == 0 and f"读完 {len(columns)} 个栏目" in werr, werr[-2000:]

    assert posts(shared_db) == posts(local_db)
    assert outcomes(shared_db) == outcomes(local_db)
    no_duplicates(shared_db)
    assert not list(client.scan_iter(f"{prefix}:run:*")) and not client.exists(keys.coordinator)


def test_three_workers_one_killed_mid_crawl_every_post_once_every_column_read(
        tmp_path: Path, databases: list[str], prefix: str) -> None:
    """The synthetic province (fixtures.province: 4 sites × 30 columns in every pagination style, each site its
    own loopback address) read by 3 workers, one killed with SIGKILL while it holds columns it has not finished."""
    from fixtures.province import ProvinceServer, ProvinceSpec

    url = make_database()
    databases.append(url)
    client = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    keys = Keys(prefix)
    with ProvinceServer(ProvinceSpec(sites=4, columns_per_site=30, mix="cycle"), generation=0) as province:
        config = province.write_settings(tmp_path / "s.toml", url, crawl={"concurrent_requests": 16})
        with config.open("a", encoding="utf-8") as out:
            out.write(f'\n[distributed]\nkey_prefix = "{prefix}"\nheartbeat_seconds = 2\ncolumns_per_worker = 4\n')
        expected = province.expected_urls()
        coordinator = monitor(config, "crawl", "--distributed", "--full")
        workers = {name: monitor(config, "worker", "--id", name, "--exit-when-idle") for name in ("w1", "w2", "w3")}
        sessions = get_sessionmaker(url)

        def settled() -> int:
            with sessions() as s:
                return s.scalar(select(func.count()).select_from(ColumnFetch)
                                .where(ColumnFetch.status != "running")) or 0

        # Mid-crawl: a fifth of the columns stored, the victim holding columns it has not finished.
        wait_until(lambda: settled() >= len(expected) // 5 and client.llen(keys.held("w2")) > 0, 60,
                   "a fifth of the columns", give_up=lambda: coordinator.poll() is not None, interval=0.02)
        held = [Seed.loads(raw).target.column_id for raw in client.lrange(keys.held("w2"), 0, -1)]
        workers["w2"].send_signal(signal.SIGKILL)
        assert settled() < len(expected) - len(held)

        code, err = finish(coordinator, timeout=90)
        assert code == 0, err[-3000:]
        assert f"抓取完成：{len(expected)} 个栏目，{len(expected)} 个完整读取" in err, err[-3000:]
        assert "工作进程 w2 已停止" in err and "完整重读（第 2 次）" in err
        _, victim = finish(workers["w2"])
        assert "[运行 " in victim  # it had stored some columns before it was killed
        for name in ("w1", "w3"):
            wcode, werr = finish(workers[name])
            assert wcode == 0, werr[-2000:]

    with sessions() as s:
        fetches = list(s.scalars(select(ColumnFetch)))
        stored: dict[str, set[str]] = {}
        for column_url, post_url in s.execute(select(Column.url, Post.url).join(ColumnPost, ColumnPost.column_id == Column.id)
                                              .join(Post, Post.id == ColumnPost.post_id)):
            stored.setdefault(column_url, set()).add(post_url)
    assert len(fetches) == len(expected) and {f.status for f in fetches} == {"ok"}
    assert {u: frozenset(v) for u, v in stored.items()} == {u: v for u, v in expected.items() if v}
    no_duplicates(url)
    assert held and not client.exists(keys.held("w2"), keys.requests("w2"))


def test_no_worker_no_lost_column_a_worker_stops_on_sigterm_sqlite_and_no_redis_refused(
        portal, tmp_path: Path, databases: list[str], prefix: str) -> None:
    columns = portal_columns()[:3]
    url = make_database()
    databases.append(url)
    config = settings_file(tmp_path / "s.toml", portal.base_url, columns, url, prefix, worker_wait=1)
    code, err = finish(monitor(config, "crawl", "--distributed"))
    assert code == 1 and "等待工作进程：请在各服务器上运行 monitor worker" in err and "有 3 个栏目失败" in err, err
    assert {o[:2] for o in outcomes(url).values()} == {("error", "没有可用的工作进程（monitor worker），未读取")}

    client = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    worker = monitor(config, "worker", "--id", "stop-me")
    wait_until(lambda: client.exists(Keys(prefix).alive("stop-me")), 30, "the heartbeat",
               give_up=lambda: worker.poll() is not None)
    worker.send_signal(signal.SIGTERM)
    code, err = finish(worker, timeout=30)
    assert code == 0 and "工作进程 stop-me 已停止" in err, err[-2000:]
    assert not client.exists(Keys(prefix).alive("stop-me"))  # gone at once: its columns are handed out again

    lite = settings_file(tmp_path / "lite.toml", portal.base_url, columns, f"sqlite:///{tmp_path / 'm.db'}", prefix)
    code, err = finish(monitor(lite, "worker", "--exit-when-idle"))
    assert code == 2 and "PostgreSQL" in err, err

    nowhere = settings_file(tmp_path / "nowhere.toml", portal.base_url, columns, url, prefix,
                            redis_url='"redis://127.0.0.1:1/0"')
    code, err = finish(monitor(nowhere, "crawl", "--distributed"))
    assert code == 2 and "无法连接 Redis（redis://127.0.0.1:1/0）" in err, err


def test_enabled_in_the_settings_the_crawl_and_the_daemons_crawl_job_go_through_the_workers(
        portal, tmp_path: Path, databases: list[str], prefix: str) -> None:
    from crawler.distributed import NO_WORKER_REASON
    from monitors.app import Monitor

    columns = portal_columns()[:2]
    url = make_database()
    databases.append(url)
    config = settings_file(tmp_path / "s.toml", portal.base_url, columns, url, prefix, worker_wait=1,
                           enabled="true")
    code, err = finish(monitor(config, "crawl"))   # no --distributed: the settings say so
    assert code == 1 and "开始分布式抓取" in err and "等待工作进程" in err, err
    # The daemon's crawl job (scheduler._crawl) calls the same use case: this process only coordinates.
    summary = Monitor(load_settings(config)).crawl_in_child()
    assert summary.columns == 2 and [reason for *_, reason in summary.failed] == [NO_WORKER_REASON] * 2


def test_a_redis_with_a_password_takes_it_from_the_environment_and_no_message_shows_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import socket

    from crawler.distributed import DistributedError, connect, worker_scrapy_settings

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server not installed (.ci/run installs it)")
    port = free_port()
    proc = subprocess.Popen([server, "--bind", "127.0.0.1", "--port", str(port), "--requirepass", "pw-7f3a",
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        text_ = f'[distributed]\nredis_url = "redis://127.0.0.1:{port}/0"\n'
        path = write_test_settings(tmp_path / "s.toml", "http://127.0.0.1:9", [], "sqlite:///x.db", extra=text_)
        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_until(listening, 10, "redis-server")
        with pytest.raises(DistributedError) as refused:   # no password given: refused, said in one line
            connect(load_settings(path))
        assert f"redis://127.0.0.1:{port}/0" in str(refused.value)
        monkeypatch.setenv("MONITOR_REDIS_PASSWORD", "pw-7f3a")
        settings = load_settings(path)
        client = connect(settings)
        assert client.ping() and "pw-7f3a" not in repr(settings)
        # the workers' scrapy-redis connections get it too, through REDIS_PARAMS
        from scrapy.settings import Settings as ScrapySettings
        from scrapy_redis.connection import get_redis_from_settings

        scrapy = ScrapySettings(worker_scrapy_settings(settings, Keys("t"), "w1"))
        assert get_redis_from_settings(scrapy).ping()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
