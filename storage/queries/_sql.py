"""SQL helpers shared by the query modules."""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def dialect_insert(session: Session) -> Any:
    """The dialect's INSERT (both have ON CONFLICT DO NOTHING / DO UPDATE) for the session's database."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE changed (its result is a CursorResult)."""
    return cast(CursorResult[Any], result).rowcount or 0
