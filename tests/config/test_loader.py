"""Settings: what a user writes is validated at load; errors name the file, line and key."""
from __future__ import annotations

import pytest

from config import SettingsError, load_settings, parse_settings

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
