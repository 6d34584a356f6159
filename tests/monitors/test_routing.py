"""Findings routed to who can act: a site's outage to the centre once (not to every unit), a column failing alone
to its unit, an account that cannot be read to the centre's summary (why, since when) and to its unit as a
request to check the address or access; the notice says 暂未能自动核验, never the crawler's error."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from config import load_settings
from config.model import RuleSettings
from fixtures.portal import portal_columns
from monitors.alerts import plan_alerts
from monitors.rules import site_crawl_failed
from storage import queries
from storage.db import get_sessionmaker, migrate
from storage.models import Account, Unit
from storage.queries import AccountPostRow, ColumnFact
from tests.helpers import DemoRun, write_test_settings

CENTRE = "dsjzx@cangshan.example.gov.cn"
AS_OF = date(2020, 10, 10)
SITE = ("门户网站", "http://portal.example/")
RULES = RuleSettings()


def fact(path: str, error: str | None = None, run: int = 1, site: str = SITE[1]) -> ColumnFact:
    return ColumnFact(unit="某单位", name=path, url=site + path, category="dynamic", quota=True, posts=1,
                      last_post=None, ever_fetched=True, last_error=error, fetch_run=run)


# --- the circuit breaker (pure) ------------------------------------------------------------------------

def test_most_columns_failing_in_one_crawl_is_one_site_finding_for_the_centre() -> None:
    columns = [fact("a/", "连接超时，服务器未在限定时间内响应"), fact("b/", "HTTP 502 错误"),
               fact("c/", "连接超时，服务器未在限定时间内响应"), fact("d/")]
    findings, covered = site_crawl_failed(columns, [SITE], RULES)
    assert [(f.rule, f.target, f.unit) for f in findings] == [("site.crawl_failed", SITE[1], "")]
    assert "3/4 个栏目无法访问" in findings[0].detail and "门户网站" in findings[0].detail
    assert covered == {SITE[1] + p for p in ("a/", "b/", "c/")}
    # the share is a setting: above 0.8 the same crawl is three columns' own failures
    assert site_crawl_failed(columns, [SITE], replace(RULES, site_failure_share=0.8)) == ([], set())


def test_a_column_failing_alone_stays_its_units_unless_the_host_cannot_be_reached() -> None:
    alone = [fact("a/", "HTTP 500 错误"), fact("b/"), fact("c/"), fact("d/")]
    assert site_crawl_failed(alone, [SITE], RULES) == ([], set())
    refused = [fact("a/", "无法连接服务器（连接被拒绝）"), fact("b/"), fact("c/")]
    findings, covered = site_crawl_failed(refused, [SITE], RULES)
    assert len(findings) == 1 and covered == {SITE[1] + "a/"}
    # columns whose newest read came from another crawl are judged with that crawl, not this one
    other_run = [fact("a/", "HTTP 500 错误", run=2), fact("b/", "HTTP 500 错误", run=2),
                 fact("c/", run=1), fact("d/", run=1), fact("e/", run=1)]
    findings, covered = site_crawl_failed(other_run, [SITE], RULES)
    assert len(covered) == 2 and "2/2 个栏目" in findings[0].detail


# --- since when an account could not be read -----------------------------------------------------------

def test_an_account_is_unreadable_since_its_first_failed_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    sessions = get_sessionmaker(url)
    with sessions.begin() as s:
        unit = Unit(name="营商办", kind="department", emails="")
        s.add(unit)
        s.flush()
        s.add(Account(unit_id=unit.id, platform="wechat", name="仓山营商", url="https://mp.example/a"))
    def read(posts: list[AccountPostRow] | None, reason: str | None = None) -> datetime | None:
        with sessions.begin() as s:
            account = s.scalar(select(Account))
            queries.store_account_read(s, account.id, posts, reason)
            s.flush()
            return account.unreadable_since
    first = read(None, "平台限制访问（搜狗反爬验证）")
    assert first is not None
    assert read(None, "需要登录") == first  # still failing: since the first failure
    post = AccountPostRow("1", datetime(2020, 10, 1, tzinfo=timezone.utc), "标题", None)
    assert read([post]) is None
    with sessions() as s:
        [f] = queries.account_facts(s, datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert f.read_status == "ok" and f.unreadable_since is None


# --- end to end ----------------------------------------------------------------------------------------

def monitor(config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitors.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=config.parent)


@pytest.fixture
def stopped_demo(demo_run: DemoRun, tmp_path: Path) -> Iterator[Path]:
    """A copy of the demo whose servers are stopped: each of their ports is held by a socket that does not
    listen, so every connection to them is refused (and no other program can take the port meanwhile)."""
    for name in ("monitor.db", "monitor.db-wal", "monitor.db-shm"):
        if (demo_run.out / name).exists():
            shutil.copy(demo_run.out / name, tmp_path / name)
    text = (demo_run.out / "settings.toml").read_text(encoding="utf-8")
    text = text.replace(str(demo_run.out / "monitor.db"), str(tmp_path / "monitor.db"))
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path)
    ports = {int(u.split(":")[2].split("/")[0]) for u in [s.url for s in settings.sites]
             + [a.url for a in settings.accounts] if u.startswith("http://127.0.0.1:")}
    held = []
    for port in sorted(ports):
        sock = socket.socket()
        sock.bind(("127.0.0.1", port))  # bound, never listening: connections are refused
        held.append(sock)
    yield path
    for sock in held:
        sock.close()


@pytest.mark.timeout(900)  # the first test to use the session's demo runs it
def test_portal_down_is_one_email_to_the_centre_once_and_none_to_units(stopped_demo: Path) -> None:
    settings = load_settings(stopped_demo)
    sessions = get_sessionmaker(settings.monitor.database_url)
    # every unit has been told what the demo found (so only what the outage changes is left to say)
    from monitors.alerts import enqueue

    with sessions.begin() as s:
        enqueue(s, plan_alerts(s, settings, AS_OF), AS_OF, settings.monitor.timezone)

    crawl = monitor(stopped_demo, "crawl")
    assert crawl.returncode == 1 and "有 141 个栏目失败" in crawl.stderr, crawl.stderr[-2000:]
    dry = monitor(stopped_demo, "alerts", "--as-of", AS_OF.isoformat(), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("收件人：") == 1 and f"收件人：{CENTRE}\n" in dry.stdout, dry.stdout[:3000]
    assert "将发送 0 个单位的提醒和 1 封中心汇总，共 1 封" in dry.stdout
    assert "网站“仓山区人民政府”" in dry.stdout and "134/134 个栏目无法访问：无法连接服务器（连接被拒绝）" in dry.stdout
    assert "无法访问：无法连接服务器" not in dry.stdout.replace("个栏目无法访问：无法连接服务器", "")
    assert "已整改" not in dry.stdout  # the units' account findings are not "fixed" by an outage

    with sessions() as s:
        plan = plan_alerts(s, settings, AS_OF)
    assert plan.units == () and plan.summary is not None and plan.summary.to == (CENTRE,)
    assert {i.rule for i in plan.centre_items} >= {"site.crawl_failed", "account.read_failed"}, (
        crawl.stderr[-1500:], plan.summary.text[:2000])
    with sessions.begin() as s:
        enqueue(s, plan, AS_OF, settings.monitor.timezone)
    again = monitor(stopped_demo, "alerts", "--as-of", AS_OF.isoformat(), "--dry-run")
    assert "没有需要发送的提醒" in again.stdout and "收件人：" not in again.stdout  # once per outage


@pytest.mark.slow  # crawls the fixture portal
def test_a_column_failing_alone_is_told_to_its_unit(portal, tmp_path: Path) -> None:
    by_path = {c.path: c for c in portal_columns()}
    good = [by_path[p] for p in list(by_path)[:3]]
    broken = replace(good[0], unit="故障单位", name="出错栏目", path="/faults/500/")
    path = write_test_settings(tmp_path / "settings.toml", portal.base_url, [*good, broken],
                               f"sqlite:///{tmp_path / 'm.db'}", extra=f'\n[alerts]\ncentre = ["{CENTRE}"]\n')
    crawl = monitor(path, "crawl")
    assert crawl.returncode == 1 and "有 1 个栏目失败" in crawl.stderr, crawl.stderr[-2000:]
    settings = load_settings(path)
    with get_sessionmaker(settings.monitor.database_url)() as s:
        plan = plan_alerts(s, settings, AS_OF)
    [told] = [u for u in plan.units if u.unit == "故障单位"]
    assert [i.detail for i in told.items if i.rule == "column.unreachable"] == ["栏目“出错栏目”无法访问：HTTP 500 错误"]
    assert "栏目“出错栏目”无法访问：HTTP 500 错误" in told.email.text
    assert not [i for i in plan.centre_items if i.rule == "site.crawl_failed"]
    assert plan.summary is not None and "网站抓取故障" not in plan.summary.text


@pytest.mark.timeout(900)  # the first test to use the session's demo runs it
def test_unreadable_accounts_reach_the_centre_and_their_units(demo_run: DemoRun) -> None:
    settings = load_settings(demo_run.out / "settings.toml")
    with get_sessionmaker(settings.monitor.database_url)() as s:
        plan = plan_alerts(s, settings, AS_OF)
    assert plan.summary is not None
    summary = plan.summary.text
    listed = summary[summary.index("以下政务新媒体账号暂未能自动读取"):].split("\n\n")[0].splitlines()[1:]
    assert len(listed) == 7, summary
    line = next(x for x in listed if "仓山营商" in x)
    assert "营商办 · 微信公众号“仓山营商”：平台限制访问（搜狗反爬验证）（自 20" in line and "已请单位核实" in line
    [unit] = [u for u in plan.units if u.unit == "营商办"]
    [item] = [i for i in unit.items if i.rule == "account.unreadable"]
    assert "微信公众号“仓山营商”暂未能自动核验更新情况" in item.detail and "请核实账号地址" in item.detail
    assert "搜狗" not in unit.email.text and "反爬" not in unit.email.text


@pytest.mark.timeout(900)  # the first test to use the session's demo runs it
def test_the_notice_says_not_verified_never_the_crawler_error(demo_run: DemoRun) -> None:
    sheet = load_workbook(demo_run.out / "附件-2020Q3.xlsx")["附件3"]
    statuses = [row[-1] for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert statuses.count("暂未能自动核验") == 7 and not any("无法读取" in str(s) for s in statuses)
    doc = Document(str(demo_run.out / "通报-2020Q3.docx"))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    assert cells.count("暂未能自动核验") == 7
    text = "\n".join(cells + [p.text for p in doc.paragraphs])
    for crawler_words in ("无法读取", "反爬", "HTTP 418", "需要登录", "订阅源登录失效"):
        assert crawler_words not in text
