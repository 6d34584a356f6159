"""Is the database already prepared for these settings? (`storage.db.prepare` would change nothing.)

`prepare` imports Alembic to upgrade the schema (about 0.1 s before any statement) and loads every site, unit,
column and account of the settings through the ORM to compare them (1,000 columns: about 0.1 s). A command run
again on a database it prepared before finds nothing to do: `already_prepared` tells so from the
`alembic_version` row and four plain SELECTs, and the caller skips `prepare` (DESIGN.md: `check` starts light).
Any doubt (a revision file it cannot read, a missing table, any difference) answers False: `prepare` runs.
"""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from storage.models import Account, Column, Site, Unit

VERSIONS = Path(__file__).resolve().parents[1] / "migrations" / "versions"
_ASSIGN = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


@cache
def schema_heads() -> frozenset[str] | None:
    """The head revisions of `storage/migrations` read from the revision files' `revision` and `down_revision`
    lines (as Alembic's ScriptDirectory finds them, without importing Alembic); None if a file is unclear."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(VERSIONS.glob("*.py")):
        found = dict(_ASSIGN.findall(path.read_text(encoding="utf-8")))
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents) or None


def at_head(session: Session) -> bool:
    """True when the database holds the newest schema (as `storage.db.schema_ready` says, without Alembic);
    False when unsure."""
    heads = schema_heads()
    tables = inspect(session.connection())
    if heads is None or not (tables.has_table("alembic_version") and tables.has_table("posts")):
        return False
    current = set(session.scalars(text("SELECT version_num FROM alembic_version")))
    return current == heads


def _rows(session: Session, model: Any, *names: str) -> dict[Any, tuple]:
    """The first column -> the others, of every row of the model's table (Core: no ORM entities)."""
    table = model.__table__
    return {row[0]: tuple(row[1:]) for row in session.connection().execute(select(*(table.c[n] for n in names)))}


def already_prepared(session: Session, settings: Any) -> bool:  # config.Settings; storage imports nothing of ours
    """True when the schema is at the newest revision and `storage.queries.sync_settings` would change no row:
    every configured site, unit, column and account stored with the settings' values and active, every other
    unit, column and account inactive."""
    if not at_head(session):
        return False
    sites = _rows(session, Site, "url", "name")
    if any(sites.get(url) != (name,) for url, name in {s.url: s.name for s in settings.sites}.items()):
        return False
    units = _rows(session, Unit, "name", "id", "kind", "emails", "active")
    want_units = {u.name: (u.kind, ",".join(u.emails)) for u in settings.units}
    ids = {name: row[0] for name, row in units.items()}
    if not want_units.keys() <= units.keys() or any(
            (row[1], row[2]) != want_units[name] or not row[3] if name in want_units else row[3]
            for name, row in units.items()):
        return False
    try:
        want_columns = {c.url: (ids[c.unit], c.name, c.category, c.quota) for c in settings.columns}
        want_accounts = {a.url: (ids[a.unit], a.platform, a.name) for a in settings.accounts}
    except KeyError:  # a unit not stored: prepare adds it
        return False
    for model, want, fields in ((Column, want_columns, ("unit_id", "name", "category", "quota")),
                                (Account, want_accounts, ("unit_id", "platform", "name"))):
        stored = _rows(session, model, "url", *fields, "active")
        if not want.keys() <= stored.keys() or any(
                row[:-1] != want[url] or not row[-1] if url in want else row[-1] for url, row in stored.items()):
            return False
    return True
