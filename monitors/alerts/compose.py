"""What the alert emails say: which findings are new, worse, due again or cleared, and the emails themselves.

Composing is apart from sending (STYLE.md §2, urlwatch's `EMailReporter` beside `mailer.py`): `plan_alerts`
only reads, so `monitor alerts --dry-run` prints exactly what `--send` would write to the outbox.

A finding is known by (unit, rule, target). Against what the unit was last told (an `AlertState` row):
- new: never told, or told and since cleared (it came back);
- worse: its level rose. The level is the severity rank, then the finding's numbers (`Finding.measure`,
  `limit`, `since`, stored with what the unit was told): a larger shortfall, or for a finding that ages with
  the calendar (days without update) an older newest post (`since` moved back: a post deleted, a newer post
  dropped); plain ageing is what `resend_after_days` reminds of. Rows told before the numbers were stored
  (revision 0004) fall back to the size the old detail states (`legacy_size`);
- due: told at least `resend_after_days` days ago and still there (a reminder);
- cleared: told, not cleared yet, evaluated again and no longer found: said once.
A finding whose target is not evaluated any more (a month that left the check window, a column or account
removed from settings) is closed silently: it was not fixed, it just stopped being judged.

Units hear about the current and the last complete month only (`split_older_months`): a finding about an
older month (a first run on 2020-10-10 finds July and August short) goes to the centre's summary only and is
recorded there, so it never reaches the unit later as a reminder of something it was never told.

A unit's email is worded as the seed notice's 区大数据服务中心 would word it, not as the district government:
each open finding states what its rule asks (`requirement`) and the 整改时限 (`[alerts] fix_within_days` after
the email's date); the email ends with the centre's contact (`[alerts] contact`). An account is named with
its platform and linked to its page on the platform (`account_page`), never to the search or feed it is read
through.
"""
from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from config import Settings
from monitors.content_rules import CONTENT_RULE_IDS, SITE_HOMEPAGE_STALE
from config.model import AccountSettings, AlertSettings, RuleSettings
from crawler.readers.base import UnsupportedUrl
from crawler.readers.weibo import weibo_uid
from monitors import remediation
from monitors.evaluate import evaluate_all
from monitors.report.docx_writer import cn_date
from monitors.rules import (
    ACCOUNTS_FAILED,
    SEVERITY_LABELS,
    SITE_CRAWL_FAILED,
    Evidence,
    Finding,
    Severity,
    account_label,
    centre_account_failure,
    month_label,
)
from storage import queries
from storage.queries import AlertStateRow

SEVERITY_RANK: dict[str, int] = {Severity.WARN: 1, Severity.FAIL: 2, Severity.VETO: 3}
CHANGES = ("new", "worse", "due", "cleared")
CHANGE_TITLES = {"new": "新问题", "worse": "问题加重", "due": "仍未整改（再次提醒）", "cleared": "已整改"}
CHANGE_COUNTS = {"new": "项新问题", "worse": "项问题加重", "due": "项仍未整改", "cleared": "项已整改"}
# A rule's findings that replace another's on the same target: the one replaced is closed without a
# "cleared" line (an account gone from 预警 to 不合格, or to 无法读取, was not fixed). One table with the 整改 loop.
SUPERSEDED_BY = remediation.SUPERSEDED_BY
# The alert states of the centre's own findings (site.crawl_failed) are kept under this unit name, which no
# unit can have (a unit's name is never empty).
CENTRE = ""
CENTRE_RULES = (SITE_CRAWL_FAILED, ACCOUNTS_FAILED)  # their measure counts what failed: more is worse
# Rules whose measure counts problems (what failed, links, words, pages): more is worse
COUNTED_RULES = frozenset({*CENTRE_RULES, *CONTENT_RULE_IDS} - {SITE_HOMEPAGE_STALE})
SUBJECT_TAG = "【网站监测提醒】"

_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")  # names inside a detail: never read a size from them
_SHORTFALL = re.compile(r"差\s*(\d+)\s*条")
_DAYS = re.compile(r"已\s*(\d+)\s*天")


# --- levels --------------------------------------------------------------------------------------------

def finding_size(detail: str) -> tuple[int, bool]:
    """Legacy, for alert states told before revision 0004 (no numbers stored): the size an old detail states
    and whether it grows with the calendar: (shortfall, False), (days, True), (0, False)."""
    text = _QUOTED.sub("", detail)
    if m := _SHORTFALL.search(text):
        return int(m.group(1)), False
    if m := _DAYS.search(text):
        return int(m.group(1)), True
    return 0, False


def is_worse(severity: str, detail: str, told_severity: str, told_detail: str, days_since_told: int) -> bool:
    """Legacy comparison of two details (see `finding_size`); `got_worse` uses the numbers when both have them."""
    now_rank, then_rank = SEVERITY_RANK.get(severity, 0), SEVERITY_RANK.get(told_severity, 0)
    if now_rank != then_rank:
        return now_rank > then_rank
    size, ages = finding_size(detail)
    told, _ = finding_size(told_detail)
    return size > told + (max(days_since_told, 0) if ages else 0)


def got_worse(finding: Finding, told: AlertStateRow, days_since_told: int) -> bool:
    """Whether the finding is worse than what the unit was told: severity first, then its numbers."""
    now_rank, then_rank = SEVERITY_RANK.get(finding.severity, 0), SEVERITY_RANK.get(told.severity, 0)
    if now_rank != then_rank:
        return now_rank > then_rank
    if _numberless(told.measure, told.limit, told.since) or _numberless(finding.measure, finding.limit, finding.since):
        return is_worse(finding.severity, finding.detail, told.severity, told.detail, days_since_told)
    if finding.since is not None and told.since is not None:
        return finding.since < told.since  # ageing alone is never worse; an older newest post is
    now = finding.shortfall
    if now is not None and told.measure is not None and told.limit is not None:
        return now > told.limit - told.measure
    if finding.rule in COUNTED_RULES and finding.measure is not None and told.measure is not None:
        return finding.measure > told.measure  # an outage that spread, more broken links or typos on a page
    return False


def _numberless(measure: int | None, limit: int | None, since: date | None) -> bool:
    return measure is None and limit is None and since is None


# --- the plan ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AlertItem:
    unit: str
    rule: str
    target: str  # a month 'YYYY-MM', a column or account URL
    severity: str
    detail: str
    change: str  # new | worse | due | cleared
    links: tuple[tuple[str, str], ...] = ()  # (label, url) of the pages concerned
    told: str | None = None  # what the unit was told before (worse, due, cleared)
    told_on: date | None = None
    measure: int | None = None  # the finding's numbers (monitors.rules.Finding), recorded with the state
    limit: int | None = None
    since: date | None = None
    evidence: tuple[Evidence, ...] = ()  # a content finding's links or words, listed under it in the unit's email


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitAlert:
    unit: str
    items: tuple[AlertItem, ...]
    ongoing: int  # findings still there that were told recently and are not repeated
    email: Email
    key: str  # the outbox key: as_of, unit and a digest of what it says


@dataclass(frozen=True)
class AlertPlan:
    as_of: date
    units: tuple[UnitAlert, ...] = ()
    summary: Email | None = None
    summary_key: str | None = None
    # (unit, rule, target) of findings no longer judged: closed silently when the plan is enqueued
    retired: tuple[tuple[str, str, str], ...] = ()
    no_recipient: tuple[str, ...] = ()  # units with something to say but no address and no centre
    # the centre's own findings (sites that failed) and months older than the last complete one: in the summary
    centre_items: tuple[AlertItem, ...] = ()

    def emails(self) -> list[tuple[str, str | None, Email]]:
        """(outbox key, unit or None for the summary, email) in sending order."""
        out: list[tuple[str, str | None, Email]] = [(u.key, u.unit, u.email) for u in self.units]
        if self.summary is not None and self.summary_key:
            out.append((self.summary_key, None, self.summary))
        return out


@dataclass(frozen=True)
class UnitFindings:
    """One unit's findings as of a date and what was evaluated (to tell 'cleared' from 'no longer judged')."""

    unit: str
    findings: list[Finding]
    evaluated: frozenset[str]  # targets judged: complete months, column and account URLs
    columns: tuple[tuple[str, str, bool], ...] = ()  # (name, url, quota) for links
    partial: tuple[tuple[str, str], ...] = ()  # (name, why) of the columns whose newest read was partial
    # (account, why, since when) of the accounts that could not be read: the centre's summary lists them
    unreadable: tuple[tuple[str, str, date | None], ...] = ()
    accounts: tuple[tuple[str, str, str], ...] = ()  # (url read, label, platform page or "") for links


def load_findings(session: Session, settings: Settings, as_of: date) -> list[UnitFindings]:
    """Every unit's findings as of the date, from `evaluate_all` (the rules are not repeated here), routed to
    who can act: a column failure that is its site's (`Evaluation.site_covered`) is not the unit's, and its
    column is not judged for the unit meanwhile (so what the unit was told is closed silently, never "cleared");
    the sites' failures are the centre's (unit `CENTRE`, last)."""
    evaluation = evaluate_all(session, settings, as_of)
    covered = evaluation.site_covered
    tz = ZoneInfo(settings.monitor.timezone)
    out = [UnitFindings(r.unit,
                        [f for f in r.findings if not (f.rule == "column.unreachable" and f.target in covered)],
                        r.evaluated - covered, tuple((c.name, c.url, c.quota) for c in r.facts.columns),
                        tuple((c.name, c.partial) for c in r.facts.columns if c.partial is not None),
                        tuple((account_label(a.platform, a.name), a.reason or "尚未读取",
                               a.unreadable_since.astimezone(tz).date() if a.unreadable_since else None)
                              for a in r.facts.accounts if a.read_status != "ok"),
                        account_links(settings, r.unit))
           for r in evaluation.units]
    out.append(UnitFindings(CENTRE, evaluation.crawl_findings, evaluation.sites_judged,
                            tuple((name, url, False) for name, url in ((s.name, s.url) for s in settings.sites))))
    return out


def account_page(platform: str, url: str, account_id: str = "") -> str:
    """The account's own page on its platform, for a person to open, or "" when none is known.

    Weibo: weibo.com/u/{uid} (from the configured URL or the register's uid), else the configured URL. WeChat
    accounts have no web page of their own, and the Sogou search, feed or article they are read through is not
    one; nor is a feed."""
    if platform != "weibo":
        return ""
    try:
        uid = weibo_uid(url)
    except UnsupportedUrl:
        uid = account_id.strip() if account_id.strip().isdigit() else ""
    return f"https://weibo.com/u/{uid}" if uid else url


def account_links(settings: Settings, unit: str) -> tuple[tuple[str, str, str], ...]:
    """(url read, label, platform page) of the unit's accounts: `新浪微博“仓山发布”`, WeChat with its 微信号."""
    return tuple((a.url, _account_name(a), account_page(a.platform, a.url, a.account_id))
                 for a in settings.accounts if a.unit == unit)


def _account_name(account: AccountSettings) -> str:
    label = account_label(account.platform, account.name)
    wechat_id = account.account_id.strip() if account.platform == "wechat" else ""
    if wechat_id and not wechat_id.startswith("http"):  # what a person searches for in WeChat
        label += f"（{'原始 ID' if wechat_id.startswith('gh_') else '微信号'} {wechat_id}）"
    return label


def links_for(finding_target: str, columns: Sequence[tuple[str, str, bool]],
              accounts: Sequence[tuple[str, str, str]] = ()) -> tuple[tuple[str, str], ...]:
    """The pages a finding is about: its column or account, or for a month the unit's quota columns.

    An account is (label, its platform page), the page "" when it has none (shown as its name, unlinked)."""
    if account := next((a for a in accounts if a[0] == finding_target), None):
        return ((account[1], account[2]),)
    if finding_target.startswith(("http://", "https://")):
        name = next((n for n, url, _ in columns if url == finding_target), "")
        return ((name or finding_target, finding_target),)
    return tuple((n, url) for n, url, quota in columns if quota)


def decide(units: Sequence[UnitFindings], states: Iterable[AlertStateRow], as_of: date,
           resend_after_days: int) -> tuple[dict[str, list[AlertItem]], dict[str, int], list[tuple[str, str, str]]]:
    """Pure: the items to tell each unit, how many findings are not repeated, and the findings to retire."""
    known = {(s.unit, s.rule, s.target): s for s in states}
    items: dict[str, list[AlertItem]] = {}
    ongoing: dict[str, int] = {}
    retired: list[tuple[str, str, str]] = []
    for unit in units:
        found = {(unit.unit, f.rule, f.target): f for f in unit.findings}
        told_items: list[AlertItem] = []
        for key, f in found.items():
            state = known.get(key)
            links = links_for(f.target, unit.columns, unit.accounts)
            if state is None or state.cleared_at is not None:
                told_items.append(AlertItem(unit.unit, f.rule, f.target, f.severity, f.detail, "new", links,
                                            measure=f.measure, limit=f.limit, since=f.since, evidence=f.evidence))
                continue
            told_on = state.told_on or as_of  # an open state always has a send date; none reads as "just told"
            since = (as_of - told_on).days
            if got_worse(f, state, since):
                change = "worse"
            elif since >= resend_after_days:
                change = "due"
            else:
                ongoing[unit.unit] = ongoing.get(unit.unit, 0) + 1
                continue
            told_items.append(AlertItem(unit.unit, f.rule, f.target, f.severity, f.detail, change, links,
                                        state.detail, told_on, f.measure, f.limit, f.since, f.evidence))
        targets_found = {(f.rule, f.target) for f in unit.findings}
        for key, state in known.items():
            if key[0] != unit.unit or state.cleared_at is not None or key in found:
                continue
            others = SUPERSEDED_BY.get(state.rule, ())
            if state.target not in unit.evaluated or any((o, state.target) in targets_found for o in others):
                retired.append(key)
                continue
            told_items.append(AlertItem(unit.unit, state.rule, state.target, state.severity, state.detail,
                                        "cleared", links_for(state.target, unit.columns, unit.accounts), state.detail,
                                        state.told_on))
        if told_items:
            order = {c: i for i, c in enumerate(CHANGES)}
            items[unit.unit] = sorted(told_items, key=lambda i: (order[i.change], -SEVERITY_RANK.get(i.severity, 0)))
    # States of units no longer evaluated (removed from settings) are left alone: nothing to judge them by.
    return items, ongoing, retired


def plan_alerts(session: Session, settings: Settings, as_of: date) -> AlertPlan:
    """Evaluate every unit as of the date and compose the emails it calls for. Reads only."""
    units = load_findings(session, settings, as_of)
    states = queries.alert_states(session, ZoneInfo(settings.monitor.timezone))
    items, ongoing, retired = decide(units, states, as_of, settings.alerts.resend_after_days)
    partial = [(u.unit, name, why) for u in units for name, why in u.partial]
    unreadable = [(u.unit, *account) for u in units for account in u.unreadable]
    fixes = queries.finding_states(session) if queries.finding_states_ready(session) else []
    from monitors.web.security import unit_page_links

    return compose_plan(settings, as_of, items, ongoing, retired, partial, unreadable,
                        fix_states={(s.unit, s.rule, s.target): s.state for s in fixes},
                        overdue=overdue_findings(fixes, units, states, as_of),
                        links=unit_page_links(settings, session, list(items)))


@dataclass(frozen=True)
class OverdueFinding:
    """A finding past its 整改时限 and not reported fixed (the 整改 loop, monitors/remediation.py)."""

    unit: str
    detail: str
    deadline: date
    days: int  # days past the deadline
    state: str  # its 整改 state's label


def overdue_findings(fixes: Sequence[queries.FindingStateRow], units: Sequence[UnitFindings],
                     told: Sequence[AlertStateRow], as_of: date) -> list[OverdueFinding]:
    """The findings the centre's summary escalates: awaiting a fix past their deadline, most overdue first; each
    named by its sentence as found now (else as last told, else its rule and target)."""
    found = {(u.unit, f.rule, f.target): f.detail for u in units for f in u.findings}
    said = {(s.unit, s.rule, s.target): s.detail for s in told}
    out = []
    for row in fixes:
        status = remediation.status_of(row, as_of)
        if status.overdue and status.deadline is not None:
            key = (row.unit, row.rule, row.target)
            detail = found.get(key) or said.get(key) or f"{row.rule} {row.target}"
            out.append(OverdueFinding(row.unit, detail, status.deadline, status.days_overdue,
                                      remediation.STATE_LABELS.get(row.state, row.state)))
    return sorted(out, key=lambda o: (-o.days, o.unit))


def last_complete_month(as_of: date) -> str:
    """'YYYY-MM' of the month before as_of's (2020-10-10 -> '2020-09')."""
    first = as_of.replace(day=1) - timedelta(days=1)
    return f"{first:%Y-%m}"


def split_older_months(items: dict[str, list[AlertItem]], as_of: date
                       ) -> tuple[dict[str, list[AlertItem]], list[AlertItem]]:
    """Units are told about the current and the last complete month; findings about older months (a first
    run's July and August in October) are the centre's only: (what stays with the units, what goes to the
    centre). A unit left with nothing gets no email."""
    oldest = last_complete_month(as_of)
    kept: dict[str, list[AlertItem]] = {}
    older: list[AlertItem] = []
    for unit, unit_items in items.items():
        for item in unit_items:
            is_month = re.fullmatch(r"\d{4}-\d{2}", item.target) is not None
            (older if is_month and item.target < oldest else kept.setdefault(unit, [])).append(item)
    return kept, older


def compose_plan(settings: Settings, as_of: date, items: dict[str, list[AlertItem]], ongoing: dict[str, int],
                 retired: Sequence[tuple[str, str, str]] = (),
                 partial: Sequence[tuple[str, str, str]] = (),
                 unreadable: Sequence[tuple[str, str, str, date | None]] = (), *,
                 fix_states: Mapping[tuple[str, str, str], str] | None = None,
                 overdue: Sequence[OverdueFinding] = (), links: Mapping[str, str] | None = None) -> AlertPlan:
    """The emails: each unit its items (copied to the centre), the centre one summary with its own items
    (sites that failed: never sent to a unit) and the standing lists (partial reads, unreadable accounts, and
    the findings past their 整改时限: `overdue`). `fix_states` ((unit, rule, target) -> 整改 state) shows each
    item's state in the unit's email."""
    centre = settings.alerts.centre
    site_name = settings.sites[0].name if settings.sites else settings.report.district
    items = dict(items)
    centre_items = items.pop(CENTRE, [])
    items, older = split_older_months(items, as_of)
    unit_alerts, no_recipient = [], []
    for unit, unit_items in items.items():
        configured = settings.unit(unit)
        emails = configured.emails if configured else ()
        if not emails and not centre:
            no_recipient.append(unit)
            continue
        email = compose_unit_email(unit, emails, centre, unit_items, as_of, site_name,
                                   ongoing=ongoing.get(unit, 0), resend_after_days=settings.alerts.resend_after_days,
                                   alerts=settings.alerts, rules=settings.rules,
                                   fix_states={(r, t): v for (u, r, t), v in (fix_states or {}).items() if u == unit},
                                   link=(links or {}).get(unit, ""))
        unit_alerts.append(UnitAlert(unit, tuple(unit_items), ongoing.get(unit, 0), email,
                                     outbox_key(as_of, f"unit:{unit}", unit_items)))
    summary = summary_key = None
    if (unit_alerts or centre_items or older) and centre:
        summary = compose_summary([(u.unit, list(u.items), u.ongoing) for u in unit_alerts], centre, as_of,
                                  site_name, no_email=[u.unit for u in unit_alerts if not u.email.to or
                                                       set(u.email.to) <= set(centre)], partial=partial,
                                  sites=centre_items, unreadable=unreadable, older=older, overdue=overdue)
        summary_key = outbox_key(as_of, "summary", [*centre_items, *older,
                                                    *(i for u in unit_alerts for i in u.items)])
    elif centre_items:
        no_recipient.append("大数据服务中心")
    return AlertPlan(as_of, tuple(unit_alerts), summary, summary_key, tuple(retired), tuple(no_recipient),
                     (*centre_items, *older) if summary else ())


def outbox_key(as_of: date, who: str, items: Iterable[AlertItem]) -> str:
    """Deterministic: a rerun that would say the same thing gets the same key (and is not written twice)."""
    digest = hashlib.sha1("\n".join(sorted(f"{i.unit}|{i.rule}|{i.target}|{i.change}|{i.severity}|{i.detail}"
                                           for i in items)).encode("utf-8")).hexdigest()[:12]
    return f"{as_of.isoformat()}:{who}:{digest}"[:300]


# --- the emails ----------------------------------------------------------------------------------------

def one_line(text: str) -> str:
    """Crawled or configured text for a subject: no line breaks or other control characters."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", text).strip()


def _counts(items: Sequence[AlertItem]) -> str:
    return "，".join(f"{n} {CHANGE_COUNTS[c]}" for c in CHANGES if (n := sum(1 for i in items if i.change == c)))


def _target_label(item: AlertItem) -> str:
    return month_label(item.target) if re.fullmatch(r"\d{4}-\d{2}", item.target) else ""


def _history_note(item: AlertItem) -> str | None:
    """What was said before about this finding, for both the text and the HTML part (not escaped)."""
    if item.change == "worse" and item.told:
        return f"上次提醒（{item.told_on}）：{one_line(item.told)}"
    if item.change == "due" and item.told_on:
        return f"已于 {item.told_on} 提醒，至今未整改"
    if item.change == "cleared" and item.told_on:
        return f"（{item.told_on} 提醒的问题，现已不再发现）"
    return None


def requirement(item: AlertItem, rules: RuleSettings) -> str | None:
    """What the finding's rule asks, as the seed notice words it; the numbers are the finding's own (`limit`)."""
    n = item.limit
    basis = "（国办秘函〔2019〕19号）"
    match item.rule:
        case "quota.monthly":
            return f"门户网站信息发布每月应不少于{rules.monthly_quota if n is None else n}条（政务公开绩效考核要求）"
        case "column.stale":
            return (f"该栏目应在{n}天内更新" if n else "栏目应按规定期限更新") + basis
        case "column.blank":
            return "栏目不得空白，应及时发布信息，确无信息可发的栏目应整合或关停" + basis
        case "column.unreachable":
            return "栏目页面应能正常打开，请排查页面地址和网站服务器"
        case "column.unreadable":
            return "栏目页面应正常显示信息列表，请检查页面是否改版或出错"
        case "account.silent":
            days = rules.account_silent_days if n is None else n
            return f"政务新媒体{days}天内无更新即单项否决，判定为不合格" + basis
        case "account.quiet":
            return f"政务新媒体应持续更新，{rules.account_silent_days}天内无更新即单项否决，判定为不合格" + basis
        case "account.unreadable":
            return f"政务新媒体账号应可公开访问；账号地址有变化的，请向{CENTRE_NAME}更新登记"
        case "site.unavailable":
            return f"网站首页应能正常访问，一周内无法打开的次数不得达到{rules.unavailable_ratio:.0%}" + basis
        case "site.columns_veto":
            return (f"超期未更新的动态、通知公告类栏目超过{rules.veto_stale_core_columns}个，或超期未更新栏目超过"
                    f"{rules.veto_stale_columns}个，或空白栏目超过{rules.veto_blank_columns}个，即单项否决" + basis)
        case "site.homepage_stale":
            days = rules.homepage_stale_days if n is None else n
            return f"网站首页应及时更新，首页信息{days}天内无更新即单项否决" + basis
        case "meta.missing":
            return ("网页应按规范设置 SiteName、SiteIDCode、ColumnName、ArticleTitle、PubDate 等元数据"
                    "（国办发〔2017〕47号）")
    if content := CONTENT_REQUIREMENTS.get(item.rule):
        return f"信息发布应落实三审制度和保密审查制度，{content}" + (basis if item.rule in CONTENT_INDICATORS else "")
    return None


# What a content rule asks, in the words of the seed notice's demand (确保公开的内容未涉密、无错别字、无敏感信息、
# 无发布非政府网站链接、排版正常、图片正常显示、附件能够下载); the national indicators' own are cited as such.
CONTENT_REQUIREMENTS = {
    "link.broken": "确保页面链接能够正常打开，失效链接请修改或删除",
    "image.broken": "确保图片正常显示",
    "attachment.broken": "确保附件能够下载",
    "link.external": "确保无发布非政府网站链接",
    "content.typo": "确保公开的内容无错别字；领导姓名、机构名称等严重表述错误即单项否决",
    "content.sensitive": "确保公开的内容无敏感信息",
}
CONTENT_INDICATORS = ("link.broken", "content.typo")  # 链接不可用、严重表述错误: 国办秘函〔2019〕19号's
EVIDENCE_SHOWN = 10  # links or words listed under a content finding in a unit's email


def evidence_lines(item: AlertItem) -> tuple[list[tuple[str, str]], int]:
    """A content finding's evidence for the email, not escaped: (link or word, what about it) each, up to
    EVIDENCE_SHOWN, and how many more there are. A link is its URL (its text and outcome beside it); a word is
    itself, its context, and for a typo the right form."""
    from monitors.report.xlsx_writer import evidence_outcome

    out = []
    for ev in item.evidence[:EVIDENCE_SHOWN]:
        outcome = evidence_outcome(item.rule, ev.outcome)
        if item.rule in ("content.typo", "content.sensitive"):
            out.append((f"“{one_line(ev.item)}”", f"{one_line(ev.text)}" + (f"（{outcome}）" if outcome else "")))
        else:
            about = f"“{one_line(ev.text)}”" if ev.text else ""
            out.append((one_line(ev.item), about + (f"（{outcome}）" if outcome else "")))
    return out, max(0, len(item.evidence) - EVIDENCE_SHOWN)


ACCOUNT_RULES = ("account.silent", "account.quiet", "account.unreadable")  # findings about one account


def _links_title(item: AlertItem) -> str:
    return "相关栏目" if _target_label(item) else "账号" if item.rule in ACCOUNT_RULES else "页面"


def _item_text(n: int, item: AlertItem, extra: Sequence[str] = (), evidence: bool = False) -> list[str]:
    """An item as text lines; `extra` (the requirement, the deadline) follows its history; with `evidence`, a
    content finding's links or words are listed under its sentence."""
    label = "已整改" if item.change == "cleared" else SEVERITY_LABELS.get(item.severity, item.severity)
    lines = [f"  {n}. [{label}] {one_line(item.detail)}"]
    if evidence and item.change != "cleared" and item.evidence:
        shown, more = evidence_lines(item)
        lines += [f"     - {what} {about}".rstrip() for what, about in shown]
        lines += [f"     …另有 {more} 处，共 {len(item.evidence)} 处"] if more else []
    if note := _history_note(item):
        lines.append(f"     {note}")
    lines += [f"     {line}" for line in extra]
    if item.links:
        lines.append(f"     {_links_title(item)}：" + "；".join(
            f"{one_line(name)} {url}" if url and name != url else one_line(name) if not url else url
            for name, url in item.links))
    return lines


def _evidence_html(item: AlertItem) -> str:
    """A content finding's links or words as a list: every crawled string escaped, a URL linked only when it
    is http(s)."""
    e = html.escape
    shown, more = evidence_lines(item)
    rows = []
    for what, about in shown:
        linked = what.startswith(("http://", "https://"))
        head = f'<a href="{e(what, quote=True)}">{e(what)}</a>' if linked else e(what)
        rows.append(f"<li>{head} {e(about)}</li>")
    if more:
        rows.append(f"<li>…另有 {more} 处，共 {len(item.evidence)} 处</li>")
    return '<ul style="margin:4px 0;font-size:13px">' + "".join(rows) + "</ul>"


def _item_html(item: AlertItem, extra: Sequence[str] = (), evidence: bool = False) -> str:
    e = html.escape
    label = "已整改" if item.change == "cleared" else SEVERITY_LABELS.get(item.severity, item.severity)
    colour = {"veto": "#b00020", "fail": "#c25100", "warn": "#8a6d00"}.get(item.severity, "#555")
    if item.change == "cleared":
        colour = "#2e7d32"
    parts = [f'<li><span style="color:{colour};font-weight:bold">[{e(label)}]</span> {e(item.detail)}']
    if evidence and item.change != "cleared" and item.evidence:
        parts.append(_evidence_html(item))
    if note := _history_note(item):
        parts.append(f"<br><small>{e(note)}</small>")
    parts += [f"<br><small>{e(line)}</small>" for line in extra]
    if item.links:  # a page with no web address (a WeChat account) is named, not linked
        links = "；".join(f'<a href="{e(url)}">{e(name)}</a>' if url.startswith(("http://", "https://"))
                         else e(name) for name, url in item.links if url or name)
        if links:
            parts.append(f"<br><small>{_links_title(item)}：{links}</small>")
    return "".join(parts) + "</li>"


def _sections(items: Sequence[AlertItem]) -> list[tuple[str, list[AlertItem]]]:
    return [(f"{CHANGE_TITLES[c]}（{len(group)} 项）", group) for c in CHANGES
            if (group := [i for i in items if i.change == c])]


HTML_HEAD = ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"></head>'
             '<body style="font-family:\'Microsoft YaHei\',\'PingFang SC\',sans-serif;font-size:14px;color:#222">')
CENTRE_NAME = "区大数据服务中心"  # who speaks in the emails (the seed notice's name for the centre)
FOOTER = "此邮件由网站与政务新媒体监测系统自动发送。"
PARTIAL_TITLE = "以下栏目最近一次未读全，所在单位的发布数可能偏少："
SITES_TITLE = "网站抓取故障（属网站或网络问题，已不再逐栏目提醒各单位，请中心核实处理）"
UNREADABLE_TITLE = "以下政务新媒体账号暂未能自动读取（单位 · 账号：原因，起始日期）："
ASKED_UNIT = "；已请单位核实账号地址或访问权限"
OVERDUE_TITLE = "逾期未整改（{n} 项，已过整改时限且单位未报整改）："
# A finding's 整改 state as a unit's email shows it (open says nothing: the email itself asks for the fix)
EMAIL_STATE_LABELS = {"acknowledged": "已确认，待整改", "fixed": "已报整改，待核实", "reopened": "重新打开，请再次整改",
                      "verified": "已核实"}
OLDER_TITLE = "以下问题属较早月份（{month}之前），只报中心，不发送各单位（季度通报照常列出）："


def _site_phrase(site_name: str) -> str:
    """'仓山区人民政府' -> '仓山区人民政府门户网站' (a name already ending in 网站 is kept)."""
    name = one_line(site_name)
    return name if name.endswith(("网站", "网")) else f"{name}门户网站"


def contact_line(alerts: AlertSettings, centre: Sequence[str]) -> str:
    """The centre's contact: `[alerts] contact`, else its name and addresses."""
    if alerts.contact.strip():
        return one_line(alerts.contact)
    return CENTRE_NAME + (f"（电子邮箱：{'、'.join(centre)}）" if centre else "")


def _fix_state_line(item: AlertItem, fix_states: Mapping[tuple[str, str], str]) -> list[str]:
    """The item's 整改 state when it is not plain open (〔已确认，待整改〕), as a line of its own."""
    label = EMAIL_STATE_LABELS.get(fix_states.get((item.rule, item.target), ""))
    return [f"〔{label}〕"] if label else []


ONLINE_LINE = "在线查看本单位的问题并反馈整改情况（本单位专用链接，请勿转发）："


def compose_unit_email(unit: str, emails: Sequence[str], centre: Sequence[str], items: Sequence[AlertItem],
                       as_of: date, site_name: str, *, ongoing: int = 0, resend_after_days: int | None = None,
                       alerts: AlertSettings | None = None, rules: RuleSettings | None = None,
                       fix_states: Mapping[tuple[str, str], str] | None = None, link: str = "") -> Email:
    """One unit's email from the centre: its new, worse, due and cleared findings, each open one with what its
    rule asks and the 整改时限 (as_of + `fix_within_days`), then the centre's contact; to the unit's
    addresses, copied to the centre (its Reply-To is the centre: `SmtpChannel`).

    A unit without addresses in settings: the email goes to the centre only and says so. An open item whose
    整改 state (`fix_states`: (rule, target) -> state) is not "open" says it (〔已确认，待整改〕).
    """
    e = html.escape
    alerts = alerts or AlertSettings(centre=tuple(centre))
    rules = rules or RuleSettings()
    deadline = cn_date(as_of + timedelta(days=alerts.fix_within_days))
    unit_line = one_line(unit)
    subject = f"{SUBJECT_TAG}{unit_line}：{_counts(items)}（截至{as_of.isoformat()}）"
    opening = f"{CENTRE_NAME}对{_site_phrase(site_name)}和政务新媒体开展日常监测。"
    intro = (f"{opening}截至{cn_date(as_of)}，发现贵单位存在以下问题，请对照要求，找出差距，"
             f"于{deadline}前整改到位：")
    if all(i.change == "cleared" for i in items):
        intro = f"{opening}截至{cn_date(as_of)}，此前提醒贵单位的以下问题已不再发现，特此告知："
    text = [f"{unit_line}：", "", intro]
    body = [f"<p>{e(unit_line)}：</p>", f"<p style=\"text-indent:2em\">{e(intro)}</p>"]
    for title, group in _sections(items):
        text += ["", title]
        extras = [[] if i.change == "cleared" else
                  [*_fix_state_line(i, fix_states or {}),
                   *([f"要求：{req}"] if (req := requirement(i, rules)) else []), f"整改时限：{deadline}前"]
                  for i in group]
        for n, (item, extra) in enumerate(zip(group, extras), 1):
            text += _item_text(n, item, extra, evidence=True)
        body.append(f"<h3 style=\"font-size:15px;margin:16px 0 6px\">{e(title)}</h3><ol>")
        body += [_item_html(i, extra, evidence=True) for i, extra in zip(group, extras)]
        body.append("</ol>")
    notes = []
    if ongoing:
        notes.append(f"另有 {ongoing} 项问题已于近期提醒，尚未整改，本次不再重复列出。")
    if resend_after_days:
        notes.append(f"同一问题 {resend_after_days} 天内不重复提醒；问题加重时立即提醒。")
    if not emails:
        notes.append(f"贵单位未在监测设置中登记接收邮箱，本邮件仅发送至{CENTRE_NAME}，请中心转告并补充登记。")
    contact = f"联系方式：{contact_line(alerts, centre)}。如有疑问，可直接回复本邮件（回复将送达{CENTRE_NAME}）。"
    signature = [CENTRE_NAME, cn_date(as_of)]
    online = [f"{ONLINE_LINE}{link}"] if link else []  # the unit's own dashboard page ([serve] public_url)
    text += [""] + notes + online + ["", contact, "", *signature, "", FOOTER]
    body += [f"<p>{e(n)}</p>" for n in notes]
    body += [f'<p>{e(ONLINE_LINE)}<a href="{e(link)}">{e(link)}</a></p>'] if link else []
    body += [f"<p>{e(contact)}</p>"]
    body += [f'<p style="text-align:right">{e(signature[0])}<br>{e(signature[1])}</p>',
             f'<p style="color:#888;font-size:12px">{e(FOOTER)}</p>']
    to = tuple(emails) if emails else tuple(centre)
    cc = tuple(a for a in centre if a not in to) if emails else ()
    return Email(subject, "\n".join(text) + "\n", HTML_HEAD + "".join(body) + "</body></html>", to, cc)


def compose_summary(units: Sequence[tuple[str, Sequence[AlertItem], int]], centre: Sequence[str], as_of: date,
                    site_name: str, *, no_email: Sequence[str] = (),
                    partial: Sequence[tuple[str, str, str]] = (), sites: Sequence[AlertItem] = (),
                    unreadable: Sequence[tuple[str, str, str, date | None]] = (),
                    older: Sequence[AlertItem] = (), overdue: Sequence[OverdueFinding] = ()) -> Email:
    """The centre's one summary of all units: the sites whose crawl failed (`sites`: the centre's own items,
    told to no unit), each unit's counts and items in this run, then the columns whose newest read was partial
    (`partial`: unit, column, why), whose units' counts may be short, and the accounts that could not be read
    (`unreadable`: unit, account, why, since when), and the findings about months before the last complete one
    (`older`: told to the centre only, `split_older_months`), and the findings past their 整改时限 that the units
    have not reported fixed (`overdue`: 逾期未整改, most overdue first)."""
    e = html.escape
    every = [i for _, items, _ in units for i in items]
    subject = f"{SUBJECT_TAG}汇总：{len(units)} 个单位，{_counts(every)}（截至{as_of.isoformat()}）"
    if sites:
        subject = (f"{SUBJECT_TAG}汇总：网站抓取故障 {_counts(sites)}"
                   + (f"；{len(units)} 个单位，{_counts(every)}" if units else "") + f"（截至{as_of.isoformat()}）")
    if older and not units and not sites:
        subject = f"{SUBJECT_TAG}汇总：较早月份 {_counts(older)}，仅报中心（截至{as_of.isoformat()}）"
    monitored = f"截至 {as_of.isoformat()}，{_site_phrase(site_name)}和政务新媒体日常监测本次"
    intro = f"{monitored}向 {len(units)} 个单位发出提醒：" if units else f"{monitored}没有需要向各单位发出的提醒。"
    text = [intro]
    site_lines = [line for n, item in enumerate(sites, 1) for line in _item_text(n, item)]
    if sites:
        text += ["", SITES_TITLE, *site_lines]
    rows = []
    for unit, items, ongoing in units:
        counts = _counts(items) + (f"；另有 {ongoing} 项近期已提醒" if ongoing else "")
        text += ["", f"{one_line(unit)}：{counts}"]
        for n, item in enumerate(items, 1):
            text += _item_text(n, item)
        rows.append(f"<tr><td style=\"padding:4px 8px;border:1px solid #ccc;vertical-align:top;white-space:nowrap\">"
                    f"{e(unit)}</td><td style=\"padding:4px 8px;border:1px solid #ccc\">{e(counts)}<ol>"
                    + "".join(_item_html(i) for i in items) + "</ol></td></tr>")
    older_title = OLDER_TITLE.format(month=month_label(last_complete_month(as_of)))
    older_units: dict[str, list[AlertItem]] = {}
    for item in older:
        older_units.setdefault(item.unit, []).append(item)
    if older:
        text += ["", older_title]
        for unit, items in older_units.items():
            text += [f"{one_line(unit)}："] + [line for n, i in enumerate(items, 1) for line in _item_text(n, i)]
    missing = "、".join(one_line(u) for u in no_email)
    notes = [f"以下单位未登记接收邮箱，提醒仅发送至中心：{missing}。"] if no_email else []
    unread = [f"未读全：{one_line(unit)} · {one_line(column)}：{one_line(why)}" for unit, column, why in partial]
    late = [f"{one_line(o.unit)}：{one_line(o.detail)}（整改时限 {o.deadline.isoformat()}，已逾期 {o.days} 天，"
            f"状态：{o.state}）" for o in overdue]
    if late:
        text += ["", OVERDUE_TITLE.format(n=len(late))] + [f"  {line}" for line in late]
    if unread:
        text += ["", PARTIAL_TITLE] + [f"  {line}" for line in unread]
    accounts = [f"{one_line(unit)} · {one_line(account)}：{one_line(why)}"
                + (f"（自 {since} 起）" if since else "") + ("" if centre_account_failure(why) else ASKED_UNIT)
                for unit, account, why, since in unreadable]
    if accounts:
        text += ["", UNREADABLE_TITLE] + [f"  {line}" for line in accounts]
    text += [""] + notes + ["", FOOTER]
    body = [f"<p>{e(intro)}</p>"]
    if sites:
        body += [f"<p>{e(SITES_TITLE)}</p><ol>", *(_item_html(i) for i in sites), "</ol>"]
    if rows:
        body += ['<table style="border-collapse:collapse">',
                 '<tr><th style="padding:4px 8px;border:1px solid #ccc">单位</th>'
                 '<th style="padding:4px 8px;border:1px solid #ccc">本次提醒</th></tr>', *rows, "</table>"]
    if older:
        body += [f"<p>{e(older_title)}</p><ul>",
                 *(f"<li>{e(unit)}：<ol>" + "".join(_item_html(i) for i in items) + "</ol></li>"
                   for unit, items in older_units.items()), "</ul>"]
    if late:
        body += [f'<p style="color:#b00020;font-weight:bold">{e(OVERDUE_TITLE.format(n=len(late)))}</p><ul>',
                 *(f"<li>{e(line)}</li>" for line in late), "</ul>"]
    if unread:
        body += [f"<p>{e(PARTIAL_TITLE)}</p><ul>", *(f"<li>{e(line)}</li>" for line in unread), "</ul>"]
    if accounts:
        body += [f"<p>{e(UNREADABLE_TITLE)}</p><ul>", *(f"<li>{e(line)}</li>" for line in accounts), "</ul>"]
    body += [f"<p>{e(n)}</p>" for n in notes] + [f'<p style="color:#888;font-size:12px">{e(FOOTER)}</p>']
    return Email(subject, "\n".join(text) + "\n", HTML_HEAD + "".join(body) + "</body></html>", tuple(centre), ())


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz)
