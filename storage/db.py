"""One engine and one sessionmaker per process, built from the database URL in one place.

SQLite is the embedded default (WAL so readers never block the crawler's writer, a busy timeout so two
processes wait instead of failing); PostgreSQL is the same code given a `postgresql://` URL.
Schema creation and upgrades go through Alembic (`storage/migrations`).

Outages: `is_outage` tells an unavailable database (refused or lost connection, read-only or locked file, disk
full) from a bug; every command turns one into `outage_message` (one Chinese line, the password hidden by
`safe_url`) and exit code `EXIT_DATABASE_UNAVAILABLE`. A read-only database (`read_only`: SQLite `mode=ro` or
no write permission, a PostgreSQL standby) is opened read-only and `prepare` neither migrates nor writes it.
"""
from __future__ import annotations

import ast
import os
import re
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

if TYPE_CHECKING:  # storage imports nothing of ours at run time
    from config import Settings

MIGRATIONS = Path(__file__).with_name("migrations")
EXIT_DATABASE_UNAVAILABLE = 4  # every command's exit code when the database cannot be reached or written


class DatabaseUnavailable(Exception):
    """The database cannot be reached, or refuses a write: an outage, not a finding. One Chinese line for
    the user (`str(exc)`) and exit code `EXIT_DATABASE_UNAVAILABLE`."""


# SQLite raises OperationalError for bad SQL too ("no such table"); these are its availability failures.
_SQLITE_OUTAGES = ("unable to open database", "readonly database", "database is locked", "disk i/o error",
                   "database or disk is full", "file is not a database", "database disk image is malformed")


def is_outage(exc: BaseException) -> bool:
    """True for errors of the database's availability (connection refused or lost, read-only or locked
    file, disk full), as opposed to a bug in a statement."""
    from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

    if isinstance(exc, (DatabaseUnavailable, DisconnectionError)):
        return True
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    if isinstance(exc, DBAPIError) and type(exc.orig).__module__.startswith("sqlite3"):
        text = str(exc.orig).lower()
        return any(marker in text for marker in _SQLITE_OUTAGES)
    return True


# The driver's words (lowercase) and ours, for the one line a person reads; the first match wins.
_REASONS = (
    ("connection refused", "连接被拒绝"),
    ("no route to host", "无法到达主机"),
    ("timeout", "连接超时"), ("timed out", "连接超时"),
    ("could not translate host name", "无法解析主机名"), ("name or service not known", "无法解析主机名"),
    ("password authentication failed", "认证失败"), ("authentication failed", "认证失败"),
    ("does not exist", "数据库不存在"),
    ("the database system is starting up", "数据库正在启动"),
    ("the database system is shutting down", "数据库正在关闭"),
    ("terminating connection", "连接被服务器终止"),
    ("server closed the connection", "连接中断"), ("connection reset", "连接中断"), ("broken pipe", "连接中断"),
    ("consuming input failed", "连接中断"), ("connection is closed", "连接中断"), ("connection is lost", "连接中断"),
    ("eof detected", "连接中断"), ("ssl syscall", "连接中断"),
    ("readonly database", "数据库只读，无法写入"), ("read-only", "数据库只读，无法写入"),
    ("database is locked", "数据库被其他进程锁定"),
    ("unable to open database", "无法打开数据库文件"),
    ("database or disk is full", "磁盘已满"), ("disk i/o error", "磁盘读写错误"),
    ("file is not a database", "不是数据库文件"), ("malformed", "数据库文件已损坏"),
)


def outage_reason(exc: BaseException) -> str:
    """A few Chinese words for what went wrong (else the driver's first line)."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    text = str(orig).lower()
    return next((ours for theirs, ours in _REASONS if theirs in text), first)


def safe_url(url: str) -> str:
    """The database URL as the user wrote it, the password replaced by ***: safe for logs and messages."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        return url if parsed.password is None else parsed.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL make_url cannot read is shown without anything after the scheme
        return url.split("://", 1)[0] + "://…"


def _where(url: str) -> str:
    shown = safe_url(url)
    return f"{shown}，口令已隐去" if "***" in shown else shown


def outage_message(exc: BaseException, url: str) -> str:
    """The one line (without "错误：") a command prints when the database at `url` is unavailable."""
    if isinstance(exc, DatabaseUnavailable):
        return str(exc)
    return f"数据库不可用（{_where(url)}）：{outage_reason(exc)}"


_MIGRATE_LOCK = threading.Lock()  # Alembic's `context` and `op` are module globals: one upgrade at a time


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the driver we install)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (`sqlite:///x.db`, or `sqlite:///file:x.db?mode=ro&uri=true`), else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    name = parsed.database
    if parsed.query.get("uri") == "true" and name.startswith("file:"):
        name = name[len("file:"):]
    return Path(name)


def read_only(url: str) -> bool:
    """True when this process may read the database but not write it: a SQLite URL with `mode=ro`, a SQLite
    file (or its directory) we lack write permission for, or a PostgreSQL server in read-only mode (a hot
    standby, `default_transaction_read_only`)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is None:
            return False
        if parsed.query.get("mode") == "ro" or parsed.query.get("immutable") == "1":
            return True
        return path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
    from sqlalchemy import text

    with get_engine(url).connect() as connection:
        return connection.execute(text("SHOW transaction_read_only")).scalar() == "on"


def _sqlite_read_only_url(path: Path) -> str:
    """A URL that opens the file read-only. Without write access to its directory SQLite cannot create the
    WAL's -shm file: if no writer has the database open (no -wal file), it is opened as immutable."""
    query = "mode=ro&uri=true"
    if not os.access(path.parent, os.W_OK) and not Path(f"{path}-wal").exists():
        query += "&immutable=1"
    return f"sqlite:///file:{path.absolute()}?{query}"


@cache
def get_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None:
            if read_only(url):
                if parsed.query.get("uri") != "true":
                    url = _sqlite_read_only_url(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            except Exception:  # noqa: BLE001 - a read-only file keeps its journal mode; reading works either way
                pass
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@cache
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


def migrate(url: str) -> None:
    """Create or upgrade the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    engine = get_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _MIGRATE_LOCK, engine.begin() as connection:  # the daemon's job threads all call this
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_ready(url: str) -> bool:
    """True when the database holds the newest schema (an older one needs `migrate` first)."""
    with get_engine(url).connect() as connection:
        return at_head(connection)


def at_head(connection: Connection) -> bool:
    """True when the database of `connection` holds the newest schema: its `alembic_version` rows are the
    migrations' heads (`schema_heads`)."""
    tables = inspect(connection)
    if not (tables.has_table("alembic_version") and tables.has_table("posts")):
        return False
    return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars()) == schema_heads()


_ASSIGN = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


@cache
def schema_heads() -> frozenset[str]:
    """The head revisions of `storage/migrations`, read from the revision files' `revision` and `down_revision`
    lines (as Alembic's ScriptDirectory finds them, without importing Alembic: 0.1 s a command); from Alembic
    itself if a file is unclear."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found = dict(_ASSIGN.findall(path.read_text(encoding="utf-8")))
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (KeyError, ValueError, SyntaxError):
            return _alembic_heads()
        if not isinstance(revision, str):
            return _alembic_heads()
        revisions.add(revision)
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents) or _alembic_heads()


def _alembic_heads() -> frozenset[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def require_writable(url: str) -> None:
    """DatabaseUnavailable (one line) when the database is read-only: before a command that writes starts."""
    if read_only(url):
        raise DatabaseUnavailable(f"数据库只读（{_where(url)}）：本命令需要写入数据库")


def require_schema(url: str) -> None:
    """DatabaseUnavailable (one line) when a read-only database is missing or older than this version: it
    cannot be migrated from here."""
    if not schema_ready(url):
        raise DatabaseUnavailable(f"数据库只读（{_where(url)}），且尚未初始化或需要升级："
                                  "请在可写的数据库上运行一次 monitor init")


def prepare(settings: Settings) -> sessionmaker[Session]:
    """The schema upgraded and the settings' sites, units, columns and accounts loaded: ready to crawl.

    A read-only database (`read_only`) is used as it is, neither migrated nor synchronised: the commands that
    only read work on it; the first write of one that writes fails as an outage (`is_outage`)."""
    from storage.queries import sync_settings

    url = settings.monitor.database_url
    sessions = get_sessionmaker(url)
    if read_only(url):
        require_schema(url)
        return sessions
    migrate(url)
    with sessions.begin() as session:
        sync_settings(session, settings)
    return sessions
