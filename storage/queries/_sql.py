"""SQL helpers shared by the query modules."""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result
from sqlalchemy.orm import Session


def dialect_insert(session: Session) -> Any:
    """The dialect's INSERT (both have ON CONFLICT DO NOTHING / DO UPDATE) for the session's database (the
    dialect's module imported here: PostgreSQL's pulls in asyncio, which a SQLite process never needs)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE changed (its result is a CursorResult)."""
    return cast(CursorResult[Any], result).rowcount or 0
