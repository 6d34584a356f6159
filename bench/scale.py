"""Scale bench (issue 13): the synthetic province (fixtures.province) at growing sizes, one run.

    python bench/scale.py [--sizes 1000,5000,20000] [--database-url postgresql+psycopg://postgres@127.0.0.1/x]
                          [--skip-bench] [--keep DIR]

For each size N (columns; sites = N / 200, 200 columns a site, ~10 units a site) on a fresh database:
  full         `monitor crawl` on an empty database (generation 0): every page of every column;
  incremental  `monitor crawl` again after one generation (30 % of the columns have 1-4 new posts, the rest
               answer 304 to the conditional request), as the daemon's daily run;
  check        `monitor check --no-crawl --unit <a unit>` (one unit, as a person asks);
  report       `monitor report --quarter <last quarter>` (every unit evaluated, the notice and attachments written);
and reports pages/s, columns/s, CPU ms a page, peak RSS of the crawl process, the database's size, and the growth
exponent of each figure between sizes (time ~ N^k: k = 1 is linear). Each command runs as a user runs it (a
new process, the settings file), timed from outside; peak RSS is the process's own (wait4).

Anchors measured in the same run: bare Scrapy (bench/crawl_rate.py's replay: no parsing, no storage) fetching
the very GET URLs the full crawl of the smallest size requested, at the same concurrency; and `scrapy bench`.
Targets: page rate of the full crawl >= 0.8x bare Scrapy; a province's daily incremental cycle (20,000 columns)
within 15 minutes; its first full crawl within the hour. A size not run is extrapolated from the exponent
(said so on its line).
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

COLUMNS_PER_SITE = 200
TARGET_RATIO = 0.8          # full-crawl page rate / bare Scrapy's
TARGET_SIZE = 20_000        # a province's columns
TARGET_INCREMENTAL = 15 * 60
TARGET_FULL = 60 * 60


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float
    pages: int
    code: int
    out: str = ""


@dataclass
class Size:
    columns: int
    sites: int
    full: Run | None = None
    incremental: Run | None = None
    check: Run | None = None
    report: Run | None = None
    db_mb: float = 0.0
    posts: int = 0
    expected: int = 0
    new_posts: int = 0
    expected_new: int = 0
    figures: dict[str, float] = field(default_factory=dict)


def run_command(args: list[str], served: Callable[[], int] | None = None) -> Run:
    """Run a command in a new process; wall, CPU (user+sys) and peak RSS of that process (wait4)."""
    before = served() if served else 0
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    pages = (served() - before) if served else 0
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, pages, proc.returncode, out)


def monitor(*args: str) -> list[str]:
    """The installed `monitor` command, as a user runs it."""
    command = shutil.which("monitor")
    return [command, *args] if command else [sys.executable, "-m", "monitors.cli", *args]


def database_size_mb(url: str) -> float:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        size = conn.execute(text("select pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return size / 2**20


def fresh_database(base: str | None, work: Path, n: int) -> str:
    """A new empty database for size n: a SQLite file in `work`, or a new PostgreSQL database on the server
    of `base` (dropped first if it exists)."""
    if base is None:
        return f"sqlite:///{work / f'scale-{n}.db'}"
    from sqlalchemy.engine import make_url

    from tests.helpers import new_postgres_database

    return new_postgres_database(base, f"{make_url(base).database or 'bench'}_scale_{n}")


def count_posts(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text("select count(*) from posts")).scalar_one()
    engine.dispose()
    return int(n)


def last_quarter(today: date) -> str:
    q = (today.month - 1) // 3   # the quarter before today's
    return f"{today.year}Q{q}" if q else f"{today.year - 1}Q4"


def exponent(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log y over log x (y ~ x^k); None under two usable points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def extrapolate(xs: list[float], ys: list[float], x: float) -> tuple[float, bool]:
    """y at x: measured when x was run, else from the last point and the growth exponent (True: extrapolated)."""
    if x in xs:
        return ys[xs.index(x)], False
    k = exponent(xs, ys) or 1.0
    return ys[-1] * (x / xs[-1]) ** k, True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,5000,20000", help="column counts, comma-separated (multiples of 200)")
    ap.add_argument("--database-url", help="a PostgreSQL URL: each size gets its own new database on that server "
                                           "(default: a SQLite file each)")
    ap.add_argument("--skip-bench", action="store_true", help="skip `scrapy bench` (the bare replay stays)")
    ap.add_argument("--bench-seconds", type=int, default=10)
    ap.add_argument("--keep", type=Path, help="keep the databases, settings and logs in this directory")
    args = ap.parse_args()

    from crawl_rate import scrapy_bench

    from fixtures.province import BENCH_CRAWL, ProvinceServer, ProvinceSpec

    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = tempfile.TemporaryDirectory(prefix="bench-scale-")
    work = args.keep or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; database: "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}; crawl settings {BENCH_CRAWL}", flush=True)
    if not args.skip_bench:
        sb = scrapy_bench(args.bench_seconds)
        print(f"scrapy bench: {sb['median']:.1f} pages/s steady-state median (a link-following spider on its own "
              f"server: the weak anchor)", flush=True)

    results: list[Size] = []
    replay_line = ""
    ratio: float | None = None
    for n in sizes:
        sites = max(1, n // COLUMNS_PER_SITE)
        size = Size(columns=sites * COLUMNS_PER_SITE, sites=sites)
        spec = ProvinceSpec(sites=sites, columns_per_site=COLUMNS_PER_SITE)
        log = work / f"requests-{n}.log"
        with ProvinceServer(spec, generation=0, request_log=log) as province:
            url = fresh_database(args.database_url, work, n)
            settings = province.write_settings(work / f"settings-{n}.toml", database_url=url)
            size.expected = province.expected_total(0)
            size.full = run_command(monitor("--config", str(settings), "crawl"), province.requests_served)
            size.posts = count_posts(url)
            if size.full.code not in (0, 1):
                print(size.full.out[-3000:], file=sys.stderr)
                raise SystemExit(f"full crawl of {n} columns failed (exit {size.full.code})")
            print(f"full: {size.columns} columns on {sites} sites: {size.full.pages} pages in {size.full.wall:.1f} s "
                  f"= {size.full.pages / size.full.wall:.1f} pages/s, {size.columns / size.full.wall:.1f} columns/s; "
                  f"CPU {1000 * size.full.cpu / max(size.full.pages, 1):.1f} ms a page; peak RSS "
                  f"{size.full.peak_mb:.0f} MB; {size.posts} posts stored of {size.expected} "
                  f"{'(all)' if size.posts == size.expected else '(MISMATCH)'}", flush=True)
            province.set_generation(1)
            size.expected_new = province.expected_total(1) - size.expected
            size.incremental = run_command(monitor("--config", str(settings), "crawl"), province.requests_served)
            size.new_posts = count_posts(url) - size.posts
            print(f"incremental: {size.columns} columns: {size.incremental.pages} pages in "
                  f"{size.incremental.wall:.1f} s = {size.columns / size.incremental.wall:.1f} columns/s; "
                  f"{size.new_posts} new posts of {size.expected_new} "
                  f"{'(all)' if size.new_posts == size.expected_new else '(MISMATCH)'}; peak RSS "
                  f"{size.incremental.peak_mb:.0f} MB", flush=True)
            size.db_mb = database_size_mb(url)
            unit = spec_first_unit(province)
            size.check = run_command(monitor("--config", str(settings), "check", "--no-crawl", "--unit", unit,
                                             "--format", "json"))
            quarter = last_quarter(spec.today)
            size.report = run_command(monitor("--config", str(settings), "report", "--quarter", quarter,
                                              "--out", str(work / f"report-{n}"), "--force"))
            if size.report.code not in (0, 1):
                print(size.report.out[-2000:], file=sys.stderr)
            print(f"evaluate: check --no-crawl --unit {unit} {size.check.wall:.2f} s (exit {size.check.code}); "
                  f"report {quarter} (every unit, docx + xlsx) {size.report.wall:.1f} s (exit {size.report.code}); "
                  f"database {size.db_mb:.0f} MB = {1024 * 1024 * size.db_mb / max(size.posts, 1):.0f} B a post",
                  flush=True)
        results.append(size)
        if ratio is None:
            ratio, replay_line = anchor(spec, log, size, work)
            print(replay_line, flush=True)

    # The table and the growth exponents ------------------------------------------------------------
    cols = [float(s.columns) for s in results]
    rows: list[tuple[str, list[float]]] = [
        ("full crawl s", [s.full.wall for s in results if s.full]),
        ("full pages", [float(s.full.pages) for s in results if s.full]),
        ("full pages/s", [s.full.pages / s.full.wall for s in results if s.full]),
        ("full CPU s", [s.full.cpu for s in results if s.full]),
        ("incremental s", [s.incremental.wall for s in results if s.incremental]),
        ("incremental pages", [float(s.incremental.pages) for s in results if s.incremental]),
        ("peak RSS MB (full)", [s.full.peak_mb for s in results if s.full]),
        ("peak RSS MB (incr.)", [s.incremental.peak_mb for s in results if s.incremental]),
        ("database MB", [s.db_mb for s in results]),
        ("posts", [float(s.posts) for s in results]),
        ("check --unit s", [s.check.wall for s in results if s.check]),
        ("report s", [s.report.wall for s in results if s.report]),
    ]
    print("scaling: " + f"{'columns':<22}" + "".join(f"{int(c):>12,}" for c in cols) + f"{'exponent':>10}")
    for name, ys in rows:
        k = exponent(cols, ys)
        print("scaling: " + f"{name:<22}" + "".join(f"{y:>12,.1f}" for y in ys)
              + (f"{k:>10.2f}" if k is not None else f"{'-':>10}"))
    if replay_line:
        print(replay_line)
    incr, guessed = extrapolate(cols, [s.incremental.wall for s in results if s.incremental], TARGET_SIZE)
    print(f"target incremental cycle at {TARGET_SIZE:,} columns: {incr / 60:.1f} min "
          f"{'(extrapolated) ' if guessed else ''}(target < {TARGET_INCREMENTAL // 60} min) "
          f"{'met' if incr < TARGET_INCREMENTAL else 'NOT met'}")
    full, guessed = extrapolate(cols, [s.full.wall for s in results if s.full], TARGET_SIZE)
    print(f"target first full crawl at {TARGET_SIZE:,} columns: {full / 60:.1f} min "
          f"{'(extrapolated) ' if guessed else ''}(target < {TARGET_FULL // 60} min) "
          f"{'met' if full < TARGET_FULL else 'NOT met'}")
    if args.keep is None:
        tmp.cleanup()


def anchor(spec: object, log: Path, size: Size, work: Path) -> tuple[float, str]:
    """Bare Scrapy fetching the GET URLs the full crawl requested, at the same concurrency, from a new server
    process (cold, as the crawl found it: the server renders a column on its first request)."""
    from crawl_rate import bare_scrapy

    from fixtures.province import BENCH_CRAWL, ProvinceServer

    assert size.full is not None
    with ProvinceServer(spec, generation=0) as fresh:   # type: ignore[arg-type]
        gets = []
        for line in log.read_text(encoding="utf-8").splitlines()[:size.full.pages]:   # the full crawl's
            method, url = line.split(" ", 1)
            if method == "GET":
                host, _, rest = url.removeprefix("http://").partition("/")
                gets.append((method, f"http://{host.rsplit(':', 1)[0]}:{fresh.port}/{rest}"))
        bare = bare_scrapy("", gets, work, concurrency=(BENCH_CRAWL["concurrent_requests"],
                                                         BENCH_CRAWL["concurrent_per_domain"]))
    ours = size.full.pages / size.full.wall
    theirs = len(gets) / bare["wall"]
    ratio = ours / theirs
    return ratio, (f"ratio full-crawl page rate / bare Scrapy replay of the same {len(gets)} GET URLs "
                   f"({theirs:.1f} pages/s, CPU {1000 * bare['cpu'] / len(gets):.1f} ms a page) at "
                   f"{size.columns} columns: {ratio:.2f} (target >= {TARGET_RATIO}) "
                   f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}")


def spec_first_unit(province: object) -> str:
    """The first unit of the first site (the one a person would ask about)."""
    return province.sites[0].units[0].name  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
