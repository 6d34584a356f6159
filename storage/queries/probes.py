"""Availability probes of the sites' pages and their failure ratios."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from storage.models import Probe


@dataclass(frozen=True)
class ProbeRow:
    site_url: str
    url: str
    started_at: datetime  # aware
    ok: bool
    http_status: int | None
    latency_ms: int | None
    error: str | None


@dataclass(frozen=True)
class ProbeStats:
    """The probes of one page of a site in a window."""

    site_url: str
    url: str
    total: int
    failed: int
    days: int  # distinct UTC days holding probes (a hint at whether ≥ 20 a day were made)

    @property
    def ratio(self) -> float:
        return self.failed / self.total if self.total else 0.0


def store_probe(session: Session, row: ProbeRow) -> None:
    session.add(Probe(site_url=row.site_url, url=row.url, started_at=row.started_at, ok=row.ok,
                      http_status=row.http_status, latency_ms=row.latency_ms, error=row.error))


def probe_stats(session: Session, start: datetime, end: datetime) -> list[ProbeStats]:
    """Per probed page: probes and failed probes started in [start, end)."""
    failed = func.sum(case((Probe.ok.is_(False), 1), else_=0))
    query = (select(Probe.site_url, Probe.url, func.count(Probe.id), failed)
             .where(Probe.started_at >= start, Probe.started_at < end)
             .group_by(Probe.site_url, Probe.url).order_by(Probe.site_url, Probe.url))
    sqlite = session.get_bind().dialect.name == "sqlite"
    day = func.date(Probe.started_at) if sqlite else func.date_trunc("day", Probe.started_at)
    days = dict(((s, u), n) for s, u, n in session.execute(
        select(Probe.site_url, Probe.url, func.count(distinct(day)))
        .where(Probe.started_at >= start, Probe.started_at < end).group_by(Probe.site_url, Probe.url)))
    return [ProbeStats(site, url, total, int(bad or 0), days.get((site, url), 0))
            for site, url, total, bad in session.execute(query)]


def recent_probes(session: Session, url: str, limit: int = 20) -> list[ProbeRow]:
    query = select(Probe).where(Probe.url == url).order_by(Probe.started_at.desc(), Probe.id.desc()).limit(limit)
    return [ProbeRow(p.site_url, p.url, p.started_at, p.ok, p.http_status, p.latency_ms, p.error)
            for p in session.scalars(query)]
