"""One engine and one sessionmaker per process, built from the database URL in one place.

SQLite is the embedded default (WAL so readers never block the crawler's writer, a busy timeout so two
processes wait instead of failing); PostgreSQL is the same code given a `postgresql://` URL.
Schema creation and upgrades go through Alembic (`storage/migrations`).
"""
from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect
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


def is_outage(exc: BaseException) -> bool:
    """True for errors of the database's availability (connection refused or lost, read-only or locked
    file, disk full), as opposed to a bug in a statement."""
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError, DisconnectionError, DatabaseUnavailable))
_MIGRATE_LOCK = threading.Lock()  # Alembic's `context` and `op` are module globals: one upgrade at a time


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the driver we install)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@cache
def get_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
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
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.config import Config

    engine = get_engine(url)
    if not inspect(engine).has_table("posts"):
        return False
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == set(ScriptDirectory.from_config(config).get_heads())


def prepare(settings: Settings) -> sessionmaker[Session]:
    """The schema upgraded and the settings' sites, units, columns and accounts loaded: ready to crawl."""
    from storage.queries import sync_settings

    url = settings.monitor.database_url
    migrate(url)
    sessions = get_sessionmaker(url)
    with sessions.begin() as session:
        sync_settings(session, settings)
    return sessions
