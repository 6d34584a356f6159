"""Unit names as people write them (monitors.unit_names): `--unit`, the register and the 分工表 accept a unit's
name, an alias and the same name written loosely, and answer anything else with the closest known units."""
from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from config import SettingsError, load_settings, parse_settings
from config.model import AccountSettings
from fixtures.portal import write_settings
from monitors.columns_register import read_columns
from monitors.register import write_register
from monitors.unit_names import UnitNames
from tests.monitors.test_register import monitor

BASE = "http://www.example.gov.cn"
ALIASES = 'name = "市场监管局"\nkind = "department"\n'


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    """The fixture portal's 37 units (its settings as generated), 市场监管局 with the aliases 市监局 and
    市场监督管理局."""
    path = tmp_path / "settings.toml"
    write_settings(path, BASE, f"sqlite:///{(tmp_path / 'monitor.db').as_posix()}")
    text = path.read_text(encoding="utf-8")
    assert text.count(ALIASES) == 1
    path.write_text(text.replace(ALIASES, ALIASES + 'aliases = ["市监局", "市场监督管理局"]\n'), encoding="utf-8")
    return path


def test_the_seed_spellings_resolve_or_get_the_closest_units(settings_path: Path) -> None:
    names = UnitNames.of(load_settings(settings_path).units)
    # Accepted: an alias, a suffix the settings name leaves off, the district written before the name.
    assert names.find("市监局") == names.find("市场监督管理局") == "市场监管局"
    assert names.find("三叉街街道办事处") == "三叉街街道"
    assert names.find("仓山区审计局") == names.find("福州市仓山区审计局") == "审计局"
    assert names.find("盖山镇人民政府") == "盖山镇"
    # Unknown, with the closest known units: typos, an abbreviation no alias covers, another level's unit.
    assert names.find("审记局") is None and names.suggest("审记局") == ["审计局"]
    assert names.find("螺州镇") is None and names.suggest("螺州镇") == ["螺洲镇"]
    assert names.find("统记局") is None and names.suggest("统记局")[0] == "统计局"
    assert names.find("福州市审计局") is None and names.suggest("福州市审计局")[0] == "审计局"  # the city's bureau
    without_aliases = UnitNames(names.names)
    assert without_aliases.find("市监局") is None and without_aliases.suggest("市监局")[0] == "市场监管局"
    assert names.unknown("审记局") == "单位“审记局”不在设置的单位中，您是否要找：审计局？"
    assert names.suggest("完全无关的名字") == []


def test_check_and_crawl_name_the_closest_units_not_all_of_them(settings_path: Path) -> None:
    config = str(settings_path)
    for written, near in [("审记局", "审计局"), ("螺州镇", "螺洲镇"), ("统记局", "统计局")]:
        result = monitor("--config", config, "check", "--unit", written, "--no-crawl")
        assert result.returncode == 2
        assert result.stderr.strip() == f"错误：单位“{written}”不在设置的单位中，您是否要找：{near}？"
    crawl = monitor("--config", config, "crawl", "--unit", "审记局")
    assert crawl.returncode == 2 and "您是否要找：审计局？" in crawl.stderr and "仓山镇" not in crawl.stderr
    unknown = monitor("--config", config, "check", "--unit", "完全无关的名字", "--no-crawl")
    assert unknown.returncode == 2 and "仓山镇" not in unknown.stderr  # not the 37 names on one line


def test_check_accepts_an_alias_and_a_district_prefix(settings_path: Path) -> None:
    config = str(settings_path)
    assert monitor("--config", config, "init").returncode == 0
    for written, unit in [("市监局", "市场监管局"), ("仓山区审计局", "审计局"), ("三叉街街道办事处", "三叉街街道")]:
        result = monitor("--config", config, "check", "--unit", written, "--no-crawl", "--as-of", "2020-10-10")
        assert result.returncode in (0, 1), result.stderr
        assert result.stdout.startswith(f"{unit} 检查结果（截至 2020-10-10）")


@pytest.mark.parametrize("aliases, expected", [
    ('aliases = ["审计局"]', "别名“审计局”已是单位“审计局”的名称"),
    ('aliases = ["市监局"]', "别名“市监局”已是单位“市场监管局”的别名"),
])
def test_aliases_are_unique_across_units(settings_path: Path, aliases: str, expected: str) -> None:
    text = settings_path.read_text(encoding="utf-8")
    unit = 'name = "应急管理局"\nkind = "department"\n'
    bad = text.replace(unit, unit + aliases + "\n")
    line = bad.splitlines().index(aliases) + 1  # the error names the line of the key
    index = [u.name for u in load_settings(settings_path).units].index("应急管理局")
    with pytest.raises(SettingsError) as error:
        parse_settings(bad, "settings.toml")
    assert str(error.value) == f"settings.toml:{line} units[{index}].aliases: {expected}"


def test_the_register_import_creates_no_unit_silently(settings_path: Path, tmp_path: Path) -> None:
    original = settings_path.read_text(encoding="utf-8")
    accounts = [AccountSettings("统记局", "weibo", "仓山统计", "https://weibo.com/u/1000000001", review=True,
                                contact="陈某 13800000001"),
                AccountSettings("市监局", "weibo", "仓山市场监管", "https://weibo.com/u/1000000002", review=True,
                                contact="林某 13800000002")]
    register = write_register(tmp_path / "r.xlsx", accounts)
    result = monitor("--config", str(settings_path), "accounts", "import", str(register), "--write")
    assert result.returncode == 1 and result.stdout == ""
    assert "[错误] 第4行（序号1）：单位“统记局”不在设置的单位中，您是否要找：统计局？" in result.stderr
    assert "[错误] 设置中没有的单位 1 个（统记局）" in result.stderr and "--add-units" in result.stderr
    assert "市监局" not in result.stderr  # an alias is a known unit
    assert settings_path.read_text(encoding="utf-8") == original
    assert not settings_path.with_name("settings.toml.bak").exists()

    # Asked to, it adds the unit, and files the alias's account under its unit.
    added = monitor("--config", str(settings_path), "accounts", "import", str(register), "--add-units")
    assert added.returncode == 0, added.stderr
    assert 'name = "统记局"' in added.stdout and 'unit = "市场监管局"' in added.stdout
    assert "登记表单位“市监局”按“市场监管局”记入" in added.stdout


def test_the_columns_import_takes_aliases_and_suggests(settings_path: Path, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "栏目名称", "地址", "维护单位", "栏目类别"])
    ws.append([1, "工作动态", BASE + "/scjg/gzdt/", "市监局", "动态类"])
    ws.append([2, "通知公告", BASE + "/sj/tzgg/", "审记局", "通知公告类"])
    ws.append([3, "通知公告", BASE + "/lz/tzgg/", "螺州镇", "通知公告类"])
    wb.save(tmp_path / "分工表.xlsx")
    found, problems = read_columns(tmp_path / "分工表.xlsx", load_settings(settings_path))
    assert [(r.line, r.unit) for r in found] == [(2, "市场监管局")]
    assert [p.message for p in problems] == [
        "第3行：维护单位“审记局”不在设置的单位中，您是否要找：审计局？",
        "第4行：维护单位“螺州镇”不在设置的单位中，您是否要找：螺洲镇？",
        "第2行：维护单位“市监局”按设置中的“市场监管局”记入",
    ]
