"""The rules: each a pure function of (facts, as_of, params) returning findings. No session, clock or I/O.

Registered in one explicit table keyed by the rule id users see in settings, JSON and reports
(STYLE.md §2). Each docstring's first line is the sentence a user reads.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from urllib.parse import urlsplit

from config.model import PLATFORM_LABELS, RuleSettings
from config.registry import registrar
from storage.queries import AccountFact, ColumnFact, ProbeStats

class Severity(StrEnum):
    """How bad a finding is; the values are what JSON and settings show."""

    VETO = "veto"  # 单项否决: the site or account fails whatever else it does
    FAIL = "fail"
    WARN = "warn"


SEVERITIES = tuple(Severity)
# The one table of Chinese severity labels (check's text, the alert emails).
SEVERITY_LABELS: dict[str, str] = {Severity.VETO: "单项否决", Severity.FAIL: "不合格", Severity.WARN: "提醒"}


@dataclass(frozen=True)
class Evidence:
    """One problem a content finding is made of (issue 11): the link or the word, and what was found."""

    item: str  # the link's URL, a page's URL (meta.missing), or the word as written
    text: str  # the link's text, the page's title, or the words around the hit
    outcome: str  # what the check found (HTTP 404 错误…), the right form of a typo, or the meta tags missing
    serious: bool = False  # a protected term written wrong (严重表述错误): the typo finding is then a veto


@dataclass(frozen=True)
class Finding:
    """One finding. `detail` is the sentence a person reads; the numbers beside it are what code compares."""

    rule: str
    severity: Severity
    target: str  # what the finding is about: a month "2020-07", a column URL, an account URL
    detail: str  # one sentence in Chinese
    unit: str = ""
    measure: int | None = None  # posts in the month (quota.monthly) or days without update (stale, silent, quiet)
    limit: int | None = None  # the quota or the days allowed
    since: date | None = None  # the newest post's date, for findings that age with the calendar
    evidence: tuple[Evidence, ...] = ()  # content findings: each link, image, attachment, word or page

    @property
    def shortfall(self) -> int | None:
        """Posts short of the quota (quota.monthly), from the numbers."""
        if self.rule != "quota.monthly" or self.measure is None or self.limit is None:
            return None
        return self.limit - self.measure


@dataclass(frozen=True)
class MonthCount:
    month: str  # "2020-07"
    posts: int
    complete: bool  # the whole month lies before as_of (only complete months are judged)


@dataclass(frozen=True)
class UnitFacts:
    """Everything the rules know about one unit, loaded once from storage."""

    unit: str
    kind: str
    months: list[MonthCount]
    columns: list[ColumnFact]
    accounts: list[AccountFact] = field(default_factory=list)
    tz: object = None  # tzinfo of the site: dates are judged in local time


Rule = Callable[[UnitFacts, date, RuleSettings], list[Finding]]
RULES: dict[str, Rule] = {}


_register_rule = registrar(RULES, "rule")


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    if "." not in rule_id:
        raise ValueError(f"rule id must look like area.condition: {rule_id!r}")
    return _register_rule(rule_id)


def evaluate_rules(facts: UnitFacts, as_of: date, params: RuleSettings) -> list[Finding]:
    return [f for func in RULES.values() for f in func(facts, as_of, params)]


def month_label(month: str) -> str:
    """'2020-07' -> '7月'"""
    return f"{int(month[5:7])}月"


def local_date(value: datetime, tz: object) -> date:
    return value.astimezone(tz).date() if tz else value.date()  # type: ignore[arg-type]


PARTIAL_MONTH_NOTE = "（有栏目未读全，实际可能更多）"


def months_on_partial_reads(facts: UnitFacts) -> set[str]:
    """Months whose count rests on a partial read of one of the unit's quota columns.

    A partial read reaches the newest pages and misses older ones, so every month up to the one holding the
    oldest post read is unsure; a column partial with no dated post leaves every month unsure."""
    unsure: set[str] = set()
    for column in facts.columns:
        if not column.quota or column.partial is None:
            continue
        oldest = f"{local_date(column.first_post, facts.tz):%Y-%m}" if column.first_post else "9999-12"
        unsure.update(m.month for m in facts.months if m.month <= oldest)
    return unsure


@rule("quota.monthly")
def quota_monthly(facts: UnitFacts, as_of: date, params: RuleSettings) -> list[Finding]:
    """单位当月在门户网站发布信息少于考核数量（每月 10 条，本地考核办法）。"""
    quota = params.monthly_quota
    if not any(c.quota for c in facts.columns):
        return []  # a unit without quota columns (e.g. the district's own office) has no monthly quota
    unsure = months_on_partial_reads(facts)
    return [
        Finding("quota.monthly", Severity.FAIL, m.month,
                f"{month_label(m.month)}发布{m.posts}条，差{quota - m.posts}条"
                + (PARTIAL_MONTH_NOTE if m.month in unsure else ""), facts.unit, measure=m.posts, limit=quota)
        for m in facts.months if m.complete and m.posts < quota
    ]


def shortfalls(findings: list[Finding]) -> dict[str, int]:
    """Month -> posts short of the quota, from the `quota.monthly` findings (the one place that decides it)."""
    return {f.target: n for f in sorted(findings, key=lambda f: f.target) if (n := f.shortfall) is not None}


def quota_status(short: dict[str, int]) -> str:
    """The report's status: `完成`, or the short months joined by `;` as `8月-4;9月-1` (DESIGN.md)."""
    return ";".join(f"{month_label(m)}-{n}" for m, n in short.items()) or "完成"


@rule("column.stale")
def column_stale(facts: UnitFacts, as_of: date, params: RuleSettings) -> list[Finding]:
    """栏目超期未更新：动态要闻类 2 周、通知公告类 6 个月、人事规划及信息公开类 1 年（国办秘函〔2019〕19号）。"""
    out = []
    for column in facts.columns:
        if column.last_post is None:
            continue
        limit = params.stale_days(column.category)
        last = local_date(column.last_post, facts.tz)
        days = (as_of - last).days
        if days > limit:
            out.append(Finding("column.stale", Severity.FAIL, column.url,
                               f"栏目“{column.name}”已 {days} 天未更新（最近一条 {last}，要求 {limit} 天内）",
                               facts.unit, measure=days, limit=limit, since=last))
    return out


@rule("column.blank")
def column_blank(facts: UnitFacts, as_of: date, params: RuleSettings) -> list[Finding]:
    """空白栏目：栏目中没有任何信息（读取成功但没有一条内容）。"""
    return [
        Finding("column.blank", Severity.FAIL, c.url, f"栏目“{c.name}”为空白栏目，没有任何信息", facts.unit)
        for c in facts.columns if c.ever_fetched and c.posts == 0 and c.last_post is None and c.unreadable is None
    ]


@rule("column.unreachable")
def column_unreachable(facts: UnitFacts, as_of: date, params: RuleSettings) -> list[Finding]:
    """栏目页面最近一次无法打开（超时、HTTP 错误等），其更新情况无法核实。"""
    return [
        Finding("column.unreachable", Severity.WARN, c.url, f"栏目“{c.name}”无法访问：{c.last_error}", facts.unit)
        for c in facts.columns if c.last_error
    ]


@rule("column.unreadable")
def column_unreadable(facts: UnitFacts, as_of: date, params: RuleSettings) -> list[Finding]:
    """栏目页面能打开，但最近一次未能从中识别出信息列表（页面改版、嵌套过深、内容不是 HTML 等），其更新情况无法核实。"""
    return [
        Finding("column.unreadable", Severity.WARN, c.url, f"栏目“{c.name}”无法读取：{c.unreadable}", facts.unit)
        for c in facts.columns if c.unreadable is not None
    ]


class AccountState(StrEnum):
    """A new-media account's status as users read it (DESIGN.md's JSON `status`: the values are the words)."""

    NORMAL = "正常"
    QUIET = "预警"         # account.quiet
    FAILED = "不合格"      # account.silent: a veto
    UNREADABLE = "无法读取"  # could not be read: never silent


@dataclass(frozen=True)
class AccountStatus:
    status: AccountState
    days: int | None  # days since the newest post, when known
    reason: str | None  # why it could not be read
    last: date | None = None  # the newest post's local date


def account_status(account: AccountFact, as_of: date, params: RuleSettings, tz: object = None) -> AccountStatus:
    """An account's status as of a date. One that could not be read is 无法读取, never silent (DESIGN.md)."""
    if account.read_status != "ok":
        return AccountStatus(AccountState.UNREADABLE, None, account.reason or "尚未读取")
    if account.last_post is None:
        return AccountStatus(AccountState.FAILED, None, None)
    last = local_date(account.last_post, tz)
    days = (as_of - last).days
    if days > params.account_silent_days:
        return AccountStatus(AccountState.FAILED, days, None, last)
    if days > params.account_quiet_days:
        return AccountStatus(AccountState.QUIET, days, None, last)
    return AccountStatus(AccountState.NORMAL, days, None, last)


def account_label(platform: str, name: str) -> str:
    """`新浪微博“仓山发布”`: an account as findings and emails name it."""
    return f"{PLATFORM_LABELS.get(platform, platform)}“{name}”"


def _account_label(account: AccountFact) -> str:
    return account_label(account.platform, account.name)



@rule("account.silent")
def account_silent(facts: UnitFacts, as_of: date, params: RuleSettings) -> list[Finding]:
    """政务新媒体 2 周内无更新：单项否决，该账号判定为不合格（国办秘函〔2019〕19号）。"""
    out = []
    for account in facts.accounts:
        state = account_status(account, as_of, params, facts.tz)
        if state.status == AccountState.FAILED:
            since = f"已 {state.days} 天未更新" if state.days is not None else "没有任何发布记录"
            out.append(Finding("account.silent", Severity.VETO, account.url,
                               f"{_account_label(account)}{since}（要求 {params.account_silent_days} 天内有更新）",
                               facts.unit, measure=state.days, limit=params.account_silent_days, since=state.last))
    return out


@rule("account.unreadable")
def account_unreadable(facts: UnitFacts, as_of: date, params: RuleSettings) -> list[Finding]:
    """政务新媒体账号暂未能自动读取（地址有误、需要登录、平台限制访问等）：请单位核实账号地址或访问权限。"""
    out = []
    for account in facts.accounts:
        state = account_status(account, as_of, params, facts.tz)
        if (state.status != AccountState.UNREADABLE or account.read_status is None  # never read yet
                or centre_account_failure(state.reason)):
            continue
        since = local_date(account.unreadable_since, facts.tz) if account.unreadable_since else None
        out.append(Finding("account.unreadable", Severity.WARN, account.url,
                           f"{_account_label(account)}暂未能自动核验更新情况"
                           + (f"（自 {since} 起）" if since else "")
                           + "，请核实账号地址是否正确、是否仍可公开访问（无需登录即可查看）",
                           facts.unit, since=since))
    return out


# Why an account could not be read when no unit can do anything about it: the platform is out of reach, or the
# centre's own tools failed (crawler.readers.exceptions: Unreachable, BrowserUnavailable, BridgeExpired). These
# accounts are the centre's alone (`accounts_failed_for_centre`), never a request to the unit.
CENTRE_ACCOUNT_REASONS = ("无法连接/超时", "浏览器无法启动", "订阅源登录失效")


def centre_account_failure(reason: str | None) -> bool:
    return (reason or "").startswith(CENTRE_ACCOUNT_REASONS)


@rule("account.quiet")
def account_quiet(facts: UnitFacts, as_of: date, params: RuleSettings) -> list[Finding]:
    """政务新媒体 7 天以上无更新：预警（本地要求），再过一周将被单项否决。"""
    return [
        Finding("account.quiet", Severity.WARN, account.url,
                f"{_account_label(account)}已 {state.days} 天未更新，{params.account_silent_days} 天无更新将被单项否决",
                facts.unit, measure=state.days, limit=params.account_quiet_days, since=state.last)
        for account in facts.accounts
        if (state := account_status(account, as_of, params, facts.tz)).status == AccountState.QUIET
    ]


# --- site-level rules: facts about a whole site, not one unit ------------------------------------------

SiteRule = Callable[[list[ProbeStats], date, RuleSettings], list[Finding]]
SITE_RULES: dict[str, SiteRule] = {}


site_rule = registrar(SITE_RULES, "rule", also=(RULES,))


def evaluate_site(probe_stats: list[ProbeStats], as_of: date, params: RuleSettings) -> list[Finding]:
    """Site-level rules over the probes of the `params.unavailable_days` days ending with `as_of`."""
    return [f for func in SITE_RULES.values() for f in func(probe_stats, as_of, params)]


@site_rule("site.unavailable")
def site_unavailable(probe_stats: list[ProbeStats], as_of: date, params: RuleSettings) -> list[Finding]:
    """网站首页不可用：一周内 5% 以上的监测（每天不少于 20 次）在 15 秒内无法打开，单项否决（国办秘函〔2019〕19号）。"""
    out = []
    for stats in probe_stats:
        if stats.total and stats.ratio >= params.unavailable_ratio:
            page = "首页" if stats.url == stats.site_url else f"页面 {stats.url} "
            out.append(Finding(
                "site.unavailable", Severity.VETO, stats.url,
                f"网站{page}近 {params.unavailable_days} 天监测 {stats.total} 次，{stats.failed} 次无法在 "
                f"{params.probe_timeout:g} 秒内打开（{stats.ratio:.1%}，达到 {params.unavailable_ratio:.0%}）"))
    return out


# --- a site's crawl: the columns of one site that failed together in one crawl -------------------------

SITE_CRAWL_FAILED = "site.crawl_failed"
# Failures no page of a site can have alone: the host itself is out of reach (connection, DNS, TLS).
HOST_FAILURES = ("无法连接服务器", "域名无法解析", "SSL", "TLS", "证书")


def site_of(url: str, sites: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The (name, url) of the configured site a column URL lies under (the longest matching prefix)."""
    return max((s for s in sites if url.startswith(s[1])), key=lambda s: len(s[1]), default=None)


def host_failure(reason: str | None) -> bool:
    return bool(reason) and any(word in (reason or "") for word in HOST_FAILURES)


def site_crawl_failed(columns: Sequence[ColumnFact], sites: Sequence[tuple[str, str]],
                      params: RuleSettings) -> tuple[list[Finding], set[str]]:
    """站点抓取失败：同一次抓取中该站点超过一定比例的栏目无法访问，或服务器无法连接，属站点问题，由中心处理。

    A circuit breaker: a crawl (its newest fetch per column) in which more than `site_failure_share` of a
    site's columns failed, or a column failed because the host cannot be reached at all, is the site's failure.
    Returns one finding per site, for the centre, and the URLs of the columns it covers (their
    column.unreachable findings are not the units' to fix)."""
    groups: dict[tuple[str, str, int | None], list[ColumnFact]] = {}
    for column in columns:
        if (site := site_of(column.url, sites)) is not None:
            groups.setdefault((*site, column.fetch_run), []).append(column)
    failed_by_site: dict[tuple[str, str], list[ColumnFact]] = {}
    total_by_site: dict[tuple[str, str], int] = {}
    for (name, url, _run), group in groups.items():
        failed = [c for c in group if c.last_error is not None]
        tripped = len(failed) > params.site_failure_share * len(group) and len(failed) > 1
        covered = failed if tripped else [c for c in failed if host_failure(c.last_error)]
        if covered:
            failed_by_site.setdefault((name, url), []).extend(covered)
            total_by_site[(name, url)] = total_by_site.get((name, url), 0) + len(group)
    findings: list[Finding] = []
    covered_urls: set[str] = set()
    for (name, url), failed in failed_by_site.items():
        reasons = "、".join(dict.fromkeys(c.last_error or "" for c in failed))
        findings.append(Finding(SITE_CRAWL_FAILED, Severity.WARN, url,
                                f"网站“{name}”（{url}）最近一次抓取 {len(failed)}/{total_by_site[(name, url)]} "
                                f"个栏目无法访问：{reasons}。属网站或网络故障，各栏目的更新情况暂无法核实",
                                measure=len(failed), limit=total_by_site[(name, url)]))
        covered_urls.update(c.url for c in failed)
    return findings, covered_urls


SITE_COLUMNS_VETO = "site.columns_veto"
CORE_CATEGORIES = ("dynamic", "notice")  # 动态要闻类、通知公告类: the indicator's first count


def site_columns_veto(findings: Sequence[Finding], columns: Sequence[ColumnFact], sites: Sequence[tuple[str, str]],
                      params: RuleSettings) -> list[Finding]:
    """栏目单项否决：超期未更新的动态、通知公告类栏目超过 5 个，或超期栏目超过 10 个，或空白栏目超过 5 个。

    Counts the `column.stale` and `column.blank` findings already made (never judged again here), per configured
    site (the longest URL prefix, `site_of`); one VETO finding per site, its target the site's URL.
    Threshold: a count *exceeding* the setting (>): the indicator says 累计超过5个未更新、栏目数量超过10个、
    空白栏目数量超过5个, and the settings' defaults are its numbers (so the demo's 10 stale portal columns,
    which the seed notice did not call a veto, are not one)."""
    category = {c.url: c.category for c in columns}
    counts: dict[tuple[str, str], list[int]] = {}  # site -> [stale core, stale, blank]
    for finding in findings:
        if finding.rule not in ("column.stale", "column.blank") or finding.target not in category:
            continue
        if (site := site_of(finding.target, sites)) is None:
            continue
        count = counts.setdefault(site, [0, 0, 0])
        if finding.rule == "column.blank":
            count[2] += 1
        else:
            count[1] += 1
            count[0] += category[finding.target] in CORE_CATEGORIES
    out = []
    for (name, url), (core, stale, blank) in counts.items():
        reached = [(what, n, limit) for what, n, limit in (
            ("超期未更新的动态、通知公告类栏目", core, params.veto_stale_core_columns),
            ("超期未更新栏目", stale, params.veto_stale_columns),
            ("空白栏目", blank, params.veto_blank_columns)) if n > limit]
        if not reached:
            continue
        _what, measure, limit = reached[0]  # the first threshold reached is the finding's numbers
        out.append(Finding(SITE_COLUMNS_VETO, Severity.VETO, url,
                           f"网站“{name}”" + "、".join(f"{w} {n} 个（超过 {lim} 个）" for w, n, lim in reached),
                           measure=measure, limit=limit))
    return out


ACCOUNTS_FAILED = "account.read_failed"


def host_root(url: str) -> str:
    """`https://mp.weixin.qq.com/s/x` -> `https://mp.weixin.qq.com/`: the platform an account is read from."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def accounts_failed_for_centre(accounts: Sequence[AccountFact]) -> list[Finding]:
    """政务新媒体账号因平台无法连接或中心读取工具故障而无法读取，由中心处理（不向各单位提醒）。

    One finding per platform host (its target), for the centre."""
    by_host: dict[str, list[AccountFact]] = {}
    for account in accounts:
        if account.read_status != "ok" and centre_account_failure(account.reason):
            by_host.setdefault(host_root(account.url), []).append(account)
    findings = []
    for host, failed in by_host.items():
        reasons = "、".join(dict.fromkeys(a.reason or "" for a in failed))
        names = "、".join(account_label(a.platform, a.name) for a in failed[:3]) + ("等" if len(failed) > 3 else "")
        findings.append(Finding(ACCOUNTS_FAILED, Severity.WARN, host,
                                f"{host} 上的 {len(failed)} 个政务新媒体账号（{names}）无法读取：{reasons}。"
                                "属平台连接或监测工具问题，请中心核实处理", measure=len(failed)))
    return findings
