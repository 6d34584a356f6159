"""`monitor demo`: the main job end to end on the embedded defaults.

Starts the fixture portal (仓山区, Q3 2020), its new-media accounts and its 政务公开 sub-site on the provincial
platform (fixtures.fjplatform) on loopback, writes DIR/settings.toml (usable afterwards with
`--config`), creates a SQLite database in DIR, crawls with progress output, evaluates as of 2020-10-10 and
writes the quarterly notice into DIR.
"""
from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TextIO

from config import load_settings
from monitors.app import Monitor

DEMO_QUARTER = "2020Q3"
DEMO_AS_OF = date(2020, 10, 10)
# The fixture server is ours and on loopback: no need to be polite to it.
DEMO_CRAWL = """
[crawl]
download_delay = 0.0
autothrottle = false
concurrent_requests = 32
concurrent_per_domain = 16
timeout = 10.0
retries = 1
"""


def free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
            return port


def run_demo(out: Path, port: int, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
    """The demo; `monitor demo` is its shell and owns the streams (default the process's)."""
    from crawler.run import problem_lines
    from fixtures.accounts import ACCOUNTS_NOW, accounts_settings_toml
    from fixtures.fjplatform import settings_toml as platform_settings_toml
    from fixtures.portal import portal_units, write_settings
    from fixtures.portal.planted import content_toml
    from fixtures.server import FixtureServer

    def say(line: str) -> None:
        print(line, file=stderr or sys.stderr, flush=True)

    def show(line: str) -> None:
        print(line, file=stdout or sys.stdout)

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    db = out / "monitor.db"
    for stale in (db, out / "monitor.db-wal", out / "monitor.db-shm"):
        stale.unlink(missing_ok=True)  # a demo always starts from an empty database
    started = time.monotonic()
    with FixtureServer(site="portal", port=free_port(port)) as server, \
            FixtureServer(site="accounts", port=free_port(port + 1 if port else 0)) as media, \
            FixtureServer(site="fjplatform", port=free_port(port + 2 if port else 0)) as platform:
        say(f"示例门户已启动：{server.base_url}/；示例政务新媒体：{media.base_url}/；"
            f"示例政务公开子站（省级集约化平台）：{platform.base_url}/")
        settings_path = out / "settings.toml"
        write_settings(settings_path, server.base_url, f"sqlite:///{db}")
        with settings_path.open("a", encoding="utf-8") as f:
            f.write(DEMO_CRAWL)
            f.write(accounts_settings_toml(media.base_url, {u.name for u in portal_units()}))
            f.write("\n" + platform_settings_toml(platform.base_url))
            # content checks on: the portal's planted problems; only its own links are requested (no internet)
            f.write("\n" + content_toml())
            # the dashboard's reports page lists the notices in the demo's directory, where the demo writes them
            f.write('\n[schedule]\nout = "."\n')
        settings = load_settings(settings_path)
        say(f"设置文件：{settings_path}（{len(settings.units)} 个单位，{len(settings.columns)} 个栏目，"
            f"{len(settings.accounts)} 个政务新媒体账号）")
        app = Monitor(settings)
        # The account pages were captured at ACCOUNTS_NOW: relative times (“5分钟前”) count from then.
        summary = app.crawl(full=True, progress=say, now=ACCOUNTS_NOW).columns
    say(f"抓取完成：{summary.columns} 个栏目，新增信息 {summary.new_posts} 条，"
        f"未读全 {len(summary.partial)} 个，失败 {len(summary.failed)} 个，"
        f"用时 {time.monotonic() - started:.1f} 秒。")
    for line in problem_lines(summary):
        say(line)
    from monitors import remediation

    remediation.sync(app, DEMO_AS_OF)  # the dashboard's 整改 states, as the daemon's alerts job keeps them
    paths = app.quarter_report(DEMO_QUARTER, out, DEMO_AS_OF)
    print_summary(out / f"report-{DEMO_QUARTER}.json", paths, show)
    print_content_summary(out / f"report-{DEMO_QUARTER}.json", show)
    for line in paths.warnings:  # as `monitor report` says them: what the office still has to fill in
        show(f"提醒：{line}")
    show(f"\n之后可用：monitor --config {settings_path} check --unit 审计局 --as-of 2020-10-10 --no-crawl")
    show(f"查看将发送的提醒邮件：monitor --config {settings_path} alerts --as-of 2020-10-10 --dry-run")
    show(f"打开监测看板：monitor --config {settings_path} serve，然后在浏览器中访问 "
         f"http://127.0.0.1:{settings.serve.port}/?as_of=2020-10-10")
    (stdout or sys.stdout).flush()


def print_content_summary(report_json: Path, show: Callable[[str], None]) -> None:
    """The content checks' problems of the quarter by kind (the report's 内容问题清单 lists each)."""
    from monitors.content_rules import CONTENT_LABELS

    issues = json.loads(report_json.read_text(encoding="utf-8")).get("content_issues")
    if issues is None:
        return
    counts: dict[str, int] = {}
    for issue in issues:
        counts[issue["rule"]] = counts.get(issue["rule"], 0) + 1
    units = {i["unit"] for i in issues if i["unit"]}
    show(f"内容检查发现问题 {len(issues)} 处，涉及 {len(units)} 个单位：" + "，".join(
        f"{CONTENT_LABELS.get(rule, rule)} {n} 处" for rule, n in sorted(counts.items())))


def print_summary(report_json: Path, paths: list[Path], show: Callable[[str], None]) -> None:
    data = json.loads(report_json.read_text(encoding="utf-8"))
    short = [u for u in data["units"] if u["status"] != "完成"]
    show(f"\n{data['quarter']} 门户网站共发布信息 {data['total_posts']} 条；"
         f"{len(data['units'])} 个单位中 {len(short)} 个有月份未达标：")
    for u in short:
        show(f"  {u['unit']}：{u['status']}")
    for path in paths:
        show(f"已写入 {path}")
