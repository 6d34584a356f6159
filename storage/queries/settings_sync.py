"""Settings → database: sites, units, columns and accounts loaded from settings."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Account, Column, Site, Unit


def sync_settings(session: Session, settings: Any) -> None:  # config.Settings; storage imports nothing of ours
    """Load sites, units, columns and accounts from settings; rows no longer configured become inactive."""
    for site in settings.sites:
        row = session.scalar(select(Site).where(Site.url == site.url))
        if row is None:
            session.add(Site(name=site.name, url=site.url))
        else:
            row.name = site.name
    units = _sync(session, Unit, "name", settings.units,
                  lambda row, u: dict(kind=u.kind, emails=",".join(u.emails)))
    session.flush()
    _sync(session, Column, "url", settings.columns,
          lambda row, c: dict(unit_id=units[c.unit].id, name=c.name, category=c.category, quota=c.quota))
    _sync(session, Account, "url", settings.accounts,
          lambda row, a: dict(unit_id=units[a.unit].id, platform=a.platform, name=a.name))


def _sync(session: Session, model: Any, key: str, configured: Sequence[Any],
          values: Callable[[Any, Any], dict[str, Any]]) -> dict[Any, Any]:
    """Upsert `configured` into `model` by `key`; rows not configured any more are kept but inactive."""
    rows = {getattr(r, key): r for r in session.scalars(select(model))}
    for row in rows.values():
        row.active = False
    for item in configured:
        row = rows.get(getattr(item, key))
        if row is None:
            row = rows[getattr(item, key)] = model(**{key: getattr(item, key)})
            session.add(row)
        for attr, value in values(row, item).items():
            setattr(row, attr, value)
        row.active = True
    return rows
