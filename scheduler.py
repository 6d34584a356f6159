"""The daemon (`monitor daemon`): APScheduler jobs that crawl, probe, evaluate, alert and report on schedule.

Jobs and their ids (the names users write in `[schedule]`, `monitor daemon --once JOB` and `monitor status`):

| job | what it calls (monitors/app.py `Monitor`, as the CLI does) | default |
|---|---|---|
| `crawl` | `crawl_in_child` (portal columns, in a child process) | `0 2 * * *` |
| `accounts` | `read_accounts` | `0 */4 * * *` |
| `probes` | `probe` (home pages and `[probes] pages`) | `every 60m` (24 a day) |
| `alerts` | `run_alerts` (`monitors.alerts.run_alerts(settings, as_of, send=True)`) | `30 8 * * *` |
| `monthly` | `monthly_summary` (the month just ended) | `0 9 1 * *` |
| `quarterly` | `quarter_report` (the quarter just ended) | `0 9 10 1,4,7,10 *` |

The table is `JOB_TABLE` below: one `Job` a row (name, body, executor, misfire grace).

A schedule is a 5-field cron line read in `[monitor] timezone`, an interval `every 90s|30m|4h|1d`, or `off`.

Decisions
---------
- **Scheduler and threads.** A `BackgroundScheduler` whose main thread only waits for a stop signal, rather
  than a `BlockingScheduler`: the signal handler then just sets an Event, and the shutdown (waiting for the
  running jobs) happens in the main thread outside the handler, never re-entering the scheduler's locks from
  inside one. Two thread pools: `default` (2 workers) for the long jobs (crawl, accounts, alerts, reports)
  and `light` (1 worker) for the probes, so a crawl of several hours never delays the hourly probe the
  availability indicator counts.
- **Crawls in child processes** (`run_crawl`): Scrapy's Twisted reactor starts once per process, so a
  daemon that crawls every night must give each crawl a fresh process (README "Design notes"); it also
  returns the crawl's memory and keeps a crash of one crawl from taking the daemon down. The Playwright
  readers of the accounts job run in a worker thread with their own event loop (`asyncio.run`).
- **One run of a job at a time**: `max_instances=1`, `coalesce=True` (runs missed while the daemon was down
  or busy are made once, not once each), and a misfire grace per job (`MISFIRE_GRACE`: a night crawl missed
  by a stopped daemon still runs on a morning restart; a missed hourly probe is dropped, the next one comes).
  Each run also holds the job's own lock (below), so `monitor daemon --once crawl` and the daemon's crawl
  never overlap either: the later one is logged `event=skipped reason=locked`.
- **Single daemon per database.** PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a
  connection held for the daemon's life (per database, released by PostgreSQL if the process dies). SQLite:
  `fcntl.flock` on `<db file>.daemon.lock` (the kernel releases it when the process dies; the file holds the
  pid for the message). A second daemon refuses with a Chinese message and exit code 3 (2 stays "usage or
  settings error"). Job locks are the same with the name `job-<id>`.
- **A database blip drops the PostgreSQL lock** with its session (`DaemonLock`). The daemon checks the lock
  on its own connection every `LOCK_CHECK_SECONDS` (5 s) and before it submits or starts any run; while it
  does not hold it, nothing starts (due runs stay due in the store and are made, coalesced and within their
  grace, once it does; a run that was queued is skipped, `reason=database_unavailable`). Each check tries to
  take the lock again: `event=lock_lost`, then `event=database_unavailable` once while the database cannot be
  reached, then `event=lock_regained`; or, when another daemon took the lock meanwhile, `event=lock_taken`,
  one Chinese line, and the daemon stops at once (crawl children killed, no grace: the other daemon runs the
  jobs now) with exit code 3, as a second daemon refused at start. A run cut short by an outage is one line,
  `event=failed reason=database_unavailable`, no traceback; its row, left `running` while the database was
  away, is written by the job's next run (`_UNRECORDED`). The SQLite flock cannot be lost.
- **Job store in the product's database**: APScheduler's `SQLAlchemyJobStore` on our engine (SQLite WAL
  pragmas included), table `apscheduler_jobs`, created and owned by APScheduler, not by Alembic. Jobs are
  one module-level function referenced by text (`scheduler:run_job`) with the job's name and the settings
  path as its arguments, so the store can persist them and each run reads the settings afresh (a new column is crawled
  without a restart). On start each configured job is written again (`replace_existing=True`) when its
  schedule, timezone or settings path changed, and kept as stored otherwise, so a run that fell due while
  the daemon was stopped still happens within its grace; jobs set to `off` are removed.
- **Every run is a `job_runs` row**: `running` → `ok` | `failed` (the error in `message`) | `skipped`
  (e.g. alerts not installed yet) | `interrupted` (stopped by a signal, or left `running` by a process that
  died: marked at the next start, once the job's lock shows nobody runs it). A job that raises is logged
  with its traceback and the daemon goes on.
- **Stopping.** SIGTERM or SIGINT (Ctrl-C): no new run starts; a running crawl child gets SIGTERM, which
  Scrapy treats as a graceful stop (it finishes the pages in hand and stores them; columns left half-read
  are read in full by the next crawl); probes stop between pages; the daemon waits for the running jobs,
  logs `event=stopped` and exits 0. A second signal exits at once (code 1); what was running is marked
  `interrupted` at the next start. Nothing is lost either way: each page and each probe is its own
  transaction.
- **Logging**: stderr, one line an event, `2026-11-25 08:30:00 INFO scheduler job=crawl event=start run=7`,
  in `[monitor] timezone`; `key=value` pairs, values with spaces quoted; a traceback follows its `failed`
  line (a database outage: one line, no traceback). APScheduler's own chatter is silenced below ERROR; its
  misfires and skips are logged in our format.
"""
from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from config import Settings, load_settings
from config.loader import parse_schedule
from monitors.app import AlertsUnavailable, Monitor
from monitors.summary import previous_month
from storage import queries
from storage.db import DatabaseUnavailable, get_engine, get_sessionmaker, is_outage, normalise_url, safe_url

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.base import BaseTrigger
    from sqlalchemy.engine import Connection

log = logging.getLogger("scheduler")

DEFAULT_WORKERS, LIGHT_WORKERS = 2, 1
MIN_PROBES_A_DAY = 20  # 国办秘函〔2019〕19号
EXIT_LOCKED = 3
LOCK_CHECK_SECONDS = 5.0  # the daemon checks its lock this often (and before each run)
ENV_LOCK_CHECK = "MONITOR_LOCK_CHECK_SECONDS"  # a test hook lowering it
# The PostgreSQL lock connections: a dead server or network is an error within seconds, not a hang.
PG_LOCK_CONNECT_ARGS = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                        "keepalives_count": 3, "tcp_user_timeout": 15_000}
UNAVAILABLE = "unavailable"  # run_job's status when the database went away (the run skipped or cut short)

STOP = threading.Event()  # set by SIGTERM/SIGINT: jobs that can stop early check it


class JobInterrupted(Exception):
    """A job stopped early because the daemon is stopping."""


class JobSkipped(Exception):
    """A job with nothing it can do now (its message says why)."""


# --- logging -------------------------------------------------------------------------------------------

def kv(**fields: object) -> str:
    """`key=value` pairs, greppable: a value with spaces, quotes or `=` is quoted."""
    out = []
    for key, value in fields.items():
        text = "" if value is None else str(value)
        if not text or any(c in text for c in ' \t\n"=\\'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
        out.append(f"{key}={text}")
    return " ".join(out)


def setup_logging(timezone: str = "Asia/Shanghai", stream: TextIO | None = None) -> None:
    tz = ZoneInfo(timezone)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%d %H:%M:%S")
    formatter.converter = lambda ts: datetime.fromtimestamp(ts or 0.0, tz).timetuple()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("monitor-daemon")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "monitor-daemon"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    for noisy in ("scrapy", "twisted", "asyncio", "alembic", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)




# --- locks: one daemon per database, one run of a job at a time ----------------------------------------

class Lock:
    """An exclusive, non-blocking, process-lifetime lock named `name` on the database at `url`."""

    NAMESPACE = 0x4D4F4E  # "MON": first key of our PostgreSQL advisory locks

    def __init__(self, url: str, name: str) -> None:
        from sqlalchemy.engine import make_url

        self.url, self.name = url, name
        parsed = make_url(normalise_url(url))
        self.backend = parsed.get_backend_name()
        self.path: Path | None = None
        if self.backend == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise ValueError("内存数据库不能用于守护进程")
            self.path = Path(f"{parsed.database}.{name}.lock")
        elif self.backend != "postgresql":
            raise ValueError(f"守护进程只支持 SQLite 和 PostgreSQL，而不是 {self.backend}")
        self.key = zlib.crc32(name.encode()) & 0x7FFFFFFF
        self._fd: int | None = None
        self._conn: Connection | None = None
        self.holder: str = ""  # who holds it, when acquire() failed

    def acquire(self) -> bool:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                self.holder = f"进程 {pid}" if pid else "另一进程"
                return False
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            self._fd = fd
            return True
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        # NullPool: closing the connection ends the session. Short connect and TCP timeouts: a check of the lock
        # (`held`) on a dead network fails in seconds instead of hanging for the kernel's retransmissions.
        engine = create_engine(normalise_url(self.url), poolclass=NullPool, connect_args=PG_LOCK_CONNECT_ARGS)
        try:
            conn = engine.connect()
        except Exception:
            engine.dispose()
            raise
        got = conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": self.NAMESPACE, "b": self.key}).scalar()
        if not got:
            session_pid = conn.execute(text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = :a "
                                            "AND objid = :b AND objsubid = 2 AND granted LIMIT 1"),
                                       {"a": self.NAMESPACE, "b": self.key}).scalar()
            conn.close()
            engine.dispose()
            self.holder = f"PostgreSQL 会话 {session_pid}" if session_pid else "另一会话"
            return False
        conn.commit()
        self._conn = conn
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            self._drop()

    def held(self) -> bool:
        """Whether this process still holds the lock. A SQLite flock cannot be lost; a PostgreSQL advisory lock
        is lost with its session (a database restart, a network blip): asked on the lock's own connection,
        which is closed when it fails."""
        if self.path is not None:
            return self._fd is not None
        if self._conn is None:
            return False
        from sqlalchemy import text

        try:
            held = self._conn.execute(text("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                           "AND pid = pg_backend_pid() AND classid = :a AND objid = :b "
                                           "AND objsubid = 2"), {"a": self.NAMESPACE, "b": self.key}).first()
            self._conn.rollback()  # not idle in a transaction; the session lock outlives it
        except Exception as exc:
            if not is_outage(exc):
                raise
            held = None
        if held is None:
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        """Close the lock's connection (NullPool: the session ends and PostgreSQL drops its advisory locks)."""
        assert self._conn is not None
        conn, self._conn = self._conn, None
        try:
            conn.close()
        except Exception as exc:  # a connection that already died
            if not is_outage(exc):
                raise
        finally:
            conn.engine.dispose()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _error_line(exc: BaseException) -> str:
    """The driver's first line, for a one-line log of an outage (no traceback)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0]}" if lines else type(orig).__name__


class DaemonLock:
    """The daemon's lock, watched: checked before each run and every LOCK_CHECK_SECONDS by the main loop.

    `check()` says whether this daemon holds its lock now. A PostgreSQL blip ends the lock's session and
    PostgreSQL drops the lock: the loss is logged once (`event=lock_lost`), and each check tries to take the
    lock again. While the database cannot be reached that fails (`event=database_unavailable`, logged once
    an outage) and no job runs; once it answers, either the lock is ours again (`event=lock_regained`, jobs
    go on) or another daemon took it meanwhile (`event=lock_taken`): then `taken` is set, and the daemon stops.
    """

    def __init__(self, lock: Lock) -> None:
        self.lock = lock
        self.taken = threading.Event()
        self._mutex = threading.Lock()  # the scheduler thread, the job threads and the main loop all check
        self._lost_at: float | None = None  # monotonic time of the loss, while lost
        self._down = False  # an outage is being reported (logged once)

    def check(self) -> bool:
        with self._mutex:
            if self.taken.is_set():
                return False
            if self.lock.held():
                return True
            if self._lost_at is None:
                self._lost_at = time.monotonic()
                log.warning(kv(event="lock_lost", message="守护进程与数据库的连接中断，数据库已释放守护进程锁；"
                                                          "暂停运行任务，正在重新取得锁"))
            try:
                got = self.lock.acquire()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                if not self._down:
                    self._down = True
                    log.error(kv(event="database_unavailable", message="数据库无法连接，任务暂停，恢复后继续",
                                 error=_error_line(exc)))
                return False
            seconds = f"{time.monotonic() - self._lost_at:.1f}"
            self._lost_at, self._down = None, False
            if got:
                log.warning(kv(event="lock_regained", seconds=seconds,
                               message="数据库已恢复，重新取得守护进程锁，任务继续"))
                return True
            self.taken.set()
            log.error(kv(event="lock_taken", seconds=seconds, holder=self.lock.holder,
                         message="连接中断期间另一守护进程取得了守护进程锁，本进程停止"))
            return False

    def unavailable(self) -> str:
        """Why a run cannot start now (after a failed check): the `reason=` of its skipped line."""
        return "lock_taken" if self.taken.is_set() else "database_unavailable"


GUARD: DaemonLock | None = None  # set by run_daemon: the runs of this process need the daemon's lock


# --- jobs ----------------------------------------------------------------------------------------------

def _today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.monitor.timezone)).date()


def _crawl(app: Monitor) -> str:
    summary = app.crawl_in_child()
    message = (f"栏目 {summary.columns} 个，成功 {summary.ok} 个，未读全 {len(summary.partial)} 个，"
               f"失败 {len(summary.failed)} 个，新增 {summary.new_posts} 条，请求 {summary.requests} 次")
    if STOP.is_set():
        raise JobInterrupted(message + "；收到停止信号，未读完的栏目下次完整读取")
    return message


def _accounts(app: Monitor) -> str:
    summary = app.read_accounts()
    return (f"账号 {summary.accounts} 个，读取成功 {summary.readable} 个，无法读取 {len(summary.unreadable)} 个，"
            f"新增 {summary.new_posts} 条")


def _probes(app: Monitor) -> str:
    summary = app.probe(stop=STOP)
    message = f"监测 {summary.probes} 次，失败 {len(summary.failed)} 次"
    if STOP.is_set():
        raise JobInterrupted(message + "；收到停止信号")
    return message


def _alerts(app: Monitor) -> str:
    try:
        report = app.run_alerts(_today(app.settings))
    except AlertsUnavailable as exc:
        raise JobSkipped(str(exc)) from None
    summary = getattr(report, "summary", None)
    text = summary() if callable(summary) else summary if summary is not None else report
    return str(text)[:1000]


def _monthly(app: Monitor) -> str:
    path = app.monthly_summary(previous_month(_today(app.settings)), Path(app.settings.schedule.out))
    return f"已写入 {path}"


def previous_quarter(today: date) -> str:
    q = (today.month - 1) // 3  # the quarter before today's (0 means Q4 of last year)
    return f"{today.year - 1}Q4" if q == 0 else f"{today.year}Q{q}"


def _quarterly(app: Monitor) -> str:
    settings = app.settings
    # Never overwrites a notice the office has edited: the new one goes beside it as …（2）.docx.
    written = app.quarter_report(previous_quarter(_today(settings)), Path(settings.schedule.out))
    kept = "".join(f"；{changed.name} 已被修改过，未覆盖，新文件为 {instead.name}" for changed, instead in written.kept)
    return "已写入 " + "、".join(str(p) for p in written) + kept + "".join(f"；提醒：{w}" for w in written.warnings)


@dataclass(frozen=True)
class Job:
    """One job of the daemon: the name users write, its body (a use case of the app), where it runs, and the
    seconds a run may start late (daemon stopped or busy) before it is dropped."""

    name: str
    body: Callable[[Monitor], str]
    executor: str  # "light" keeps the hourly probes apart from the long jobs
    grace: int


JOB_TABLE: tuple[Job, ...] = (
    Job("crawl", _crawl, "default", 6 * 3600),  # a night crawl missed by a stopped daemon runs on a morning restart
    Job("accounts", _accounts, "default", 2 * 3600),
    Job("probes", _probes, "light", 10 * 60),  # a missed hourly probe is dropped: the next one comes
    Job("alerts", _alerts, "default", 4 * 3600),
    Job("monthly", _monthly, "default", 3 * 86400),
    Job("quarterly", _quarterly, "default", 5 * 86400),
)
JOB_BY_NAME = {job.name: job for job in JOB_TABLE}
JOBS = tuple(JOB_BY_NAME)
MISFIRE_GRACE = {job.name: job.grace for job in JOB_TABLE}


def run_job(job: str, config_path: str) -> str:
    """One run of `job` under its lock, recorded in `job_runs` and logged; returns the final status:
    ok, failed, skipped, interrupted, locked (another process runs the job), or UNAVAILABLE (the database
    could not be reached, or went away during the run).

    Never raises in the daemon: a failure is logged with its traceback and recorded, and the daemon goes on;
    a database outage is one line (`reason=database_unavailable`), no traceback. In the daemon a run starts
    only while the daemon holds its lock (`GUARD`). Outside the daemon (`run_once`) an outage is logged and
    raised, for the command's exit code 4.
    """
    try:
        settings = load_settings(config_path)
    except Exception as exc:  # noqa: BLE001 - a job never raises: the daemon logs it and goes on
        log.error(kv(job=job, event="failed", error=f"设置文件无法读取：{exc}"))
        return "failed"
    if STOP.is_set():  # submitted in the instant the daemon began to stop
        log.info(kv(job=job, event="skipped", reason="stopping"))
        return "skipped"
    guard = GUARD
    if guard is not None and not guard.check():
        log.warning(kv(job=job, event="skipped", reason=guard.unavailable()))
        return UNAVAILABLE
    url = settings.monitor.database_url
    lock = Lock(url, f"job-{job}")
    try:
        if not lock.acquire():
            log.warning(kv(job=job, event="skipped", reason="locked", holder=lock.holder))
            return "locked"
    except Exception as exc:
        if not is_outage(exc):
            raise
        return _outage(job, "skipped", exc)
    app = Monitor(settings)
    try:
        try:
            sessions = app.sessions
            with _UNRECORDED_LOCK:
                unrecorded = _UNRECORDED.pop(job, [])
            with sessions.begin() as session:
                for earlier, earlier_status, earlier_message in unrecorded:  # ended during an outage
                    queries.finish_job_run(session, earlier, earlier_status, earlier_message)
                stale = queries.interrupt_job_runs(session, job, "进程在运行中退出（被强行终止或崩溃）")
                run_id = queries.start_job_run(session, job)
        except Exception as exc:
            with _UNRECORDED_LOCK:
                _UNRECORDED[job] = unrecorded + _UNRECORDED.get(job, [])
            if is_outage(exc):
                return _outage(job, "skipped", exc)
            log.error(kv(job=job, event="failed", error=f"数据库不可用：{type(exc).__name__}: {exc}"), exc_info=True)
            return "failed"
        if stale:
            log.warning(kv(job=job, event="interrupted", runs=stale, reason="left running by a dead process"))
        log.info(kv(job=job, event="start", run=run_id))
        started = time.monotonic()
        try:
            message = JOB_BY_NAME[job].body(app)
            status = "ok"
        except JobSkipped as exc:
            status, message = "skipped", str(exc)
            log.warning(kv(job=job, event="skipped", run=run_id, reason=message))
        except JobInterrupted as exc:
            status, message = "interrupted", str(exc)
        except BaseException as exc:
            status = "interrupted" if STOP.is_set() or isinstance(exc, KeyboardInterrupt) else "failed"
            message = f"{type(exc).__name__}: {exc}"
            seconds = f"{time.monotonic() - started:.1f}"
            if status == "failed" and isinstance(exc, Exception) and is_outage(exc):
                _finish(sessions, job, run_id, status, f"数据库不可用：{_error_line(exc)}")
                return _outage(job, "failed", exc, run=run_id, seconds=seconds)
            fields = kv(job=job, event=status, run=run_id, seconds=seconds, error=message)
            if status == "failed":
                log.error(fields, exc_info=True)
            else:  # stopped by a signal: expected, no traceback
                log.warning(fields)
            _finish(sessions, job, run_id, status, message)
            if not isinstance(exc, Exception):
                raise
            return status
        if not _finish(sessions, job, run_id, status, message):
            return _outage(job, "failed", DatabaseUnavailable("运行结果无法写入数据库"), run=run_id,
                           seconds=f"{time.monotonic() - started:.1f}", message=message)
        if status != "skipped":
            level = logging.INFO if status == "ok" else logging.WARNING
            log.log(level, kv(job=job, event=status, run=run_id, seconds=f"{time.monotonic() - started:.1f}",
                              message=message))
        return status
    finally:
        lock.release()


_UNRECORDED: dict[str, list[tuple[int, str, str]]] = {}  # job -> runs (id, status, message) ended in an outage
_UNRECORDED_LOCK = threading.Lock()


def _finish(sessions: Any, job: str, run_id: int, status: str, message: str) -> bool:
    """Record the end of a run; False when the database is unavailable: the row stays `running` and the
    job's next run in this process records it (else, after a restart, it is marked interrupted)."""
    try:
        with sessions.begin() as session:
            queries.finish_job_run(session, run_id, status, message)
    except Exception as exc:
        if not is_outage(exc):
            raise
        with _UNRECORDED_LOCK:
            _UNRECORDED.setdefault(job, []).append((run_id, status, message))
        return False
    return True


def _outage(job: str, event: str, exc: Exception, **fields: object) -> str:
    """A run skipped or cut short by a database outage: one line, no traceback. Re-raised outside the daemon."""
    log.error(kv(job=job, event=event, reason="database_unavailable", **fields, error=_error_line(exc)))
    if GUARD is None:
        raise exc
    return UNAVAILABLE


# --- triggers ------------------------------------------------------------------------------------------

def make_trigger(expression: str, timezone: str) -> BaseTrigger | None:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    kind, value = parse_schedule(expression)
    if kind == "off":
        return None
    tz = ZoneInfo(timezone)
    if kind == "every":
        return IntervalTrigger(seconds=value, timezone=tz)
    return CronTrigger.from_crontab(value, timezone=tz)


def runs_a_day(trigger: BaseTrigger, now: datetime) -> int:
    """How many times `trigger` fires in the 24 hours after `now` (capped at 10 000)."""
    count, previous, end = 0, None, now + timedelta(days=1)
    fire = trigger.get_next_fire_time(None, now)
    while fire is not None and fire < end and count < 10_000:
        count, previous = count + 1, fire
        fire = trigger.get_next_fire_time(previous, previous + timedelta(microseconds=1))
    return count


# --- the daemon ----------------------------------------------------------------------------------------

def mark_interrupted(url: str) -> int:
    """Runs left `running` by a dead process, for every job nobody is running now."""
    total = 0
    for job in JOBS:
        lock = Lock(url, f"job-{job}")
        if lock.acquire():
            try:
                with get_sessionmaker(url).begin() as session:
                    n = queries.interrupt_job_runs(session, job, "进程在运行中退出（被强行终止或崩溃）")
            finally:
                lock.release()
            if n:
                log.warning(kv(job=job, event="interrupted", runs=n, reason="left running by a dead process"))
            total += n
    return total


def daemon_scheduler(**options: Any) -> BackgroundScheduler:
    """A BackgroundScheduler that, once stopped, submits nothing more.

    APScheduler 3 wakes its thread on shutdown and processes the due jobs once more, after the executors are
    already shut: the due run fails to submit ("cannot schedule new futures after shutdown") and its next
    run time is advanced all the same, so it would be lost. Stopping first pauses, and this guard skips that
    last round; the run stays due in the store and happens (within its grace) after the restart.

    Nor does it submit while the daemon does not hold its lock (`GUARD`, a database blip): the runs stay due
    in the store and are made (coalesced, within their grace) once the lock is held again. A job store that
    fails mid-round (the database went away between its reads and writes) would end APScheduler's thread;
    here it is one line and a retry.
    """
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_STOPPED

    class DaemonScheduler(BackgroundScheduler):
        def _process_jobs(self) -> float | None:
            if self.state == STATE_STOPPED:
                return None
            guard = GUARD
            try:
                if guard is not None and not guard.check():
                    return lock_check_seconds()
                return super()._process_jobs()
            except Exception as exc:
                if is_outage(exc):
                    log.error(kv(event="failed", where="job store", reason="database_unavailable",
                                 error=_error_line(exc)))
                else:
                    log.error(kv(event="failed", where="job store", error=repr(exc)), exc_info=True)
                return float(self.jobstore_retry_interval)

    return DaemonScheduler(**options)


def lock_check_seconds() -> float:
    return float(os.environ.get(ENV_LOCK_CHECK) or LOCK_CHECK_SECONDS)


def run_daemon(config_path: str) -> int:
    """Run the scheduler in the foreground until SIGTERM or SIGINT. Returns the exit code."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    settings = load_settings(config_path)
    setup_logging(settings.monitor.timezone)
    url = settings.monitor.database_url
    lock = Lock(url, "daemon")
    if not lock.acquire():
        print(f"错误：同一数据库（{safe_url(url)}）已有守护进程在运行（{lock.holder}），本进程不再启动。",
              file=sys.stderr, flush=True)
        log.error(kv(event="refused", reason="another daemon holds the lock", holder=lock.holder))
        return EXIT_LOCKED
    global GUARD
    guard = GUARD = DaemonLock(lock)
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        if STOP.is_set():  # the second signal: leave now; the next start marks the runs interrupted
            os.write(2, f"received {signal.Signals(signum).name} again: exiting now\n".encode())
            for child in multiprocessing.active_children():
                child.kill()
            os._exit(1)
        received.append(signum)
        STOP.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    scheduler = None
    try:
        Monitor(settings).prepare()
        mark_interrupted(url)
        tz = ZoneInfo(settings.monitor.timezone)
        scheduler = daemon_scheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=get_engine(url), tablename=queries.JOB_STORE_TABLE)},
            executors={"default": ThreadPoolExecutor(DEFAULT_WORKERS), "light": ThreadPoolExecutor(LIGHT_WORKERS)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=tz,
        )

        def on_event(event: Any) -> None:  # JobExecutionEvent or JobSubmissionEvent
            if event.code == EVENT_JOB_MISSED:
                log.warning(kv(job=event.job_id, event="missed", scheduled=event.scheduled_run_time.isoformat()))
            elif event.code == EVENT_JOB_MAX_INSTANCES:
                log.warning(kv(job=event.job_id, event="skipped", reason="still running"))
            elif event.code == EVENT_JOB_ERROR:  # run_job never raises; this is the scheduler failing to run it
                log.error(kv(job=event.job_id, event="failed", error=repr(event.exception)) + "\n"
                          + (event.traceback or ""))

        scheduler.add_listener(on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)
        scheduler.start(paused=True)
        _register_jobs(scheduler, settings, config_path)
        scheduler.resume()
        log.info(kv(event="started", pid=os.getpid(), database=safe_url(url),
                    jobs=",".join(j.id for j in scheduler.get_jobs()) or "none"))
        for job in scheduler.get_jobs():
            log.info(kv(job=job.id, event="scheduled", schedule=job.name,
                        next=job.next_run_time.isoformat() if job.next_run_time else "paused"))
        every = lock_check_seconds()
        while not STOP.wait(every):
            if not guard.check() and guard.taken.is_set():
                _stop_now(url, lock.holder, scheduler)
        name = signal.Signals(received[0]).name if received else "stop"
        log.info(kv(event="stopping", signal=name))
        if received and received[0] == signal.SIGTERM:
            # Ctrl-C already reached the crawl child through the terminal's process group; `kill` did not.
            for child in multiprocessing.active_children():
                if child.pid is not None:
                    os.kill(child.pid, signal.SIGTERM)
        scheduler.pause()
        scheduler.shutdown(wait=True)
        scheduler = None
        log.info(kv(event="stopped"))
        return 0
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        for s, handler in previous.items():
            signal.signal(s, handler)
        GUARD = None
        lock.release()


def _stop_now(url: str, holder: str, scheduler: BackgroundScheduler) -> None:
    """Another daemon took the lock during a blip and runs the jobs now: stop at once, exit code 3.

    No grace: every second more would be two daemons at work. Crawl children are killed (each page is its
    own transaction; the next crawl reads half-read columns in full); runs left `running` are marked
    interrupted by the other daemon when it next runs the job.
    """
    STOP.set()
    print(f"错误：守护进程与数据库的连接中断期间，另一守护进程（{holder}）取得了同一数据库（{safe_url(url)}）"
          "的守护进程锁；本进程停止，任务由该守护进程运行。", file=sys.stderr, flush=True)
    scheduler.pause()
    for child in multiprocessing.active_children():
        child.kill()
    log.error(kv(event="stopped", reason="another daemon holds the lock", holder=holder))
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_LOCKED)


def _register_jobs(scheduler: BackgroundScheduler, settings: Settings, config_path: str) -> None:
    tz_name = settings.monitor.timezone
    wanted = set()
    for entry in JOB_TABLE:
        job = entry.name
        expression = getattr(settings.schedule, job).strip()
        trigger = make_trigger(expression, tz_name)
        if trigger is None:
            continue
        wanted.add(job)
        signature = f"{expression} [{tz_name}]"
        existing = scheduler.get_job(job)
        if (existing is not None and existing.name == signature and tuple(existing.args) == (job, config_path)
                and existing.func_ref == "scheduler:run_job"):
            continue  # unchanged: keep its stored next run (a run that fell due while stopped still happens)
        scheduler.add_job("scheduler:run_job", trigger, args=(job, config_path), id=job, name=signature,
                          executor=entry.executor, misfire_grace_time=entry.grace,
                          coalesce=True, max_instances=1, replace_existing=True)
        if job == "probes":
            per_day = runs_a_day(trigger, datetime.now(ZoneInfo(tz_name)))
            if per_day < MIN_PROBES_A_DAY:
                log.warning(kv(job=job, event="config", reason=f"每天只监测 {per_day} 次，少于 {MIN_PROBES_A_DAY} 次",
                               schedule=expression))
    for stored in scheduler.get_jobs():
        if stored.id not in wanted:
            stored.remove()


def run_once(config_path: str, job: str) -> int:
    """`monitor daemon --once JOB`: run the job now in this process. 0 ok or skipped, 1 failed, 3 locked,
    4 database unavailable (one line on stderr, as every command: storage.db.EXIT_DATABASE_UNAVAILABLE)."""
    from storage.db import EXIT_DATABASE_UNAVAILABLE, outage_message

    settings = load_settings(config_path)
    setup_logging(settings.monitor.timezone)
    url = settings.monitor.database_url
    try:
        with get_engine(url).connect():  # reachable, before the job's lock and its logged failure
            pass
        status = run_job(job, config_path)  # it prepares the database
    except Exception as exc:
        if not is_outage(exc):
            raise
        print(f"错误：{outage_message(exc, url)}", file=sys.stderr, flush=True)
        return EXIT_DATABASE_UNAVAILABLE
    if status == "locked":
        print(f"错误：任务 {job} 正在由其他进程运行，请稍后再试。", file=sys.stderr, flush=True)
        return EXIT_LOCKED
    return 0 if status in ("ok", "skipped") else 1


# --- status --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobStatus:
    job: str
    schedule: str
    last: queries.JobRunRow | None
    next_run: datetime | None


def daemon_running(url: str) -> str | None:
    """Who runs the daemon on this database, or None."""
    lock = Lock(url, "daemon")
    if lock.acquire():
        lock.release()
        return None
    return lock.holder


def job_status(settings: Settings) -> list[JobStatus]:
    with Monitor(settings).sessions() as session:
        last = queries.last_job_runs(session)
        upcoming = queries.job_next_runs(session)
    return [JobStatus(job, getattr(settings.schedule, job), last.get(job), upcoming.get(job)) for job in JOBS]
