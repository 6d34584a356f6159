"""The report as JSON (`report-2020Q3.json`), the contract other tools read (DESIGN.md, "Contracts").

Required keys: `quarter`, `total_posts`, `units` (each `unit`, `kind`, `months`, `status`). Everything else
here is added beside them and may grow; nothing is renamed. Strings are written as the model holds them
(JSON escapes control characters itself), so a consumer sees the crawled names unaltered.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path

from monitors.report.model import ColumnIssue, QuarterReport


def _issue(issue: ColumnIssue) -> dict:
    return {
        "unit": issue.unit,
        "column": issue.column,
        "url": issue.url,
        "category": issue.category,
        "last_post": issue.last_post.isoformat() if issue.last_post else None,
        "days_since": issue.days_since,
        "limit_days": issue.limit_days,
        **({"note": issue.note} if issue.note else {}),
    }


def _plain(value: object) -> object:
    """Accounts rows come from another monitor: dataclasses and dicts become JSON, dates ISO strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def report_dict(report: QuarterReport) -> dict:
    """The JSON document as a dict: the contract's keys first, then the additions."""
    return {
        "quarter": report.quarter,
        "total_posts": report.total_posts,
        "units": [
            {
                "unit": u.unit,
                "kind": u.kind,
                "months": {m: u.months.get(m, 0) for m in report.months},
                "status": u.status,
                "shortfalls": dict(u.shortfalls),
                "partial_months": list(u.partial_months),
            }
            for u in report.units
        ],
        "as_of": report.as_of.isoformat(),
        "months": list(report.months),
        "issuer": report.issuer,
        "district": report.district,
        "site_name": report.site_name,
        "quota": report.quota,
        "good_units": report.good_units,
        "short_units": report.short_units,
        "always_short_units": report.always_short_units,
        "stale_columns": [_issue(i) for i in report.stale_columns],
        "blank_columns": [_issue(i) for i in report.blank_columns],
        "disclosure_posts": report.disclosure_posts,
        "disclosure_stale": {u: [_issue(i) for i in issues] for u, issues in report.disclosure_stale.items()},
        "site_findings": _plain(report.site_findings),
        "accounts": _plain(report.accounts),
        "accounts_as_of": report.accounts_day.isoformat(),  # the day the accounts were judged
        "partial_columns": [_issue(i) for i in report.partial_columns],
        # the content checks' problems, one a link, word or page; absent when [content] is off
        **({"content_issues": [dataclasses.asdict(i) for i in report.content_issues]}
           if report.content_issues is not None else {}),
    }


def write_json(report: QuarterReport, path: Path) -> Path:
    """Write the report's JSON to `path` (UTF-8, not ASCII-escaped, indented 2) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report_dict(report), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
