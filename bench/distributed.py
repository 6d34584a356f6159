"""The distributed mode's bench (issue 13 part 6): a full crawl of the fixture portal on the local PostgreSQL,
in one run: a local `monitor crawl --full` (the baseline), then `monitor crawl --distributed --full` with 1 and
with 3 `monitor worker` processes (each on a fresh database of the same PostgreSQL, workers started with the
coordinator, wall time of the coordinator). Prints the page rates, the 1 → 3 speed-up, the write rate, the
database size a post, and Redis' memory for 1,000 queued seeds.

    python bench/distributed.py            # ~1.5 min
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from config import load_settings  # noqa: E402
from crawler.distributed import Keys, Seed  # noqa: E402
from crawler.run import run_crawl  # noqa: E402
from fixtures.portal import portal_columns  # noqa: E402
from fixtures.server import FixtureServer  # noqa: E402
from storage import queries  # noqa: E402
from storage.db import get_engine, get_sessionmaker, migrate  # noqa: E402
from storage.models import ColumnFetch, ColumnPost, Post  # noqa: E402
from tests.helpers import write_test_settings  # noqa: E402

POSTGRES = os.environ.get("MONITOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def new_database() -> str:
    name = f"bench_dist_{uuid.uuid4().hex[:8]}"
    engine = get_engine(POSTGRES)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    url = POSTGRES.rsplit("/", 1)[0] + "/" + name
    migrate(url)
    EMPTY[url] = size_of(url)
    return url


def drop_database(url: str) -> None:
    get_engine(url).dispose()
    engine = get_engine(POSTGRES)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
    engine.dispose()


EMPTY: dict[str, float] = {}  # each database's size when freshly migrated


def size_of(url: str) -> float:
    with get_sessionmaker(url)() as s:
        return float(s.scalar(text("SELECT pg_database_size(current_database())")) or 0)


def figures(url: str) -> dict[str, float]:
    size = size_of(url) - EMPTY[url]
    with get_sessionmaker(url)() as s:
        return {
            "requests": s.scalar(select(func.sum(ColumnFetch.requests))) or 0,
            "ok": s.scalar(select(func.count()).select_from(ColumnFetch).where(ColumnFetch.status == "ok")) or 0,
            "columns": s.scalar(select(func.count()).select_from(ColumnFetch)) or 0,
            "posts": s.scalar(select(func.count()).select_from(Post)) or 0,
            "links": s.scalar(select(func.count()).select_from(ColumnPost)) or 0,
            "size": float(size or 0),
        }


def monitor(config: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "monitors.cli", "--config", str(config), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def distributed(config: Path, workers: int) -> float:
    start = time.perf_counter()
    coordinator = monitor(config, "crawl", "--distributed", "--full")
    procs = [monitor(config, "worker", "--id", f"bench{i}", "--exit-when-idle") for i in range(workers)]
    _, err = coordinator.communicate(timeout=1800)
    took = time.perf_counter() - start
    if coordinator.returncode != 0:
        raise SystemExit(f"coordinator exit {coordinator.returncode}: {err[-2000:]}")
    for p in procs:
        p.communicate(timeout=120)
    return took


def redis_per_1000_seeds(client: redis.Redis, base_url: str) -> int:
    keys = Keys(f"bench-{uuid.uuid4().hex[:8]}")
    before = int(client.info("memory")["used_memory"])
    pipe = client.pipeline(transaction=False)
    for i in range(1000):
        target = queries.CrawlTarget(100000 + i, "某某县人民政府办公室", "通知公告",
                                     f"{base_url}/site{i % 50}/col{i}/index.html", '"5f3c-1a2b"',
                                     "Tue, 01 Sep 2020 02:00:00 GMT", False)
        pipe.lpush(keys.seeds, Seed(123456, target, False).dumps())
    pipe.execute()
    used = int(client.info("memory")["used_memory"]) - before
    client.delete(keys.seeds)
    return used


def main() -> None:
    client = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    client.ping()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    made: list[str] = []
    print(f"machine: {os.cpu_count()} cores (the fixture server, the coordinator, the workers and PostgreSQL "
          "share them)")
    with FixtureServer(site="portal", timeout_delay=30.0) as portal:
        columns = portal_columns()
        tmp = Path(f"/tmp/bench-distributed-{os.getpid()}")
        tmp.mkdir(exist_ok=True)
        extra = f'\n[distributed]\nkey_prefix = "{prefix}"\nheartbeat_seconds = 5\n'
        try:
            url = new_database()
            made.append(url)
            local_toml = write_test_settings(tmp / "local.toml", portal.base_url, columns, url, extra=extra)
            settings = load_settings(local_toml)
            start = time.perf_counter()
            summary = run_crawl(settings, full=True)
            local = time.perf_counter() - start
            base = figures(url)
            print(f"crawl: local (monitor crawl --full) {local:.1f} s, {base['requests']:.0f} pages = "
                  f"{base['requests'] / local:.1f} pages/s, {summary.columns} columns, {base['posts']:.0f} posts")
            rates = {}
            for workers in (1, 3):
                url = new_database()
                made.append(url)
                config = write_test_settings(tmp / f"d{workers}.toml", portal.base_url, columns, url, extra=extra)
                took = distributed(config, workers)
                f = figures(url)
                assert f["columns"] == f["ok"] == len(columns), f
                assert f["posts"] == base["posts"], (f["posts"], base["posts"])
                rates[workers] = f["requests"] / took
                rows = f["posts"] + f["links"] + f["columns"]
                print(f"crawl: distributed, {workers} worker{'s' if workers > 1 else ''} {took:.1f} s, "
                      f"{f['requests']:.0f} pages = {rates[workers]:.1f} pages/s; writes "
                      f"{f['posts'] / took:.0f} posts/s ({rows / took:.0f} rows/s: posts, column links, fetch rows); "
                      f"database {f['size'] / 1e6:.1f} MB = {f['size'] / max(f['posts'], 1):.0f} B a post "
                      "(posts, links, fetch rows and their indexes)")
            print(f"ratio 3 workers / 1 worker: {rates[3] / rates[1]:.2f} (on {os.cpu_count()} cores: every process "
                  f"shares them, so this is the floor of what 3 servers give)")
            print(f"ratio 1 worker / local crawl: {rates[1] / (base['requests'] / local):.2f} (Redis scheduler, "
                  f"subprocess start-up and the coordinator's polling included)")
            used = redis_per_1000_seeds(client, portal.base_url)
            print(f"memory: Redis {used / 1024:.0f} KiB per 1,000 queued seeds "
                  f"({used / 1000:.0f} B a seed; INFO memory used_memory before/after)")
        finally:
            for url in made:
                drop_database(url)
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)


if __name__ == "__main__":
    main()
