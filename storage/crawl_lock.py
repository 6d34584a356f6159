"""Which `running` crawl runs are really running: each is held, for its life, by a lock of the process that runs
it; a `running` row whose lock anyone can take was left by a process that died (killed, crashed, power lost).

The lock is taken before the run's row is committed, so no other process ever sees a live run unlocked.
SQLite: `flock` on `<db file>.crawl-<run id>.lock` (the kernel drops it when the process dies; the file is
removed when the run ends or is found orphaned). PostgreSQL: a session advisory lock (`CRAWL_NAMESPACE`, run id)
on a connection of its own (PostgreSQL drops it when that session ends). No schema change: the run's row
says `running`, the lock says whether it still is.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.db import normalise_url, sqlite_file

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

CRAWL_NAMESPACE = 0x4D4F43  # first key of the crawl runs' PostgreSQL advisory locks (the daemon's is 0x4D4F4E)
INTERRUPTED_REASON = "抓取中断（进程在运行中退出），已保存的内容保留，下次完整重读该栏目"


def _lock_path(url: str, run_id: int) -> Path | None:
    path = sqlite_file(url)
    return None if path is None else Path(f"{path}.crawl-{run_id}.lock")


class RunLock:
    """The lock a process holds while it runs crawl run `run_id` (see the module docstring)."""

    def __init__(self, url: str, run_id: int) -> None:
        self.url, self.run_id = url, run_id
        self.path = _lock_path(url, run_id)
        self._fd: int | None = None
        self._conn: Connection | None = None

    def acquire(self) -> None:
        if self.path is not None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)  # a new run id: nobody else holds it
            self._fd = fd
        elif make_url(normalise_url(self.url)).get_backend_name() == "postgresql":
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            conn = create_engine(normalise_url(self.url), poolclass=NullPool).connect()
            conn.execute(text("SELECT pg_advisory_lock(:a, :b)"), {"a": CRAWL_NAMESPACE, "b": self.run_id})
            conn.commit()
            self._conn = conn

    def release(self) -> None:
        if self._fd is not None:
            if self.path is not None:
                self.path.unlink(missing_ok=True)  # still holding it: a prober that opened it finds the run ended
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()  # NullPool: the session ends, PostgreSQL drops the lock
            except Exception:  # noqa: BLE001 - the database may be gone (an outage): the lock went with it
                pass
            conn.engine.dispose()


def is_orphaned(session: Session, url: str, run_id: int) -> bool:
    """True when no process holds run `run_id`'s lock. SQLite: the orphan's lock file is removed (the caller
    marks the run). PostgreSQL: the probe takes a transaction lock, released at the caller's commit."""
    path = _lock_path(url, run_id)
    if path is not None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # its process holds it
        else:
            path.unlink(missing_ok=True)
            return True
        finally:
            os.close(fd)
    if make_url(normalise_url(url)).get_backend_name() != "postgresql":
        return False  # an in-memory database: no other process sees it
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:a, :b)"),
                                {"a": CRAWL_NAMESPACE, "b": run_id}).scalar())


def begin_run(sessions: sessionmaker[Session], url: str, full: bool) -> tuple[int, RunLock, int]:
    """A new crawl run and its held lock; runs left `running` by dead processes marked `interrupted` first.
    Returns (run id, lock, how many runs were marked)."""
    from storage import queries

    lock: RunLock | None = None
    with sessions() as session:
        try:
            stale = [run_id for run_id in queries.running_runs(session) if is_orphaned(session, url, run_id)]
            queries.interrupt_runs(session, stale, INTERRUPTED_REASON)
            run_id = queries.start_run(session, full)
            lock = RunLock(url, run_id)
            lock.acquire()  # before the commit: nobody sees this run unlocked
            session.commit()
        except BaseException:
            if lock is not None:
                lock.release()
            raise
    return run_id, lock, len(stale)
