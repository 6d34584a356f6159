"""Evaluation: load facts from storage once, run the rules as of a date, build results and the report model."""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from config import Settings
from config.model import ContentSettings
from monitors.probes import site_findings
from config.model import RuleSettings
from monitors.rules import (
    RULES,
    SITE_COLUMNS_VETO,
    Finding,
    Severity,
    MonthCount,
    UnitFacts,
    account_status,
    evaluate_rules,
    local_date,
    months_on_partial_reads,
    quota_status,
    shortfalls,
    accounts_failed_for_centre,
    centre_account_failure,
    host_root,
    site_columns_veto,
    site_crawl_failed,
)
from monitors.content_rules import (
    CONTENT_RULE_IDS,
    ContentContext,
    evaluate_homes,
    evaluate_pages,
)
from storage import queries
from storage.queries import AccountFact, ColumnFact
from storage.queries.facts import unit_month_counts

if TYPE_CHECKING:  # the quarter report's model loads with the report (check never builds one)
    from monitors.report.model import ColumnIssue, ContentIssue, QuarterReport


YEARS = range(1990, 2101)  # dates and quarters a user may ask about (the CLI, the dashboard, the API)


def day_problem(day: date, today: date) -> str | None:
    """Why `day` cannot be an evaluation date (a sentence for the user), or None: its year out of YEARS, or after
    today. The CLI's --as-of, the dashboard's ?as_of= and the API's as_of all ask this."""
    if day.year not in YEARS:
        return f"{day.isoformat()} 的年份应在 {YEARS.start}–{YEARS.stop - 1} 之间"
    if day > today:
        return f"日期 {day.isoformat()} 晚于今天（{today.isoformat()}），不能评估尚未到来的日期"
    return None


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
    """Reads facts for the rules in one session and turns stored times into the site's local dates."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.tz = ZoneInfo(settings.monitor.timezone)

    def at(self, day: date) -> datetime:
        """Local midnight starting `day`, as an aware datetime (storage compares in UTC)."""
        return datetime.combine(day, time(), self.tz)

    def units_months(self, units: Sequence[str], windows: list[tuple[str, date, date]], as_of: date,
                     every: bool = False) -> dict[str, list[MonthCount]]:
        """Each unit's posts in each month window up to as_of, from one bucketed statement whatever the number
        of units and months. `every`: the units are all the active ones, so the statement names none and reads
        the posts of the windows (by date) rather than each unit's whole listing history."""
        cut = as_of + timedelta(days=1)
        bounds = [(self.at(start), self.at(min(end, cut))) for _, start, end in windows]
        counts = unit_month_counts(self.session, bounds, None if every else units)
        none = [0] * len(windows)
        return {unit: [MonthCount(label, n, end <= cut) for (label, _, end), n in zip(windows, counts.get(unit, none))]
                for unit in units}

    def unit_months(self, unit: str, windows: list[tuple[str, date, date]], as_of: date) -> list[MonthCount]:
        return self.units_months([unit], windows, as_of)[unit]

    def unit_facts(self, unit: queries.UnitFact, as_of: date, windows: list[tuple[str, date, date]],
                   columns: list[ColumnFact], accounts: list[AccountFact],
                   months: list[MonthCount] | None = None) -> UnitFacts:
        """The unit's facts; `months` when counted already for many units at once (`units_months`)."""
        return UnitFacts(unit=unit.name, kind=unit.kind,
                         months=self.unit_months(unit.name, windows, as_of) if months is None else months,
                         columns=columns, accounts=accounts, tz=self.tz)

    def account_rows(self, accounts: list[AccountFact], as_of: date) -> list[dict]:
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
        """The sites the unit answers for (`[[sites]] unit`): their site-level findings are the unit's."""
        return tuple(s.url for s in self.settings.sites if s.unit == unit)


@dataclass(frozen=True)
class UnitResult:
    """One unit evaluated as of a date: its facts, its findings (the unit's own sites' included) and accounts."""

    unit: str
    kind: str
    as_of: date
    facts: UnitFacts
    findings: list[Finding]
    accounts: list[dict]
    evaluated: frozenset[str] = frozenset()  # targets judged: complete months, column, account and site URLs

    @property
    def shortfalls(self) -> dict[str, int]:
        """Month -> posts short of the quota: read from the `quota.monthly` findings, so the two always agree."""
        return shortfalls(self.findings)

    @property
    def status(self) -> str:
        return quota_status(self.shortfalls)

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
                 "partial": c.partial, "unreadable": c.unreadable}
                for c in self.facts.columns
            ],
            "accounts": [{k: v for k, v in a.items() if k != "unit"} for a in self.accounts],
            "findings": findings_json(self.findings),
        }


def read_label(column: dict) -> str:
    """How the column's newest read went, as check's 读取情况 shows it (a column of `UnitResult.to_json`)."""
    if column.get("unreadable") is not None:
        return f"无法读取（{column['unreadable']}）"
    if column.get("partial") is not None:
        return f"未读全（{column['partial']}）"
    return "完整"


def findings_json(findings: list[Finding]) -> list[dict]:
    """Findings as DESIGN.md's JSON shows them; a content finding also lists its `evidence` (each link or word:
    `item`, `text`, `outcome`)."""
    return [{"rule": f.rule, "severity": str(f.severity), "target": f.target, "detail": f.detail,
             **({"evidence": [{"item": e.item, "text": e.text, "outcome": e.outcome} for e in f.evidence]}
                if f.evidence else {})}
            for f in findings]


@functools.cache
def _knows(content: ContentSettings, base_dir: str) -> Callable[[str, str], bool]:
    from crawler.content.textmatch import TextMatcher

    return TextMatcher.from_settings(content, Path(base_dir)).knows


def content_context(settings: Settings) -> ContentContext:
    from crawler.content.linkstep import site_netlocs

    return ContentContext(frozenset(site_netlocs(settings)), settings.content.allow_domains,
                          _knows(settings.content, str(Path(settings.path).parent)))


@dataclass(frozen=True)
class ContentFindings:
    """The content rules' findings as of a date: each unit's (its article pages), the sites' (home pages), and
    the page URLs judged for each unit (so a fixed page is said cleared)."""

    units: dict[str, list[Finding]] = field(default_factory=dict)
    sites: list[Finding] = field(default_factory=list)
    judged: dict[str, set[str]] = field(default_factory=dict)


def content_findings(session: Session, settings: Settings, start: datetime, end: datetime, as_of: date,
                     unit: str | None, homes: bool = True) -> ContentFindings:
    """Article pages of the posts published in [start, end), and (`homes`) the sites' home pages as last read."""
    if not settings.content.enabled:
        return ContentFindings()
    ctx = content_context(settings)
    by_unit: dict[str, list[queries.PageFact]] = {}
    for page in queries.article_facts(session, start, end, unit):
        by_unit.setdefault(page.unit, []).append(page)
    home_pages = queries.home_facts(session, [s.url for s in settings.sites]) if homes else []
    return ContentFindings({u: evaluate_pages(pages, ctx) for u, pages in by_unit.items()},
                           evaluate_homes(home_pages, ctx, as_of, settings.rules,
                                          {s.url: s.name for s in settings.sites}),
                           {u: {p.url for p in pages} for u, pages in by_unit.items()})


@dataclass(frozen=True)
class Evaluation:
    """Every unit (or the units asked for) evaluated as of one date, with the sites' findings."""

    as_of: date
    months: list[str]  # the windows' months, 'YYYY-MM'
    units: list[UnitResult]
    site_findings: list[Finding]
    accounts: list[dict]  # every evaluated account as DESIGN.md's JSON shows it (with its unit)
    # The centre's: sites whose columns failed together in a crawl (site.crawl_failed) and platforms whose
    # accounts could not be reached (account.read_failed), the column and account URLs they cover (failures
    # the units cannot fix: not judged for the units meanwhile) and the targets judged (so one that recovered
    # is said cleared).
    crawl_findings: list[Finding] = field(default_factory=list)
    site_covered: frozenset[str] = frozenset()
    sites_judged: frozenset[str] = frozenset()

    def unit(self, name: str) -> UnitResult | None:
        return next((u for u in self.units if u.unit == name), None)


def groupby_unit(columns: Sequence[ColumnFact]) -> dict[str, list[ColumnFact]]:
    out: dict[str, list[ColumnFact]] = {}
    for column in columns:
        out.setdefault(column.unit, []).append(column)
    return out


def column_rules(facts: UnitFacts, as_of: date, params: RuleSettings) -> list[Finding]:
    """`column.stale` and `column.blank` of a unit not otherwise judged (for site.columns_veto's counts)."""
    return RULES["column.stale"](facts, as_of, params) + RULES["column.blank"](facts, as_of, params)


def evaluate_all(session: Session, settings: Settings, as_of: date,
                 windows: list[tuple[str, date, date]] | None = None,
                 units: Sequence[str] | None = None) -> Evaluation:
    """Evaluate the rules for every unit (or `units`) as of the date: the one evaluation that check, the
    report, the monthly summary and the alerts read. Months are `windows` (default: check's four)."""
    evaluator = Evaluator(session, settings)
    windows = windows or check_months(as_of)
    cut = evaluator.at(as_of + timedelta(days=1))
    only = units[0] if units is not None and len(units) == 1 else None  # one unit: load only its facts
    columns: dict[str, list[ColumnFact]] = {}
    all_columns = queries.column_facts(session, cut, only)
    for column in all_columns:
        columns.setdefault(column.unit, []).append(column)
    site_list = [(s.name, s.url) for s in settings.sites]
    crawl_findings, covered = site_crawl_failed(all_columns, site_list, settings.rules)
    accounts: dict[str, list[AccountFact]] = {}
    all_accounts = queries.account_facts(session, cut, only)
    for account in all_accounts:
        accounts.setdefault(account.unit, []).append(account)
    unit_list = queries.units(session, list(units) if units is not None else None)
    months = evaluator.units_months([unit.name for unit in unit_list], windows, as_of, every=units is None)
    judged_units = [(unit, evaluator.unit_facts(unit, as_of, windows, columns.get(unit.name, []),
                                                accounts.get(unit.name, []), months[unit.name]))
                    for unit in unit_list]
    own = {unit.name: evaluator.findings(facts, as_of) for unit, facts in judged_units}
    # One unit's check judges the site-level rules only when it answers for a site ([[sites]] unit): the others'
    # checks never show them, and the column veto would read every column of the province.
    judge_sites = only is None or bool(evaluator.owned_sites(only))
    content = content_findings(session, settings, evaluator.at(windows[0][1]),
                               min(cut, evaluator.at(windows[-1][2])), as_of, only, homes=judge_sites)
    # site.columns_veto counts every unit's column findings on the site: made once above for the units judged,
    # by the same rules for the others when the evaluation is narrowed to one unit (check --unit): then only the
    # columns under its own sites' URLs (a column of another site can count for none of them: `site_of`)
    veto_columns = (all_columns if only is None
                    else queries.column_facts(session, cut, None, under=evaluator.owned_sites(only)) if judge_sites
                    else [])
    column_findings = [f for found in own.values() for f in found]
    for name, others in groupby_unit(veto_columns).items():
        if name not in own:
            column_findings += column_rules(UnitFacts(name, "", [], others, tz=evaluator.tz), as_of, settings.rules)
    sites = (site_findings(session, settings, as_of) + site_columns_veto(column_findings, veto_columns, site_list,
                                                                          settings.rules) + content.sites
             if judge_sites else [])
    results = []
    for unit, facts in judged_units:
        owned = evaluator.owned_sites(unit.name)
        found = (own[unit.name] + content.units.get(unit.name, [])
                 + [f for f in sites if owned and f.target.startswith(owned)])
        # the unit's sites are judged too, so a site that recovered is announced as cleared
        evaluated = ({m.month for m in facts.months if m.complete} | {c.url for c in facts.columns}
                     | {a.url for a in facts.accounts} | set(owned) | content.judged.get(unit.name, set())
                     | {f.target for f in found if f.rule in ("site.unavailable", SITE_COLUMNS_VETO)
                        or f.target.startswith(owned or ("\0",))})
        results.append(UnitResult(unit.name, unit.kind, as_of, facts, found,
                                  evaluator.account_rows(facts.accounts, as_of), frozenset(evaluated)))
    centre_findings = crawl_findings + accounts_failed_for_centre(all_accounts)
    # the sites and account hosts judged: a failure found before and not now is said cleared
    judged = {url for _, url in site_list} | {host_root(a.url) for a in all_accounts}
    covered |= {a.url for a in all_accounts if a.read_status != "ok" and centre_account_failure(a.reason)}
    return Evaluation(as_of, [w[0] for w in windows], results, sites, evaluator.account_rows(all_accounts, as_of),
                      centre_findings, frozenset(covered), frozenset(judged))


def evaluate_unit(session: Session, settings: Settings, unit: str, as_of: date) -> UnitResult:
    """One unit as of the date (`evaluate_all` narrowed to it); LookupError when the database lacks it."""
    result = evaluate_all(session, settings, as_of, units=[unit]).unit(unit)
    if result is None:
        raise LookupError(unit)
    return result


def column_issue(unit: str, column: ColumnFact, as_of: date, tz: ZoneInfo, settings: Settings,
                 note: str | None = None) -> ColumnIssue:
    from monitors.report.model import ColumnIssue

    last = local_date(column.last_post, tz) if column.last_post else None
    return ColumnIssue(unit, column.name, column.url, column.category, last,
                       (as_of - last).days if last else None, settings.rules.stale_days(column.category), note)


def quarter_windows(quarter: str) -> list[tuple[str, date, date]]:
    year, q = parse_quarter(quarter)
    return month_windows(month_start(year, q * 3 - 2), 3)


def build_quarter_report(session: Session, settings: Settings, quarter: str,
                         as_of: date | None = None) -> QuarterReport:
    from monitors.report.model import NoticeText, QuarterReport, UnitRow

    year, q = parse_quarter(quarter)
    as_of = as_of or default_report_date(quarter)
    windows = quarter_windows(quarter)
    evaluation = evaluate_all(session, settings, as_of, windows)
    tz = ZoneInfo(settings.monitor.timezone)
    rows: list[UnitRow] = []
    stale: list[ColumnIssue] = []
    blank: list[ColumnIssue] = []
    partial: list[ColumnIssue] = []
    unreadable: list[ColumnIssue] = []
    for result in evaluation.units:
        facts = result.facts
        if result.kind in ("township", "department"):
            rows.append(UnitRow(result.unit, result.kind, {m.month: m.posts for m in facts.months},
                                result.shortfalls, result.status, tuple(sorted(months_on_partial_reads(facts)))))
        columns = {c.url: c for c in facts.columns}
        for column in facts.columns:
            if column.partial is not None:
                partial.append(column_issue(result.unit, column, as_of, tz, settings, note=column.partial))
        for finding in result.findings:
            flagged = columns.get(finding.target)
            if flagged is None:
                continue
            if finding.rule == "column.unreadable":
                unreadable.append(column_issue(result.unit, flagged, as_of, tz, settings, note=flagged.unreadable))
            elif finding.rule in ("column.stale", "column.blank"):
                issue = column_issue(result.unit, flagged, as_of, tz, settings)
                (stale if finding.rule == "column.stale" else blank).append(issue)

    start, end = datetime.combine(windows[0][1], time(), tz), datetime.combine(windows[-1][2], time(), tz)
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
    if named := settings.report.good_units:  # the office's own choice, as given (a short one is warned of)
        good = {k: [n for n in named if any(r.unit == n and r.kind == k for r in rows)] for k in kinds}
        limits = {k: len(v) for k, v in good.items()}
    # The notice judges the accounts 截至季度末: as of the quarter's last day, from posts up to its end. When
    # an account's reads do not reach back to it (first read after it, every post newer), that is unknown:
    # then all are judged as of the notice's date, and the notice names that date.
    evaluator = Evaluator(session, settings)
    accounts_day = min(as_of, windows[-1][2] - timedelta(days=1))
    if queries.accounts_unknown_at(session, evaluator.at(accounts_day + timedelta(days=1))):
        accounts_day = as_of
    accounts = evaluator.account_rows(
        queries.account_facts(session, evaluator.at(accounts_day + timedelta(days=1))), accounts_day)
    text = settings.report
    return QuarterReport(
        quarter=f"{year}Q{q}", months=[w[0] for w in windows], as_of=as_of, issuer=settings.report.issuer,
        district=settings.report.district,
        site_name=settings.sites[0].name if settings.sites else settings.report.district,
        quota=settings.rules.monthly_quota, total_posts=queries.posts_between(session, start, end, site_url=portal),
        units=rows,
        good_units={k: v[: limits[k]] for k, v in good.items()},
        short_units={k: [r.unit for r in rows if r.kind == k and r.shortfalls] for k in kinds},
        always_short_units={k: [r.unit for r in rows if r.kind == k and len(r.shortfalls) == len(windows)]
                            for k in kinds},
        stale_columns=stale, blank_columns=blank, partial_columns=partial, unreadable_columns=unreadable,
        disclosure_posts=queries.posts_between(session, start, end, category="disclosure", site_url=portal),
        disclosure_stale=disclosure_stale,
        site_findings=findings_json(evaluation.site_findings),
        accounts=accounts, accounts_as_of=accounts_day,
        notice=NoticeText(text.masthead, text.doc_number, text.next_steps, text.contact, text.sealed),
        content_issues=content_issues(evaluation, settings) if settings.content.enabled else None,
    )


def content_issues(evaluation: Evaluation, settings: Settings) -> list[ContentIssue]:
    from monitors.report.model import ContentIssue

    """The content findings of every unit and site as rows: one per piece of evidence (link, word, page)."""
    owners = {s.url: s.unit for s in settings.sites}
    homes = {id(f) for f in evaluation.site_findings}  # the content findings of a site are its home page's
    found = [(r.unit, f) for r in evaluation.units for f in r.findings if f.rule in CONTENT_RULE_IDS]
    seen = {id(f) for _, f in found}
    found += [(next((u for url, u in owners.items() if f.target.startswith(url)), ""), f)
              for f in evaluation.site_findings if f.rule in CONTENT_RULE_IDS and id(f) not in seen]
    rows = []
    for unit, f in found:
        for e in f.evidence or (None,):
            # a typo finding is a veto for its serious words: each row has its own word's severity
            severity = Severity.VETO if e and e.serious else Severity.FAIL if f.rule == "content.typo" else f.severity
            rows.append(ContentIssue(unit, f.rule, str(severity), f.target, f.detail,
                                     e.item if e else "", e.text if e else "", e.outcome if e else "",
                                     home=id(f) in homes))
    return rows
