"""`monitor check` on a province-sized database: ~1,000,000 posts, 40 units x 25 columns.

    python bench/check_1m.py [--posts 1000000] [--units 40] [--columns 25] [--runs 100] [--keep DIR] [--reuse]
                             [--database-url URL] [--postgres-url URL] [--baseline-root DIR] [--unit 单位20]
                             [--repeat 5]

Builds the database (SQLite in a temp dir by default; `--database-url` for an EMPTY database you created
for this, e.g. postgresql://postgres@127.0.0.1:5432/bench -- never the tests' `test` database), and with
`--postgres-url` the same data in a second, PostgreSQL database; registers the units and columns through
settings (`config.parse_settings` + `storage.queries.sync_settings`) so that `monitor check` finds them, then
measures in one run:

  * in process, on each database: `evaluate_unit` (cold first call, then the median of warm calls) with the time
    of each SQL statement it runs; the month counts of every unit and of one, the old way (one
    unit_posts_between per unit and month) against one bucketed unit_month_counts, both results compared;
    evaluate_all of every unit (the dashboard's cold overview); crawl_targets and _newest_fetches of every column;
  * the commands as subprocesses, all in turns (`command:` lines, median of --repeat after one untimed round):
    the anchor `python -c "import sqlalchemy, sqlite3"`; `monitor --config X check --unit U --as-of 2020-10-10
    --no-crawl --format json` on each database; every unit's check (`all`: Monitor.evaluate_all and the
    freshness, as a command would print them, after `import monitors.cli`); with `--baseline-root` the same
    commands run from another checkout (before/after in the same turns). Each output is compared with the
    in-process result. Bytecode is cached (PYTHONPYCACHEPREFIX under the work directory) as in an installed
    product, for the anchor as for the product;
  * `target` lines, issue 13 part 2: check --unit / anchor (≤ 1.2), the all-units check / anchor (≤ 1.2),
    PostgreSQL / SQLite of both commands, of evaluate_all and of evaluate_unit (≤ 1.3); `floor:` lines: what
    `import sqlalchemy.orm`, `import storage.models` and `import monitors.cli` alone cost against the anchor;
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
from monitors.app import Monitor
app = Monitor(settings); app.sessions; lap("engine+prepare")
result = app.check(sys.argv[2], date.fromisoformat(sys.argv[3])); lap("evaluate_unit (cold)")
freshness = app.freshness(result.unit); lap("freshness")
json.dumps({**result.to_json(), "data": freshness.to_json()}, ensure_ascii=False, indent=2); lap("to_json+dumps")
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


def build_or_reuse(args: argparse.Namespace, db_url: str, settings_path: Path) -> None:
    """The database at `db_url` built (or, with --reuse, migrated to this checkout's head), its settings written."""
    from config import parse_settings

    text = settings_toml(db_url, args.units, args.columns, args.accounts)
    parse_settings(text, str(settings_path))  # validate before writing
    settings_path.write_text(text, encoding="utf-8")
    kind = db_url.split("://")[0]
    if args.reuse and args.keep:
        from storage.db import migrate

        t0 = time.perf_counter()
        migrate(db_url)  # a database built by an older checkout gets this one's schema (indexes) first
        print(f"build ({kind}): reusing the existing database (migrated to head in {time.perf_counter() - t0:.1f} s)")
        return
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
    print(f"build ({kind}): {info['posts']} posts, {info['column_posts']} column_posts, {info['fetches']} "
          f"column_fetches, {info['accounts']} accounts with {info['account_posts']} account_posts, "
          f"{info['units']} units x {info['columns'] // max(info['units'], 1)} columns in {total:.1f} s "
          f"(posts+listings {info['insert_s']:.1f} s = {info['posts'] / info['insert_s']:.0f} posts/s, "
          f"fetches {info['fetch_s']:.1f} s){size}", flush=True)


# Every unit's check as one command would give it: `check`'s JSON for each unit (Monitor.evaluate_all, the
# evaluation `check --unit` narrows) and the freshness of all the data. Imports monitors.cli first, as the command.
ALL_UNITS = """
import json, sys
from datetime import date
import monitors.cli
from config import load_settings
from monitors.app import Monitor
app = Monitor(load_settings(sys.argv[1]))
evaluation = app.evaluate_all(date.fromisoformat(sys.argv[2]))
print(json.dumps({"units": [u.to_json() for u in evaluation.units], "data": app.freshness().to_json()},
                 ensure_ascii=False, indent=2))
"""


def interleaved(cmds: dict[str, list[str]], repeat: int, envs: dict[str, tuple[dict[str, str], Path]]) -> tuple[
        dict[str, float], dict[str, list[float]], dict[str, subprocess.CompletedProcess[str]]]:
    """Each command run `repeat` times in turns (one untimed round first: bytecode, page cache), so the load of a
    shared machine falls on all alike; the median wall time of each, all times, the last run of each. `envs`: each
    command's environment and working directory (the checkout: `-m` and `-c` put it first on sys.path)."""
    times: dict[str, list[float]] = {name: [] for name in cmds}
    last: dict[str, subprocess.CompletedProcess[str]] = {}
    for round_ in range(max(repeat, 1) + 1):
        for name, cmd in cmds.items():
            t0 = time.perf_counter()
            env, cwd = envs[name]
            last[name] = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
            if round_:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}, times, last


def target(name: str, value: float, limit: float) -> None:
    print(f"target {name}: {value:.2f} (target ≤ {limit:g}) {'met' if value <= limit else 'NOT met'}", flush=True)


def in_process(label_: str, db_url: str, settings_path: Path, unit: str, repeat: int) -> dict[str, Any]:
    """evaluate_unit (cold, warm median, each statement), the month counts, evaluate_all; returns the results."""
    from config import load_settings
    from monitors.evaluate import evaluate_all, evaluate_unit
    from storage.db import get_engine, get_sessionmaker

    settings = load_settings(settings_path)
    engine = get_engine(db_url)
    log = StatementLog(engine)
    sessions = get_sessionmaker(db_url)
    day = date.fromisoformat(AS_OF)
    evals = []
    result = None
    cold_rows: list[list] = []
    for i in range(repeat + 1):
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
    print(f"evaluate ({label_}): evaluate_unit({unit}) in process: cold {evals[0]:.3f} s, warm median {warm:.3f} s; "
          f"{len(data['columns'])} columns, months {data['months']}, {len(data['findings'])} findings")
    for name, secs in per_stmt.items():
        print(f"evaluate ({label_}): {name}: {len(secs)} statement(s), {sum(secs):.3f} s "
              f"({' '.join(f'{s:.3f}' for s in secs)})")
    print(f"evaluate ({label_}): cold call statements {len(cold_rows)}, {sum(r[2] for r in cold_rows):.3f} s in SQL",
          flush=True)
    month_counts(sessions, settings, unit, day, min(repeat, 3))
    every, evaluation = timed(lambda: _evaluate_all(sessions, settings, day, evaluate_all), min(repeat, 3))
    return {"unit": data, "warm": warm, "every": every, "all_units": [u.to_json() for u in evaluation.units],
            "engine": engine, "cold_rows": cold_rows}


def _evaluate_all(sessions: Any, settings: Any, day: date, evaluate_all: Callable[..., Any]) -> Any:
    with sessions() as session:
        return evaluate_all(session, settings, day)


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
    ap.add_argument("--postgres-url", default=None,
                    help="a second, EMPTY PostgreSQL database holding the same data: the PostgreSQL / SQLite ratios")
    ap.add_argument("--baseline-root", type=Path, default=None,
                    help="another checkout (e.g. `git worktree add /tmp/base <commit>`): its commands are timed in "
                         "the same turns, before/after in one run")
    ap.add_argument("--keep", type=Path, help="directory for settings (and SQLite file); kept afterwards")
    ap.add_argument("--reuse", action="store_true", help="with --keep: reuse a database built by an earlier run")
    args = ap.parse_args()
    for url in (args.database_url, args.postgres_url):
        if url and url.rstrip("/").endswith("/test"):
            raise SystemExit("refusing the tests' `test` database: create a dedicated one (e.g. `bench`)")

    tmp_ctx = tempfile.TemporaryDirectory(prefix="bench-1m-")
    work = args.keep or Path(tmp_ctx.name)
    work.mkdir(parents=True, exist_ok=True)
    db_url = args.database_url or f"sqlite:///{work / 'monitor.db'}"
    databases = {db_url.split("://")[0].split("+")[0]: (db_url, work / "settings.toml")}
    if args.postgres_url:
        databases["postgresql"] = (args.postgres_url, work / "settings-pg.toml")
    unit = args.unit or unit_name(args.units // 2)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, databases {', '.join(databases)}")
    for url, settings_path in databases.values():
        build_or_reuse(args, url, settings_path)

    # in process: evaluate_unit, the month counts, evaluate_all ------------------------------------------------
    results = {name: in_process(name, url, path, unit, args.repeat) for name, (url, path) in databases.items()}

    # the commands, in turns: the bare anchor, `check --unit`, every unit's check (this checkout and the baseline) --
    py = sys.executable
    monitor = [py, "-m", "monitors.cli"]
    # bytecode cached as in an installed product (this environment may set PYTHONDONTWRITEBYTECODE, which would
    # recompile every product module in every run); the same for the anchor
    pycache = work / "pycache"
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base_env["PYTHONPYCACHEPREFIX"] = str(pycache)
    roots = {"": ROOT} | ({" (baseline)": args.baseline_root.resolve()} if args.baseline_root else {})
    cmds: dict[str, list[str]] = {"bare": [py, "-c", "import sqlalchemy, sqlite3"]}
    envs: dict[str, tuple[dict[str, str], Path]] = {"bare": (base_env, ROOT)}
    # what any command on the ORM pays before its first statement (this checkout)
    floors = ("import sqlalchemy.orm, sqlite3", "import storage.models, sqlite3", "import monitors.cli")
    for code in floors:
        cmds[f"floor {code}"] = [py, "-c", code]
        envs[f"floor {code}"] = (base_env, ROOT)
    for suffix, root in roots.items():
        env = {**base_env, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        for name, (_, path) in databases.items():
            cmds[f"check {name}{suffix}"] = monitor + ["--config", str(path), "check", "--unit", unit, "--as-of",
                                                       AS_OF, "--no-crawl", "--format", "json"]
            cmds[f"all {name}{suffix}"] = [py, "-c", ALL_UNITS, str(path), AS_OF]
            envs[f"check {name}{suffix}"] = envs[f"all {name}{suffix}"] = (env, root)
    medians, every_time, last = interleaved(cmds, args.repeat, envs)
    for name, cmd in cmds.items():
        proc = last[name]
        shown = " ".join(c if len(c) < 60 else "SCRIPT" for c in cmd[1:]).replace(str(work), "DIR")
        line = f"command: {name}: median {medians[name]:.3f} s ({' '.join(f'{t:.3f}' for t in every_time[name])})"
        if proc.returncode != 0 and not name.startswith(("check", "all")):
            line += f"; FAILED exit {proc.returncode}: {proc.stderr[-300:]}"
        elif name.startswith(("check", "all")):
            if proc.returncode not in (0, 1):
                print(line + f"; FAILED exit {proc.returncode}: {proc.stderr[-800:]}", flush=True)
                continue
            out = json.loads(proc.stdout)
            db = name.split()[1]
            if name.startswith("check"):  # the command adds the data's freshness ("data")
                same = {k: v for k, v in out.items() if k != "data"} == results[db]["unit"]
            else:
                same = out["units"] == results[db]["all_units"]
            line += f"; exit {proc.returncode}, output {'matches' if same else 'DIFFERS FROM'} the in-process result"
        print(line + f"  [{shown}]", flush=True)

    # where the command's time goes: the same steps as `monitor check`, timed inside one fresh process
    name, (_, settings_path) = next(iter(databases.items()))
    runs = []
    for _ in range(3):
        proc = subprocess.run([py, "-c", BREAKDOWN, str(settings_path), unit, AS_OF], capture_output=True, text=True,
                              env=envs[f"check {name}"][0], cwd=ROOT)
        if proc.returncode != 0:
            print("check breakdown failed: " + proc.stderr[-500:], flush=True)
            break
        runs.append(json.loads(proc.stdout.splitlines()[-1]))
    if runs:
        parts = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"check breakdown ({name}, fresh process, median of 3): "
              + ", ".join(f"{k} {v:.3f} s" for k, v in parts.items()), flush=True)

    # the targets (issue 13 part 2), each from the medians above, measured in the same turns
    bare = medians["bare"]
    first = next(iter(databases))
    for suffix in roots:
        target(f"check --no-crawl --unit {unit} ({first}) / bare python -c 'import sqlalchemy, sqlite3'{suffix}",
               medians[f"check {first}{suffix}"] / bare, 1.2)
        target(f"all-units check ({first}) / bare import{suffix}", medians[f"all {first}{suffix}"] / bare, 1.2)
        if "postgresql" in databases and first != "postgresql":
            target(f"check --no-crawl --unit {unit} PostgreSQL / SQLite{suffix}",
                   medians[f"check postgresql{suffix}"] / medians[f"check {first}{suffix}"], 1.3)
            target(f"all-units check PostgreSQL / SQLite{suffix}",
                   medians[f"all postgresql{suffix}"] / medians[f"all {first}{suffix}"], 1.3)
    if "postgresql" in databases and first != "postgresql":
        target("evaluate_all in process PostgreSQL / SQLite (this checkout)",
               results["postgresql"]["every"] / results[first]["every"], 1.3)
        target(f"evaluate_unit({unit}) warm in process PostgreSQL / SQLite (this checkout)",
               results["postgresql"]["warm"] / results[first]["warm"], 1.3)
    for code in floors:
        print(f"floor: python -c '{code}' median {medians['floor ' + code]:.3f} s = "
              f"{medians['floor ' + code] / bare:.2f} x bare python -c 'import sqlalchemy, sqlite3' "
              f"({bare:.3f} s)", flush=True)

    for result in results.values():
        explain(result["engine"], result["cold_rows"])
        result["engine"].dispose()
    if args.keep is None:
        tmp_ctx.cleanup()


if __name__ == "__main__":
    main()
