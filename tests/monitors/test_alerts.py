"""Alert emails against a real local SMTP server (aiosmtpd) and the demo's database.

The demo is run once for the session (tests/conftest.py `demo_run`); each test works on its own copy of the
database.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select, update

from monitors.alerts import AlertItem, SmtpChannel, compose_summary, compose_unit_email, header_safe
from monitors.alerts.compose import decide, finding_size, is_worse, UnitFindings
from monitors.cli import main
from monitors.rules import Finding
from storage import queries
from storage.db import get_sessionmaker
from storage.models import AlertState, OutboxEmail
from tests.helpers import DemoRun, free_port

CENTRE = "dsjzx@cangshan.example.gov.cn"
AUDIT = "sjj@cangshan.example.gov.cn"


# --- a real SMTP server --------------------------------------------------------------------------------

@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: object


@dataclass
class StoringHandler:
    messages: list[Received] = field(default_factory=list)
    reject: bool = False  # answer DATA with 554

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.reject:
            return "554 5.7.1 rejected for the test"
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      message_from_bytes(envelope.original_content, policy=policy.default)))
        return "250 OK"



@pytest.fixture
def smtp():
    handler = StoringHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


# --- the demo's database, one copy a test --------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> Path:
    return demo_run.out


class Site:
    """A copy of the demo's database with settings pointing at a test SMTP server."""

    def __init__(self, demo: Path, root: Path) -> None:
        for name in ("monitor.db", "monitor.db-wal", "monitor.db-shm"):
            if (demo / name).exists():
                shutil.copy(demo / name, root / name)
        self.root = root
        self.url = f"sqlite:///{root / 'monitor.db'}"
        self.settings_path = root / "settings.toml"
        self.base = (demo / "settings.toml").read_text(encoding="utf-8")
        self.runner = CliRunner()

    def configure(self, port: int, resend_after_days: int = 7) -> None:
        lines, out, skip = self.base.splitlines(), [], False
        for line in lines:
            if line.startswith("["):
                skip = line.strip() == "[alerts]"
                if skip:
                    out += ["[alerts]", f'centre = ["{CENTRE}"]', f"resend_after_days = {resend_after_days}", ""]
                    continue
            if skip:
                continue
            out.append(f'database_url = "{self.url}"' if line.startswith("database_url") else line)
        out += ["", "[smtp]", 'host = "127.0.0.1"', f"port = {port}", 'security = "none"',
                'sender = "monitor@cangshan.example.gov.cn"', ""]
        self.settings_path.write_text("\n".join(out), encoding="utf-8")

    def alerts(self, *args: str):
        return self.runner.invoke(main, ["--config", str(self.settings_path), "alerts", *args])

    def outbox(self) -> list[queries.OutboxRow]:
        with get_sessionmaker(self.url)() as session:
            return queries.outbox_rows(session)

    def states(self) -> list[AlertState]:
        with get_sessionmaker(self.url)() as session:
            return list(session.scalars(select(AlertState)))


@pytest.fixture
def site(demo: Path, tmp_path: Path, smtp: Controller) -> Site:
    s = Site(demo, tmp_path)
    s.configure(smtp.port)
    return s


def by_subject(messages: list[Received], part: str) -> list[Received]:
    return [m for m in messages if part in m.message["Subject"]]


def bodies(message) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


# --- the CLI on the demo -------------------------------------------------------------------------------

def test_dry_run_shows_the_audit_office_email_and_writes_nothing(site: Site, smtp: Controller) -> None:
    result = site.alerts("--as-of", "2020-10-10", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    block = out[out.index(f"收件人：{AUDIT}"):]
    block = block[: block.index("-" * 60)]
    assert f"抄送：{CENTRE}" in block
    assert "主题：【网站监测提醒】审计局：" in block and "（截至2020-10-10）" in block
    assert "9月发布0条，差10条" in block
    assert "7月发布3条，差7条" not in block and "8月发布1条，差9条" not in block  # older months: the centre's
    assert out.count("主题：【网站监测提醒】审计局") == 1
    assert "主题：【网站监测提醒】汇总" in out and "演练，未写入、未发送" in out
    assert site.outbox() == [] and site.states() == [] and smtp.handler.messages == []


def test_usage_errors_exit_2(site: Site) -> None:
    assert site.alerts("--as-of", "2020-10-10").exit_code == 2
    assert site.alerts("--as-of", "2020-10-10", "--dry-run", "--send").exit_code == 2
    assert site.alerts("--as-of", "2020-13-40", "--dry-run").exit_code == 2


def test_send_delivers_unit_emails_and_one_summary_once(site: Site, smtp: Controller) -> None:
    result = site.alerts("--as-of", "2020-10-10", "--send")
    assert result.exit_code == 0, result.output
    messages = smtp.handler.messages
    rows = site.outbox()
    assert len(messages) == len(rows) > 2 and all(r.status == "sent" and r.sent_at for r in rows)
    assert f"已发送 {len(rows)} 封，失败 0 封" in result.output

    [audit] = by_subject(messages, "审计局")
    msg = audit.message
    assert sorted(audit.rcpt_tos) == sorted([AUDIT, CENTRE])
    assert msg["To"] == AUDIT and msg["Cc"] == CENTRE and msg["From"] == "monitor@cangshan.example.gov.cn"
    assert msg["Subject"] == "【网站监测提醒】审计局：2 项新问题（截至2020-10-10）"
    assert msg["Message-ID"] and msg["Date"]
    text, html = bodies(msg)
    for short in ("9月发布0条，差10条", "栏目“工作动态”已 50 天未更新"):
        assert short in text and short in html
    assert "/sjj/gzdt/" in text and 'href="http://127.0.0.1:' in html

    [summary] = by_subject(messages, "汇总")
    assert summary.rcpt_tos == [CENTRE] and "审计局：2 项新问题" in bodies(summary.message)[0]
    unit_mails = [m for m in messages if m is not summary]
    assert all(CENTRE in m.rcpt_tos for m in unit_mails)
    assert len({m.message["Message-ID"] for m in messages}) == len(messages)

    again = site.alerts("--as-of", "2020-10-10", "--send")
    assert again.exit_code == 0, again.output
    assert len(smtp.handler.messages) == len(messages) and len(site.outbox()) == len(rows)
    assert "已发送 0 封，失败 0 封" in again.output


def add_post(site: Site, column_path: str, title: str, published: datetime) -> None:
    with get_sessionmaker(site.url).begin() as session:
        from storage.models import Column

        column = session.scalar(select(Column).where(Column.url.endswith(column_path)))
        queries.store_entries(session, column.id, [queries.EntryRow(
            f"{column.url}test-{published:%Y%m%d}.html", title, published, "list")])


def test_reminder_after_resend_days_and_cleared_said_once(site: Site, smtp: Controller) -> None:
    assert site.alerts("--as-of", "2020-10-10", "--send").exit_code == 0
    sent = len(smtp.handler.messages)
    # Two days later: 审计局's findings were told two days ago; its stale column only aged (not worse).
    result = site.alerts("--as-of", "2020-10-12", "--dry-run")
    assert "审计局" not in result.output
    # A post in 工作动态 clears the stale column: said once, as cleared.
    add_post(site, "/sjj/gzdt/", "审计局召开专题会议", datetime(2020, 10, 11, 2, tzinfo=timezone.utc))
    assert site.alerts("--as-of", "2020-10-12", "--send").exit_code == 0
    [cleared] = by_subject(smtp.handler.messages[sent:], "审计局")
    assert cleared.message["Subject"] == "【网站监测提醒】审计局：1 项已整改（截至2020-10-12）"
    text, _ = bodies(cleared.message)
    assert "[已整改] 栏目“工作动态”已 50 天未更新" in text and "7月发布" not in text
    sent = len(smtp.handler.messages)
    assert site.alerts("--as-of", "2020-10-13", "--send").exit_code == 0
    assert by_subject(smtp.handler.messages[sent:], "审计局") == []
    # Seven days after they were told, the short September is due again (a reminder; July and August, older
    # than the last complete month, were the centre's only).
    sent = len(smtp.handler.messages)
    assert site.alerts("--as-of", "2020-10-17", "--send").exit_code == 0
    [reminder] = by_subject(smtp.handler.messages[sent:], "审计局")
    assert reminder.message["Subject"] == "【网站监测提醒】审计局：1 项仍未整改（截至2020-10-17）"
    text, _ = bodies(reminder.message)
    assert "已于 2020-10-10 提醒，至今未整改" in text and "已整改" not in text


def test_smtp_down_then_back_nothing_lost_nothing_twice(site: Site, smtp: Controller) -> None:
    site.configure(free_port())  # nothing listens there
    down = site.alerts("--as-of", "2020-10-10", "--send")
    assert down.exit_code == 1
    rows = site.outbox()
    assert rows and all(r.status == "failed" and r.attempts == 1 and "连接被拒绝" in r.last_error for r in rows)
    assert f"已发送 0 封，失败 {len(rows)} 封（无法连接邮件服务器" in down.output

    site.configure(smtp.port)
    smtp.handler.reject = True  # the server answers DATA with 554
    refused = site.alerts("--as-of", "2020-10-10", "--send")
    assert refused.exit_code == 1 and "554" in refused.output
    assert all(r.status == "failed" and r.attempts == 2 and "554" in r.last_error for r in site.outbox())

    smtp.handler.reject = False
    back = site.alerts("--as-of", "2020-10-10", "--send")  # the same date: no new rows, the old ones go out
    assert back.exit_code == 0, back.output
    assert len(site.outbox()) == len(rows) and all(r.status == "sent" for r in site.outbox())
    assert len(smtp.handler.messages) == len(rows)
    assert site.alerts("--as-of", "2020-10-10", "--send").exit_code == 0
    assert len(smtp.handler.messages) == len(rows)


def test_a_row_left_sending_by_a_crash_is_not_sent_again(site: Site, smtp: Controller) -> None:
    site.configure(free_port())
    site.alerts("--as-of", "2020-10-10", "--send")
    rows = site.outbox()
    crashed = rows[0]
    with get_sessionmaker(site.url).begin() as session:  # a sender died between "sending" and "sent"
        session.execute(update(OutboxEmail).where(OutboxEmail.id == crashed.id).values(
            status="sending", claimed_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    site.configure(smtp.port)
    result = site.alerts("--as-of", "2020-10-10", "--send")
    assert result.exit_code == 1
    assert "发送中断，请人工确认" in result.output and crashed.subject in result.output
    assert len(smtp.handler.messages) == len(rows) - 1
    assert crashed.subject not in [m.message["Subject"] for m in smtp.handler.messages]
    assert site.alerts("--as-of", "2020-10-10", "--send").exit_code == 1  # still waiting for a person
    assert len(smtp.handler.messages) == len(rows) - 1
    settled = site.alerts("--as-of", "2020-10-10", "--send", "--interrupted", "resend")
    assert settled.exit_code == 0, settled.output
    assert [m.message["Subject"] for m in smtp.handler.messages][-1] == crashed.subject


def test_enqueue_and_state_are_one_transaction(site: Site) -> None:
    from config import load_settings
    from monitors.alerts import enqueue, plan_alerts

    settings = load_settings(site.settings_path)
    sessions = get_sessionmaker(site.url)
    with pytest.raises(RuntimeError):
        with sessions.begin() as session:
            plan = plan_alerts(session, settings, date(2020, 10, 10))
            enqueue(session, plan, date(2020, 10, 10), settings.monitor.timezone)
            raise RuntimeError("crash before commit")
    assert site.outbox() == [] and site.states() == []


# --- composing: levels, escaping, headers --------------------------------------------------------------

def test_levels_compare_sizes_not_names_nor_plain_ageing() -> None:
    assert finding_size("7月发布3条，差7条") == (7, False)
    assert finding_size("栏目“已 3 天测试”已 50 天未更新（最近一条 2020-08-21，要求 14 天内）") == (50, True)
    assert finding_size("栏目“x”无法访问：HTTP 503") == (0, False)
    assert is_worse("fail", "8月发布1条，差9条", "fail", "8月发布3条，差7条", 0)
    assert not is_worse("fail", "8月发布5条，差5条", "fail", "8月发布3条，差7条", 0)
    assert not is_worse("fail", "栏目“a”已 52 天未更新", "fail", "栏目“a”已 50 天未更新", 2)
    assert is_worse("fail", "栏目“a”已 90 天未更新", "fail", "栏目“a”已 50 天未更新", 2)
    assert is_worse("veto", "新浪微博“a”已 15 天未更新", "warn", "新浪微博“a”已 8 天未更新", 7)


def test_decide_new_worse_due_cleared_and_retired() -> None:
    col = "http://127.0.0.1/sjj/gzdt/"
    told = date(2020, 10, 10)
    at = datetime(2020, 10, 9, 16, tzinfo=timezone.utc)
    states = [
        queries.AlertStateRow("审计局", "quota.monthly", "2020-07", "fail", "7月发布3条，差7条", at, None, told),
        queries.AlertStateRow("审计局", "quota.monthly", "2020-08", "fail", "8月发布3条，差7条", at, None, told),
        queries.AlertStateRow("审计局", "column.stale", col, "fail", "栏目“工作动态”已 50 天未更新", at, None, told),
        queries.AlertStateRow("审计局", "quota.monthly", "2020-06", "fail", "6月发布3条，差7条", at, None, told),
    ]
    unit = UnitFindings("审计局", [
        Finding("quota.monthly", "fail", "2020-07", "7月发布3条，差7条", "审计局"),
        Finding("quota.monthly", "fail", "2020-08", "8月发布1条，差9条", "审计局"),
        Finding("quota.monthly", "fail", "2020-09", "9月发布0条，差10条", "审计局"),
    ], frozenset({"2020-07", "2020-08", "2020-09", col}), (("工作动态", col, True),))
    items, ongoing, retired = decide([unit], states, date(2020, 10, 12), 7)
    changes = {(i.target, i.change) for i in items["审计局"]}
    assert changes == {("2020-09", "new"), ("2020-08", "worse"), (col, "cleared")}
    assert ongoing == {"审计局": 1} and retired == [("审计局", "quota.monthly", "2020-06")]
    items, _, _ = decide([unit], states, date(2020, 10, 17), 7)
    assert ("2020-07", "due") in {(i.target, i.change) for i in items["审计局"]}


EVIL_UNIT = "审计局\r\nBcc: x@y.example"
EVIL_COLUMN = "<script>alert('x')</script>工作动态"


def evil_items() -> list[AlertItem]:
    url = "http://127.0.0.1/sjj/gzdt/?a=1&b=<2>"
    return [AlertItem(EVIL_UNIT, "column.stale", url, "fail", f"栏目“{EVIL_COLUMN}”已 50 天未更新", "new",
                      ((EVIL_COLUMN, url),))]


def test_crawled_text_is_escaped_and_headers_stay_single_line(smtp: Controller) -> None:
    email = compose_unit_email(EVIL_UNIT, [AUDIT], [CENTRE], evil_items(), date(2020, 10, 10), "仓山区\n人民政府")
    assert "\r" not in email.subject and "\n" not in email.subject
    assert "<script>" not in email.html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in email.html
    assert "a=1&amp;b=&lt;2&gt;" in email.html
    summary = compose_summary([(EVIL_UNIT, evil_items(), 0)], [CENTRE], date(2020, 10, 10), "仓山区")
    assert "<script>" not in summary.html and "\n" not in summary.subject
    assert header_safe("a\r\nBcc: x@y") == "a Bcc: x@y"

    from config.model import SmtpSettings

    channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=smtp.port, sender="monitor@example.gov.cn\r\nBcc: z@z"))
    raw = email.__class__(EVIL_UNIT + "：\r\nBcc: x@y.example", email.text, email.html, (AUDIT + "\r\nBcc: q@q",),
                          (CENTRE,))
    assert channel.send(raw, "test-key") is None
    [got] = smtp.handler.messages
    assert got.message["Bcc"] is None
    assert not any(a.endswith(("y.example", "@q", "@z")) for a in got.rcpt_tos)
    assert "\n" not in got.message["Subject"] and got.message["Subject"].startswith("审计局 Bcc: x@y.example")
    text, html = bodies(got.message)
    assert EVIL_COLUMN in text and "&lt;script&gt;" in html  # UTF-8 decodes, the HTML stays escaped


def test_unit_without_emails_goes_to_the_centre_and_says_so() -> None:
    email = compose_unit_email("信访局", [], [CENTRE], evil_items(), date(2020, 10, 10), "仓山区")
    assert email.to == (CENTRE,) and email.cc == ()
    assert "未在监测设置中登记接收邮箱" in email.text and "未在监测设置中登记接收邮箱" in email.html


def test_the_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.model import SmtpSettings

    channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=free_port(), user="u", password="s3cret-pw"))
    assert "s3cret-pw" not in repr(channel)
    with pytest.raises(Exception) as exc:
        channel.send(compose_unit_email("审计局", [AUDIT], [], evil_items(), date(2020, 10, 10), "x"))
    assert "s3cret-pw" not in str(exc.value)


def test_run_alerts_is_what_the_scheduler_calls(site: Site, smtp: Controller) -> None:
    from config import load_settings
    from monitors.alerts import AlertsFailed, run_alerts

    settings = load_settings(site.settings_path)
    dry = run_alerts(settings, date(2020, 10, 10), send=False)
    assert dry.ok and "演练" in dry.summary() and site.outbox() == []
    run = run_alerts(settings, date(2020, 10, 10))
    assert run.ok and f"已发送 {len(smtp.handler.messages)} 封，失败 0 封" in run.summary()
    smtp.handler.reject = True
    add_post(site, "/sjj/gzdt/", "审计局召开专题会议", datetime(2020, 10, 11, 2, tzinfo=timezone.utc))
    with pytest.raises(AlertsFailed, match="554"):
        run_alerts(settings, date(2020, 10, 12))


def test_outbox_queries_on_both_backends(db_url: str) -> None:
    """Insert-or-ignore, the claim and the state upsert behave the same on SQLite and PostgreSQL."""
    sessions = get_sessionmaker(db_url)
    at = datetime(2020, 10, 9, 16, tzinfo=timezone.utc)
    with sessions.begin() as session:
        assert queries.add_outbox_email(session, "2020-10-10:unit:审计局:x", "审计局", [AUDIT], [CENTRE], "s", "t", "h")
        assert not queries.add_outbox_email(session, "2020-10-10:unit:审计局:x", "审计局", [AUDIT], [], "s", "t", "h")
        queries.record_alert_told(session, "审计局", "quota.monthly", "2020-07", "fail", "差7条", at)
        queries.record_alert_told(session, "审计局", "quota.monthly", "2020-07", "fail", "差9条", at)
    with sessions.begin() as session:
        [row] = queries.outbox_to_send(session)
        assert row.recipients == (AUDIT,) and row.cc == (CENTRE,)
        assert queries.claim_outbox(session, row.id) and not queries.claim_outbox(session, row.id)
        [state] = queries.alert_states(session, timezone.utc)
        assert state.detail == "差9条" and state.told_on == date(2020, 10, 9)
