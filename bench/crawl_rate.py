"""Crawl-rate benchmark: our crawler on the fixture portal against `scrapy bench` on the same machine.

    python bench/crawl_rate.py [--bench-seconds 10] [--keep DIR]

Everything is measured in one run, so the ratio compares like with like:

  (a) baseline: `scrapy bench` (its own local server, a link-following spider that parses nothing and
      stores nothing), steady-state pages/s = median of the "Crawled N pages (at X pages/min)" lines after
      the first minute-rate line (the first line is the ramp-up);
  (b) a full crawl of the whole fixture portal (`crawler.run.run_crawl(settings, full=True)`) with
      politeness off (download_delay 0, no AutoThrottle, 16 concurrent requests per domain, no retries):
      the fixture server is on loopback and `scrapy bench` has no politeness either. Pages = requests the
      fixture server received. The child process start-up is measured separately by an empty crawl
      (zero columns) and reported; the headline rate uses the whole wall clock of run_crawl.
      Target: scrapy-bench rate / our rate <= 1.5.
  (b') the stronger anchor: bare Scrapy (no parsing, no storage, no robots.txt handling, no dupefilter)
      fetching the very same URLs the full crawl requested, with the same concurrency, in a subprocess.
      Both are reported as pages/s and as CPU ms a page (the crawl's child processes' user+sys time).
      Target (issue 13): our page rate >= 0.8x bare Scrapy's.
  (c) an incremental re-crawl with nothing new: requests per column (server requests minus robots.txt,
      divided by the number of columns). Target <= 1.05.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE_LINE = re.compile(r"Crawled (\d+) pages \(at (\d+) pages/min\)")
ELAPSED = re.compile(r"'elapsed_time_seconds': ([\d.]+)")
RECEIVED = re.compile(r"'response_received_count': (\d+)")

FAST_CRAWL = """
[crawl]
download_delay = 0.0
autothrottle = false
concurrent_requests = 16
concurrent_per_domain = 16
retries = 0
"""


def scrapy_bench(seconds: int) -> dict:
    """Run `scrapy bench` in a subprocess and parse its log."""
    cmd = [sys.executable, "-m", "scrapy", "bench", "-s", f"CLOSESPIDER_TIMEOUT={seconds}", "-s", "LOG_LEVEL=INFO"]
    with tempfile.TemporaryDirectory() as cwd:  # outside the project: no scrapy.cfg, no project settings
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=seconds + 120)
        wall = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    per_min = [int(m.group(2)) for m in RATE_LINE.finditer(log)]
    steady = [r for r in per_min[2:]] or [r for r in per_min if r] or [0]  # skip the 0 line and the ramp-up line
    elapsed = float(m.group(1)) if (m := ELAPSED.search(log)) else float("nan")
    received = int(m.group(1)) if (m := RECEIVED.search(log)) else 0
    if proc.returncode != 0 or not per_min:
        print(log[-3000:], file=sys.stderr)
        raise SystemExit(f"scrapy bench failed (exit {proc.returncode})")
    return {
        "rates": [r / 60 for r in per_min],
        "median": statistics.median(steady) / 60,
        "max": max(steady) / 60,
        "overall": received / elapsed if elapsed else float("nan"),
        "received": received,
        "elapsed": elapsed,
        "wall": wall,
    }


def children_cpu() -> float:
    """User+sys seconds of the child processes waited for so far (the crawl child, the replay subprocess)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def replay(url_file: Path, concurrency: tuple[int, int] = (16, 16)) -> None:
    """Bare Scrapy: fetch every URL of the file once (`concurrency`: requests, per domain; no delay), keep
    nothing."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    urls = url_file.read_text(encoding="utf-8").split()

    class Replay(scrapy.Spider):
        name = "replay"

        async def start(self):  # type: ignore[no-untyped-def]
            for url in urls:
                yield scrapy.Request(url, dont_filter=True)

        def start_requests(self):  # type: ignore[no-untyped-def]  # Scrapy < 2.13
            for url in urls:
                yield scrapy.Request(url, dont_filter=True)

        def parse(self, response):  # type: ignore[no-untyped-def]
            return None

    process = CrawlerProcess({
        "LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False, "ROBOTSTXT_OBEY": False, "RETRY_ENABLED": False,
        "CONCURRENT_REQUESTS": concurrency[0], "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency[1], "DOWNLOAD_DELAY": 0,
        "COOKIES_ENABLED": True, "REDIRECT_ENABLED": True,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    })
    process.crawl(Replay)
    process.start()


def bare_scrapy(base_url: str, requests: list[tuple[str, str]], work: Path,
                concurrency: tuple[int, int] = (16, 16)) -> dict:
    """Time `replay` in a subprocess on the URLs the crawl requested (GET only; `base_url` "" when they are
    absolute)."""
    url_file = work / "replay-urls.txt"
    url_file.write_text("\n".join(base_url.rstrip("/") + path for method, path in requests if method == "GET"),
                        encoding="utf-8")
    cpu0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--replay", str(url_file),
                           "--replay-concurrency", f"{concurrency[0]},{concurrency[1]}"],
                          capture_output=True, text=True, timeout=7200)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"bare Scrapy replay failed (exit {proc.returncode})")
    return {"wall": wall, "cpu": cpu}


def count_posts(db_url: str) -> int:
    from sqlalchemy import func, select

    from storage.db import get_sessionmaker
    from storage.models import Post

    with get_sessionmaker(db_url)() as session:
        return session.scalar(select(func.count()).select_from(Post)) or 0


def robots(requests: list[tuple[str, str]]) -> int:
    return sum(1 for _, path in requests if path.startswith("/robots.txt"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench-seconds", type=int, default=10, help="CLOSESPIDER_TIMEOUT for scrapy bench")
    ap.add_argument("--keep", type=Path, help="keep the database and settings in this directory")
    ap.add_argument("--replay", type=Path, help=argparse.SUPPRESS)  # internal: the bare Scrapy subprocess
    ap.add_argument("--replay-concurrency", default="16,16", help=argparse.SUPPRESS)
    ap.add_argument("--skip-bench", action="store_true", help="skip `scrapy bench` (the bare replay stays)")
    args = ap.parse_args()
    if args.replay:
        total, per_domain = (int(x) for x in args.replay_concurrency.split(","))
        return replay(args.replay, (total, per_domain))

    from config import load_settings
    from crawler.run import run_crawl
    from fixtures.portal import write_settings
    from fixtures.server import FixtureServer, load_static_site

    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}", flush=True)

    # (a) baseline -----------------------------------------------------------------------------------
    sb: dict = scrapy_bench(args.bench_seconds) if not args.skip_bench else {
        "rates": [], "median": float("nan"), "max": float("nan"), "overall": float("nan"), "received": 0,
        "elapsed": float("nan"), "wall": 0.0}
    print("scrapy bench: per-interval pages/s " + " ".join(f"{r:.0f}" for r in sb["rates"]))
    print(f"scrapy bench: {sb['median']:.1f} pages/s steady-state median (max {sb['max']:.1f}, "
          f"overall {sb['received']} responses / {sb['elapsed']:.1f} s = {sb['overall']:.1f} pages/s, "
          f"process wall {sb['wall']:.1f} s)", flush=True)

    tmp_ctx = tempfile.TemporaryDirectory(prefix="bench-crawl-")
    work = args.keep or Path(tmp_ctx.name)
    work.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work / 'monitor.db'}"
    if (work / "monitor.db").exists():
        raise SystemExit(f"{work / 'monitor.db'} exists: give an empty --keep directory")

    with FixtureServer(site="portal") as server:
        path = work / "settings.toml"
        write_settings(path, server.base_url, db_url)
        path.write_text(path.read_text(encoding="utf-8") + FAST_CRAWL, encoding="utf-8")
        settings = load_settings(path)
        columns = len(settings.columns)
        print(f"fixture portal at {server.base_url}: {len(settings.units)} units, {columns} columns, "
              f"{len(load_static_site('portal').pages)} pre-rendered pages; politeness OFF for the loopback fixture "
              f"(download_delay 0, autothrottle off, 16/16 concurrent, retries 0), as scrapy bench has none",
              flush=True)

        # start-up cost: an empty crawl (a unit that does not exist -> zero columns, no Scrapy engine run)
        t0 = time.perf_counter()
        run_crawl(settings, units=["__bench_no_such_unit__"])
        startup = time.perf_counter() - t0
        print(f"startup: empty crawl (spawned child, imports, migrate, zero columns) {startup:.2f} s", flush=True)

        # (b) full crawl -----------------------------------------------------------------------------
        server.clear_requests()
        cpu0, t0 = children_cpu(), time.perf_counter()
        summary = run_crawl(settings, full=True)
        wall, crawl_cpu = time.perf_counter() - t0, children_cpu() - cpu0
        with server._lock:
            reqs = list(server.requests)
        pages = len(reqs)
        posts = count_posts(db_url)
        rate = pages / wall
        net = wall - startup
        ratio = sb["median"] / rate
        print(f"full crawl: {summary.columns} columns, {summary.ok} ok, {len(summary.failed)} failed, "
              f"{summary.new_posts} new posts, {summary.requests} requests counted by the spider")
        for unit, column, reason in summary.failed[:10]:
            print(f"  failed: {unit} / {column}: {reason}")
        print(f"crawl: {pages} pages in {wall:.1f} s = {rate:.1f} pages/s; {posts} posts = {posts / wall:.1f} posts/s; "
              f"scrapy bench {sb['median']:.1f} pages/s; ratio {ratio:.2f} (target <= 1.5) "
              f"{'PASS' if ratio <= 1.5 else 'FAIL'}")
        if net > 0:
            print(f"crawl excluding startup: {pages} pages in {net:.1f} s = {pages / net:.1f} pages/s; "
                  f"ratio {sb['median'] / (pages / net):.2f}")
        print(f"crawl vs scrapy bench max {sb['max']:.1f} pages/s: ratio {sb['max'] / rate:.2f}", flush=True)
        bare = bare_scrapy(server.base_url, reqs, work)
        bare_rate = pages / bare["wall"]
        print(f"crawl: CPU {crawl_cpu:.2f} s = {1000 * crawl_cpu / pages:.1f} ms a page "
              "(crawl child, startup included)")
        print(f"crawl: bare Scrapy replay of the same {pages} URLs: {bare['wall']:.1f} s = {bare_rate:.1f} pages/s, "
              f"CPU {bare['cpu']:.2f} s = {1000 * bare['cpu'] / pages:.1f} ms a page (process start included)")
        print(f"ratio our rate / bare Scrapy: {rate / bare_rate:.2f} (target >= 0.8) "
              f"{'PASS' if rate / bare_rate >= 0.8 else 'FAIL'}; excluding startup "
              f"{(pages / net if net > 0 else rate) / bare_rate:.2f}; CPU a page ours / bare "
              f"{crawl_cpu / bare['cpu']:.2f}", flush=True)

        # (c) incremental re-crawl with nothing new --------------------------------------------------
        server.clear_requests()
        t0 = time.perf_counter()
        again = run_crawl(settings)
        wall2 = time.perf_counter() - t0
        with server._lock:
            reqs2 = list(server.requests)
        column_requests = len(reqs2) - robots(reqs2)
        per_column = column_requests / columns
        statuses: dict[str, int] = {}
        from storage import queries
        from storage.db import get_sessionmaker

        with get_sessionmaker(db_url)() as session:
            for f in queries.run_fetches(session, again.run_id):
                statuses[f.status] = statuses.get(f.status, 0) + 1
        print(f"incremental: {column_requests} requests for {columns} columns = {per_column:.3f} requests/column "
              f"(target <= 1.05) {'PASS' if per_column <= 1.05 else 'FAIL'}; {again.new_posts} new posts; "
              f"{wall2:.1f} s; statuses {dict(sorted(statuses.items()))}", flush=True)
        if per_column > 1.05:
            extra: dict[str, int] = {}
            for _, p in reqs2:
                extra[p] = extra.get(p, 0) + 1
            print("  most requested paths: " + ", ".join(f"{p} x{n}" for p, n in
                                                        sorted(extra.items(), key=lambda kv: -kv[1])[:5]))
    if args.keep is None:
        tmp_ctx.cleanup()


if __name__ == "__main__":
    main()
