"""The `monitor` command: a thin shell over the application (monitors/app.py; DESIGN.md "CLI").

Each command parses its arguments, calls one use case of `Monitor`, formats the result (Chinese text or
JSON) and picks the exit code. Expected errors (`AppError`) print one clear line in Chinese, never a traceback.

Exit codes (every command; README "Commands"):
  0  success, no finding
  1  findings (`check`), failures the output lists (`crawl`, `alerts --send`, a register with errors)
  2  usage or settings error
  3  `daemon`: another daemon (or the same job) already runs on this database
  4  the database is unavailable: cannot be reached, lost mid-run, read-only for a command that writes, or
     read-only and older than this version (`storage.db.EXIT_DATABASE_UNAVAILABLE`; one line on stderr)
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from config import Settings, SettingsError, default_settings_path, load_settings
from config.model import CATEGORY_LABELS, PLATFORM_LABELS
from monitors import click_zh
from monitors.app import (
    EXIT_DATABASE_UNAVAILABLE,
    AppError,
    CrawlOutcome,
    Freshness,
    Monitor,
    NotReady,
    PageNotRead,
    is_outage,
    outage_message,
)
from monitors.evaluate import YEARS, UnitResult, day_problem, read_label

if TYPE_CHECKING:
    from crawler.run import CrawlSummary
    from monitors.alerts import AlertPlan
    from monitors.sheets import Problem

click_zh.install()  # click's own texts (usage, errors, [required]) in Chinese


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file: object = None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True)


def _settings(ctx: click.Context) -> Settings:
    path = ctx.obj["config"]
    try:
        return load_settings(path)
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def _app(ctx: click.Context) -> Monitor:
    return Monitor(_settings(ctx))


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


class ProgressBar:
    """Progress for a person watching. Lines "[ 12/141] …" (the crawl's columns, the accounts, the report's
    steps) draw one bar redrawn in place on a terminal; any other line, or any line when stderr is not a
    terminal (logs, pipes, cron mail), is printed as it comes."""

    STEP = re.compile(r"\[\s*(\d+)/(\d+)\]\s*(.*)")
    WIDTH = 24

    def __init__(self, terminal: bool | None = None) -> None:
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.open = False  # a bar is drawn and its line not yet ended

    def __call__(self, line: str) -> None:
        step = self.STEP.fullmatch(line)
        if not self.terminal or step is None:
            self.close()
            click.echo(line, err=True)
            return
        from monitors.textable import display_width

        done, total, what = int(step[1]), max(int(step[2]), 1), step[3]
        filled = self.WIDTH * min(done, total) // total
        text = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} "
        room = shutil.get_terminal_size().columns - display_width(text) - 1
        while what and display_width(what) > room:
            what = what[:-1]
        click.echo(f"\r{text}{what}\x1b[K", err=True, nl=False)
        self.open = done < total
        if not self.open:
            click.echo("", err=True)

    def close(self) -> None:
        if self.open:
            click.echo("", err=True)
            self.open = False


class _AppErrors:
    """`with _AppErrors():` an AppError becomes the one-line usage error (exit 2); PageNotRead exits 1."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> Literal[False]:
        if isinstance(exc, PageNotRead):
            click.echo(f"错误：{exc}", err=True)
            sys.exit(1)
        if isinstance(exc, AppError):
            raise UserError(str(exc)) from None
        return False


def _year_in_range(year: int, value: str) -> None:
    if year not in YEARS:
        raise UserError(f"{value!r} 的年份应在 {YEARS.start}–{YEARS.stop - 1} 之间")


_DATE = re.compile(r"(\d{4})\s*([-/.年])\s*(\d{1,2})\s*([-/.月])\s*(\d{1,2})\s*日?")
_DATE_SEPARATORS = {("-", "-"), ("/", "/"), (".", "."), ("年", "月")}


def parse_date(value: str) -> date:
    """2020-10-10, 2020/10/10, 2020.10.10 or 2020年10月10日 (months and days with or without a leading 0)."""
    match = _DATE.fullmatch(value.strip())
    if match is None or (match[2], match[4]) not in _DATE_SEPARATORS:
        raise UserError(f"日期格式应为 YYYY-MM-DD（如 2020-10-10、2020/10/10 或 2020年10月10日），而不是 {value!r}")
    _year_in_range(int(match[1]), value)
    try:
        return date(int(match[1]), int(match[3]), int(match[5]))
    except ValueError:
        raise UserError(f"{value!r} 不是有效的日期") from None


def _as_of(value: str | None, app: Monitor) -> date:
    """--as-of: today (in [monitor] timezone) when not given; a date after today is refused."""
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo(app.settings.monitor.timezone)).date()
    if value is None:
        return today
    day = parse_date(value)
    if problem := day_problem(day, today):
        raise UserError(problem)
    return day


def _quarter(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """--quarter: 2020Q3, its year in range (click callback)."""
    from monitors.evaluate import parse_quarter

    try:
        year, _ = parse_quarter(value)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    _year_in_range(year, value)
    return value


def _writable(path: Path, directory: bool) -> Path:
    """One line and exit 2 now, rather than a traceback after the work, for an output path we cannot write."""
    if path.exists() and path.is_dir() != directory:
        raise UserError(f"无法写入 {path}：{'不是目录' if directory else '这是一个目录'}")
    existing = path if path.exists() else next(p for p in path.absolute().parents if p.exists())
    if not existing.is_dir() and existing != path:
        raise UserError(f"无法写入 {path}：{existing} 不是目录")
    if not os.access(existing, os.W_OK):
        raise UserError(f"无法写入 {path}：没有写入权限")
    return path


def _out_dir(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    return _writable(value, directory=True)


def _out_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    return None if value is None else _writable(value, directory=False)


class DatabaseDown(click.ClickException):
    exit_code = EXIT_DATABASE_UNAVAILABLE

    def show(self, file: object = None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True)


def _config_after(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """--config written after the command (`monitor check --unit U --config FILE`) counts as before it."""
    if value is not None:
        ctx.find_root().ensure_object(dict)["config"] = value


class MonitorCommand(click.Command):
    """A command that also takes --config after its name, with its usage line in Chinese."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("options_metavar", click_zh.OPTIONS_METAVAR)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.params.append(click.Option(["--config"], type=click.Path(dir_okay=False, path_type=Path),
                                        default=None, expose_value=False, callback=_config_after,
                                        help="设置文件（也可写在命令名之前）"))


class MonitorGroup(click.Group):
    """Every command: a database outage (`storage.db.is_outage`), wherever it happens, is one line and exit 4.
    Its commands take --config after their name too (MonitorCommand); its subgroups are MonitorGroups."""

    command_class = MonitorCommand
    group_class = type

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("options_metavar", click_zh.OPTIONS_METAVAR)
        kwargs.setdefault("subcommand_metavar", click_zh.SUBCOMMAND_METAVAR)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if not is_outage(exc):
                raise
            url = _database_url(ctx)
            raise DatabaseDown(outage_message(exc, url)) from None


def _database_url(ctx: click.Context) -> str:
    try:
        return load_settings(ctx.obj["config"]).monitor.database_url
    except Exception:  # noqa: BLE001 - the settings were read before the outage; this only names the database
        return "?"


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="退出码：0 成功/未发现问题，1 发现问题或有失败，2 用法或设置错误，3 守护进程或任务已在运行，"
                    "4 数据库不可用（无法连接、中途断开，或只读）。")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="设置文件（默认 ./settings.toml，或环境变量 MONITOR_SETTINGS）")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """政府网站与政务新媒体监测。"""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config or default_settings_path()


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """创建或升级数据库，并从设置文件载入单位、栏目和账号。"""
    app = _app(ctx)
    app.prepare()
    settings = app.settings
    click.echo(f"数据库已就绪：{len(settings.units)} 个单位，{len(settings.columns)} 个栏目，"
               f"{len(settings.accounts)} 个政务新媒体账号。")


@main.command()
@click.option("--unit", "units", multiple=True, help="只抓取该单位的栏目（可重复）")
@click.option("--full", is_flag=True, help="完整抓取所有分页（默认增量：遇到已存储的信息即停止翻页）")
@click.option("--distributed", is_flag=True,
              help="分布式抓取：栏目经 Redis 分给各服务器上的 monitor worker，本进程等待全部完成")
@click.pass_context
def crawl(ctx: click.Context, units: tuple[str, ...], full: bool, distributed: bool) -> None:
    """抓取门户网站各栏目（默认增量）。"""
    app = _app(ctx)
    with _AppErrors():
        app.require_units(units)
    outcome = _crawl(app, units, full, distributed=distributed)
    from crawler.run import incomplete_line

    if line := incomplete_line(outcome.columns):  # a partial or failed column is not a successful crawl
        click.echo(line, err=True)
        sys.exit(1)
    sys.exit(0)


def _crawl(app: Monitor, units: tuple[str, ...] | list[str], full: bool, *, distributed: bool = False) -> CrawlOutcome:
    from crawler.run import problem_lines

    bar = ProgressBar()

    def columns_done(summary: CrawlSummary) -> None:
        bar.close()
        click.echo(f"抓取完成：{summary.columns} 个栏目，{summary.ok} 个完整读取，{len(summary.partial)} 个未读全，"
                   f"{len(summary.failed)} 个失败，新增信息 {summary.new_posts} 条，请求 {summary.requests} 次。",
                   err=True)
        for line in problem_lines(summary):
            click.echo(line, err=True)

    app.prepare_to_write()  # an unavailable or read-only database is the one line, before any progress
    distributed = distributed or app.settings.distributed.enabled
    click.echo(f"开始{'分布式' if distributed else ''}抓取{'（完整）' if full else '（增量）'}……", err=True)
    with _AppErrors():
        outcome = _crawl_distributed(app, units, full, bar, columns_done) if distributed else \
            app.crawl(units, full, progress=bar, after_columns=columns_done, distributed=False)
    bar.close()
    result = outcome.accounts
    if result.accounts:
        click.echo(f"政务新媒体：{result.accounts} 个账号，{result.readable} 个读取成功，"
                   f"{len(result.unreadable)} 个无法读取，新增 {result.new_posts} 条。", err=True)
    return outcome


def _crawl_distributed(app: Monitor, units: Sequence[str], full: bool, bar: ProgressBar,
                       columns_done: Callable[[CrawlSummary], None]) -> CrawlOutcome:
    """`crawl --distributed`: the columns through the workers (crawler.distributed), then the accounts here."""
    from crawler.distributed import DistributedError

    try:
        return app.crawl(units, full, progress=bar, after_columns=columns_done, distributed=True)
    except DistributedError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        bar.close()
        click.echo("已中断：已保存的内容保留；本次抓取下次记为中断，未读完的栏目下次完整重读", err=True)
        sys.exit(130)


@main.command()
@click.option("--id", "worker_id", default=None, help="工作进程名（默认 主机名-进程号），各进程须不同")
@click.option("--exit-when-idle", is_flag=True, help="没有进行中的分布式抓取时退出（测试、基准用；默认一直等待）")
@click.pass_context
def worker(ctx: click.Context, worker_id: str | None, exit_when_idle: bool) -> None:
    """分布式抓取的工作进程：从 Redis 领取栏目抓取，写入共用的 PostgreSQL；Ctrl-C 或 SIGTERM 停止。"""
    from crawler.distributed import DistributedError, run_worker

    settings = _settings(ctx)
    try:
        result = run_worker(settings, worker_id, exit_when_idle=exit_when_idle, say=_echo_err)
    except DistributedError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"工作进程 {result.worker} 已停止：读完 {result.columns} 个栏目。", err=True)


@main.command()
@click.option("--unit", required=True, help="单位名称，如 审计局")
@click.option("--as-of", "as_of", default=None,
              help="评估日期，如 2020-10-10、2020/10/10 或 2020年10月10日（默认今天）")
@click.option("--no-crawl", is_flag=True, help="不抓取，只用已存储的数据评估")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="输出格式")
@click.pass_context
def check(ctx: click.Context, unit: str, as_of: str | None, no_crawl: bool, fmt: str) -> None:
    """检查一个单位：抓取其栏目（除非 --no-crawl），按日期评估并输出结果。有问题时退出码为 1。"""
    app = _app(ctx)
    day = _as_of(as_of, app)
    with _AppErrors():
        app.require_units([unit])
    if not no_crawl:
        _crawl(app, [unit], full=False)
    with _AppErrors():
        result = app.check(unit, day)
        freshness = app.freshness(result.unit)
    if fmt == "json":  # DESIGN.md's JSON, with `data`: when what it rests on was read (Freshness.to_json)
        click.echo(json.dumps({**result.to_json(), "data": freshness.to_json()}, ensure_ascii=False, indent=2))
    else:
        click.echo(format_check_text(result, freshness, app.settings.monitor.timezone))
    sys.exit(1 if result.findings else 0)


def _local(value: datetime, timezone: str) -> str:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def year_month(month: str) -> str:
    """'2020-08' -> '2020年8月' (check's months: a count read today may be of any year)."""
    return f"{int(month[:4])}年{int(month[5:7])}月"


def freshness_lines(freshness: Freshness, timezone: str, what: str = "栏目或账号") -> list[str]:
    """数据更新于 …, and a warning when some of the data was read more than a day ago or never."""
    if freshness.newest is None:
        return ["数据更新于：尚未读取（请先运行 monitor crawl）"] if freshness.never_read else []
    newest, oldest = _local(freshness.newest, timezone), _local(freshness.oldest or freshness.newest, timezone)
    spread = freshness.oldest is not None and freshness.newest - freshness.oldest > timedelta(hours=1)
    lines = [f"数据更新于 {newest}" + (f"（最早的一项读取于 {oldest}）" if spread else "")]
    if freshness.stale:
        late = [f"{freshness.never_read} 个{what}从未读取"] if freshness.never_read else []
        if freshness.oldest is not None and freshness.now - freshness.oldest > timedelta(days=1):
            late.append(f"有{what}超过 1 天未读取（最早一次读取于 {oldest}）")
        lines.append(f"警告：{'，'.join(late)}，结果可能已过时；请先运行 monitor crawl。")
    return lines


def format_check_text(result: UnitResult, freshness: Freshness | None = None, timezone: str = "Asia/Shanghai") -> str:
    """Everything `check --format json` shows, as text: months (with their year), columns with how they were
    read, accounts with status and reason, findings, and when the data was read."""
    from monitors.content_rules import SHOWN
    from monitors.report.xlsx_writer import evidence_outcome
    from monitors.rules import PARTIAL_MONTH_NOTE, SEVERITY_LABELS
    from monitors.textable import table

    data = result.to_json()
    lines = [f"{result.unit} 检查结果（截至 {result.as_of.isoformat()}）"]
    if freshness is not None:
        lines += freshness_lines(freshness, timezone)
    lines += ["", "各月发布信息数："]
    unsure = set(data["partial_months"])
    lines.append(table(["月份", "条数", "情况"],
                       [[year_month(m.month), str(m.posts),
                         ("未满月" if not m.complete else "未达标" if m.month in result.shortfalls else "达标")
                         + (PARTIAL_MONTH_NOTE if m.month in unsure else "")]
                        for m in result.facts.months]))
    lines += ["", "栏目："]
    if data["columns"]:
        lines.append(table(["栏目", "类别", "信息数", "最近更新", "读取情况", "网址"],
                           [[c["name"], CATEGORY_LABELS.get(c["category"], c["category"]), str(c["posts"]),
                             c["last_post"] or "无", read_label(c), c["url"]]
                            for c in data["columns"]]))
    else:
        lines.append("  （设置中没有该单位的栏目）")
    lines += ["", "政务新媒体账号："]
    if data["accounts"]:
        lines.append(table(["平台", "账号", "最近发布", "状态", "网址"],
                           [[PLATFORM_LABELS.get(a["platform"], a["platform"]), a["name"],
                             a["last_post"][:10] if a["last_post"] else "无",
                             a["status"] + (f"（{a['reason']}）" if a["reason"] else ""), a["url"]]
                            for a in data["accounts"]]))
    else:
        lines.append("  （设置中没有该单位的政务新媒体账号）")
    lines.append("")
    if result.findings:
        lines.append(f"发现 {len(result.findings)} 个问题：")
        for i, f in enumerate(result.findings, 1):
            lines.append(f"  {i}. [{SEVERITY_LABELS.get(f.severity, f.severity)}] {f.detail}")
            # a content finding's links or words (issue 11): the first five, then how many in all; a link the
            # sentence already names in full is not repeated (a word is: its line shows the text around it)
            named = len(f.evidence) <= SHOWN and not f.rule.startswith("content.")
            for ev in [] if named else f.evidence[:5]:
                outcome = evidence_outcome(f.rule, ev.outcome)
                lines.append("     - " + " ".join(f"{ev.item} {ev.text}".split())
                             + (f"（{outcome}）" if outcome else ""))
            if len(f.evidence) > 5:
                lines.append(f"     …共 {len(f.evidence)} 处")
    else:
        lines.append("未发现问题。")
    return "\n".join(lines)


@main.command()
@click.option("--quarter", required=True, callback=_quarter, help="季度，如 2020Q3")
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("."), callback=_out_dir,
              help="输出目录（默认当前目录）")
@click.option("--as-of", "as_of", default=None, help="通报日期 YYYY-MM-DD（默认季度结束后第 10 天）")
@click.option("--doc-number", "doc_number", default=None,
              help="发文字号，如 仓政办〔2020〕12号（默认取设置 [report] doc_number）")
@click.option("--force", is_flag=True, help="覆盖输出目录中已被修改过的通报和附件（默认另存为“…（2）”）")
@click.option("--allow-incomplete", "allow_incomplete", is_flag=True,
              help="允许为尚未结束的季度（或季度结束前的通报日期）生成通报")
@click.pass_context
def report(ctx: click.Context, quarter: str, out: Path, as_of: str | None, doc_number: str | None,
           force: bool, allow_incomplete: bool) -> None:
    """生成季度通报（.docx）及附件（.xlsx、附件4 登记表）和 report-季度.json。

    输出目录中已被修改过的文件不会被覆盖：新文件另存为“通报-2020Q3（2）.docx”，--force 时覆盖。"""
    app = _app(ctx)
    day = _as_of(as_of, app) if as_of else None
    with _AppErrors():
        written = app.quarter_report(quarter, out, day, force=force, allow_incomplete=allow_incomplete,
                                     doc_number=doc_number, progress=ProgressBar())
    for changed, instead in written.kept:
        click.echo(f"提醒：{changed} 已被修改过，未覆盖；新文件写入 {instead.name}（覆盖请加 --force）", err=True)
    for line in written.warnings:
        click.echo(f"提醒：{line}", err=True)
    for path in written:
        click.echo(f"已写入 {path}")


@main.group()
def accounts() -> None:
    """政务新媒体登记表（福州市政务新媒体详细汇总表）的导入与导出。"""


@accounts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--write", is_flag=True, help="把新单位和新账号追加到设置文件（先备份为 .bak）；默认只输出将追加的内容")
@click.option("--add-units", is_flag=True, help="把设置中没有的单位作为新单位一并导入（默认报错，并提示相近的单位）")
@click.option("--skip-unsupported", is_flag=True, help="跳过暂不支持监测的平台（抖音、今日头条等）上的账号")
@click.option("--update", is_flag=True, help="已在设置中的账号按登记表更新运营主体、联系人等（与 --write 一起写入）")
@click.pass_context
def accounts_import(ctx: click.Context, file: Path, write: bool, add_units: bool, skip_unsupported: bool,
                    update: bool) -> None:
    """检查登记表 FILE.xlsx 并导入其中的账号。有错误时（如单位不在设置中、平台暂不支持）退出码为 1，且不写入。"""
    app = _app(ctx)
    with _AppErrors():
        found = app.import_accounts(file, add_units=add_units, skip_unsupported=skip_unsupported, update=update)
    _report_problems(found.problems, "登记表", lambda errors, warnings: (
        f"登记表 {file.name}：可监测账号 {found.rows} 个，其中新账号 {len(found.fresh)} 个、"
        f"已在设置中 {found.known} 个，"
        f"新单位 {found.new_units} 个；错误 {errors} 个，提醒 {warnings} 个。"))
    if found.updates and (write or not found.fresh):
        count = f"新增单位 {found.new_units} 个、账号 {len(found.fresh)} 个，更新账号 {len(found.updates)} 个"
        if not write:
            click.echo(f"将更新已有账号 {len(found.updates)} 个的登记信息；加 --write 写入", err=True)
            return
        with _AppErrors():
            app.append_settings(found.toml if found.fresh else "", found.updates)
        click.echo(f"已写入 {app.settings.path}：{count}（原文件备份为 {app.settings.path}.bak）。", err=True)
        return
    if not found.fresh:
        click.echo("没有需要新增的账号。", err=True)
        return
    _emit_blocks(app, found.toml, f"新增单位 {found.new_units} 个、账号 {len(found.fresh)} 个", write)
    if found.updates:
        click.echo(f"另将更新已有账号 {len(found.updates)} 个的登记信息；加 --write 写入", err=True)


def _report_problems(problems: Sequence[Problem], what: str, summary: Callable[[int, int], str]) -> None:
    """Print each problem and the summary line (given the error and warning counts); exit 1 on any error."""
    errors = sum(p.level == "error" for p in problems)
    for p in problems:
        click.echo(f"[{'错误' if p.level == 'error' else '提醒'}] {p.message}", err=True)
    click.echo(summary(errors, len(problems) - errors), err=True)
    if errors:
        click.echo(f"{what}有错误，未写入设置。请改正后重新导入。", err=True)
        sys.exit(1)


@accounts.command("export")
@click.argument("file", type=click.Path(path_type=Path), callback=_out_file)
@click.option("--as-of", "as_of", default=None, help="状态日期和填表日期 YYYY-MM-DD（默认今天）")
@click.pass_context
def accounts_export(ctx: click.Context, file: Path, as_of: str | None) -> None:
    """按设置文件导出登记表 FILE.xlsx（附最近更新和监测状态）。"""
    app = _app(ctx)
    day = _as_of(as_of, app)
    with _AppErrors():
        done = app.export_accounts(file, day)
    if not done.with_status:
        click.echo("数据库尚未创建（monitor init），导出的登记表不含最近更新和监测状态。", err=True)
    click.echo(f"已写入 {file}：{done.accounts} 个政务新媒体账号。")


def _emit_blocks(app: Monitor, text: str, count: str, write: bool, out: Path | None = None) -> None:
    """Print the proposed blocks, or write them to `out`, or append them to settings (`--write`, with .bak)."""
    if out is not None:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"无法写入 {out}：{exc.strerror or exc}") from None
        click.echo(f"已写入 {out}：{count}。", err=True)
    settings = app.settings
    if write:
        with _AppErrors():
            app.append_settings(text)
        click.echo(f"已写入 {settings.path}：{count}（原文件备份为 {settings.path}.bak）。", err=True)
    elif out is None:
        click.echo(text, nl=False)
        click.echo(f"（以上为将追加到 {settings.path} 的内容；加 --write 写入）", err=True)


@main.command()
@click.argument("url")
@click.option("--unit", default=None, help="网站属于该单位（如单位自己的子站）：所有栏目记入该单位")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, callback=_out_file,
              help="把建议的 [[columns]] 写入该文件（默认输出到屏幕）")
@click.option("--write", is_flag=True, help="把建议的栏目追加到设置文件（先备份为 .bak）")
@click.option("--max-pages", type=click.IntRange(1), default=500, show_default=True, help="最多读取的页面数")
@click.option("--concurrency", type=click.IntRange(1, 8), default=None,
              help="同时请求数（默认取 [crawl] concurrent_per_domain，最多 4）")
@click.option("--delay", type=click.FloatRange(0), default=None,
              help="每个请求后等待的秒数（默认 [crawl] download_delay）")
@click.pass_context
def discover(ctx: click.Context, url: str, unit: str | None, out: Path | None, write: bool, max_pages: int,
             concurrency: int | None, delay: float | None) -> None:
    """从网站首页和导航发现列表栏目，输出建议的 [[columns]]（已在设置中的栏目跳过）。"""
    app = _app(ctx)
    with _AppErrors():
        result = app.discover(url, unit=unit, max_pages=max_pages, concurrency=concurrency, delay=delay,
                              progress=_echo_err)
    read = sum(1 for p in result.pages.values() if p.facts is not None)
    click.echo(f"栏目发现：读取 {read} 页（请求 {result.requests} 次，{result.seconds:.1f} 秒），发现列表栏目 "
               f"{len(result.proposals) + len(result.skipped)} 个，其中新栏目 {len(result.proposals)} 个、"
               f"已在设置中 {len(result.skipped)} 个。" + ("已达页数上限，可能还有未读到的栏目（--max-pages）。"
                                                      if result.truncated else ""), err=True)
    if not result.proposals:
        click.echo("没有需要新增的栏目。", err=True)
        return
    _emit_blocks(app, result.toml(app.settings), f"新栏目 {len(result.proposals)} 个", write, out)


@main.group()
def columns() -> None:
    """栏目维护分工表的导入。"""


@columns.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--write", is_flag=True, help="把新栏目追加到设置文件（先备份为 .bak）；默认只输出将追加的内容")
@click.pass_context
def columns_import(ctx: click.Context, file: Path, write: bool) -> None:
    """检查栏目维护分工表 FILE.xlsx 并导入其中的栏目。有错误时退出码为 1，且不写入。"""
    app = _app(ctx)
    with _AppErrors():
        found = app.import_columns(file)
    _report_problems(found.problems, "分工表", lambda errors, warnings: (
        f"分工表 {file.name}：新栏目 {found.rows} 个；错误 {errors} 个，提醒 {warnings} 个。"))
    if not found.rows:
        click.echo("没有需要新增的栏目。", err=True)
        return
    _emit_blocks(app, found.toml, f"新栏目 {found.rows} 个", write)


@main.command()
@click.option("--as-of", "as_of", default=None, help="评估日期 YYYY-MM-DD（默认今天）")
@click.option("--dry-run", is_flag=True, help="只显示将要发送的邮件，不写入发件箱、不发送")
@click.option("--send", is_flag=True, help="生成邮件、写入发件箱并立即发送（含此前未发出的邮件）")
@click.option("--interrupted", type=click.Choice(["resend", "sent"]), default=None,
              help="人工确认发送中断的邮件后：resend 重新发送，sent 视为已发送（与 --send 一起用）")
@click.pass_context
def alerts(ctx: click.Context, as_of: str | None, dry_run: bool, send: bool, interrupted: str | None) -> None:
    """按日期评估各单位，向单位发送新出现或加重的问题提醒（抄送中心），并向中心发送汇总。

    必须指定 --dry-run 或 --send 之一。全部发出（或没有要发的）时退出码为 0，有发送失败时为 1。
    """
    if dry_run == send:
        raise UserError("请指定 --dry-run（只显示）或 --send（发送）之一")
    if interrupted and not send:
        raise UserError("--interrupted 只能与 --send 一起使用")
    app = _app(ctx)
    day = _as_of(as_of, app)
    if dry_run:
        with _AppErrors():
            click.echo(format_alert_plan(app.plan_alerts(day)))
        return
    with _AppErrors():
        done = app.send_alerts(day, interrupted)
    if done.settled is not None:
        settled_as = "重新发送" if interrupted == "resend" else "视为已发送"
        click.echo(f"已处理发送中断的邮件 {done.settled} 封：{settled_as}。")
    plan, written, report = done.plan, done.written, done.delivery
    click.echo(f"截至 {day.isoformat()}：新写入发件箱 {len(written.written)} 封"
               + (f"（{len(written.already)} 封此前已写入）" if written.already else "") + "。")
    for unit in plan.no_recipient:
        click.echo(f"  未发送：{unit} 未登记邮箱，[alerts] centre 也为空", err=True)
    reasons = "；".join(dict.fromkeys(reason for _, reason in report.failed))
    click.echo(f"已发送 {len(report.sent)} 封，失败 {len(report.failed)} 封"
               + (f"（{reasons}）" if reasons else "") + "。")
    for row in report.sent:
        click.echo(f"  已发送：{row.subject}")
    for row, reason in report.failed:
        click.echo(f"  失败：{row.subject}：{reason}（下次运行时重试）")
    for row in report.interrupted:
        click.echo(f"  {row.last_error or '发送中断，请人工确认'}（是否已收到），确认后用 --interrupted resend|sent "
                   f"处理：#{row.id} {row.subject}（收件人 {', '.join(row.recipients)}）")
    sys.exit(0 if report.ok else 1)


def format_alert_plan(plan: AlertPlan) -> str:
    lines = []
    for _key, _unit, email in plan.emails():
        lines += [f"收件人：{', '.join(email.to)}"]
        if email.cc:
            lines.append(f"抄送：{', '.join(email.cc)}")
        lines += [f"主题：{email.subject}", "", email.text.rstrip(), "", "-" * 60]
    for unit in plan.no_recipient:
        lines.append(f"未生成：{unit} 未登记邮箱，[alerts] centre 也为空")
    units = len(plan.units)
    if units or plan.summary:
        lines.append(f"截至 {plan.as_of.isoformat()}：将发送 {units} 个单位的提醒"
                     f"{'和 1 封中心汇总' if plan.summary else ''}，共 {len(plan.emails())} 封"
                     "（演练，未写入、未发送）。")
    else:
        lines.append(f"截至 {plan.as_of.isoformat()}：没有需要发送的提醒（演练，未写入、未发送）。")
    return "\n".join(lines)


@main.command(cls=click.Command, options_metavar=click_zh.OPTIONS_METAVAR)  # the demo writes its own settings
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("demo-out"), callback=_out_dir,
              help="输出目录（默认 ./demo-out）")
@click.option("--port", type=int, default=8700, help="本地示例门户端口（被占用时自动换一个）")
def demo(out: Path, port: int) -> None:
    """演示：启动本地示例门户（仓山区 2020 年第三季度），抓取、评估并生成通报。"""
    from monitors.demo import run_demo

    run_demo(out, port)


JOB_RESULT_LABELS = {"ok": "成功", "failed": "失败", "running": "运行中", "interrupted": "中断", "skipped": "跳过"}


@main.command()
@click.option("--once", "once", metavar="JOB", default=None,
              help="立即运行一次该任务后退出：crawl、accounts、probes、alerts、monthly、quarterly")
@click.pass_context
def daemon(ctx: click.Context, once: str | None) -> None:
    """在前台运行定时任务（抓取、政务新媒体、可用性监测、预警邮件、月度汇总、季度通报）。

    计划见设置文件的 [schedule] 表；日志逐行输出到标准错误。SIGTERM 或 Ctrl-C 在写完手头数据后退出。
    同一数据库已有守护进程（或该任务正在运行）时拒绝启动，退出码 3。
    """
    import scheduler

    _settings(ctx)  # a settings error is one line and exit 2, before anything starts
    if once is not None and once not in scheduler.JOBS:
        raise UserError(f"没有任务“{once}”。可用的任务：{'、'.join(scheduler.JOBS)}")
    path = str(Path(ctx.obj["config"]).resolve())
    sys.exit(scheduler.run_once(path, once) if once else scheduler.run_daemon(path))


@main.command()
@click.option("--host", default=None,
              help="监听地址（默认取设置 [serve] host，即 127.0.0.1）；其他地址须先配置中心的登录口令")
@click.option("--port", type=int, default=None, help="端口（默认取设置 [serve] port，即 8080）")
@click.option("--hash-password", is_flag=True, help="读入一个口令，打印可写入 [serve] password_hash 的散列值后退出")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, hash_password: bool) -> None:
    """运行监测看板（网页和 /api/ 接口，OpenAPI 说明在 /openapi.json）。

    默认只在本机 127.0.0.1 上提供；要在其他地址上提供，须先设置环境变量 MONITOR_SERVE_PASSWORD
    （或 [serve] password_hash），否则拒绝启动，退出码 2。各单位通过本单位的专用链接查看和反馈整改情况。
    """
    from monitors.web.security import hash_password as make_hash
    from monitors.web.security import login_configured

    if hash_password:
        password = click.prompt("口令", hide_input=True, confirmation_prompt=True)
        click.echo(make_hash(password))
        return
    settings = _settings(ctx)
    host = host or settings.serve.host
    port = port or settings.serve.port
    if not loopback_host(host) and not login_configured(settings):
        raise UserError(f"拒绝在 {host} 上提供看板：未配置区大数据服务中心的登录口令。请设置环境变量 "
                        "MONITOR_SERVE_PASSWORD（或在设置文件 [serve] password_hash 中写入 monitor serve "
                        "--hash-password 生成的散列值），或只在 127.0.0.1 上提供")
    import uvicorn

    from monitors.web.app import create_app

    app = create_app(settings)
    click.echo(f"监测看板：http://{host if ':' not in host else f'[{host}]'}:{port}/（Ctrl-C 退出）", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


def loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: the only addresses served without the centre's login."""
    import ipaddress

    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """显示定时任务（计划、上次运行的时间和结果、下次运行时间）、守护进程是否在运行，以及最近一次抓取、
    数据更新时间、读取有问题的栏目和无法读取的政务新媒体账号。"""
    from zoneinfo import ZoneInfo

    import scheduler
    from monitors.textable import table

    settings = _settings(ctx)
    tz = ZoneInfo(settings.monitor.timezone)

    def when(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if value else "—"

    try:
        holder = scheduler.daemon_running(settings.monitor.database_url)
        click.echo(f"守护进程：{'运行中（' + holder + '）' if holder else '未运行'}")
    except OSError as exc:  # the lock file cannot be created beside a read-only database
        click.echo(f"守护进程：未知（无法打开锁文件：{exc.strerror or exc}）")
    from crawler.readers.browser import describe_browser

    click.echo(f"浏览器：{describe_browser(settings.crawl.chromium_path)}")
    now = datetime.now(tz)
    rows = []
    for job in scheduler.job_status(settings):
        last = job.last
        took = (f"{(last.finished_at - last.started_at).total_seconds():.0f} 秒"
                if last and last.finished_at else "—")
        trigger = scheduler.make_trigger(job.schedule, settings.monitor.timezone)
        upcoming = job.next_run or (trigger.get_next_fire_time(None, now) if trigger else None)
        rows.append([f"{JOB_LABELS.get(job.job, job.job)}（{job.job}）", schedule_words(job.schedule),
                     when(last.started_at if last else None),
                     JOB_RESULT_LABELS.get(last.status, last.status) if last else "从未运行", took,
                     f"{when(upcoming)}（{until(upcoming, now)}）" if upcoming else "不运行",
                     (last.message or "")[:60] if last else ""])
    click.echo(table(["任务", "计划", "上次运行", "结果", "用时", "下次运行", "说明"], rows))
    click.echo("")
    try:
        data = Monitor(settings).data_status()
    except NotReady as exc:
        click.echo(f"数据：{exc}")
        return
    run = data.last_crawl
    if run is None:
        click.echo("最近一次抓取：从未抓取")
    else:
        end = f"，{when(run.finished_at)} 结束" if run.finished_at else ""
        click.echo(f"最近一次抓取：{when(run.started_at)} 开始{end}（{'完整' if run.full else '增量'}，"
                   f"{CRAWL_RUN_LABELS.get(run.status, run.status)}）")
    for line in freshness_lines(data.freshness, settings.monitor.timezone):
        click.echo(line)
    for title, problems in (("读取有问题的栏目", data.columns), ("无法读取的政务新媒体账号", data.accounts)):
        if not problems:
            click.echo(f"{title}：无")
            continue
        click.echo(f"{title}（{len(problems)} 个）：")
        shown = problems[:STATUS_ROWS]
        click.echo(table(["单位", "名称", "情况", "原因"], [[p.unit, p.name, p.state, p.reason[:60]] for p in shown]))
        if len(problems) > len(shown):
            click.echo(f"  ……另有 {len(problems) - len(shown)} 个（monitor check --unit 单位 查看各单位详情）")


JOB_LABELS = {"crawl": "抓取门户栏目", "accounts": "读取政务新媒体", "probes": "可用性监测", "alerts": "预警邮件",
              "monthly": "月度汇总", "quarterly": "季度通报"}
CRAWL_RUN_LABELS = {"done": "已完成", "failed": "失败", "running": "运行中", "interrupted": "中断"}
STATUS_ROWS = 30  # columns or accounts listed by `status` before "……另有 N 个"
WEEKDAYS = {"0": "日", "1": "一", "2": "二", "3": "三", "4": "四", "5": "五", "6": "六", "7": "日", "sun": "日",
            "mon": "一", "tue": "二", "wed": "三", "thu": "四", "fri": "五", "sat": "六"}


def schedule_words(text: str) -> str:
    """A [schedule] value in words: 每天 02:00, 每 4 小时, 每月 1 日 09:00, 每年 1、4、7、10 月 10 日 09:00,
    每周一 08:30, 停用; a cron line outside these forms as it is (cron “…”)."""
    from config.loader import parse_schedule

    kind, value = parse_schedule(text)
    if kind == "off":
        return "停用"
    if kind == "every":
        for size, unit in ((86400, "天"), (3600, "小时"), (60, "分钟"), (1, "秒")):
            if value >= size and value % size == 0:
                return f"每 {value // size:g} {unit}"
        return f"每 {value:g} 秒"
    minute, hour, dom, month, dow = value.split()
    numbers = re.compile(r"\d+(,\d+)*")
    if not minute.isdigit():
        return f"cron “{value}”"
    if hour.startswith("*/") and hour[2:].isdigit() and (dom, month, dow) == ("*", "*", "*"):
        return f"每 {int(hour[2:])} 小时" + ("（整点）" if minute == "0" else f"（第 {int(minute)} 分）")
    if hour == "*" and (dom, month, dow) == ("*", "*", "*"):
        return f"每小时第 {int(minute)} 分"
    if not numbers.fullmatch(hour):
        return f"cron “{value}”"
    at = "、".join(f"{int(h):02d}:{int(minute):02d}" for h in hour.split(","))
    if (dom, month, dow) == ("*", "*", "*"):
        return f"每天 {at}"
    if dom == "*" and month == "*" and all(d.lower() in WEEKDAYS for d in dow.split(",")):
        return "每周" + "、".join(WEEKDAYS[d.lower()] for d in dow.split(",")) + f" {at}"
    if numbers.fullmatch(dom) and dow == "*":
        days = "、".join(str(int(d)) for d in dom.split(","))
        if month == "*":
            return f"每月 {days} 日 {at}"
        if numbers.fullmatch(month):
            return f"每年 {'、'.join(str(int(m)) for m in month.split(','))} 月 {days} 日 {at}"
    return f"cron “{value}”"


def until(when: datetime, now: datetime) -> str:
    """How long until `when`, in words: 约 25 分钟后, 约 11 小时后, 约 3 天后 (已到时间 when it is past)."""
    seconds = (when - now).total_seconds()
    if seconds < 60:
        return "即将运行" if seconds >= 0 else "已到时间"
    for size, unit in ((86400, "天"), (3600, "小时"), (60, "分钟")):
        if seconds >= size:
            return f"约 {round(seconds / size)} {unit}后"
    return "即将运行"


if __name__ == "__main__":
    main()
