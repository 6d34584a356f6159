"""Settings: what a user writes is validated at load; errors name the file, line and key."""
from __future__ import annotations

import dataclasses
import typing

import pytest

from config import SettingsError, load_settings, parse_settings
from config.loader import TABLES
from config.model import RANGES

GOOD = """\
[monitor]
database_url = "sqlite:///data/monitor.db"

[rules]
monthly_quota = 10

[[sites]]
name = "仓山区人民政府"
url = "http://127.0.0.1:8700/"

[[units]]
name = "审计局"
kind = "department"
emails = ["audit@example.gov.cn"]
url_prefixes = ["http://127.0.0.1:8700/sjj/"]

[[columns]]
unit = "审计局"
name = "工作动态"
url = "http://127.0.0.1:8700/sjj/gzdt/"
category = "dynamic"

[[columns]]
name = "通知公告"
url = "http://127.0.0.1:8700/sjj/tzgg/"
category = "notice"
quota = false
"""


def test_good_settings_load_with_defaults_and_prefix_ownership() -> None:
    s = parse_settings(GOOD)
    assert s.rules.monthly_quota == 10 and s.rules.stale_days("notice") == 183
    assert [c.unit for c in s.columns] == ["审计局", "审计局"]  # the second owned by URL prefix
    assert s.columns[1].quota is False and s.columns[0].quota is True
    assert s.units[0].emails == ("audit@example.gov.cn",)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ('category = "dynamic"', 'category = "dynamc"', 'settings.toml:21 columns[0].category: "dynamc" 不是'),
        ('unit = "审计局"\nname = "工作动态"', 'unit = "统计局"\nname = "工作动态"',
         "settings.toml:18 columns[0].unit: 单位“统计局”未在 [[units]] 中定义"),
        ('url = "http://127.0.0.1:8700/sjj/gzdt/"', 'url = "htp//sjj/gzdt/"', "settings.toml:20 columns[0].url:"),
        ("monthly_quota = 10", 'monthly_quota = "十"', "settings.toml:5 rules.monthly_quota: 应为整数"),
        ('kind = "department"', 'kind = "bureau"', "settings.toml:13 units[0].kind:"),
        ("[[sites]]", "[[sites]\n", "settings.toml:7 TOML 语法错误"),
        ("monthly_quota = 10", "monthly_quota = 10\nmonthly_quotta = 3", "settings.toml:6 rules.monthly_quotta: 未知的设置项"),
        ('url_prefixes = ["http://127.0.0.1:8700/sjj/"]', "",
         "columns[1]: 栏目“通知公告”没有 unit"),
    ],
)
def test_bad_settings_name_the_line_and_key(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    with pytest.raises(SettingsError) as err:
        parse_settings(GOOD.replace(old, new, 1))
    assert expected in str(err.value)


ACCOUNT = """
[[accounts]]
unit = "审计局"
platform = "weibo"
name = "仓山审计"
url = "https://weibo.com/u/100"
"""


@pytest.mark.parametrize(
    "extra, expected",
    [
        ('[monitor]\ndatabase_url = "not a url"', 'settings.toml:2 monitor.database_url: "not a url" 不是有效的数据库网址'),
        ('[monitor]\ndatabase_url = "mysql://u@h/db"', 'settings.toml:2 monitor.database_url: 不支持的数据库 "mysql"'),
        ('[monitor]\ndatabase_url = ""', "settings.toml:2 monitor.database_url: "),
        ('[monitor]\ntimezone = "Mars/Olympus"', 'settings.toml:2 monitor.timezone: "Mars/Olympus" 不是已知的时区'),
        ('[schedule]\nprobes = "every 0.01s"', 'settings.toml:2 schedule.probes: "every 0.01s" 的间隔太短，至少 60 秒'),
        ('[schedule]\ncrawl = "every 59s"', "settings.toml:2 schedule.crawl: "),
        ("[crawl]\ntimeout = 0", "settings.toml:2 crawl.timeout: 应大于 0，而不是 0"),
        ("[crawl]\nconcurrent_requests = 0", "settings.toml:2 crawl.concurrent_requests: 应不小于 1，而不是 0"),
        ("[crawl]\ndownload_delay = -5", "settings.toml:2 crawl.download_delay: 应不小于 0，而不是 -5"),
        ("[crawl]\nretries = -1", "settings.toml:2 crawl.retries: 应不小于 0"),
        ("[crawl]\nmax_page_mb = 0", "settings.toml:2 crawl.max_page_mb: 应大于 0"),
        ("[crawl]\nmax_pages_per_column = 0", "settings.toml:2 crawl.max_pages_per_column: 应不小于 1"),
        ("[crawl]\ntimeout = nan", "settings.toml:2 crawl.timeout: 应为有限的数字"),
        ("[rules]\nunavailable_ratio = 7.5", "settings.toml:2 rules.unavailable_ratio: 应在 0 到 1 之间，而不是 7.5"),
        ("[rules]\nprobe_timeout = -1", "settings.toml:2 rules.probe_timeout: 应大于 0，而不是 -1"),
        ("[rules]\nstale_days_notice = 0", "settings.toml:2 rules.stale_days_notice: 应不小于 1"),
        ("[smtp]\nport = 70000", "settings.toml:2 smtp.port: 应在 1 到 65535 之间"),
        ('[smtp]\nsender = "monitor"', 'settings.toml:2 smtp.sender: "monitor" 不是有效的电子邮件地址'),
        ('[alerts]\ncentre = ["centre@example.gov.cn", "a b@x.cn"]', "settings.toml:2 alerts.centre: \"a b@x.cn\""),
        ("[probes]\nconcurrency = 0", "settings.toml:2 probes.concurrency: 应不小于 1"),
        ('[probes]\npages = ["http://127.0.0.1:8700/a b/"]', "settings.toml:2 probes.pages: \"http://127.0.0.1:8700/a b/\" 含有空白字符"),
        (ACCOUNT + ACCOUNT.replace("仓山审计", "审计二号"), "settings.toml:39 accounts[1].url: 账号网址重复：https://weibo.com/u/100"),
        (ACCOUNT.replace("/u/100", "/u/ 100"), "settings.toml:33 accounts[0].url: "),
    ],
)
def test_out_of_range_settings_name_the_line_and_key(extra: str, expected: str) -> None:
    text = extra + "\n\n" + GOOD.split("\n\n", 2)[2] if extra.startswith("[") else GOOD + extra
    with pytest.raises(SettingsError) as err:
        parse_settings(text)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ('"audit@example.gov.cn"', '"not-an-email"', 'settings.toml:14 units[0].emails: "not-an-email" 不是有效的电子邮件地址'),
        ('"audit@example.gov.cn"', '"a@b@c"', "settings.toml:14 units[0].emails:"),
        ('url = "http://127.0.0.1:8700/"', 'url = "http://127.0.0.1:8700/ 首页"', "settings.toml:9 sites[0].url: "),
        ('url = "http://127.0.0.1:8700/sjj/gzdt/"', 'url = "http://127.0.0.1:8700/sjj/gzdt/\t"', "settings.toml:20 columns[0].url"),
    ],
)
def test_bad_values_in_arrays_name_the_line_and_key(old: str, new: str, expected: str) -> None:
    with pytest.raises(SettingsError) as err:
        parse_settings(GOOD.replace(old, new, 1))
    assert expected in str(err.value)


def test_values_at_the_edges_of_their_ranges_load() -> None:
    s = parse_settings('[crawl]\ndownload_delay = 0\nretries = 0\n[rules]\nunavailable_ratio = 1\n'
                       '[schedule]\nprobes = "every 60s"\n[smtp]\nsender = "monitor@localhost"\n')
    assert (s.crawl.download_delay, s.crawl.retries, s.rules.unavailable_ratio) == (0.0, 0, 1.0)


def test_every_numeric_setting_has_a_range() -> None:
    numeric = {(table, f.name) for table, cls in TABLES.items() for f in dataclasses.fields(cls)
               if typing.get_type_hints(cls)[f.name] in (int, float)}
    assert numeric == set(RANGES)


def test_database_url_from_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", "oracle://u@h/db")
    with pytest.raises(SettingsError, match='环境变量 MONITOR_DATABASE_URL: 不支持的数据库 "oracle"'):
        parse_settings(GOOD)


def test_password_is_refused_in_the_file_and_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="MONITOR_SMTP_PASSWORD"):
        parse_settings(GOOD + '\n[smtp]\npassword = "secret"\n')
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "s3cret")
    s = parse_settings(GOOD)
    assert s.smtp.password == "s3cret" and "s3cret" not in repr(s)


def test_database_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    assert parse_settings(GOOD).monitor.database_url == "postgresql://postgres@127.0.0.1/test"


def test_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(SettingsError, match="找不到设置文件"):
        load_settings(tmp_path / "nope.toml")


def test_redis_password_only_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="MONITOR_REDIS_PASSWORD"):
        parse_settings(GOOD + '\n[distributed]\nredis_password = "secret"\n')
    with pytest.raises(SettingsError, match=r"distributed\.redis_url: 密码不能写在 redis_url 中.*MONITOR_REDIS_PASSWORD"):
        parse_settings(GOOD + '\n[distributed]\nredis_url = "redis://:secret@127.0.0.1:6379/0"\n')
    monkeypatch.setenv("MONITOR_REDIS_PASSWORD", "s3cret")
    s = parse_settings(GOOD)
    assert s.distributed.redis_password == "s3cret" and "s3cret" not in repr(s)
