"""Alert emails a unit can act on (issue 10 item 7): each open finding states what its rule asks and the 整改时限,
the email gives the centre's contact and is worded by the 区大数据服务中心, replies go to the centre, the Date
header is in the configured zone, accounts are linked to their platform pages (never a search or a feed), and a
first run does not mail a unit about months long past (they go to the centre's summary only).

Emails go through a real SMTP server on loopback (aiosmtpd); the end-to-end test runs `monitor alerts --send`
on a copy of the demo's database.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from config import Settings
from config.loader import parse_settings
from config.model import SmtpSettings
from config.toml_text import toml_str
from monitors.alerts import AlertItem, SmtpChannel, make_channel
from monitors.alerts.compose import (
    OLDER_TITLE, UnitFindings, account_links, account_page, compose_plan, decide,
)
from monitors.rules import Finding
from storage import queries
from tests.helpers import DemoRun
from tests.helpers import free_port
from tests.monitors.test_alerts import Site, StoringHandler, bodies, by_subject

CENTRE = "dsjzx@cangshan.example.gov.cn"
AUDIT = "sjj@cangshan.example.gov.cn"
CONTACT = "区大数据服务中心 118 办公室，电话 0591-83000000"
SOGOU = "https://weixin.sogou.com/weixin?type=1&query=cangshan_gxj&ie=utf8"
FEED = "http://127.0.0.1:8792/feeds/MP_WXS_3795001493.atom"
WEIBO = "http://127.0.0.1:8792/profile/2803301701"


@pytest.fixture
def smtp():
    controller = Controller(StoringHandler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


def settings_for(port: int = 25, fix_within_days: int = 10, contact: str = CONTACT) -> Settings:
    return parse_settings(f"""
[monitor]
timezone = "Asia/Shanghai"
[alerts]
centre = ["{CENTRE}"]
fix_within_days = {fix_within_days}
contact = {toml_str(contact)}
[smtp]
host = "127.0.0.1"
port = {port}
sender = "monitor@cangshan.example.gov.cn"
[[sites]]
name = "仓山区人民政府"
url = "http://127.0.0.1:8700/"
[[units]]
name = "审计局"
kind = "department"
emails = ["{AUDIT}"]
[[units]]
name = "工信局"
kind = "department"
emails = ["gxj@cangshan.example.gov.cn"]
[[accounts]]
unit = "工信局"
platform = "wechat"
name = "仓山工信"
url = "{SOGOU}"
account_id = "cangshan_gxj"
[[accounts]]
unit = "工信局"
platform = "wechat"
name = "醉美仓山"
url = "{FEED}"
[[accounts]]
unit = "工信局"
platform = "weibo"
name = "福州仓山警方在线"
url = "{WEIBO}"
""")


def month(target: str, posts: int, change: str = "new", told_on: date | None = None) -> AlertItem:
    n = int(target[5:])
    return AlertItem("审计局", "quota.monthly", target, "fail", f"{n}月发布{posts}条，差{10 - posts}条", change,
                     told_on=told_on, measure=posts, limit=10)


# --- what a unit reads, and the headers it gets --------------------------------------------------------

def test_each_finding_states_the_requirement_the_deadline_and_the_centres_contact(smtp: Controller) -> None:
    settings = settings_for(smtp.port, fix_within_days=10)
    plan = compose_plan(settings, date(2020, 10, 10), {"审计局": [month("2020-09", 3)]}, {})
    [unit] = plan.units
    text, html = unit.email.text, unit.email.html
    for part in (text, html):
        assert "9月发布3条，差7条" in part
        assert "要求：门户网站信息发布每月应不少于10条" in part
        assert "整改时限：2020年10月20日前" in part  # as of + fix_within_days
        assert CONTACT in part
    # The centre speaks, not the district government; replies reach it.
    assert "区大数据服务中心对仓山区人民政府门户网站和政务新媒体开展日常监测" in text
    assert "于2020年10月20日前整改到位" in text and "请勿直接回复" not in text
    assert text.rstrip().endswith("此邮件由网站与政务新媒体监测系统自动发送。")
    assert "区大数据服务中心\n2020年10月10日" in text

    assert make_channel(settings).send(unit.email, unit.key) is None
    [got] = smtp.handler.messages
    msg = got.message
    assert msg["Reply-To"] == CENTRE
    assert msg["Date"].endswith("+0800")
    sent_at = parsedate_to_datetime(msg["Date"])
    assert sent_at.utcoffset() == timedelta(hours=8)
    assert abs(sent_at - datetime.now(timezone.utc)) < timedelta(minutes=5)
    received_text, received_html = bodies(msg)
    assert "每月应不少于10条" in received_text and "2020年10月20日前" in received_html


def test_the_deadline_follows_fix_within_days_and_the_contact_defaults_to_the_centres_addresses() -> None:
    settings = settings_for(fix_within_days=5, contact="")
    [unit] = compose_plan(settings, date(2020, 10, 10), {"审计局": [month("2020-09", 3)]}, {}).units
    assert "整改时限：2020年10月15日前" in unit.email.text
    assert f"联系方式：区大数据服务中心（电子邮箱：{CENTRE}）" in unit.email.text


def test_crlf_never_reaches_the_headers(smtp: Controller) -> None:
    evil = AlertItem("审计局\r\nBcc: x@evil.example", "column.stale", "http://127.0.0.1/sjj/gzdt/", "fail",
                     "栏目“工作动态\r\nBcc: y@evil.example”已 50 天未更新", "new", limit=14)
    settings = settings_for(smtp.port, contact="118 办公室\r\nBcc: z@evil.example")
    [unit] = compose_plan(settings, date(2020, 10, 10), {evil.unit: [evil]}, {}).units
    channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=smtp.port, sender="monitor@cangshan.example.gov.cn"),
                          reply_to=(CENTRE + "\r\nBcc: q@evil.example",), timezone="Asia/Shanghai")
    assert channel.send(unit.email, unit.key) is None
    [got] = smtp.handler.messages
    assert got.message["Bcc"] is None and not any(a.endswith("evil.example") for a in got.rcpt_tos)
    for name in ("Subject", "Reply-To", "Date", "To", "From"):
        assert "\n" not in got.message[name] and "\r" not in got.message[name]
    assert got.message["Reply-To"].startswith(CENTRE)
    assert "118 办公室 Bcc: z@evil.example" in bodies(got.message)[0]  # the contact: one line in the body


# --- accounts: their platform page, never a search or a feed --------------------------------------------

def test_an_account_links_to_its_platform_page_or_to_nothing() -> None:
    assert account_page("weibo", WEIBO) == "https://weibo.com/u/2803301701"
    assert account_page("weibo", "http://127.0.0.1:8792/u/3286529480") == "https://weibo.com/u/3286529480"
    assert account_page("weibo", "https://weibo.com/cangshanfabu", "3286529480") == "https://weibo.com/u/3286529480"
    assert account_page("weibo", "https://weibo.com/cangshanfabu") == "https://weibo.com/cangshanfabu"
    assert account_page("wechat", SOGOU, "cangshan_gxj") == "" and account_page("wechat", FEED) == ""
    assert account_page("feed", "http://127.0.0.1/rss.xml") == ""

    settings = settings_for()
    unit = UnitFindings("工信局", [
        Finding("account.silent", "veto", SOGOU, "微信公众号“仓山工信”已 20 天未更新（要求 14 天内有更新）", "工信局",
                measure=20, limit=14),
        Finding("account.quiet", "warn", FEED, "微信公众号“醉美仓山”已 10 天未更新，14 天无更新将被单项否决", "工信局",
                measure=10, limit=7),
        Finding("account.quiet", "warn", WEIBO, "新浪微博“福州仓山警方在线”已 9 天未更新，14 天无更新将被单项否决",
                "工信局", measure=9, limit=7),
    ], frozenset({SOGOU, FEED, WEIBO}), accounts=account_links(settings, "工信局"))
    items, ongoing, _ = decide([unit], [], date(2020, 10, 10), 7)
    [alert] = compose_plan(settings, date(2020, 10, 10), items, ongoing).units
    text, html = alert.email.text, alert.email.html
    assert "sogou" not in text + html and "/feeds/" not in text + html
    assert "账号：微信公众号“仓山工信”（微信号 cangshan_gxj）\n" in text
    assert "账号：微信公众号“醉美仓山”\n" in text
    assert "账号：新浪微博“福州仓山警方在线” https://weibo.com/u/2803301701" in text
    assert '<a href="https://weibo.com/u/2803301701">新浪微博“福州仓山警方在线”</a>' in html
    assert "账号：微信公众号“醉美仓山”</small>" in html
    assert "要求：政务新媒体14天内无更新即单项否决，判定为不合格" in text


# --- the first run: the current and the last complete month to units, older ones to the centre ---------

def test_older_months_go_to_the_centre_only_now_and_when_due_again() -> None:
    settings = settings_for()
    first = compose_plan(settings, date(2020, 10, 10),
                         {"审计局": [month("2020-07", 3), month("2020-08", 1), month("2020-09", 0)]}, {})
    [unit] = first.units
    assert [i.target for i in unit.items] == ["2020-09"]
    assert "9月发布0条" in unit.email.text and "7月发布" not in unit.email.text + unit.email.html
    assert "8月发布" not in unit.email.text + unit.email.html
    assert [i.target for i in first.centre_items] == ["2020-07", "2020-08"]  # recorded by the summary
    assert first.summary is not None
    summary = first.summary.text
    older = summary[summary.index(OLDER_TITLE.format(month="9月")):]
    assert "审计局：\n  1. [不合格] 7月发布3条，差7条" in older and "8月发布1条，差9条" in older
    # A week later the three are due again: the unit is reminded of September only.
    at = datetime(2020, 10, 9, 16, tzinfo=timezone.utc)
    states = [queries.AlertStateRow("审计局", "quota.monthly", m, "fail", d, at, None, date(2020, 10, 10), p, 10)
              for m, d, p in (("2020-07", "7月发布3条，差7条", 3), ("2020-08", "8月发布1条，差9条", 1),
                              ("2020-09", "9月发布0条，差10条", 0))]
    found = UnitFindings("审计局", [Finding("quota.monthly", "fail", m, f"{int(m[5:])}月", "审计局", measure=p, limit=10)
                                   for m, p in (("2020-07", 3), ("2020-08", 1), ("2020-09", 0))],
                         frozenset({"2020-07", "2020-08", "2020-09"}))
    items, ongoing, _ = decide([found], states, date(2020, 10, 17), 7)
    later = compose_plan(settings, date(2020, 10, 17), items, ongoing)
    [unit] = later.units
    assert [(i.target, i.change) for i in unit.items] == [("2020-09", "due")]
    assert [(i.target, i.change) for i in later.centre_items] == [("2020-07", "due"), ("2020-08", "due")]


def test_a_first_run_mails_units_no_month_before_the_last_complete_one(demo_run: DemoRun, tmp_path: Path,
                                                                       smtp: Controller) -> None:
    site = Site(demo_run.out, tmp_path)
    site.configure(smtp.port)
    text = site.settings_path.read_text(encoding="utf-8")
    site.settings_path.write_text(text.replace("resend_after_days = 7\n", "resend_after_days = 7\n"
                                               f'fix_within_days = 10\ncontact = "{CONTACT}"\n'),
                                  encoding="utf-8")
    assert site.states() == []  # a first run: nothing was ever told
    result = site.alerts("--as-of", "2020-10-10", "--send")
    assert result.exit_code == 0, result.output
    messages = smtp.handler.messages
    [summary] = by_subject(messages, "汇总")
    units = [m for m in messages if m is not summary]
    for m in units:
        unit_text, unit_html = bodies(m.message)
        assert not any(f"{n}月发布" in unit_text + unit_html for n in (7, 8)), m.message["Subject"]
        assert m.message["Reply-To"] == CENTRE and m.message["Date"].endswith("+0800")
    [audit] = by_subject(units, "审计局")
    audit_text, audit_html = bodies(audit.message)
    assert audit.message["Subject"] == "【网站监测提醒】审计局：2 项新问题（截至2020-10-10）"
    for part in (audit_text, audit_html):
        assert "9月发布0条，差10条" in part and "每月应不少于10条" in part
        assert "整改时限：2020年10月20日前" in part and CONTACT in part
    summary_text = bodies(summary.message)[0]
    older = summary_text[summary_text.index(OLDER_TITLE.format(month="9月")):]
    assert "审计局：\n  1. [不合格] 7月发布3条，差7条" in older and "8月发布1条，差9条" in older
    # Recorded as told (to the centre): a week later the unit is reminded of September only.
    assert {s.target for s in site.states() if s.unit == "审计局"} >= {"2020-07", "2020-08", "2020-09"}
    sent = len(messages)
    assert site.alerts("--as-of", "2020-10-17", "--send").exit_code == 0
    [reminder] = by_subject(smtp.handler.messages[sent:], "审计局")
    reminder_text = bodies(reminder.message)[0]
    assert "9月发布0条，差10条" in reminder_text and "7月发布" not in reminder_text and "8月发布" not in reminder_text

