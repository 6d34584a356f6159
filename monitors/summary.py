"""The monthly summary the daemon writes on the 1st: every unit's posts and findings for the month just ended.

`summary-YYYY-MM.json` in `[schedule] out`: the month, the date it was judged as of (the month's last day),
the sites' availability findings, and one entry a unit with its post count for the month (quota columns),
whether it met the quota, and its findings as `monitor check --format json` shows them. With the content checks
on ([content] enabled), `content` counts their findings per rule over the units and sites: findings, and the
links, words or pages they are made of.
"""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from config import Settings
from monitors.evaluate import CONTENT_RULE_IDS, Evaluation, evaluate_all, findings_json


def previous_month(today: date) -> str:
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first:%Y-%m}"


def month_end(month: str) -> date:
    year, mon = int(month[:4]), int(month[5:7])
    return date(year + mon // 12, mon % 12 + 1, 1) - timedelta(days=1)


def monthly_summary(session: Session, settings: Settings, month: str) -> dict:
    """The summary's data: every unit evaluated once (`evaluate_all`) as of the month's last day."""
    as_of = month_end(month)
    evaluation = evaluate_all(session, settings, as_of)
    units = []
    for result in evaluation.units:
        posts = next((m.posts for m in result.facts.months if m.month == month), 0)
        units.append({"unit": result.unit, "kind": result.kind, "posts": posts,
                      "quota_met": month not in result.shortfalls, "findings": findings_json(result.findings)})
    data: dict[str, object] = {"month": month, "as_of": as_of.isoformat(),
                               "sites": findings_json(evaluation.site_findings), "units": units}
    if settings.content.enabled:
        data["content"] = content_counts(evaluation)
    return data


def content_counts(evaluation: Evaluation) -> dict[str, dict[str, int]]:
    """Rule -> {"findings": n, "items": links, words or pages} of the content findings, each counted once
    (a home page's finding is the site's and its unit's)."""
    found = {id(f): f for f in [*evaluation.site_findings, *(f for r in evaluation.units for f in r.findings)]
             if f.rule in CONTENT_RULE_IDS}
    counts: dict[str, dict[str, int]] = {}
    for f in found.values():
        entry = counts.setdefault(f.rule, {"findings": 0, "items": 0})
        entry["findings"] += 1
        entry["items"] += len(f.evidence) or 1
    return dict(sorted(counts.items()))


def write_summary(data: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"summary-{data['month']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)  # written whole or not at all
    return path
