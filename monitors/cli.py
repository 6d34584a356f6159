"""The `monitor` command: thin shells over library functions (DESIGN.md "CLI").

Exit codes: 0 no finding / success, 1 findings, 2 usage or settings error. Expected errors print one clear
line in Chinese, never a traceback.
"""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from config import Settings, SettingsError, default_settings_path, load_settings

SEVERITY_LABELS = {"veto": "单项否决", "fail": "不合格", "warn": "提醒"}
CATEGORY_LABELS = {"dynamic": "动态", "notice": "通知公告", "plan": "人事规划", "disclosure": "信息公开", "other": "其他"}


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:  # noqa: ANN001
        click.echo(f"错误：{self.format_message()}", err=True)


def _settings(ctx: click.Context) -> Settings:
    path = ctx.obj["config"]
    try:
        return load_settings(path)
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"日期格式应为 YYYY-MM-DD，而不是 {value!r}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    from storage import queries
    from storage.db import get_sessionmaker, migrate

    settings = _settings(ctx)
    migrate(settings.monitor.database_url)
    with get_sessionmaker(settings.monitor.database_url).begin() as session:
        queries.sync_settings(session, settings)
    click.echo(f"数据库已就绪：{len(settings.units)} 个单位，{len(settings.columns)} 个栏目，"
               f"{len(settings.accounts)} 个政务新媒体账号。")


@main.command()
@click.option("--unit", "units", multiple=True, help="只抓取该单位的栏目（可重复）")
@click.option("--full", is_flag=True, help="完整抓取所有分页（默认增量：遇到已存储的信息即停止翻页）")
@click.pass_context
def crawl(ctx: click.Context, units: tuple[str, ...], full: bool) -> None:
    """抓取门户网站各栏目（默认增量）。"""
    settings = _settings(ctx)
    _known_units(settings, units)
    summary = _crawl(settings, units, full)
    sys.exit(1 if summary.failed else 0)


def _known_units(settings: Settings, units: tuple[str, ...] | list[str]) -> None:
    for unit in units:
        if settings.unit(unit) is None:
            known = "、".join(u.name for u in settings.units)
            raise UserError(f"设置中没有单位“{unit}”。已设置的单位：{known}")


def _crawl(settings: Settings, units: tuple[str, ...] | list[str], full: bool):  # noqa: ANN202
    from crawler.run import crawl_in_process

    click.echo(f"开始抓取{'（完整）' if full else '（增量）'}……", err=True)
    summary = crawl_in_process(settings, list(units) or None, full=full)
    click.echo(f"抓取完成：{summary.columns} 个栏目，{summary.ok} 个成功，{len(summary.failed)} 个失败，"
               f"新增信息 {summary.new_posts} 条，请求 {summary.requests} 次。", err=True)
    for unit, column, reason in summary.failed:
        click.echo(f"  失败：{unit} · {column}：{reason}", err=True)
    _read_accounts(settings, units)
    return summary


def _read_accounts(settings: Settings, units: tuple[str, ...] | list[str], now=None) -> None:  # noqa: ANN001
    from crawler.accounts import read_and_store_accounts

    result = read_and_store_accounts(settings, list(units) or None, now=now)
    if result.accounts:
        click.echo(f"政务新媒体：{result.accounts} 个账号，{result.readable} 个读取成功，"
                   f"{len(result.unreadable)} 个无法读取，新增 {result.new_posts} 条。", err=True)


@main.command()
@click.option("--unit", required=True, help="单位名称，如 审计局")
@click.option("--as-of", "as_of", default=None, help="评估日期 YYYY-MM-DD（默认今天）")
@click.option("--no-crawl", is_flag=True, help="不抓取，只用已存储的数据评估")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="输出格式")
@click.pass_context
def check(ctx: click.Context, unit: str, as_of: str | None, no_crawl: bool, fmt: str) -> None:
    """检查一个单位：抓取其栏目（除非 --no-crawl），按日期评估并输出结果。有问题时退出码为 1。"""
    from monitors.evaluate import evaluate_unit
    from storage.db import get_sessionmaker, migrate, schema_ready

    settings = _settings(ctx)
    day = _as_of(as_of)
    _known_units(settings, [unit])
    if not no_crawl:
        _crawl(settings, [unit], full=False)
    url = settings.monitor.database_url
    if not schema_ready(url):
        migrate(url)
    with get_sessionmaker(url)() as session:
        try:
            result = evaluate_unit(session, settings, unit, day)
        except LookupError:
            raise UserError(f"数据库中没有单位“{unit}”，请先运行 monitor init 或 monitor crawl") from None
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_check_text(result))
    sys.exit(1 if result.findings else 0)


def format_check_text(result) -> str:  # noqa: ANN001
    from monitors.rules import month_label
    from monitors.textable import table

    data = result.to_json()
    lines = [f"{result.unit} 检查结果（截至 {result.as_of.isoformat()}）", ""]
    lines.append("各月发布信息数：")
    lines.append(table(["月份", "条数", "情况"],
                       [[month_label(m.month), str(m.posts),
                         ("未满月" if not m.complete else "达标" if not any(
                             f.rule == "quota.monthly" and f.target == m.month for f in result.findings) else "未达标")]
                        for m in result.facts.months]))
    lines += ["", "栏目："]
    lines.append(table(["栏目", "类别", "信息数", "最近更新"],
                       [[c["name"], CATEGORY_LABELS.get(c["category"], c["category"]), str(c["posts"]),
                         c["last_post"] or "无"] for c in data["columns"]]))
    lines.append("")
    if result.findings:
        lines.append(f"发现 {len(result.findings)} 个问题：")
        for i, f in enumerate(result.findings, 1):
            lines.append(f"  {i}. [{SEVERITY_LABELS.get(f.severity, f.severity)}] {f.detail}")
    else:
        lines.append("未发现问题。")
    return "\n".join(lines)


@main.command()
@click.option("--quarter", required=True, help="季度，如 2020Q3")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              help="输出目录（默认当前目录）")
@click.option("--as-of", "as_of", default=None, help="通报日期 YYYY-MM-DD（默认季度结束后第 10 天）")
@click.pass_context
def report(ctx: click.Context, quarter: str, out: Path, as_of: str | None) -> None:
    """生成季度通报（.docx）及附件（.xlsx）和 report-季度.json。"""
    settings = _settings(ctx)
    for path in write_quarter_report(settings, quarter, out, _as_of(as_of) if as_of else None):
        click.echo(f"已写入 {path}")


def write_quarter_report(settings: Settings, quarter: str, out: Path, as_of: date | None) -> list[Path]:
    from monitors.evaluate import build_quarter_report, parse_quarter
    from monitors.report.writers import write_report
    from storage.db import get_sessionmaker, migrate

    try:
        parse_quarter(quarter)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    migrate(settings.monitor.database_url)
    with get_sessionmaker(settings.monitor.database_url)() as session:
        model = build_quarter_report(session, settings, quarter, as_of)
    out.mkdir(parents=True, exist_ok=True)
    return write_report(model, out)


@main.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              help="输出目录（默认 ./demo-out）")
@click.option("--port", type=int, default=8700, help="本地示例门户端口（被占用时自动换一个）")
def demo(out: Path, port: int) -> None:
    """演示：启动本地示例门户（仓山区 2020 年第三季度），抓取、评估并生成通报。"""
    from monitors.demo import run_demo

    run_demo(out, port)


if __name__ == "__main__":
    main()
