"""The application: one object a process builds from its settings, with one method a use case.

The shells (`monitor` in monitors/cli.py, the daemon in scheduler.py, `monitor demo`) parse their input,
call one use case here and present its result; nothing here prints, knows click or exits. Progress goes
through a callback the shell owns (`Progress`). Expected failures are `AppError`s whose message is the one
Chinese line a user reads. (STYLE.md §6; urlwatch's `Urlwatch` beside its `UrlwatchCommand`.)

The database is prepared (schema upgraded, settings' sites, units, columns and accounts synchronised) once,
lazily, on the first use case that needs it. Read-only use cases (`plan_alerts`) never write.
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, SettingsError
from monitors.evaluate import (
    Evaluation,
    UnitResult,
    build_quarter_report,
    evaluate_all,
    evaluate_unit,
    parse_quarter,
    quarter_windows,
)
# The outage contract the shells use (the CLI imports no storage): re-exported.
from storage.db import EXIT_DATABASE_UNAVAILABLE, DatabaseUnavailable, is_outage, outage_message  # noqa: F401
from storage.db import (
    get_engine,
    get_sessionmaker,
    prepare,
    read_only,
    require_schema,
    require_writable,
    schema_ready,
)

if TYPE_CHECKING:
    from crawler.accounts import AccountsSummary
    from crawler.run import CrawlSummary
    from monitors.alerts import AlertPlan, DeliveryReport, EnqueueReport
    from monitors.discover import DiscoveryResult
    from monitors.probes import ProbesSummary
    from monitors.register import RegisterRow
    from monitors.report.writers import Written
    from monitors.sheets import Problem
    from storage.queries import CrawlRunRow

Progress = Callable[[str], None]  # one line of progress, for a person watching


class AppError(Exception):
    """An expected failure; its message is one line in Chinese."""


class UnknownUnit(AppError):
    """A unit that is not in the settings (or not in the database)."""


class NotReady(AppError):
    """The database is not there or too old for a use case that must not write."""


class BadInput(AppError):
    """A file or value the use case cannot take (a register that cannot be read, a malformed quarter)."""


class AlertsUnavailable(AppError):
    """monitors.alerts is not installed (yet)."""


@dataclass(frozen=True)
class CrawlOutcome:
    columns: CrawlSummary
    accounts: AccountsSummary


STALE_AFTER = timedelta(days=1)  # data whose oldest read is older than this is said to be old (check, status)


@dataclass(frozen=True)
class Freshness:
    """When the data a result rests on was read: the oldest and the newest of the newest reads of its columns
    and accounts, and how many were never read; `now` is when this was asked."""

    oldest: datetime | None
    newest: datetime | None
    never_read: int
    now: datetime

    @property
    def stale(self) -> bool:
        """Some column or account was last read more than a day ago (or never)."""
        return self.never_read > 0 or (self.oldest is not None and self.now - self.oldest > STALE_AFTER)

    def to_json(self) -> dict:
        return {"oldest": self.oldest.isoformat() if self.oldest else None,
                "newest": self.newest.isoformat() if self.newest else None,
                "never_read": self.never_read, "stale": self.stale}


@dataclass(frozen=True)
class ReadProblem:
    """A column or account whose newest read failed or was not whole (or that was never read)."""

    unit: str
    name: str  # the column's name, or the account's platform label and name
    state: str  # 读取失败 | 未读全 | 无法读取 | 从未读取
    reason: str


@dataclass(frozen=True)
class DataStatus:
    """What `monitor status` says of the data: the last crawl, the columns and accounts not read well."""

    last_crawl: CrawlRunRow | None
    columns: list[ReadProblem]
    accounts: list[ReadProblem]
    freshness: Freshness


@dataclass(frozen=True)
class AlertsSent:
    settled: int | None  # emails left interrupted that a person settled (None: not asked)
    plan: AlertPlan
    written: EnqueueReport
    delivery: DeliveryReport


@dataclass(frozen=True)
class AccountsImport:
    rows: int  # monitorable accounts in the file
    fresh: list[RegisterRow]
    known: int
    problems: list[Problem]
    toml: str
    new_units: int
    updates: dict[str, dict[str, object]] = field(default_factory=dict)  # configured account URL -> new details


@dataclass(frozen=True)
class ColumnsImport:
    rows: int
    problems: list[Problem]
    toml: str


@dataclass(frozen=True)
class AccountsExport:
    path: Path
    accounts: int
    with_status: bool  # False: the database was not created yet, the register has no status


class Monitor:
    """The application for one settings file: engine and sessionmaker once, the database prepared once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.monitor.database_url
        self._prepare_lock = threading.Lock()
        self._prepared: sessionmaker[Session] | None = None

    # --- the database --------------------------------------------------------------------------------

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on a database at the newest schema, holding the settings' units (prepared on first use)."""
        with self._prepare_lock:
            if self._prepared is None:
                self._prepared = self._prepare()
            return self._prepared

    def _prepare(self) -> sessionmaker[Session]:
        """`storage.db.prepare`, skipped (with its Alembic import and ORM sync) when it would change nothing: the
        schema at the newest revision and these settings already loaded (`already_prepared`)."""
        from storage.queries.prepared import already_prepared

        sessions = get_sessionmaker(self.url)
        with sessions() as session:
            if already_prepared(session, self.settings):
                return sessions
        return prepare(self.settings)

    def prepare(self) -> sessionmaker[Session]:
        """Create or upgrade the database and load the settings into it (`monitor init`)."""
        return self.sessions

    def prepare_to_write(self) -> sessionmaker[Session]:
        """`prepare`, and DatabaseUnavailable (one line) if the database is read-only: before a use case that
        writes (a crawl) prints anything."""
        sessions = self.sessions
        require_writable(self.url)
        return sessions

    def read_sessions(self, table: str | None = None) -> sessionmaker[Session]:
        """Sessions on the database as it is, for a use case that must not write: NotReady if it is missing
        or lacks `table`."""
        if not self._schema_ready():
            if read_only(self.url):
                require_schema(self.url)  # one line, exit 4: it cannot be upgraded from here
            raise NotReady("数据库尚未初始化，请先运行 monitor init 或 monitor crawl")
        if table is not None and not inspect(get_engine(self.url)).has_table(table):
            raise NotReady("数据库需要升级（缺少提醒记录表），请先运行 monitor init")
        return get_sessionmaker(self.url)

    def _schema_ready(self) -> bool:
        """`schema_ready`, known without a query when this process prepared the database."""
        return self._prepared is not None or schema_ready(self.url)

    def unit_names(self, units: Sequence[str]) -> list[str]:
        """The settings units `units` name (a name, an alias, 仓山区审计局 for 审计局: monitors.unit_names);
        UnknownUnit naming the closest known units for any other."""
        from monitors.unit_names import UnitNames

        known = UnitNames.of(self.settings.units)
        found = []
        for unit in units:
            if (name := known.find(unit)) is None:
                raise UnknownUnit(known.unknown(unit, "请检查单位名称或先在设置中添加该单位"))
            found.append(name)
        return found

    def require_units(self, units: Sequence[str]) -> None:
        self.unit_names(units)

    # --- crawl, read, probe --------------------------------------------------------------------------

    def crawl(self, units: Sequence[str] = (), full: bool = False, progress: Progress | None = None,
              after_columns: Callable[[CrawlSummary], None] | None = None,
              now: datetime | None = None, distributed: bool | None = None) -> CrawlOutcome:
        """Crawl the portal columns (of `units`, or all) in this process, or through the workers when
        `distributed` (None: as `[distributed] enabled` says), then read the accounts (relative times on their
        pages counted from `now`, default the clock). crawler.distributed.DistributedError: Redis unreachable,
        no PostgreSQL, another coordinator."""
        units = self.unit_names(units)
        self.prepare()  # once here; the crawl and the accounts reuse it
        if self.settings.distributed.enabled if distributed is None else distributed:
            from crawler.distributed import crawl_distributed

            summary = crawl_distributed(self.settings, list(units) or None, full,
                                        say=progress if callable(progress) else None)
        else:
            from crawler.run import crawl_in_process

            summary = crawl_in_process(self.settings, list(units) or None, full=full,
                                       progress=progress if progress is not None else False, prepared=True)
        if after_columns is not None:
            after_columns(summary)
        return CrawlOutcome(summary, self.read_accounts(units, now=now, progress=progress))

    def crawl_in_child(self) -> CrawlSummary:
        """Crawl every column for the daemon: in a child process (a fresh Twisted reactor each time), or, with
        `[distributed] enabled`, through the workers (this process only coordinates: no reactor)."""
        self.prepare()  # once here, not again in the parent nor in the child
        if self.settings.distributed.enabled:
            from crawler.distributed import crawl_distributed

            return crawl_distributed(self.settings)
        from crawler.run import run_crawl

        return run_crawl(self.settings, progress=False, prepared=True)

    def read_accounts(self, units: Sequence[str] = (), now: datetime | None = None,
                      progress: Progress | None = None) -> AccountsSummary:
        from crawler.accounts import read_and_store_accounts

        self.prepare()  # once per process
        return read_and_store_accounts(self.settings, list(units) or None, now=now,
                                       progress=progress if progress is not None else False, prepared=True)

    def probe(self, stop: threading.Event | None = None) -> ProbesSummary:
        from monitors.probes import run_probes

        self.prepare()  # once per process
        return run_probes(self.settings, stop=stop, prepared=True)

    # --- evaluate and report -------------------------------------------------------------------------

    def evaluate_all(self, as_of: date) -> Evaluation:
        with self.sessions() as session:
            return evaluate_all(session, self.settings, as_of)

    def check(self, unit: str, as_of: date) -> UnitResult:
        """One unit evaluated as of the date (DESIGN.md's `check`)."""
        unit = self.unit_names([unit])[0]
        with self.sessions() as session:
            try:
                return evaluate_unit(session, self.settings, unit, as_of)
            except LookupError:
                raise UnknownUnit(f"数据库中没有单位“{unit}”，请先运行 monitor init 或 monitor crawl") from None

    def freshness(self, unit: str | None = None, now: datetime | None = None) -> Freshness:
        """When the stored data of `unit` (or of every unit) was read, as of `now` (default the clock)."""
        from storage import queries

        now = now or datetime.now(timezone.utc)
        with self.read_sessions()() as session:
            times = list(queries.column_read_times(session, unit).values())
            times += [a.last_read_at for a in queries.account_facts(session, now, unit)]
        read = [t for t in times if t is not None]
        return Freshness(min(read, default=None), max(read, default=None), len(times) - len(read), now)

    def data_status(self, now: datetime | None = None) -> DataStatus:
        """The last crawl, the columns whose newest read failed or was partial and the accounts that could not
        be read (read-only: NotReady when the database is not there)."""
        from config.model import PLATFORM_LABELS
        from storage import queries

        now = now or datetime.now(timezone.utc)
        with self.read_sessions()() as session:
            run = queries.last_crawl(session)
            columns = []
            for c in queries.column_facts(session, now + timedelta(days=1)):
                state, reason = next(((label, why) for label, why in (
                    ("读取失败", c.last_error), ("无法读取", c.unreadable), ("未读全", c.partial)) if why is not None),
                    ("从未读取", "") if not c.ever_fetched else ("", ""))
                if state:
                    columns.append(ReadProblem(c.unit, c.name, state, reason))
            accounts = [ReadProblem(a.unit, f"{PLATFORM_LABELS.get(a.platform, a.platform)}“{a.name}”",
                                    "无法读取" if a.read_status else "从未读取", a.reason or "")
                        for a in queries.account_facts(session, now) if a.read_status != "ok"]
        return DataStatus(run, columns, accounts, self.freshness(now=now))

    def quarter_report(self, quarter: str, out: Path, as_of: date | None = None, *, force: bool = False,
                       allow_incomplete: bool = False, doc_number: str | None = None,
                       progress: Progress | None = None) -> Written:
        """Write the quarter's notice, attachments and JSON into `out`; returns the paths written, the files
        left alone because the office changed them, and the report's warnings. A quarter not yet over (or a
        notice dated inside it) is refused unless `allow_incomplete`; `force` overwrites changed files."""
        from monitors.report.writers import write_report

        try:
            parse_quarter(quarter)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        last_day = quarter_windows(quarter)[-1][2] - timedelta(days=1)
        today = datetime.now(ZoneInfo(self.settings.monitor.timezone)).date()
        if not allow_incomplete and (today <= last_day or (as_of is not None and as_of < last_day)):
            when = f"今天是{today:%Y-%m-%d}" if today <= last_day else f"通报日期 {as_of} 在季度结束之前"
            raise BadInput(f"{quarter} 到 {last_day:%Y-%m-%d} 才结束（{when}），数据不全；"
                           "确需生成时加 --allow-incomplete")
        say = progress or (lambda line: None)
        sessions = self.sessions  # prepared first: an unavailable database is the one line, before any progress
        say(f"[1/2] 评估 {quarter} 各单位")
        with sessions() as session:
            model = build_quarter_report(session, self.settings, quarter, as_of)
        say(f"[2/2] 写入通报、附件和数据文件：{out}")
        if doc_number is not None:
            model = dataclasses.replace(model, notice=dataclasses.replace(model.notice, doc_number=doc_number))
        out.mkdir(parents=True, exist_ok=True)
        return write_report(model, out, force=force)

    def monthly_summary(self, month: str, out: Path) -> Path:
        """Write `summary-YYYY-MM.json` for the month into `out`."""
        from monitors.summary import monthly_summary, write_summary

        with self.sessions() as session:
            data = monthly_summary(session, self.settings, month)
        return write_summary(data, out)

    # --- alerts --------------------------------------------------------------------------------------

    def plan_alerts(self, as_of: date) -> AlertPlan:
        """What `--send` would write and send, composed and never written (a dry run)."""
        from monitors.alerts import plan_alerts

        with self.read_sessions(table="alert_state")() as session:
            plan = plan_alerts(session, self.settings, as_of)
            session.rollback()  # a dry run writes nothing
        return plan

    def send_alerts(self, as_of: date, interrupted: str | None = None) -> AlertsSent:
        """Settle interrupted emails if asked (`resend` or `sent`), then plan, enqueue and deliver."""
        from monitors.alerts import send_alerts, settle_interrupted

        from monitors import remediation

        sessions = self.sessions
        settled = settle_interrupted(sessions, resend=interrupted == "resend") if interrupted else None
        remediation.sync(self, as_of)  # the emails show each finding's 整改 state, the summary what is overdue
        plan, written, delivery = send_alerts(sessions, self.settings, as_of)
        return AlertsSent(settled, plan, written, delivery)

    def run_alerts(self, as_of: date) -> object:
        """The daemon's alerts: `monitors.alerts.run_alerts`, looked up at each run (it may be missing)."""
        try:
            from monitors.alerts import run_alerts
        except ImportError as exc:
            # Only "the alerts package is not there (yet)": an ImportError raised inside it is a real failure.
            if exc.name in ("monitors.alerts", None) or "run_alerts" in str(exc):
                raise AlertsUnavailable("alerts not available（monitors.alerts.run_alerts 尚未安装）") from None
            raise
        from monitors import remediation

        remediation.sync(self, as_of)
        return run_alerts(self.settings, as_of, send=True)

    # --- registers and settings ----------------------------------------------------------------------

    def import_accounts(self, file: Path, *, add_units: bool = False, skip_unsupported: bool = False,
                        update: bool = False) -> AccountsImport:
        """The register's new accounts as TOML, and with `update` the details (运营主体, 联系人, …) it gives
        configured accounts otherwise. Errors: a unit settings do not have (unless `add_units`), an account on a
        platform we do not monitor (unless `skip_unsupported`), … (monitors.register)."""
        from monitors.register import RegisterError, detail_updates, new_rows, read_register, rows_to_toml
        from monitors.unit_names import UnitNames

        try:
            rows, problems = read_register(file, skip_unsupported=skip_unsupported)
        except RegisterError as exc:
            raise BadInput(str(exc)) from None
        fresh, known, twins = new_rows(rows, self.settings, add_units=add_units, update=update)
        problems = sorted(problems + twins, key=lambda p: (p.level != "error", p.line))
        text = rows_to_toml(fresh, UnitNames.of(self.settings.units), source=file.name)
        return AccountsImport(len(rows), fresh, len(known), problems, text, text.splitlines().count("[[units]]"),
                              detail_updates(known, self.settings) if update else {})

    def export_accounts(self, file: Path, as_of: date) -> AccountsExport:
        from monitors.register import account_statuses, write_register

        try:
            statuses = account_statuses(self.settings, as_of)
        except SQLAlchemyError as exc:
            raise NotReady(f"无法读取数据库：{str(exc).splitlines()[0]}") from None
        try:
            write_register(file, self.settings.accounts, statuses, date=as_of)
        except OSError as exc:
            raise BadInput(f"无法写入 {file}：{exc.strerror or exc}") from None
        return AccountsExport(file, len(self.settings.accounts), statuses is not None)

    def import_columns(self, file: Path) -> ColumnsImport:
        from monitors.columns_register import read_columns, rows_to_toml
        from monitors.sheets import SheetError

        try:
            rows, problems = read_columns(file, self.settings)
        except SheetError as exc:
            raise BadInput(str(exc)) from None
        return ColumnsImport(len(rows), problems, rows_to_toml(rows, source=file.name) if rows else "")

    def discover(self, url: str, *, unit: str | None, max_pages: int, concurrency: int | None,
                 delay: float | None, progress: Progress | None = None) -> DiscoveryResult:
        """Walk a site and propose its list columns; BadInput when its home page cannot be read."""
        from monitors.discover import PageUnreadable, discover

        if not url.startswith(("http://", "https://")):
            raise BadInput(f"网址应以 http:// 或 https:// 开头：{url}")
        try:
            return discover(url, self.settings, unit=unit, max_pages=max_pages,
                            concurrency=concurrency or min(4, self.settings.crawl.concurrent_per_domain),
                            delay=delay, progress=progress)
        except PageUnreadable as exc:
            raise PageNotRead(f"无法读取首页 {url}：{exc}") from None

    def append_settings(self, addition: str, updates: dict[str, dict[str, object]] | None = None) -> Path:
        """Append blocks to the settings file (after a `.bak` backup), first giving the configured accounts in
        `updates` (URL -> keys) their new details."""
        from functools import partial

        from monitors.register import update_accounts_text
        from monitors.settings_file import append_settings

        try:
            return append_settings(self.settings.path, addition,
                                   partial(update_accounts_text, updates=updates) if updates else None)
        except SettingsError as exc:
            raise BadInput(str(exc)) from None


class PageNotRead(AppError):
    """A page a use case must read first could not be read (exit 1, not a usage error)."""
