"""Alerts pushed through Apprise (钉钉, 企业微信, webhooks) by the outbox: a real webhook on loopback (Apprise's
json:// plugin posting to a small http.server), a real SMTP server for the emails beside them, a migrated
SQLite database. Nothing is sent to the internet: dingtalk:// and wecombot:// URLs are only validated."""
from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import SettingsError, load_settings, parse_settings
from config.model import SmtpSettings
from monitors.alerts import SmtpChannel, plan_alerts
from monitors.alerts.channels import CUT_NOTE, AppriseChannel, NotifyError, channel_key, notify_targets, robot_text
from monitors.alerts.compose import AlertPlan, Email, UnitAlert
from monitors.alerts.outbox import (DeliveryReport, EnqueueReport, NotifyTargets, deliver, enqueue,
                                    settle_interrupted)
from monitors.cli import main
from storage import queries
from storage.db import get_sessionmaker, migrate
from storage.models import OutboxEmail
from storage.queries.outbox import OUTBOX_PUSH_IN_DOUBT
from tests.helpers import DemoRun, free_port

SECRET = "s3cr3tT0ken42"  # the value of HOOK_SECRET: must reach the webhook and nothing else
AUDIT, CENTRE = "sjj@cangshan.example.gov.cn", "dsjzx@cangshan.example.gov.cn"
AS_OF = date(2020, 10, 10)


# --- real servers ---------------------------------------------------------------------------------------

@dataclass
class Webhook:
    """A JSON webhook on loopback: records each POST (path, JSON body); answers `statuses` in turn, then 200."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering (longer than the client's read timeout: no answer)
    received: list[tuple[str, dict]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def delivered(self) -> list[tuple[str, dict]]:
        """The requests answered 200."""
        return [r for r in self.received if r[1].get("_status") == 200]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
            status = hook.statuses.pop(0) if hook.statuses else 200
            body["_status"] = status
            hook.received.append((self.path, body))
            if hook.delay:
                time.sleep(hook.delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    hook.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.server.daemon_threads = True
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"



@pytest.fixture
def smtp() -> Iterator[Controller]:
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    migrate(url)
    return get_sessionmaker(url)


def mail(controller: Controller) -> SmtpChannel:
    return SmtpChannel(SmtpSettings(host="127.0.0.1", port=controller.port, sender="monitor@cangshan.example.gov.cn"))


def plan(text: str = "审计局：\n\n新问题（1 项）\n  1. [不合格] 9月发布7条，差3条\n") -> AlertPlan:
    unit = UnitAlert("审计局", (), 0, Email("【网站监测提醒】审计局：1 项新问题", text, "<p>…</p>", (AUDIT,), (CENTRE,)),
                     "2020-10-10:unit:审计局:abc")
    summary = Email("【网站监测汇总】截至2020-10-10", "汇总：审计局 1 项新问题\n", "<p>…</p>", (CENTRE,))
    return AlertPlan(AS_OF, (unit,), summary, "2020-10-10:summary:def")


def send_run(sessions: sessionmaker[Session], notify: NotifyTargets,
             controller: Controller) -> tuple[EnqueueReport, DeliveryReport]:
    with sessions.begin() as session:
        written = enqueue(session, plan(), AS_OF, "Asia/Shanghai", notify=notify)
    return written, deliver(sessions, mail(controller))


def outbox_text(sessions: sessionmaker[Session]) -> str:
    """Every stored field of every outbox row, as one string."""
    with sessions() as session:
        rows = session.scalars(select(OutboxEmail)).all()
        return "\n".join(f"{r.key}|{r.channel}|{r.recipients}|{r.cc}|{r.subject}|{r.body_text}|{r.body_html}|"
                         f"{r.last_error}" for r in rows)


# --- sending --------------------------------------------------------------------------------------------

def test_webhook_gets_each_alert_once_and_the_secret_stays_in_the_environment(
        sessions: sessionmaker[Session], webhook: Webhook, smtp: Controller, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    caplog.set_level(logging.DEBUG)
    unit_url = webhook.url("robot/{env:HOOK_SECRET}")
    notify: NotifyTargets = {"审计局": [unit_url], None: [webhook.url("centre")]}
    written, report = send_run(sessions, notify, smtp)

    assert len(written.written) == 2 and len(written.pushed) == 2
    assert report.ok and len(report.sent) == 4  # 2 emails, 2 robot messages
    assert len(smtp.handler.messages) == 2
    by_path = {path: body for path, body in webhook.delivered()}
    assert set(by_path) == {f"/robot/{SECRET}", "/centre"}  # the variable was read when sending
    assert by_path[f"/robot/{SECRET}"]["title"] == "【网站监测提醒】审计局：1 项新问题"
    assert "9月发布7条，差3条" in by_path[f"/robot/{SECRET}"]["message"]
    assert "汇总：审计局" in by_path["/centre"]["message"]

    with sessions() as session:
        rows = {r.key: r for r in queries.outbox_rows(session)}
    push = rows[channel_key("2020-10-10:unit:审计局:abc", unit_url)]
    assert push.channel == "apprise" and push.recipients == (unit_url,) and push.status == "sent"
    assert rows["2020-10-10:unit:审计局:abc"].channel == "email"

    # A second run (the same plan again) writes and sends nothing
    written, report = send_run(sessions, notify, smtp)
    assert written.written == [] and written.pushed == [] and report.sent == []
    assert len(webhook.received) == 2 and len(smtp.handler.messages) == 2

    assert SECRET not in outbox_text(sessions)
    assert "{env:HOOK_SECRET}" in outbox_text(sessions)
    assert any("已推送" in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text and all(SECRET not in r.getMessage() for r in caplog.records)
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err


def test_a_refused_push_stays_failed_and_a_later_run_sends_it_once(
        sessions: sessionmaker[Session], webhook: Webhook, smtp: Controller, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    caplog.set_level(logging.DEBUG)
    webhook.statuses = [500]
    notify: NotifyTargets = {"审计局": [webhook.url("robot/{env:HOOK_SECRET}")]}
    _, report = send_run(sessions, notify, smtp)
    [(row, reason)] = report.failed
    assert row.channel == "apprise" and "500" in reason and SECRET not in reason
    assert [r.channel for r in report.sent] == ["email", "email"]
    with sessions() as session:
        [failed] = queries.outbox_rows(session, ["failed"])
    assert failed.attempts == 1 and "500" in (failed.last_error or "")

    report = deliver(sessions, mail(smtp))  # the next run
    assert [r.channel for r in report.sent] == ["apprise"] and report.ok
    assert len(webhook.received) == 2 and len(webhook.delivered()) == 1
    assert deliver(sessions, mail(smtp)).sent == []  # and never again
    assert len(webhook.received) == 2 and len(smtp.handler.messages) == 2
    assert SECRET not in caplog.text and SECRET not in outbox_text(sessions)


def test_a_missing_variable_fails_the_push_naming_it_and_the_next_run_sends(
        sessions: sessionmaker[Session], webhook: Webhook, smtp: Controller, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    notify: NotifyTargets = {None: [webhook.url("centre/{env:HOOK_SECRET}")]}
    _, report = send_run(sessions, notify, smtp)
    [(row, reason)] = report.failed
    assert "环境变量 HOOK_SECRET 未设置" in reason and row.unit is None
    assert webhook.received == []
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    report = deliver(sessions, mail(smtp))
    assert report.ok and [path for path, _ in webhook.delivered()] == [f"/centre/{SECRET}"]


def test_a_push_without_an_answer_is_in_doubt_and_not_resent(
        sessions: sessionmaker[Session], webhook: Webhook, smtp: Controller) -> None:
    webhook.delay = 2.5  # the client gives up after rto=1 second: the request went out, no answer came
    _, report = send_run(sessions, {"审计局": [webhook.url("slow?rto=1")]}, smtp)
    assert [r.channel for r in report.interrupted] == ["apprise"] and not report.failed
    assert report.interrupted[0].last_error == OUTBOX_PUSH_IN_DOUBT
    again = deliver(sessions, mail(smtp))
    assert again.sent == [] and len(again.interrupted) == 1 and len(webhook.received) == 1
    # a person checked the robot group and asks for it again
    assert settle_interrupted(sessions, resend=True) == 1
    webhook.delay = 0
    assert [r.channel for r in deliver(sessions, mail(smtp)).sent] == ["apprise"] and len(webhook.received) == 2


def test_a_bad_value_in_the_environment_is_refused_without_showing_it(caplog: pytest.LogCaptureFixture) -> None:
    """Apprise itself logs an invalid token with its value: masked (and no request is made: nothing to send to)."""
    caplog.set_level(logging.DEBUG)
    secret = "not-a-valid-token!" + SECRET
    with pytest.raises(NotifyError, match=r"通知地址 dingtalk://\{env:DT\}/ 无法使用") as failure:
        AppriseChannel({"DT": secret}).send(Email("标题", "正文", "", ("dingtalk://{env:DT}/",)))
    assert SECRET not in str(failure.value) and SECRET not in caplog.text


# --- what robots get ------------------------------------------------------------------------------------

def test_robot_text_is_cut_to_what_the_robot_takes(sessions: sessionmaker[Session]) -> None:
    title = "【网站监测提醒】盖山镇：40 项新问题（截至2020-10-10）"
    long = "\n".join(f"  {i}. [不合格] 栏目“政府信息公开目录”已 477 天未更新（最近一条 2019-06-21）" for i in range(200))
    short = robot_text("wecombot://{env:WECOM_KEY}", title, long)
    assert short.endswith(CUT_NOTE) and len((title + "\r\n" + short).encode("utf-8")) <= 2048
    assert short.startswith("  0. [不合格]") and "\n  1. [不合格]" in short
    ding = robot_text("dingtalk://{env:DT}/", title, long)
    assert ding.endswith(CUT_NOTE) and len(short) < len(ding) and len(ding.encode("utf-8")) <= 12000
    assert robot_text("json://127.0.0.1/x", title, "一行\n") == "一行"  # short text: unchanged

    # The stored row holds the cut text (written only: nothing is sent to the internet here)
    url = "wecombot://{env:WECOM_KEY}"
    with sessions.begin() as session:
        enqueue(session, plan(long), AS_OF, notify={"审计局": [url]})
    with sessions() as session:
        [push] = [r for r in queries.outbox_rows(session) if r.channel == "apprise"]
    assert push.body_text == robot_text(url, push.subject, long) and push.body_html == ""


# --- settings -------------------------------------------------------------------------------------------

SETTINGS = """[monitor]
database_url = "sqlite:///monitor.db"

[alerts]
centre = ["dsjzx@cangshan.example.gov.cn"]
notify = ["wecombot://{env:WECOM_CENTRE_KEY}"]

[[units]]
name = "审计局"
emails = ["sjj@cangshan.example.gov.cn"]
notify = ["dingtalk://{env:DINGTALK_SJJ_TOKEN}/", "NOTIFY"]
"""


def test_settings_accept_dingtalk_wecom_and_webhooks_and_name_the_line_of_a_bad_url() -> None:
    settings = parse_settings(SETTINGS.replace("NOTIFY", "json://127.0.0.1:9000/hook"))
    assert settings.units[0].notify == ("dingtalk://{env:DINGTALK_SJJ_TOKEN}/", "json://127.0.0.1:9000/hook")
    assert notify_targets(settings) == {"审计局": settings.units[0].notify, None: ("wecombot://{env:WECOM_CENTRE_KEY}",)}
    with pytest.raises(SettingsError, match=r'^settings\.toml:11 units\[0\]\.notify: "nosuch://" 不是 Apprise 支持'):
        parse_settings(SETTINGS.replace("NOTIFY", "nosuch://{env:X}/"))
    with pytest.raises(SettingsError, match=r"^settings\.toml:11 units\[0\]\.notify: .*\{env:变量名\}"):
        parse_settings(SETTINGS.replace("NOTIFY", "json://host/{env:}"))
    with pytest.raises(SettingsError, match=r"^settings\.toml:6 alerts\.notify: .*dingtalk://"):
        parse_settings(SETTINGS.replace('"wecombot://{env:WECOM_CENTRE_KEY}"', '"dingtalk://not a token/"'))


# --- the CLI on the demo: robot rows go out with `monitor alerts --send` --------------------------------

def test_the_cli_send_delivers_robot_rows_without_printing_the_secret(
        demo_run: DemoRun, tmp_path: Path, webhook: Webhook, smtp: Controller,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("monitor.db", "monitor.db-wal", "monitor.db-shm"):
        if (demo_run.out / name).exists():
            shutil.copy(demo_run.out / name, tmp_path / name)
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    text = (demo_run.out / "settings.toml").read_text(encoding="utf-8")
    lines = [f'database_url = "{db}"' if line.startswith("database_url") else line for line in text.splitlines()]
    centre = lines.index("[alerts]")
    lines.insert(centre + 1, f'notify = ["{webhook.url("centre/{env:HOOK_SECRET}")}"]')
    lines += ["", "[smtp]", 'host = "127.0.0.1"', f"port = {smtp.port}", 'security = "none"',
              'sender = "monitor@cangshan.example.gov.cn"', ""]
    path = tmp_path / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    settings = load_settings(path)
    sessions = get_sessionmaker(db)
    with sessions.begin() as session:  # what send_alerts does once it passes notify_targets (see the report)
        the_plan = plan_alerts(session, settings, AS_OF)
        written = enqueue(session, the_plan, AS_OF, settings.monitor.timezone, notify=notify_targets(settings))
    assert the_plan.summary is not None and len(written.pushed) == 1

    result = CliRunner().invoke(main, ["--config", str(path), "alerts", "--as-of", "2020-10-10", "--send"])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    [(where, body)] = webhook.delivered()
    assert where == f"/centre/{SECRET}" and body["title"] == the_plan.summary.subject
    assert len(smtp.handler.messages) == len(the_plan.emails())
