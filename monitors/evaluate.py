"""Evaluation: load facts from storage once, run the rules as of a date, build results and the report model."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from config import Settings
from monitors.probes import site_findings
from monitors.report.model import ColumnIssue, QuarterReport, UnitRow
from monitors.rules import (
    Finding,
    MonthCount,
    UnitFacts,
    account_status,
    evaluate_rules,
    local_date,
    month_label,
    months_on_partial_reads,
)
from storage import queries
from storage.queries import ColumnFact


def month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def month_windows(first: date, count: int) -> list[tuple[str, date, date]]:
    """`count` calendar months from the month of `first`: (label 'YYYY-MM', first day, first day of next)."""
    out = []
    for i in range(count):
        start = month_start(first.year, first.month + i)
        out.append((f"{start:%Y-%m}", start, month_start(start.year, start.month + 1)))
    return out


def check_months(as_of: date) -> list[tuple[str, date, date]]:
    """The three complete months before as_of and the month of as_of itself (DESIGN.md)."""
    return month_windows(month_start(as_of.year, as_of.month - 3), 4)


def parse_quarter(quarter: str) -> tuple[int, int]:
    """'2020Q3' -> (2020, 3); ValueError with a Chinese message otherwise."""
    text = quarter.strip().upper()
    if len(text) == 6 and text[:4].isdigit() and text[4] == "Q" and text[5] in "1234":
        return int(text[:4]), int(text[5])
    raise ValueError(f"季度格式应为 2020Q3 这样的形式，而不是 {quarter!r}")


def default_report_date(quarter: str) -> date:
    """The notice is written early in the next quarter: the 10th day after the quarter ends."""
    year, q = parse_quarter(quarter)
    return month_start(year, q * 3 + 1) + timedelta(days=9)


class Evaluator:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.tz = ZoneInfo(settings.monitor.timezone)
        self._site_findings: tuple[date, list[Finding]] | None = None

    def at(self, day: date) -> datetime:
        """Local midnight starting `day`, as an aware datetime (storage compares in UTC)."""
        return datetime.combine(day, time(), self.tz)

    def unit_months(self, unit: str, windows: list[tuple[str, date, date]], as_of: date) -> list[MonthCount]:
        cut = as_of + timedelta(days=1)
        return [MonthCount(label, queries.unit_posts_between(self.session, unit, self.at(start), self.at(min(end, cut))),
                           end <= cut)
                for label, start, end in windows]

    def unit_facts(self, unit: queries.UnitFact, as_of: date, windows=None,  # noqa: ANN001
                   columns: list[ColumnFact] | None = None, accounts: list | None = None) -> UnitFacts:
        windows = windows or check_months(as_of)
        cut = self.at(as_of + timedelta(days=1))
        if columns is None:
            columns = queries.column_facts(self.session, cut, unit.name)
        if accounts is None:
            accounts = queries.account_facts(self.session, cut, unit.name)
        return UnitFacts(unit=unit.name, kind=unit.kind, months=self.unit_months(unit.name, windows, as_of),
                         columns=columns, accounts=accounts, tz=self.tz)

    def account_rows(self, accounts: list, as_of: date) -> list[dict]:
        """Accounts as DESIGN.md's JSON shows them (also attachment 3 of the notice)."""
        rows = []
        for a in accounts:
            state = account_status(a, as_of, self.settings.rules, self.tz)
            rows.append({"unit": a.unit, "platform": a.platform, "name": a.name, "url": a.url,
                         "last_post": a.last_post.astimezone(self.tz).isoformat() if a.last_post else None,
                         "status": state.status, "reason": state.reason})
        return rows

    def findings(self, facts: UnitFacts, as_of: date) -> list[Finding]:
        return evaluate_rules(facts, as_of, self.settings.rules)

    def owned_sites(self, unit: str) -> tuple[str, ...]:
        return tuple(s.url for s in self.settings.sites if s.unit == unit)

    def owned_site_findings(self, unit: str, as_of: date) -> list[Finding]:
        """Site-level findings (site.unavailable) of the sites the unit answers for (`[[sites]] unit`)."""
        owned = self.owned_sites(unit)
        if not owned:
            return []
        if self._site_findings is None or self._site_findings[0] != as_of:
            self._site_findings = (as_of, site_findings(self.session, self.settings, as_of))
        return [f for f in self._site_findings[1] if f.target.startswith(owned)]


@dataclass(frozen=True)
class UnitResult:
    unit: str
    kind: str
    as_of: date
    facts: UnitFacts
    findings: list[Finding]
    accounts: list[dict]

    def to_json(self) -> dict:
        tz = self.facts.tz
        return {
            "unit": self.unit,
            "as_of": self.as_of.isoformat(),
            "months": {m.month: m.posts for m in self.facts.months},
            # months whose count rests on a column that was not read whole (see `partial` below)
            "partial_months": sorted(months_on_partial_reads(self.facts)),
            "columns": [
                {"name": c.name, "url": c.url, "category": c.category, "posts": c.posts,
                 "last_post": local_date(c.last_post, tz).isoformat() if c.last_post else None,
                 "partial": c.partial}
                for c in self.facts.columns
            ],
            "accounts": [{k: v for k, v in a.items() if k != "unit"} for a in self.accounts],
            "findings": [{"rule": f.rule, "severity": f.severity, "target": f.target, "detail": f.detail}
                         for f in self.findings],
        }


def evaluate_unit(session: Session, settings: Settings, unit: str, as_of: date) -> UnitResult:
    evaluator = Evaluator(session, settings)
    found = queries.units(session, [unit])
    if not found:
        raise LookupError(unit)
    facts = evaluator.unit_facts(found[0], as_of)
    findings = evaluator.findings(facts, as_of) + evaluator.owned_site_findings(unit, as_of)
    return UnitResult(unit, found[0].kind, as_of, facts, findings, evaluator.account_rows(facts.accounts, as_of))


def unit_status(months: list[MonthCount], quota: int) -> tuple[dict[str, int], str]:
    shortfalls = {m.month: quota - m.posts for m in months if m.posts < quota}
    status = ";".join(f"{month_label(m)}-{n}" for m, n in shortfalls.items()) or "完成"
    return shortfalls, status


def column_issue(unit: str, column: ColumnFact, as_of: date, tz: ZoneInfo, settings: Settings,
                 note: str | None = None) -> ColumnIssue:
    last = local_date(column.last_post, tz) if column.last_post else None
    return ColumnIssue(unit, column.name, column.url, column.category, last,
                       (as_of - last).days if last else None, settings.rules.stale_days(column.category), note)


def build_quarter_report(session: Session, settings: Settings, quarter: str, as_of: date | None = None) -> QuarterReport:
    year, q = parse_quarter(quarter)
    as_of = as_of or default_report_date(quarter)
    evaluator = Evaluator(session, settings)
    windows = month_windows(month_start(year, q * 3 - 2), 3)
    quota = settings.rules.monthly_quota
    all_columns = queries.column_facts(session, evaluator.at(as_of + timedelta(days=1)))
    by_unit: dict[str, list[ColumnFact]] = {}
    for column in all_columns:
        by_unit.setdefault(column.unit, []).append(column)
    all_accounts = queries.account_facts(session, evaluator.at(as_of + timedelta(days=1)))
    accounts_by_unit: dict[str, list] = {}
    for account in all_accounts:
        accounts_by_unit.setdefault(account.unit, []).append(account)

    rows: list[UnitRow] = []
    stale: list[ColumnIssue] = []
    blank: list[ColumnIssue] = []
    partial: list[ColumnIssue] = []
    for unit in queries.units(session):
        facts = evaluator.unit_facts(unit, as_of, windows, by_unit.get(unit.name, []),
                                     accounts_by_unit.get(unit.name, []))
        findings = evaluator.findings(facts, as_of)
        if unit.kind in ("township", "department"):
            shortfalls, status = unit_status(facts.months, quota)
            rows.append(UnitRow(unit.name, unit.kind, {m.month: m.posts for m in facts.months}, shortfalls, status,
                                tuple(sorted(months_on_partial_reads(facts)))))
        columns = {c.url: c for c in facts.columns}
        for column in facts.columns:
            if column.partial is not None:
                partial.append(column_issue(unit.name, column, as_of, evaluator.tz, settings, note=column.partial))
        for finding in findings:
            column = columns.get(finding.target)
            if column is None or finding.rule not in ("column.stale", "column.blank"):
                continue
            issue = column_issue(unit.name, column, as_of, evaluator.tz, settings)
            (stale if finding.rule == "column.stale" else blank).append(issue)

    start, end = evaluator.at(windows[0][1]), evaluator.at(windows[-1][2])
    # The notice counts the posts of the portal it names (the first [[sites]]), not of sub-sites beside it.
    portal = settings.sites[0].url if settings.sites else None
    disclosure_stale: dict[str, list[ColumnIssue]] = {}
    for issue in stale:
        if issue.category == "disclosure":
            disclosure_stale.setdefault(issue.unit, []).append(issue)
    kinds = ("township", "department")
    good = {k: [r.unit for r in sorted((r for r in rows if r.kind == k and not r.shortfalls),
                                       key=lambda r: -r.total)] for k in kinds}
    limits = {"township": settings.report.good_townships, "department": settings.report.good_departments}
    return QuarterReport(
        quarter=f"{year}Q{q}", months=[w[0] for w in windows], as_of=as_of, issuer=settings.report.issuer,
        district=settings.report.district, site_name=settings.sites[0].name if settings.sites else settings.report.district,
        quota=quota, total_posts=queries.posts_between(session, start, end, site_url=portal),
        units=rows,
        good_units={k: v[: limits[k]] for k, v in good.items()},
        short_units={k: [r.unit for r in rows if r.kind == k and r.shortfalls] for k in kinds},
        always_short_units={k: [r.unit for r in rows if r.kind == k and len(r.shortfalls) == len(windows)]
                            for k in kinds},
        stale_columns=stale, blank_columns=blank, partial_columns=partial,
        disclosure_posts=queries.posts_between(session, start, end, category="disclosure", site_url=portal),
        disclosure_stale=disclosure_stale,
        site_findings=[{"rule": f.rule, "severity": f.severity, "target": f.target, "detail": f.detail}
                       for f in site_findings(session, settings, as_of)],
        accounts=evaluator.account_rows(all_accounts, as_of),
    )
