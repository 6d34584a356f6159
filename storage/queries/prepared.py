"""Is the database already prepared for these settings? (`storage.db.prepare` would change nothing.)

`prepare` imports Alembic to upgrade the schema (about 0.1 s before any statement) and loads every site, unit,
column and account of the settings through the ORM to compare them (1,000 columns: about 0.1 s). A command run
again on a database it prepared before finds nothing to do: `already_prepared` tells so from the
`alembic_version` row (`storage.db.at_head`, without Alembic) and four plain SELECTs, and the caller skips
`prepare` (DESIGN.md: `check` starts light). Any doubt (a missing table, any difference) answers False: `prepare`
runs.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import at_head
from storage.models import Account, Column, Site, Unit


def _rows(session: Session, model: Any, *names: str) -> dict[Any, tuple]:
    """The first column -> the others, of every row of the model's table (Core: no ORM entities)."""
    table = model.__table__
    return {row[0]: tuple(row[1:]) for row in session.connection().execute(select(*(table.c[n] for n in names)))}


def already_prepared(session: Session, settings: Any) -> bool:  # config.Settings; storage imports nothing of ours
    """True when the schema is at the newest revision and `storage.queries.sync_settings` would change no row:
    every configured site, unit, column and account stored with the settings' values and active, every other
    unit, column and account inactive."""
    if not at_head(session.connection()):
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
