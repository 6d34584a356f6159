"""The monthly summary the daemon writes on the 1st: every unit's posts and findings for the month just ended.

`summary-YYYY-MM.json` in `[schedule] out`: the month, the date it was judged as of (the month's last day),
the sites' availability findings, and one entry a unit with its post count for the month (quota columns),
whether it met the quota, and its findings as `monitor check --format json` shows them.
"""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from config import Settings
from monitors.evaluate import evaluate_unit
from monitors.probes import site_findings
from storage import queries
from storage.db import get_sessionmaker, migrate


def previous_month(today: date) -> str:
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first:%Y-%m}"


def write_monthly_summary(settings: Settings, month: str, out: Path) -> Path:
    year, mon = int(month[:4]), int(month[5:7])
    as_of = (date(year + mon // 12, mon % 12 + 1, 1)) - timedelta(days=1)
    url = settings.monitor.database_url
    migrate(url)
    units = []
    with get_sessionmaker(url)() as session:
        for unit in queries.units(session):
            result = evaluate_unit(session, settings, unit.name, as_of)
            posts = next((m.posts for m in result.facts.months if m.month == month), 0)
            units.append({"unit": unit.name, "kind": unit.kind, "posts": posts,
                          "quota_met": posts >= settings.rules.monthly_quota,
                          "findings": result.to_json()["findings"]})
        sites = [{"rule": f.rule, "severity": f.severity, "target": f.target, "detail": f.detail}
                 for f in site_findings(session, settings, as_of)]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"summary-{month}.json"
    data = {"month": month, "as_of": as_of.isoformat(), "sites": sites, "units": units}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)  # written whole or not at all
    return path
