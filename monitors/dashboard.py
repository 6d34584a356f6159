"""The dashboard's use cases (issue 12): each page's numbers as plain dataclasses, built from the application layer.

The web routes (monitors/web/pages.py) only render these. Every number comes from the functions the CLI uses:
`Monitor.evaluate_all` / `Monitor.check` (the unit page's months are `check --format json`'s), the quota rule
itself for past quarters, the probes' stored rows for availability. Nothing here prints or knows HTTP.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select

from config.model import CATEGORY_LABELS, PLATFORM_LABELS
from monitors.app import Freshness, Monitor
from monitors.content_rules import CONTENT_LABELS
from monitors.evaluate import Evaluator, month_start, parse_quarter, quarter_windows
from monitors.probes import probe_window
from monitors.rules import (
    ACCOUNTS_FAILED,
    SEVERITY_LABELS,
    SITE_COLUMNS_VETO,
    SITE_CRAWL_FAILED,
    Finding,
    UnitFacts,
    local_date,
    quota_monthly,
    shortfalls,
)
from storage import queries
from storage.models import Column, ColumnFetch, ColumnPost, CrawlRun, Post, Probe, Unit

# Rules that have no short label elsewhere (the content rules' are monitors.content_rules.CONTENT_LABELS).
RULE_LABELS: dict[str, str] = {
    "quota.monthly": "月发布数量不足",
    "column.stale": "栏目超期未更新",
    "column.blank": "空白栏目",
    "column.unreachable": "栏目无法访问",
    "column.unreadable": "栏目无法读取",
    "account.silent": "新媒体两周未更新",
    "account.unreadable": "新媒体无法读取",
    "account.quiet": "新媒体一周未更新",
    "site.unavailable": "网站不可用",
    SITE_CRAWL_FAILED: "网站整站无法抓取",
    SITE_COLUMNS_VETO: "栏目问题达否决线",
    ACCOUNTS_FAILED: "新媒体平台无法读取",
    **CONTENT_LABELS,
}
ACCOUNT_STATES = ("正常", "预警", "不合格", "无法读取")
T = TypeVar("T")
HISTORY_QUARTERS = 4
FETCH_HISTORY = 50
QUARTERS_LISTED = 8
REPORT_LEDGER = ".monitor-hashes.json"  # monitors.report.writers.HASHES: the names the writer produced
CACHED = 16  # evaluations kept (per as_of and call) while the data they were made from is unchanged

_cache: dict[tuple[object, ...], object] = {}


def cached(monitor: Monitor, name: str, *args: object, compute: Callable[[], T]) -> T:
    """`compute()`, kept while the database holds the same data (`queries.data_version`: any crawl, account
    read, probe, content check or 整改 change makes it new), so a page looked at again costs a few max() reads
    instead of an evaluation. The value is the same the function returns; only its time is saved."""
    with monitor.sessions() as session:
        version = queries.data_version(session)
    key = (id(monitor), name, *args, version)
    if key not in _cache:
        while len(_cache) >= CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[key] = compute()
    return cast(T, _cache[key])


def rule_label(rule: str) -> str:
    return RULE_LABELS.get(rule, rule)


# --- the heat map: months against the quota -------------------------------------------------------------

@dataclass(frozen=True)
class MonthCell:
    month: str  # 'YYYY-MM'
    posts: int
    complete: bool  # a whole month before as_of: only these are judged
    shortfall: int | None  # posts short of the quota (the quota.monthly finding), None when met or not judged
    partial: bool  # the count rests on a column not read whole (may be more)
    css: str  # cell-ok | cell-short | cell-fail | cell-open | cell-none

    @property
    def label(self) -> str:
        """What the cell says: the count, the shortfall, or that the month is not over."""
        text = str(self.posts)
        if self.shortfall is not None:
            text += f"（差{self.shortfall}）"
        elif not self.complete and self.css == "cell-open":
            text += "（未满月）"
        return text + ("*" if self.partial else "")


def month_cells(months: list[tuple[str, int, bool]], short: dict[str, int], partial: set[str], quota: int,
                judged: bool) -> list[MonthCell]:
    """Cells from (month, posts, complete) and the quota rule's shortfalls; `judged` False: no quota columns."""
    cells = []
    for month, posts, complete in months:
        n = short.get(month)
        if not judged:
            css = "cell-none"
        elif not complete:
            css = "cell-open"
        elif n is None:
            css = "cell-ok"
        else:
            css = "cell-fail" if n * 2 > quota else "cell-short"  # more than half the quota missing: red
        cells.append(MonthCell(month, posts, complete, n, month in partial, css))
    return cells


def _judged(facts: UnitFacts) -> bool:
    return any(c.quota for c in facts.columns)


@dataclass(frozen=True)
class HeatRow:
    unit: str
    kind: str
    cells: list[MonthCell]
    status: str  # the report's words: 完成 or 8月-4;9月-1
    findings: int


@dataclass(frozen=True)
class RuleCount:
    rule: str
    label: str
    severity: str
    severity_label: str
    count: int


@dataclass(frozen=True)
class SiteAvailability:
    name: str
    url: str
    total: int
    failed: int
    budget: float  # the failure ratio allowed ([rules] unavailable_ratio)

    @property
    def ratio(self) -> float:
        return self.failed / self.total if self.total else 0.0

    @property
    def uptime(self) -> str:
        return f"{1 - self.ratio:.2%}" if self.total else "—"

    @property
    def css(self) -> str:
        if not self.total:
            return "cell-open"
        if self.ratio >= self.budget:
            return "cell-fail"
        return "cell-short" if self.failed else "cell-ok"


@dataclass(frozen=True)
class Overview:
    as_of: date
    months: list[str]
    quota: int
    rows: list[HeatRow]
    rules: list[RuleCount]
    sites: list[SiteAvailability]
    accounts: dict[str, int]  # status -> accounts, in ACCOUNT_STATES order
    freshness: Freshness
    last_crawl: queries.CrawlRunRow | None

    def heat_json(self) -> dict:
        """The ECharts heat map's data (static/charts.js): units × months, value = posts, class per cell."""
        return {"months": self.months, "units": [r.unit for r in self.rows], "quota": self.quota,
                "cells": [[j, i, c.posts, c.css] for i, r in enumerate(self.rows) for j, c in enumerate(r.cells)]}


def _key(f: Finding, unit: str) -> tuple[str, str, str]:
    return (f.unit or unit, f.rule, f.target)


def overview(monitor: Monitor, as_of: date, now: datetime | None = None) -> Overview:
    """The centre's overview as of a date: every unit's months, findings by rule, sites, accounts, data's age."""
    evaluation = cached(monitor, "evaluate_all", as_of, compute=lambda: monitor.evaluate_all(as_of))
    quota = monitor.settings.rules.monthly_quota
    rows: list[HeatRow] = []
    seen: dict[tuple[str, str, str], Finding] = {}
    for result in evaluation.units:
        facts = result.facts
        cells = month_cells([(m.month, m.posts, m.complete) for m in facts.months], result.shortfalls,
                            set(result.to_json()["partial_months"]), quota, _judged(facts))
        rows.append(HeatRow(result.unit, result.kind, cells, result.status, len(result.findings)))
        for f in result.findings:
            seen.setdefault(_key(f, result.unit), f)
    for f in evaluation.site_findings + evaluation.crawl_findings:
        seen.setdefault(_key(f, ""), f)
    counts = Counter((f.rule, str(f.severity)) for f in seen.values())
    order = {s: i for i, s in enumerate(SEVERITY_LABELS)}
    rules = sorted((RuleCount(rule, rule_label(rule), sev, SEVERITY_LABELS.get(sev, sev), n)
                    for (rule, sev), n in counts.items()), key=lambda r: (order.get(r.severity, 9), -r.count, r.rule))
    statuses = Counter(str(a["status"]) for a in evaluation.accounts)
    minute = (now or datetime.now().astimezone()).replace(second=0, microsecond=0)  # ages shown to the minute
    status = cached(monitor, "data_status", minute, compute=lambda: monitor.data_status(now))
    return Overview(as_of, evaluation.months, quota, rows, rules, site_availability(monitor, as_of),
                    {s: statuses.get(s, 0) for s in ACCOUNT_STATES}, status.freshness, status.last_crawl)


def site_availability(monitor: Monitor, as_of: date, days: int | None = None) -> list[SiteAvailability]:
    """Each site's home page probes in the availability window ending with `as_of` (the rule's 7 days), or in the
    last `days` days of it."""
    settings = monitor.settings
    start, end = probe_window(settings, as_of)
    if days is not None:
        start = end - timedelta(days=days)
    with monitor.sessions() as session:
        stats = {s.url: s for s in queries.probe_stats(session, start, end)}
    out = []
    for site in settings.sites:
        s = stats.get(site.url)
        out.append(SiteAvailability(site.name, site.url, s.total if s else 0, s.failed if s else 0,
                                    settings.rules.unavailable_ratio))
    return out


# --- a unit's page ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnRow:
    id: int | None
    name: str
    url: str
    category: str
    posts: int
    last_post: str | None
    days_left: int | None  # days before the column is stale (negative: days over)
    read: str  # 完整 | 未读全（…） | 无法读取（…）
    css: str


@dataclass(frozen=True)
class FindingRow:
    finding: dict  # as check's JSON shows it (rule, severity, target, detail, evidence)
    label: str
    severity_label: str
    link: str | None  # the page it is about (a URL), when it is one
    column_id: int | None  # the column's page on the dashboard, when the finding is about a column


@dataclass(frozen=True)
class QuarterHistory:
    quarter: str
    cells: list[MonthCell]
    status: str


@dataclass(frozen=True)
class UnitPage:
    unit: str
    kind: str
    as_of: date
    check: dict  # Monitor.check(unit, as_of).to_json(): the same numbers as `monitor check --format json`
    months: list[MonthCell]
    status: str
    columns: list[ColumnRow]
    accounts: list[dict]
    findings: list[FindingRow]
    history: list[QuarterHistory]
    freshness: Freshness


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def previous_quarters(as_of: date, count: int, include_current: bool = True) -> list[str]:
    """`count` quarters ending with the one holding `as_of` (or the one before it), newest first."""
    year, q = parse_quarter(quarter_of(as_of))
    out = []
    if not include_current:
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    for _ in range(count):
        out.append(f"{year}Q{q}")
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    return out


def column_ids(monitor: Monitor, urls: list[str]) -> dict[str, int]:
    if not urls:
        return {}
    with monitor.sessions() as session:
        return {url: id_ for url, id_ in session.execute(select(Column.url, Column.id).where(Column.url.in_(urls)))}


def finding_rows(monitor: Monitor, unit: str, as_of: date, findings: list[dict],
                 ids: dict[str, int]) -> list[FindingRow]:
    """Findings as the pages list them, each with its 整改 state (monitors.remediation: _finding_actions.html)."""
    from monitors import remediation

    findings = remediation.with_states(findings, remediation.states_for(monitor, unit, as_of))
    return [FindingRow(f, rule_label(f["rule"]), SEVERITY_LABELS.get(f["severity"], f["severity"]),
                       f["target"] if str(f["target"]).startswith(("http://", "https://")) else None,
                       ids.get(f["target"]))
            for f in findings]


def unit_page(monitor: Monitor, unit: str, as_of: date) -> UnitPage:
    """A unit as of a date: check's JSON, presented; its last quarters' monthly counts. UnknownUnit otherwise."""
    settings = monitor.settings
    result = cached(monitor, "check", unit, as_of, compute=lambda: monitor.check(unit, as_of))
    data = result.to_json()
    quota = settings.rules.monthly_quota
    judged = _judged(result.facts)
    months = month_cells([(m.month, m.posts, m.complete) for m in result.facts.months], result.shortfalls,
                         set(data["partial_months"]), quota, judged)
    ids = column_ids(monitor, [c["url"] for c in data["columns"]])
    columns = []
    for c in data["columns"]:
        left = None
        if c["last_post"]:
            left = settings.rules.stale_days(c["category"]) - (as_of - date.fromisoformat(c["last_post"])).days
        read = ("无法读取（" + c["unreadable"] + "）" if c["unreadable"] is not None
                else "未读全（" + c["partial"] + "）" if c["partial"] is not None else "完整")
        css = "cell-fail" if (left is not None and left < 0) else "cell-short" if read != "完整" else "cell-ok"
        columns.append(ColumnRow(ids.get(c["url"]), c["name"], c["url"], CATEGORY_LABELS.get(c["category"],
                                 c["category"]), c["posts"], c["last_post"], left, read, css))
    accounts = [{**a, "platform_label": PLATFORM_LABELS.get(a["platform"], a["platform"]),
                 "css": {"正常": "cell-ok", "预警": "cell-short", "不合格": "cell-fail"}.get(a["status"], "cell-open")}
                for a in data["accounts"]]
    findings = finding_rows(monitor, result.unit, as_of, data["findings"], ids)
    return UnitPage(result.unit, result.kind, as_of, data, months, result.status, columns, accounts, findings,
                    unit_history(monitor, result.facts, as_of), monitor.freshness(result.unit))


def unit_history(monitor: Monitor, facts: UnitFacts, as_of: date) -> list[QuarterHistory]:
    """The unit's monthly counts over its last quarters (the one of `as_of` included), judged by the quota rule
    as the report judges them."""
    settings = monitor.settings
    quota = settings.rules.monthly_quota
    out = []
    with monitor.sessions() as session:
        evaluator = Evaluator(session, settings)
        for quarter in previous_quarters(as_of, HISTORY_QUARTERS):
            windows = quarter_windows(quarter)
            cut = min(as_of, windows[-1][2] - timedelta(days=1))
            months = evaluator.unit_months(facts.unit, windows, cut)
            quarter_facts = UnitFacts(facts.unit, facts.kind, months, facts.columns, facts.accounts, facts.tz)
            short = shortfalls(quota_monthly(quarter_facts, cut, settings.rules))
            cells = month_cells([(m.month, m.posts, m.complete) for m in months], short, set(), quota,
                                _judged(facts))
            out.append(QuarterHistory(quarter, cells, ";".join(f"{int(m[5:])}月-{n}" for m, n in short.items())
                                      or ("完成" if all(m.complete for m in months) else "季度未结束")))
    return out


# --- a column's page --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FetchRow:
    at: datetime
    status: str
    reason: str | None
    pages: int
    entries: int
    new_posts: int
    http_status: int | None
    full: bool
    css: str


@dataclass(frozen=True)
class PostRow:
    title: str
    url: str
    published: str | None


@dataclass(frozen=True)
class ColumnPage:
    id: int
    unit: str
    name: str
    url: str
    category: str
    as_of: date
    months: list[tuple[str, int]]  # the last 12 months' posts, oldest first
    posts: list[PostRow]  # the newest posts
    fetches: list[FetchRow]
    findings: list[FindingRow]

    def chart_json(self) -> dict:
        return {"months": [m for m, _ in self.months], "posts": [n for _, n in self.months]}


FETCH_LABELS = {"ok": "正常", "not_modified": "未变化", "partial": "未读全", "error": "失败", "unreadable": "无法读取",
                "running": "进行中"}


def column_unit(monitor: Monitor, column_id: int) -> str | None:
    """The unit owning the column (for access), None when there is no such column."""
    with monitor.sessions() as session:
        return session.scalar(select(Unit.name).join(Column, Column.unit_id == Unit.id).where(Column.id == column_id))


def column_page(monitor: Monitor, column_id: int, as_of: date) -> ColumnPage | None:
    """A column: posts by month (its last 12 months to `as_of`), newest posts, fetch history and its findings."""
    settings = monitor.settings
    tz = ZoneInfo(settings.monitor.timezone)
    with monitor.sessions() as session:
        row = session.execute(select(Column, Unit.name).join(Unit).where(Column.id == column_id)).first()
        if row is None:
            return None
        column, unit = row
        evaluator = Evaluator(session, settings)
        first = month_start(as_of.year, as_of.month - 11)
        cut = evaluator.at(as_of + timedelta(days=1))
        dates = session.scalars(
            select(Post.published_at).join(ColumnPost, ColumnPost.post_id == Post.id)
            .where(ColumnPost.column_id == column_id, Post.published_at >= evaluator.at(first),
                   Post.published_at < cut)).all()
        counted = Counter(f"{local_date(d, tz):%Y-%m}" for d in dates if d is not None)
        months, day = [], first
        while day <= as_of:
            label = f"{day:%Y-%m}"
            months.append((label, counted.get(label, 0)))
            day = month_start(day.year, day.month + 1)
        posts = [PostRow(t, u, local_date(p, tz).isoformat() if p else None) for t, u, p in session.execute(
            select(Post.title, Post.url, Post.published_at).join(ColumnPost, ColumnPost.post_id == Post.id)
            .where(ColumnPost.column_id == column_id, Post.published_at < cut)
            .order_by(Post.published_at.desc(), Post.id.desc()).limit(20))]
        fetches = [FetchRow(f.finished_at, FETCH_LABELS.get(f.status, f.status), f.reason, f.pages, f.entries,
                            f.new_posts, f.http_status, full,
                            {"ok": "cell-ok", "not_modified": "cell-ok", "partial": "cell-short"}.get(
                                f.status, "cell-fail"))
                   for f, full in session.execute(
                       select(ColumnFetch, CrawlRun.full).join(CrawlRun, CrawlRun.id == ColumnFetch.run_id)
                       .where(ColumnFetch.column_id == column_id)
                       .order_by(ColumnFetch.id.desc()).limit(FETCH_HISTORY))]
        name, url, category = column.name, column.url, column.category
    check = cached(monitor, "check", unit, as_of, compute=lambda: monitor.check(unit, as_of))
    findings = [f for f in check.to_json()["findings"] if f["target"] == url]
    return ColumnPage(column_id, unit, name, url, CATEGORY_LABELS.get(category, category), as_of, months, posts,
                      fetches, finding_rows(monitor, unit, as_of, findings, {url: column_id}))


# --- the quarterly notice ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuarterFiles:
    quarter: str
    files: list[str]  # names the report writer produced for the quarter, present in the directory


def reports_dir(monitor: Monitor) -> Path:
    """Where the dashboard writes and reads notices: `[schedule] out` (relative to the settings file's folder)."""
    out = Path(monitor.settings.schedule.out)
    return out if out.is_absolute() else Path(monitor.settings.path).resolve().parent / out


def _ledger(directory: Path) -> list[str]:
    try:
        names = json.loads((directory / REPORT_LEDGER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, dict) else []


def report_files(directory: Path, quarter: str) -> list[str]:
    """The quarter's files the writer produced (its ledger names them) and that are still there."""
    return sorted(n for n in _ledger(directory) if quarter in n and "/" not in n and "\\" not in n
                  and not n.startswith(".") and (directory / n).is_file())


def report_list(monitor: Monitor, as_of: date) -> list[QuarterFiles]:
    """The quarters before the one of `as_of`, and any other whose files were written, newest first."""
    directory = reports_dir(monitor)
    written = {m.group(0) for n in _ledger(directory) if (m := QUARTER_IN.search(n))}
    quarters = sorted(set(previous_quarters(as_of, QUARTERS_LISTED, False)) | written, reverse=True)
    return [QuarterFiles(q, report_files(directory, q)) for q in quarters]


QUARTER_IN = re.compile(r"\d{4}Q[1-4]")
QUARTER = re.compile(r"^\d{4}Q[1-4]$")


def report_file(monitor: Monitor, quarter: str, filename: str) -> Path | None:
    """The file to download: only a name the writer produced for this quarter, else None (no other path)."""
    if not QUARTER.match(quarter):
        return None
    directory = reports_dir(monitor)
    if filename not in report_files(directory, quarter):
        return None
    return directory / filename


# --- the status page ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Incident:
    start: datetime
    end: datetime
    probes: int
    errors: list[str]


@dataclass(frozen=True)
class SiteStatus:
    name: str
    url: str
    day: SiteAvailability
    week: SiteAvailability
    latency: list[tuple[str, int | None, bool]]  # (time ISO, ms, ok), oldest first
    incidents: list[Incident]
    last: datetime | None
    last_ok: bool | None


@dataclass(frozen=True)
class StatusPage:
    as_of: date
    sites: list[SiteStatus]
    budget: float

    def chart_json(self) -> dict:
        return {"sites": [{"name": s.name, "points": [[t, ms] for t, ms, _ in s.latency]} for s in self.sites]}


def status_page(monitor: Monitor, as_of: date) -> StatusPage:
    """Each site's home page: uptime over 24 h and over the rule's 7 days ending with `as_of`, response times and
    incidents (failed probes in a row) from the stored probes."""
    settings = monitor.settings
    start, end = probe_window(settings, as_of)
    day = {s.url: s for s in site_availability(monitor, as_of, days=1)}
    week = {s.url: s for s in site_availability(monitor, as_of)}
    sites = []
    with monitor.sessions() as session:
        for site in settings.sites:
            probes = session.execute(
                select(Probe.started_at, Probe.latency_ms, Probe.ok, Probe.error)
                .where(Probe.url == site.url, Probe.started_at >= start, Probe.started_at < end)
                .order_by(Probe.started_at)).all()
            incidents: list[Incident] = []
            run: list[tuple[datetime, str]] = []
            for at, _, ok, error in [*probes, (end, None, True, None)]:
                if not ok:
                    run.append((at, error or "失败"))
                elif run:
                    incidents.append(Incident(run[0][0], run[-1][0], len(run), sorted({e for _, e in run})))
                    run = []
            sites.append(SiteStatus(site.name, site.url, day[site.url], week[site.url],
                                    [(at.isoformat(), ms, ok) for at, ms, ok, _ in probes],
                                    incidents[::-1], probes[-1][0] if probes else None,
                                    probes[-1][2] if probes else None))
    return StatusPage(as_of, sites, settings.rules.unavailable_ratio)
