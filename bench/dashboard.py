"""The dashboard's server time on a province-sized database (~1,000,000 posts), against `monitor check`.

    python bench/dashboard.py [--posts 1000000] [--units 40] [--columns 25] [--unit 单位20] [--requests 20]
                              [--repeat 5] [--keep DIR] [--reuse]

Builds the database with bench/check_1m.py's builder (same shape, same options; `--keep DIR --reuse` measures a
database an earlier run of either script built in DIR), then measures in one run:

  * `dashboard:` server time of `GET /` (the overview), `GET /u/{unit}` (a unit's page) and
    `GET /api/units/{unit}/check` through FastAPI's TestClient in process (no network, no process start: the
    server's time), as the centre (open access), `?as_of=2020-10-10`: the first (cold) request, then the median of
    --requests more. Target (issue 12): under 200 ms each for the overview and the unit page.
  * baselines on the same data: `Monitor.check(unit)` in process (cold, then the median of --repeat warm calls)
    and `monitor --config X check --unit U --as-of 2020-10-10 --no-crawl --format json` as a subprocess (wall
    clock, median of --repeat); the API's JSON is compared with the command's.
  * `ratio` lines: each page's median over `Monitor.check` in process and over the command.

When the HTML pages are not there (a route answering 404/405), only the API endpoint is measured, and it says so.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
for var in ("MONITOR_DATABASE_URL", "MONITOR_SETTINGS", "MONITOR_SERVE_PASSWORD"):  # open access, our settings
    os.environ.pop(var, None)

import check_1m  # noqa: E402  (bench/check_1m.py: the database builder and the subprocess timer)

TARGET_MS = 200.0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def time_requests(client: Any, path: str, n: int) -> tuple[float, list[float], int, int, str]:
    """(cold, warm times, status, bytes, body) of `n` + 1 GETs of `path`; the first is the cold one."""
    times = []
    response = None
    for _ in range(n + 1):
        t0 = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - t0)
    assert response is not None
    return times[0], times[1:], response.status_code, len(response.content), response.text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--columns", type=int, default=25, help="columns per unit")
    ap.add_argument("--runs", type=int, default=100, help="crawl runs of fetch history")
    ap.add_argument("--accounts", type=int, default=3, choices=range(4), help="official accounts per unit")
    ap.add_argument("--account-posts", type=int, default=120_000)
    ap.add_argument("--unit", default=None, help="unit whose page is measured (default: the middle one)")
    ap.add_argument("--requests", type=int, default=20, help="warm requests per page (median)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of `monitor check` and Monitor.check (median)")
    ap.add_argument("--keep", type=Path, help="directory for settings and the SQLite file; kept afterwards")
    ap.add_argument("--reuse", action="store_true", help="with --keep: reuse the database an earlier run built")
    args = ap.parse_args()

    tmp_ctx = tempfile.TemporaryDirectory(prefix="bench-dashboard-")
    work = args.keep or Path(tmp_ctx.name)
    work.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work / 'monitor.db'}"
    settings_path = work / "settings.toml"
    unit = args.unit or check_1m.unit_name(args.units // 2)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, database sqlite, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    if args.reuse and args.keep and settings_path.exists():
        print("build: reusing the existing database")
    else:
        settings_path.write_text(check_1m.settings_toml(db_url, args.units, args.columns, args.accounts),
                                 encoding="utf-8")
        t0 = time.perf_counter()
        info = check_1m.build(db_url, settings_path, args.posts, args.runs, args.account_posts)
        print(f"build: {info['posts']} posts, {info['column_posts']} column_posts, {info['fetches']} column_fetches, "
              f"{info['accounts']} accounts with {info['account_posts']} account_posts, {info['units']} units x "
              f"{info['columns'] // max(info['units'], 1)} columns in {time.perf_counter() - t0:.1f} s", flush=True)

    from fastapi.testclient import TestClient

    from config import load_settings
    from monitors.app import Monitor
    from monitors.web.app import create_app

    settings = load_settings(settings_path)
    day = date.fromisoformat(check_1m.AS_OF)

    # baseline 1: the application layer's use case in process ---------------------------------------
    monitor = Monitor(settings)
    monitor.prepare()
    calls = []
    for _ in range(args.repeat + 1):
        t0 = time.perf_counter()
        result = monitor.check(unit, day)
        calls.append(time.perf_counter() - t0)
    in_process = statistics.median(calls[1:])
    print(f"evaluate: Monitor.check({unit}) in process: cold {ms(calls[0])}, warm median {ms(in_process)} "
          f"of {args.repeat}; {len(result.facts.columns)} columns, {len(result.findings)} findings", flush=True)

    # where a check's and the overview's time goes: the column facts of one unit, of every unit (what check --unit
    # also loads for site.columns_veto), and the evaluation of every unit (the overview's)
    from monitors.evaluate import Evaluator
    from storage import queries

    with monitor.sessions() as session:
        cut = Evaluator(session, settings).at(day + timedelta(days=1))
        parts = {}
        for label, run in (("column_facts(one unit)", lambda: queries.column_facts(session, cut, unit)),
                           ("column_facts(every unit)", lambda: queries.column_facts(session, cut, None)),
                           ("Monitor.evaluate_all", lambda: monitor.evaluate_all(day))):
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                run()
                times.append(time.perf_counter() - t0)
            parts[label] = statistics.median(times)
    print("evaluate: parts (median of 3): " + ", ".join(f"{k} {ms(v)}" for k, v in parts.items()), flush=True)

    # baseline 2: the command -----------------------------------------------------------------------
    command = shutil.which("monitor")
    cmd = ([command] if command else [sys.executable, "-m", "monitors.cli"]) + [
        "--config", str(settings_path), "check", "--unit", unit, "--as-of", check_1m.AS_OF, "--no-crawl",
        "--format", "json"]
    check, check_all, proc = check_1m.median_run(cmd, args.repeat)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"monitor check failed with exit {proc.returncode}: {proc.stderr[-1000:]}")
    cli_json = json.loads(proc.stdout)
    print(f"check: monitor check --unit {unit} --no-crawl --format json (subprocess): median {check:.3f} s "
          f"({' '.join(f'{t:.3f}' for t in check_all)}); exit {proc.returncode}", flush=True)

    # the dashboard -----------------------------------------------------------------------------------
    t0 = time.perf_counter()
    app = create_app(settings)
    print(f"dashboard: create_app (database prepared, routers) {ms(time.perf_counter() - t0)}", flush=True)
    as_of = f"as_of={check_1m.AS_OF}"
    pages = {"overview": f"/?{as_of}", "unit page": f"/u/{quote(unit)}?{as_of}",
             "api check": f"/api/units/{quote(unit)}/check?{as_of}"}
    medians: dict[str, float] = {}
    with TestClient(app) as client:
        for name, path in pages.items():
            cold, warm, status, size, body = time_requests(client, path, args.requests)
            if status in (404, 405) and name != "api check":
                print(f"dashboard: {name} GET {path}: answers {status}: the page is not there yet, not measured")
                continue
            if status != 200:
                raise SystemExit(f"GET {path} answered {status}: {body[:500]}")
            medians[name] = statistics.median(warm)
            extra = ""
            if name == "api check":
                same = json.loads(body) == cli_json
                extra = f"; JSON {'equals' if same else 'DIFFERS FROM'} monitor check's"
            print(f"dashboard: {name} GET {path}: server time median {ms(medians[name])} of {len(warm)} "
                  f"(min {ms(min(warm))}, max {ms(max(warm))}); cold first {ms(cold)}; {size:,} bytes{extra}",
                  flush=True)

    for name, median in medians.items():
        print(f"ratio {name} / Monitor.check in process: {median / in_process:.1f}; "
              f"{name} / monitor check subprocess: {median / check:.2f}")
    measured: list[str] = [n for n in ("overview", "unit page") if n in medians] or ["api check"]
    for name in measured:
        verdict = "PASS" if medians[name] * 1000 < TARGET_MS else "FAIL"
        print(f"target {name} server time < {TARGET_MS:.0f} ms (median of {args.requests}): {verdict} "
              f"({ms(medians[name])})")
    if args.keep is None:
        tmp_ctx.cleanup()


if __name__ == "__main__":
    main()
