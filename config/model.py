"""Typed, frozen settings objects mirroring DESIGN.md's `settings.toml` keys.

Each default sits beside its field with its source. Nothing here reads files or the environment:
that is `config.loader`'s job.
"""
from __future__ import annotations

from dataclasses import dataclass, field

UNIT_KINDS = ("township", "department", "other")
CATEGORIES = ("dynamic", "notice", "plan", "disclosure", "other")
# The one label of each category, as the quarterly notice's attachments print it; check shows the same and
# settings accept it (or it without 类) for the key.
CATEGORY_LABELS = {"dynamic": "动态要闻类", "notice": "通知公告类", "plan": "人事规划类", "disclosure": "信息公开类",
                   "other": "其他"}
PLATFORMS = ("weibo", "wechat", "feed")
PLATFORM_LABELS = {"weibo": "新浪微博", "wechat": "微信公众号", "feed": "订阅源"}  # as users and reports name them
SMTP_SECURITY = ("none", "starttls", "ssl")
LINK_SCOPES = ("all", "site")  # [content] check_links: every link, or only links on the configured sites
# `{env:NAME}` in a notify URL (`[[units]] notify`, `[alerts] notify`): replaced by the environment variable only
# when sending (monitors.alerts.channels), so settings, the outbox and logs never hold the secret.
NOTIFY_PLACEHOLDER = r"\{env:([A-Za-z_][A-Za-z0-9_]*)\}"


@dataclass(frozen=True)
class Range:
    """The allowed values of a numeric setting: above `gt` (exclusive), from `ge`, up to `le` (inclusive)."""

    gt: float | None = None
    ge: float | None = None
    le: float | None = None


POSITIVE = Range(gt=0)  # timeouts, sizes, rates
AT_LEAST_ONE = Range(ge=1)  # concurrency, page limits, day counts, thresholds
NON_NEGATIVE = Range(ge=0)  # retries, delays, counts that may be zero
RATIO = Range(ge=0, le=1)

# Every int and float field of the tables below, by (table, field); the loader refuses a value outside it
# (and a field missing here: tests/config/test_loader.py checks the table is complete).
RANGES: dict[tuple[str, str], Range] = {
    ("rules", "monthly_quota"): NON_NEGATIVE,
    **{("rules", f"stale_days_{c}"): AT_LEAST_ONE for c in CATEGORIES},
    ("rules", "veto_stale_core_columns"): AT_LEAST_ONE,
    ("rules", "veto_stale_columns"): AT_LEAST_ONE,
    ("rules", "veto_blank_columns"): AT_LEAST_ONE,
    ("rules", "account_silent_days"): AT_LEAST_ONE,
    ("rules", "account_quiet_days"): AT_LEAST_ONE,
    ("rules", "homepage_stale_days"): AT_LEAST_ONE,
    ("rules", "unavailable_ratio"): RATIO,
    ("rules", "unavailable_days"): AT_LEAST_ONE,
    ("rules", "probe_timeout"): POSITIVE,
    ("rules", "site_failure_share"): RATIO,
    ("crawl", "concurrent_requests"): AT_LEAST_ONE,
    ("crawl", "concurrent_per_domain"): AT_LEAST_ONE,
    ("crawl", "download_delay"): NON_NEGATIVE,
    ("crawl", "autothrottle_target_concurrency"): POSITIVE,
    ("crawl", "timeout"): POSITIVE,
    ("crawl", "retries"): NON_NEGATIVE,
    ("crawl", "max_pages_per_column"): AT_LEAST_ONE,
    ("crawl", "max_page_mb"): POSITIVE,
    ("crawl", "max_entries_per_page"): AT_LEAST_ONE,
    ("crawl", "browser_pages"): AT_LEAST_ONE,
    ("report", "good_townships"): NON_NEGATIVE,
    ("report", "good_departments"): NON_NEGATIVE,
    ("smtp", "port"): Range(ge=1, le=65535),
    ("alerts", "resend_after_days"): AT_LEAST_ONE,
    ("alerts", "fix_within_days"): AT_LEAST_ONE,
    ("probes", "retries"): NON_NEGATIVE,
    ("probes", "retry_delay"): NON_NEGATIVE,
    ("probes", "concurrency"): AT_LEAST_ONE,
    ("serve", "port"): Range(ge=1, le=65535),
    ("content", "link_check_days"): AT_LEAST_ONE,
    ("content", "max_articles_per_column"): AT_LEAST_ONE,
    ("distributed", "heartbeat_seconds"): Range(ge=2),
    ("distributed", "columns_per_worker"): AT_LEAST_ONE,
    ("distributed", "max_attempts"): AT_LEAST_ONE,
    ("distributed", "worker_wait"): POSITIVE,
}
MIN_SCHEDULE_INTERVAL = 60.0  # seconds: an `every N` schedule more often than this would hammer the sites


@dataclass(frozen=True)
class MonitorSettings:
    database_url: str = "sqlite:///data/monitor.db"
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class RuleSettings:
    # Local rule of the seed district (《仓山区政务公开绩效考核办法》): 10 posts a unit a month.
    monthly_quota: int = 10
    # 国办秘函〔2019〕19号 via the 2015 普查 scale: 动态/要闻 2 weeks, 通知公告/政策文件 6 months,
    # 人事/规划计划 1 year; disclosure and other columns 1 year (DESIGN.md).
    stale_days_dynamic: int = 14
    stale_days_notice: int = 183
    stale_days_plan: int = 365
    stale_days_disclosure: int = 365
    stale_days_other: int = 365
    # Single-veto thresholds for a site (国办秘函〔2019〕19号 栏目不更新、空白栏目): site.columns_veto, exceeded (>).
    veto_stale_core_columns: int = 5
    veto_stale_columns: int = 10
    veto_blank_columns: int = 5
    # New media (国办秘函〔2019〕19号: 2 weeks; 7 days is a local warning).
    account_silent_days: int = 14
    account_quiet_days: int = 7
    # Availability (国办秘函〔2019〕19号 单项否决): the home page must open within 15 s; a site fails when 5 % or
    # more of a week's probes (at least 20 a day) failed.
    # 首页长期不更新 (国办秘函〔2019〕19号 单项否决): nothing new on the home page's dated lists in 2 weeks.
    homepage_stale_days: int = 14
    unavailable_ratio: float = 0.05
    unavailable_days: int = 7
    probe_timeout: float = 15.0
    # A crawl in which more than this share of a site's columns failed is the site's outage: one finding for
    # the centre (site.crawl_failed), not a column failure for each unit (a circuit breaker).
    site_failure_share: float = 0.5

    def stale_days(self, category: str) -> int:
        return getattr(self, f"stale_days_{category}")


@dataclass(frozen=True)
class CrawlSettings:
    """Politeness by default: real government servers are small and shared."""

    concurrent_requests: int = 16
    concurrent_per_domain: int = 4
    download_delay: float = 0.25  # seconds between requests to one domain (AutoThrottle adjusts it)
    autothrottle: bool = True
    autothrottle_target_concurrency: float = 2.0
    timeout: float = 15.0  # seconds; the national availability probe uses 15 s too
    retries: int = 2
    max_pages_per_column: int = 200  # a guard against endless pagination
    max_page_mb: float = 5.0  # a page larger than this, raw or decompressed, is a failure (memory guard)
    max_entries_per_page: int = 500  # a list page listing more is read to this many, and the column is partial
    user_agent: str = "Mozilla/5.0 (compatible; GovSiteMonitor/0.1; +gov-monitor)"
    # New-media readers: the system Chromium driven by Playwright (it cannot download its own browser here).
    chromium_path: str = ""  # empty: the first of /usr/bin/chromium, chromium-browser, `which chromium`
    browser_pages: int = 3  # pages open at once in the one shared browser


@dataclass(frozen=True)
class ReportSettings:
    issuer: str = "区人民政府办公室"
    district: str = "本区"
    good_townships: int = 2  # how many 完成 townships the notice names as doing well
    good_departments: int = 5
    good_units: tuple[str, ...] = ()  # the units named as doing well, as given; () computes them (above)
    masthead: str = ""  # 发文机关标志 printed as the red 版头 with its separator line; "" for none
    doc_number: str = ""  # 发文字号, e.g. 仓政办〔2020〕12号 (`report --doc-number` overrides)
    next_steps: tuple[str, ...] = ()  # section 四 下一步工作要求, one paragraph each; () prints a placeholder
    contact: str = ""  # 附注 under the date, e.g. 联系人：张三，联系电话：0591-12345678
    sealed: bool = False  # 落款 laid out for a seal (GB/T 9704-2012 §7.3.5.1) or without one (§7.3.5.2)


@dataclass(frozen=True)
class SiteSettings:
    name: str
    url: str
    unit: str = ""  # the unit answerable for the site: `check --unit` shows it the site-level findings


@dataclass(frozen=True)
class Selectors:
    """Per-column overrides for the rare page the heuristics cannot read (XPath or CSS)."""

    item: str | None = None  # one node per entry
    title: str | None = None  # relative to item; default: the first link's title or text
    date: str | None = None  # relative to item
    next_page: str | None = None  # a link to the next page


@dataclass(frozen=True)
class UnitSettings:
    name: str
    kind: str = "department"
    emails: tuple[str, ...] = ()
    url_prefixes: tuple[str, ...] = ()  # the unit owns columns whose URL starts with one of these
    aliases: tuple[str, ...] = ()  # other names users write for it (市监局): `--unit` and the imports accept them
    # Apprise URLs its alerts are also pushed to (钉钉 dingtalk://, 企业微信 wecombot://, json:// webhooks), secrets
    # as {env:NAME} placeholders (NOTIFY_PLACEHOLDER)
    notify: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnSettings:
    unit: str
    name: str
    url: str
    category: str = "dynamic"
    quota: bool = True
    selectors: Selectors | None = None


@dataclass(frozen=True)
class AccountSettings:
    unit: str
    platform: str
    name: str
    url: str
    # The register's other columns (福州市政务新媒体详细汇总表, `monitor accounts import/export`); optional.
    operator: str = ""  # 运营主体: the unit or sub-department that posts
    review: bool | None = None  # 是否建立审核机制 (None: not stated)
    contact: str = ""  # 联系人姓名、手机号码
    owner: str = ""  # 负责人姓名、手机号码
    note: str = ""  # 备注
    account_id: str = ""  # 账号 ID (Weibo uid, WeChat 原始 ID / 微信号, …)
    sample_url: str = ""  # 任意一篇文章的 URL


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"
    user: str = ""  # login only over TLS (security starttls or ssl) unless allow_plain_auth
    sender: str = "monitor@example.gov.cn"
    allow_plain_auth: bool = False  # true: a user may log in over a plain connection (password in clear text)
    # The password never sits in the file: env MONITOR_SMTP_PASSWORD (kept out of repr).
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class AlertSettings:
    centre: tuple[str, ...] = ()  # the centre's addresses: copied on every unit's email, its Reply-To
    resend_after_days: int = 7
    fix_within_days: int = 10  # 整改时限: each finding asks to be fixed within this many days of the email
    contact: str = ""  # the centre's contact line in each email (office, phone); "" names its addresses
    notify: tuple[str, ...] = ()  # Apprise URLs the centre's summary is also pushed to (as [[units]] notify)


@dataclass(frozen=True)
class ScheduleSettings:
    """When the daemon runs each job: a 5-field cron line in [monitor] timezone, `every N{s,m,h,d}`, or "off"."""

    crawl: str = "0 2 * * *"  # portal columns: nightly, when government servers are quiet
    accounts: str = "0 */4 * * *"  # new-media accounts: every 4 hours
    probes: str = "every 60m"  # availability: 24 a day spread over the day (the indicator asks ≥ 20)
    alerts: str = "30 8 * * *"  # evaluation and alert emails: each morning before work
    monthly: str = "0 9 1 * *"  # the previous month's summary: the 1st
    quarterly: str = "0 9 10 1,4,7,10 *"  # the previous quarter's notice: the 10th day after the quarter
    out: str = "reports"  # where the monthly summary and the quarterly notice are written


@dataclass(frozen=True)
class ProbeSettings:
    """Availability probes: each site's home page plus these pages (the timeout is [rules] probe_timeout)."""

    pages: tuple[str, ...] = ()
    retries: int = 1  # a probe fails for real only after a retry (DESIGN.md "outages are noisy")
    retry_delay: float = 5.0  # seconds before the retry
    concurrency: int = 8  # probes at once (a province has hundreds of sites)


@dataclass(frozen=True)
class ContentSettings:
    """Content checks on new articles and the sites' home pages (issue 11; off by default: a plain crawl then
    costs what it always did)."""

    enabled: bool = False
    # Besides government domains (.gov.cn by the public suffix rules) and the configured sites' own hosts: the
    # platforms a post may link to without link.external (a domain covers its subdomains).
    allow_domains: tuple[str, ...] = ("mp.weixin.qq.com", "weibo.com", "weibo.cn")
    typos: tuple[tuple[str, str], ...] = ()  # (wrong, right) pairs added to the shipped dictionary
    protected: tuple[tuple[str, tuple[str, ...]], ...] = ()  # a term and the wrong forms it must never appear in
    sensitive_words: tuple[str, ...] = ()  # the district's list (the product ships only a neutral sample)
    sensitive_file: str = ""  # one word a line (# comments), relative to the settings file
    link_check_days: int = 7  # a URL checked within this many days is not checked again
    check_links: str = "all"  # all: every link; site: only links on the configured sites (no request elsewhere)
    # Article pages opened for the checks per column and run, newest first: a first crawl checks each column's
    # newest posts, later crawls every new post (up to this many a column).
    max_articles_per_column: int = 30


@dataclass(frozen=True)
class ServeSettings:
    """`monitor serve`, the dashboard (issue 12)."""

    host: str = "127.0.0.1"  # another address only with the centre's login (env MONITOR_SERVE_PASSWORD or the hash)
    port: int = 8080
    # pbkdf2_sha256$<iterations>$<salt>$<hash> of the centre's password (`monitor serve --hash-password` prints
    # one); env MONITOR_SERVE_PASSWORD, when set, is the password instead
    password_hash: str = ""
    public_url: str = ""  # the dashboard's address as units reach it, for the links in emails ("" for none)


@dataclass(frozen=True)
class DistributedSettings:
    """`monitor crawl --distributed` and `monitor worker` (docs/distributed.md): the columns handed out through
    Redis, every worker writing to the one PostgreSQL database."""

    # true: `monitor crawl` and the daemon's crawl job hand the columns to the workers (as `crawl --distributed`)
    enabled: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_password: str = field(default="", repr=False)  # from MONITOR_REDIS_PASSWORD only, never the file
    key_prefix: str = "monitor"  # every Redis key of this monitor starts with it (several monitors, one Redis)
    heartbeat_seconds: float = 15.0  # a worker silent this long is dead: its columns are handed out again
    # columns a worker holds at once: each has about one request in flight (its pages come one after another),
    # so this keeps [crawl] concurrent_requests busy; a dead worker's columns are re-read whole elsewhere
    columns_per_worker: int = 64
    max_attempts: int = 3  # a column handed out this many times without being read is recorded as failed
    worker_wait: float = 600.0  # seconds without any worker before the coordinator gives up the columns left


@dataclass(frozen=True)
class Settings:
    path: str
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    rules: RuleSettings = field(default_factory=RuleSettings)
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    sites: tuple[SiteSettings, ...] = ()
    units: tuple[UnitSettings, ...] = ()
    columns: tuple[ColumnSettings, ...] = ()
    accounts: tuple[AccountSettings, ...] = ()
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    probes: ProbeSettings = field(default_factory=ProbeSettings)
    content: ContentSettings = field(default_factory=ContentSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    distributed: DistributedSettings = field(default_factory=DistributedSettings)

    def unit(self, name: str) -> UnitSettings | None:
        return next((u for u in self.units if u.name == name), None)
