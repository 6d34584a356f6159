"""The distributed mode's bench (issue 13 part 6): full crawls of the synthetic province (fixtures.province, its
server in a process of its own) on the local PostgreSQL, in one run: a local `monitor crawl --full` (the
baseline), then `monitor crawl --distributed --full` with 1 and with 3 `monitor worker` processes (each on a
fresh database of the same PostgreSQL, workers started with the coordinator, wall time of the coordinator),
interleaved in rounds. Prints the page rates and CPU a page, the 1 → 3 speed-up, the write rate, the database
size a post, and Redis' memory for 1,000 queued seeds.

    python bench/distributed.py                    # ~9 min: loopback (10 sites x 30 columns, 2 rounds), remote
    python bench/distributed.py --scenarios remote # only the remote one (each request answered 0.1 s late)
    python bench/distributed.py --sites 20 --columns 50
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from config import load_settings  # noqa: E402
from crawler.distributed import Keys, Seed  # noqa: E402
from crawler.run import run_crawl  # noqa: E402
from fixtures.province import BENCH_CRAWL, ProvinceServer, ProvinceSpec  # noqa: E402
from storage import queries  # noqa: E402
from storage.db import get_sessionmaker, migrate  # noqa: E402
from storage.models import ColumnFetch, ColumnPost, Post  # noqa: E402
from tests.helpers import drop_postgres_database, new_postgres_database  # noqa: E402

POSTGRES = os.environ.get("MONITOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class LatencyProxy:
    """A plain-HTTP forward proxy on loopback that answers each request `latency` seconds late (a remote server's
    round trips, which the province's fast server does not have): the crawls reach the province through it via
    http_proxy (Scrapy's HttpProxyMiddleware). One connection a request (Connection: close both ways)."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, url, version = head[0].split(" ", 2)
            headers = [h for h in head[1:] if h and not h.lower().startswith(
                ("connection:", "proxy-connection:", "keep-alive:", "proxy-authorization:"))]
            length = next((int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0)
            body = await reader.readexactly(length) if length else b""
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            await asyncio.sleep(self.latency)
            up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            up_writer.write(f"{method} {target} {version}\r\n".encode("latin-1")
                            + "\r\n".join([*headers, "Connection: close"]).encode("latin-1") + b"\r\n\r\n" + body)
            writer.write(await up_reader.read())  # the server closes after its answer (Connection: close)
            up_writer.close()
            await writer.drain()
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def env(self) -> dict[str, str]:
        return {"http_proxy": f"http://127.0.0.1:{self.port}", "no_proxy": ""}


def new_database() -> str:
    url = new_postgres_database(POSTGRES, f"bench_dist_{uuid.uuid4().hex[:8]}")
    migrate(url)
    EMPTY[url] = size_of(url)
    return url


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
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the remote scenario's http_proxy included
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


def scenario(client: redis.Redis, prefix: str, label: str, spec: ProvinceSpec, crawl: dict[str, object],
             rounds: int, latency: float = 0.0) -> None:
    """Local, 1 worker and 3 workers on `spec` with [crawl] `crawl` (over BENCH_CRAWL), `rounds` times
    interleaved (a load that comes and goes hits each alike); the best of each for the ratios. `latency`: every
    request answered that late (LatencyProxy)."""
    made: list[str] = []
    saved = {k: os.environ.get(k) for k in ("http_proxy", "no_proxy", "HTTP_PROXY", "NO_PROXY")}
    if latency:
        for k in saved:
            os.environ.pop(k, None)
        os.environ.update(LatencyProxy(latency).env())  # inherited by the crawl processes
    with ProvinceServer(spec, generation=0) as province:
        columns = len(province.columns)
        truth = province.expected_total()
        print(f"{label}: synthetic province, {spec.sites} sites x {spec.columns_per_site} columns = {columns} "
              f"columns, {truth} posts; [crawl] {({**BENCH_CRAWL, **crawl})}")
        tmp = Path(f"/tmp/bench-distributed-{os.getpid()}")
        tmp.mkdir(exist_ok=True)
        extra = f'\n[distributed]\nkey_prefix = "{prefix}"\nheartbeat_seconds = 5\n'

        def settings_file(name: str, url: str) -> Path:
            path = province.write_settings(tmp / name, url, crawl=crawl)
            with path.open("a", encoding="utf-8") as out:
                out.write(extra)
            return path

        def measure(workers: int) -> tuple[float, dict[str, float], float]:
            """One full crawl on a fresh database (0 workers: the local crawl): (s, figures, CPU s of the local
            crawl's child, or of the coordinator and the workers; PostgreSQL's and the server's not counted)."""
            url = new_database()
            made.append(url)
            cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            if workers == 0:
                run_crawl(load_settings(settings_file("local.toml", url)), full=True)
            else:
                distributed(settings_file(f"d{workers}.toml", url), workers)
            took = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            f = figures(url)
            drop_postgres_database(url)
            made.remove(url)
            return took, f, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime

        try:
            best: dict[int, tuple[float, dict[str, float], float]] = {}
            for round_ in range(1, rounds + 1):
                for workers in (0, 1, 3):
                    took, f, cpu = measure(workers)
                    name = "local (monitor crawl --full)" if workers == 0 else \
                        f"distributed, {workers} worker{'s' if workers > 1 else ''}"
                    rows = f["posts"] + f["links"] + f["columns"]
                    print(f"crawl: round {round_} {name} {took:.1f} s, {f['requests']:.0f} pages = "
                          f"{f['requests'] / took:.1f} pages/s, {f['ok']:.0f}/{columns} columns ok, "
                          f"{f['posts']:.0f} posts; CPU {cpu / f['requests'] * 1000:.1f} ms a page; writes "
                          f"{f['posts'] / took:.0f} posts/s ({rows / took:.0f} rows/s: posts, links, fetch rows); "
                          f"database +{f['size'] / 1e6:.1f} MB = {f['size'] / max(f['posts'], 1):.0f} B a post")
                    if workers not in best or took < best[workers][0]:
                        best[workers] = (took, f, cpu)
            rate = {w: f["requests"] / took for w, (took, f, _) in best.items()}
            print(f"crawl: {label} best of {rounds}: local {rate[0]:.1f}, 1 worker {rate[1]:.1f}, 3 workers "
                  f"{rate[3]:.1f} pages/s")
            print(f"ratio {label} 3 workers / 1 worker: {rate[3] / rate[1]:.2f} (on {os.cpu_count()} cores shared by "
                  "every process and by the machine's other work)")
            print(f"ratio {label} 1 worker / local crawl: {rate[1] / rate[0]:.2f} (the Redis scheduler, the workers' "
                  "start-up and the coordinator's polling included)")
        finally:
            for url in made:
                drop_postgres_database(url)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--columns", type=int, default=30, help="columns a site (the loopback scenario)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the three crawls; the best of each")
    parser.add_argument("--scenarios", default="loopback,remote")
    args = parser.parse_args()
    client = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    client.ping()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    print(f"machine: {os.cpu_count()} cores (the province server, the coordinator, the workers and PostgreSQL "
          "share them)")
    try:
        # Loopback with no politeness: every process competes for the 2 cores (CPU-bound).
        if "loopback" in args.scenarios:
            scenario(client, prefix, "loopback", ProvinceSpec(sites=args.sites, columns_per_site=args.columns), {},
                     args.rounds)
        # As against remote servers: each answer 0.1 s late, 4 requests in flight a worker. The round trips bound
        # a worker, not the CPU: what a crawl of real government sites is like. (A column is read by one worker, so
        # the largest column, 463 undated posts whose articles are opened 4 at a time, is the floor of any crawl.)
        if "remote" in args.scenarios:
            scenario(client, prefix, "remote", ProvinceSpec(sites=args.sites, columns_per_site=args.columns),
                     {"concurrent_requests": 4}, 1, latency=0.1)
        used = redis_per_1000_seeds(client, "http://127.0.0.2:8000")
        print(f"memory: Redis {used / 1024:.0f} KiB per 1,000 queued seeds "
              f"({used / 1000:.0f} B a seed; INFO memory used_memory before/after)")
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


if __name__ == "__main__":
    main()
