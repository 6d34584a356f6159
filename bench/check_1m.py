"""`monitor check` on a province-sized database: ~1,000,000 posts, 40 units x 25 columns.

    python bench/check_1m.py [--posts 1000000] [--units 40] [--columns 25] [--runs 100] [--keep DIR]
                             [--database-url URL] [--unit 单位20] [--repeat 5]

Builds the database (SQLite in a temp dir by default; `--database-url` for an EMPTY database you created
for this, e.g. postgresql://postgres@127.0.0.1:5432/bench -- never the tests' `test` database), registers
the units and columns through settings (`config.parse_settings` + `storage.queries.sync_settings`) so that
`monitor check` finds them, then measures in one run:

  * `monitor --config X check --unit U --as-of 2020-10-10 --no-crawl --format json` as a subprocess,
    wall clock, median of --repeat runs. Target: under 1 s.
  * baselines: `python -c "import monitors.cli"` (interpreter + import start-up, median of --repeat runs)
    and `evaluate_unit` alone in process (cold first call, then the median of warm calls), with the time of
    each SQL statement it runs;
  * the month counts of every unit and of one, the old way (one unit_posts_between per unit and month) against
    one bucketed unit_month_counts, with both results compared; evaluate_all of every unit (the dashboard's cold
    overview); crawl_targets and _newest_fetches of every column (history of fetches);
  * the query plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL) of every statement evaluate_unit
    runs: unit_month_counts, column_facts, account_facts, units, _newest_fetches.

With --reuse the database is migrated to this checkout's head first (the time is printed). A new PostgreSQL
database gets VACUUM ANALYZE after the build, as autovacuum would give a live one.

Data shape: posts spread uniformly over 2019-01-01 .. 2020-10-09 (local time), column volumes vary 0.3x..1.7x,
every 12th column goes stale at the end of 2019, every 50th column is blank, 1 % of posts are also listed in a
second column of the same unit, --runs crawl runs of fetch history (all columns ok, a few errors), and
--accounts official accounts per unit sharing --account-posts posts (every 7th account quiet since 2019).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for var in ("MONITOR_DATABASE_URL", "MONITOR_SETTINGS"):  # the benchmark's settings file decides
    os.environ.pop(var, None)

CATEGORIES = ["dynamic"] * 10 + ["notice"] * 6 + ["disclosure"] * 5 + ["plan"] * 2 + ["other"] * 2
SITE = "http://bench.invalid"
START = datetime(2019, 1, 1, tzinfo=timezone(timedelta(hours=8)))
END = datetime(2020, 10, 10, tzinfo=timezone(timedelta(hours=8)))
AS_OF = "2020-10-10"
BATCH = 10_000
PLATFORMS = ("weibo", "wechat", "feed")
T = TypeVar("T")


BREAKDOWN = """
import json, sys, time
t = time.perf_counter(); out = {}
def lap(name):
    global t
    now = time.perf_counter(); out[name] = now - t; t = now
import monitors.cli; lap("import monitors.cli")
from config import load_settings; settings = load_settings(sys.argv[1]); lap("load_settings")
from datetime import date
from monitors.evaluate import evaluate_unit
from storage.db import get_sessionmaker, schema_ready; lap("import evaluate+storage")
url = settings.monitor.database_url; schema_ready(url); lap("engine+schema_ready")
with get_sessionmaker(url)() as session:
    result = evaluate_unit(session, settings, sys.argv[2], date.fromisoformat(sys.argv[3]))
lap("evaluate_unit (cold)")
json.dumps(result.to_json(), ensure_ascii=False, indent=2); lap("to_json+dumps")
print(json.dumps(out))
"""


def q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def unit_name(i: int) -> str:
    return f"单位{i:02d}"


def settings_toml(db_url: str, units: int, columns: int, accounts: int = 0) -> str:
    lines = ["[monitor]", f"database_url = {q(db_url)}", 'timezone = "Asia/Shanghai"', "",
             "[rules]", "monthly_quota = 10", "",
             "[[sites]]", 'name = "基准测试门户"', f"url = {q(SITE + '/')}", ""]
    for u in range(1, units + 1):
        lines += ["[[units]]", f"name = {q(unit_name(u))}", f"kind = {q('township' if u % 4 == 0 else 'department')}",
                  f'emails = ["u{u:02d}@bench.invalid"]', ""]
    for u in range(1, units + 1):
        for c in range(1, columns + 1):
            category = CATEGORIES[(c - 1) % len(CATEGORIES)]
            lines += ["[[columns]]", f"unit = {q(unit_name(u))}", f"name = {q(f'栏目{c:02d}')}",
                      f"url = {q(f'{SITE}/u{u:02d}/c{c:02d}/')}", f"category = {q(category)}",
                      f"quota = {'true' if category in ('dynamic', 'notice', 'disclosure') else 'false'}", ""]
    for u in range(1, units + 1):
        for platform in PLATFORMS[:accounts]:
            lines += ["[[accounts]]", f"unit = {q(unit_name(u))}", f"platform = {q(platform)}",
                      f"name = {q(f'{unit_name(u)}{platform}')}", f"url = {q(f'{SITE}/{platform}/u{u:02d}')}", ""]
    return "\n".join(lines)


def build(db_url: str, settings_path: Path, n_posts: int, runs: int, account_posts: int = 0,
          seed: int = 20201010) -> dict:
    from sqlalchemy import func, insert, select

    from config import load_settings
    from storage import queries
    from storage.db import get_sessionmaker, migrate
    from storage.models import Account, AccountPost, Column, ColumnFetch, ColumnPost, CrawlRun, Post

    rng = random.Random(seed)
    migrate(db_url)
    sessions = get_sessionmaker(db_url)
    settings = load_settings(settings_path)
    with sessions.begin() as session:
        if session.scalar(select(func.count()).select_from(Post)):
            raise SystemExit("the database already holds posts: give an empty database")
        queries.sync_settings(session, settings)
    with sessions() as session:
        cols = list(session.execute(select(Column.id, Column.unit_id).order_by(Column.id)))
    by_unit: dict[int, list[int]] = {}
    for cid, uid in cols:
        by_unit.setdefault(uid, []).append(cid)

    weights = {}
    for i, (cid, _) in enumerate(cols):
        weights[cid] = 0.0 if i % 50 == 49 else rng.uniform(0.3, 1.7)
    total_w = sum(weights.values())
    span = (END - START).total_seconds()
    stale_end = (datetime(2020, 1, 1, tzinfo=START.tzinfo) - START).total_seconds()
    now = datetime.now(timezone.utc)

    t0 = time.perf_counter()
    post_id = 0
    listed = 0
    with sessions.begin() as session:
        posts: list[dict] = []
        links: list[dict] = []

        def flush() -> None:
            if posts:
                session.execute(insert(Post), posts)
                posts.clear()
            if links:
                session.execute(insert(ColumnPost), links)
                links.clear()

        for i, (cid, uid) in enumerate(cols):
            count = round(n_posts * weights[cid] / total_w)
            limit = stale_end if i % 12 == 11 else span
            siblings = [c for c in by_unit[uid] if c != cid]
            for k in range(count):
                post_id += 1
                published = START + timedelta(seconds=rng.random() * limit)
                posts.append({"id": post_id, "url": f"{SITE}/p/{cid}/{k}.html", "title": f"基准信息 {cid}-{k}",
                              "published_at": published, "date_source": "list", "first_seen": now,
                              "column_id": cid})
                links.append({"column_id": cid, "post_id": post_id})
                if siblings and rng.random() < 0.01:
                    links.append({"column_id": rng.choice(siblings), "post_id": post_id})
                listed += 1
                if len(posts) >= BATCH:
                    flush()
        flush()
    insert_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with sessions.begin() as session:
        fetches: list[dict] = []
        for r in range(runs):
            run = CrawlRun(full=r == 0, status="done", started_at=now, finished_at=now)
            session.add(run)
            session.flush()
            for cid, _ in cols:
                error = rng.random() < 0.02
                fetches.append({"run_id": run.id, "column_id": cid, "status": "error" if error else
                                ("ok" if r == 0 or rng.random() < 0.2 else "unchanged"),
                                "reason": "连接超时，服务器未在限定时间内响应" if error else None,
                                "http_status": None if error else 200, "pages": 1, "requests": 1, "entries": 20,
                                "new_posts": 0, "finished_at": now})
            if len(fetches) >= BATCH:
                session.execute(insert(ColumnFetch), fetches)
                fetches.clear()
        if fetches:
            session.execute(insert(ColumnFetch), fetches)
    fetch_s = time.perf_counter() - t0

    with sessions.begin() as session:  # official accounts: posts spread like the portal's, every 7th goes quiet
        account_ids = list(session.scalars(select(Account.id).order_by(Account.id)))
        rows: list[dict] = []
        for i, aid in enumerate(account_ids):
            limit = stale_end if i % 7 == 6 else span
            for k in range(account_posts // max(len(account_ids), 1)):
                rows.append({"account_id": aid, "platform_id": f"{aid}-{k}",
                             "published_at": START + timedelta(seconds=rng.random() * limit),
                             "title": f"推文 {aid}-{k}", "url": None, "first_seen": now})
                if len(rows) >= BATCH:
                    session.execute(insert(AccountPost), rows)
                    rows.clear()
        if rows:
            session.execute(insert(AccountPost), rows)
    with sessions() as session:
        links_n = session.scalar(select(func.count()).select_from(ColumnPost))
        fetch_n = session.scalar(select(func.count()).select_from(ColumnFetch))
        account_n = session.scalar(select(func.count()).select_from(AccountPost))
    return {"posts": post_id, "column_posts": links_n, "fetches": fetch_n, "account_posts": account_n,
            "accounts": len(account_ids), "columns": len(cols),
            "units": len(by_unit), "insert_s": insert_s, "fetch_s": fetch_s}


def median_run(cmd: list[str], repeat: int) -> tuple[float, list[float], subprocess.CompletedProcess[str]]:
    # this checkout's code first, also when the script runs from a scratch copy of the project
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    times = []
    proc: subprocess.CompletedProcess[str] | None = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)  # StatisticsError when repeat < 1, as before
    assert proc is not None  # repeat >= 1 here
    return median, times, proc


class StatementLog:
    """Collects (sql, params, seconds) of every statement run on an engine."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.engine = engine
        self.rows: list[list] = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.rows.append([statement, parameters, time.perf_counter() - conn.info.pop("bench_t0")])


def label(sql: str) -> str:
    s = " ".join(sql.split())
    if "CASE WHEN" in s and "column_posts" in s:
        return "unit_month_counts"
    if "count(DISTINCT posts.id)" in s:
        return "unit_posts_between"
    if "column_posts" in s and "max(posts.published_at)" in s:
        return "column_facts"
    if "FROM units" in s and "columns" not in s:
        return "units"
    if "account_posts" in s:
        return "account_facts"
    if "column_fetches" in s:
        return "_newest_fetches"
    return s[:40]


def explain(engine, statements: list[list]) -> None:
    seen = set()
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        for sql, params, _ in statements:
            name = label(sql)
            if name in seen:
                continue
            seen.add(name)
            cur = dbapi.cursor()
            if engine.dialect.name == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + sql, params)
                rows = cur.fetchall()
                print(f"plan {name}:")
                for row in rows:
                    print(f"  plan {name}: {'  ' * _depth(rows, row)}{row[-1]}")
            else:
                cur.execute("EXPLAIN " + sql, params)
                print(f"plan {name}:")
                for (line,) in cur.fetchall():
                    print(f"  plan {name}: {line}")
            cur.close()


def _depth(rows: list, row: tuple) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, p = 0, row[1]
    while p in parents:
        depth, p = depth + 1, parents[p]
    return depth


def timed(run: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Median seconds of `repeat` calls (at least one) and the last call's result."""
    times = []
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def month_counts(sessions: Any, settings: Any, unit: str, day: date, repeat: int) -> None:
    """The month counts the old way (one unit_posts_between per unit and month) against one bucketed statement,
    for every unit (the dashboard's overview, the report) and for one (check --unit); evaluate_all; the crawl's
    and the evaluation's newest fetch per column."""
    from monitors.evaluate import Evaluator, check_months, evaluate_all
    from storage import queries
    from storage.queries.facts import _newest_fetches, unit_month_counts

    windows = check_months(day)
    with sessions() as session:
        evaluator = Evaluator(session, settings)
        cut = day + timedelta(days=1)
        bounds = [(evaluator.at(start), evaluator.at(min(end, cut))) for _, start, end in windows]
        names = [u.name for u in queries.units(session)]
        old_all, before = timed(lambda: {u: [queries.unit_posts_between(session, u, a, b) for a, b in bounds]
                                         for u in names}, repeat)
        new_all, after = timed(lambda: unit_month_counts(session, bounds), repeat)
        same_all = before == {u: after.get(u, [0] * len(bounds)) for u in names}
        old_one, before_one = timed(lambda: [queries.unit_posts_between(session, unit, a, b) for a, b in bounds],
                                    repeat)
        new_one, after_one = timed(lambda: unit_month_counts(session, bounds, [unit]), repeat)
        same_one = before_one == after_one.get(unit, [0] * len(bounds))
        print(f"months: every unit ({len(names)} x {len(bounds)} months): {len(names) * len(bounds)} "
              f"unit_posts_between {old_all:.3f} s, one unit_month_counts {new_all:.3f} s "
              f"({old_all / new_all:.1f}x), counts {'identical' if same_all else 'DIFFER'}")
        print(f"months: one unit ({unit}): {len(bounds)} unit_posts_between {old_one:.3f} s, one unit_month_counts "
              f"{new_one:.3f} s ({old_one / new_one:.1f}x), counts {'identical' if same_one else 'DIFFER'}")
        every, _ = timed(lambda: evaluate_all(session, settings, day), repeat)
        targets, found = timed(lambda: queries.crawl_targets(session), repeat)
        column_ids = [t.column_id for t in found]
        newest, _ = timed(lambda: _newest_fetches(session, column_ids), repeat)
        print(f"months: evaluate_all (every unit, the dashboard's cold overview) {every:.3f} s; "
              f"crawl_targets {targets:.3f} s, _newest_fetches of every column {newest:.3f} s "
              f"(median of {repeat})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--columns", type=int, default=25, help="columns per unit")
    ap.add_argument("--runs", type=int, default=100, help="crawl runs of fetch history (runs x columns fetch rows)")
    ap.add_argument("--accounts", type=int, default=3, choices=range(4), help="official accounts per unit")
    ap.add_argument("--account-posts", type=int, default=120_000, help="account posts in all")
    ap.add_argument("--unit", default=None, help="unit to check (default: the middle one)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--database-url", default=None, help="an EMPTY database to use instead of a temp SQLite file")
    ap.add_argument("--keep", type=Path, help="directory for settings (and SQLite file); kept afterwards")
    ap.add_argument("--reuse", action="store_true", help="with --keep: reuse a database built by an earlier run")
    args = ap.parse_args()
    if args.database_url and args.database_url.rstrip("/").endswith("/test"):
        raise SystemExit("refusing the tests' `test` database: create a dedicated one (e.g. `bench`)")

    tmp_ctx = tempfile.TemporaryDirectory(prefix="bench-1m-")
    work = args.keep or Path(tmp_ctx.name)
    work.mkdir(parents=True, exist_ok=True)
    db_url = args.database_url or f"sqlite:///{work / 'monitor.db'}"
    settings_path = work / "settings.toml"
    from config import parse_settings

    text = settings_toml(db_url, args.units, args.columns, args.accounts)
    parse_settings(text, str(settings_path))  # validate before writing
    settings_path.write_text(text, encoding="utf-8")
    unit = args.unit or unit_name(args.units // 2)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, database {db_url.split('://')[0]}")

    if args.reuse and args.keep:
        from storage.db import migrate

        t0 = time.perf_counter()
        migrate(db_url)  # a database built by an older checkout gets this one's schema (indexes) first
        print(f"build: reusing the existing database (migrated to head in {time.perf_counter() - t0:.1f} s)")
    else:
        t0 = time.perf_counter()
        info = build(db_url, settings_path, args.posts, args.runs, args.account_posts)
        total = time.perf_counter() - t0
        size = ""
        if db_url.startswith("sqlite:///"):
            size = f", file {Path(db_url[10:]).stat().st_size / 2**20:.0f} MiB"
        if not db_url.startswith("sqlite"):  # statistics, as autovacuum would gather them on a live database
            from sqlalchemy import text as sql_text

            from storage.db import get_engine

            with get_engine(db_url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sql_text("VACUUM ANALYZE"))
        print(f"build: {info['posts']} posts, {info['column_posts']} column_posts, {info['fetches']} column_fetches, "
              f"{info['accounts']} accounts with {info['account_posts']} account_posts, "
              f"{info['units']} units x {info['columns'] // max(info['units'], 1)} columns in {total:.1f} s "
              f"(posts+listings {info['insert_s']:.1f} s = {info['posts'] / info['insert_s']:.0f} posts/s, "
              f"fetches {info['fetch_s']:.1f} s){size}", flush=True)

    # baseline 1: interpreter + import start-up ------------------------------------------------------
    py = sys.executable
    startup, startup_all, _ = median_run([py, "-c", "import monitors.cli"], args.repeat)
    print(f"startup: python -c 'import monitors.cli' median {startup:.3f} s "
          f"({' '.join(f'{t:.3f}' for t in startup_all)})", flush=True)

    # baseline 2: evaluate_unit alone in process -----------------------------------------------------
    from config import load_settings
    from monitors.evaluate import evaluate_unit
    from storage.db import get_engine, get_sessionmaker

    settings = load_settings(settings_path)
    engine = get_engine(db_url)
    log = StatementLog(engine)
    sessions = get_sessionmaker(db_url)
    day = date.fromisoformat(AS_OF)
    evals = []
    result = None
    for i in range(args.repeat + 1):
        log.on, log.rows = True, []
        t0 = time.perf_counter()
        with sessions() as session:
            result = evaluate_unit(session, settings, unit, day)
        evals.append(time.perf_counter() - t0)
        log.on = False
        if i == 0:
            cold_rows = log.rows
    warm = statistics.median(evals[1:])
    per_stmt: dict[str, list[float]] = {}
    for sql, _, secs in log.rows:
        per_stmt.setdefault(label(sql), []).append(secs)
    assert result is not None  # the loop above runs repeat + 1 >= 1 times
    data = result.to_json()
    print(f"evaluate: evaluate_unit({unit}) in process: cold {evals[0]:.3f} s, warm median {warm:.3f} s; "
          f"{len(data['columns'])} columns, months {data['months']}, {len(data['findings'])} findings")
    for name, secs in per_stmt.items():
        print(f"evaluate: {name}: {len(secs)} statement(s), {sum(secs):.3f} s "
              f"({' '.join(f'{s:.3f}' for s in secs)})")
    print(f"evaluate: cold call statements {len(cold_rows)}, {sum(r[2] for r in cold_rows):.3f} s in SQL", flush=True)

    month_counts(sessions, settings, unit, day, min(args.repeat, 3))

    # the command itself --------------------------------------------------------------------------------
    monitor = shutil.which("monitor")
    cmd = ([monitor] if monitor else [py, "-m", "monitors.cli"]) + [
        "--config", str(settings_path), "check", "--unit", unit, "--as-of", AS_OF, "--no-crawl", "--format", "json"]
    check, check_all, proc = median_run(cmd, args.repeat)
    if proc.returncode not in (0, 1):
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"monitor check failed with exit {proc.returncode}")
    out = json.loads(proc.stdout)
    same = {k: v for k, v in out.items() if k != "data"} == data  # the command adds the data's freshness ("data")
    print(f"check: monitor check --unit {unit} --no-crawl --format json: median {check:.3f} s "
          f"({' '.join(f'{t:.3f}' for t in check_all)}); exit {proc.returncode}, {len(out['findings'])} findings, "
          f"output {'matches' if same else 'DIFFERS FROM'} in-process result")
    print(f"check: {check:.3f} s = startup {startup:.3f} s + evaluate {warm:.3f} s + other "
          f"{check - startup - warm:.3f} s; target < 1 s {'PASS' if check < 1 else 'FAIL'}", flush=True)

    # where the command's time goes: the same steps as `monitor check`, timed inside one fresh process
    runs = []
    for _ in range(3):
        steps, _, proc = median_run([py, "-c", BREAKDOWN, str(settings_path), unit, AS_OF], 1)
        if proc.returncode != 0:
            print("check breakdown failed: " + proc.stderr[-500:], flush=True)
            break
        runs.append((steps, json.loads(proc.stdout.splitlines()[-1])))
    if runs:
        parts = {k: statistics.median(r[1][k] for r in runs) for k in runs[0][1]}
        print("check breakdown (fresh process, median of 3): " + ", ".join(f"{k} {v:.3f} s" for k, v in parts.items())
              + f"; process wall {statistics.median(r[0] for r in runs):.3f} s", flush=True)

    explain(engine, cold_rows)
    engine.dispose()
    if args.keep is None:
        tmp_ctx.cleanup()


if __name__ == "__main__":
    main()
