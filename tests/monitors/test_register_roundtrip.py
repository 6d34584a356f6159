"""The accounts register round trip (`monitor accounts import/export`): every field import reads is written back
by export, configured accounts take the register's details with --update, messages name Excel's rows, and
accounts on platforms we do not monitor stop the import unless --skip-unsupported."""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook, load_workbook

from config import load_settings
from config.model import AccountSettings
from fixtures.accounts import accounts_settings_toml
from fixtures.portal import portal_units, write_settings
from monitors.register import DETAILS, HEADERS, read_register, write_register
from tests.monitors.test_register import BASE_SETTINGS, SAMPLE, monitor


def cells(path: Path) -> list[list[object]]:
    """The register's header and account rows (the 12 columns of attachment 4)."""
    ws = load_workbook(path).active
    rows = [[c.value for c in row][:len(HEADERS)] for row in ws.iter_rows(min_row=3)]
    return [r for r in rows if r[0] is not None and not str(r[0]).startswith(("填表人", "注", "2.", "3."))]


def details(path: Path) -> list[tuple[object, ...]]:
    rows, _ = read_register(path)
    return [tuple(getattr(r.to_account(), key) for key in DETAILS) for r in rows]


def test_export_import_export_keeps_every_field(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for d in (first, second):
        d.mkdir()
        (d / "settings.toml").write_text(BASE_SETTINGS.format(db=(d / "m.db").as_posix()), encoding="utf-8")
    config = str(first / "settings.toml")
    assert monitor("--config", config, "accounts", "import", str(SAMPLE), "--add-units", "--write").returncode == 0
    assert monitor("--config", config, "accounts", "export", str(tmp_path / "one.xlsx")).returncode == 0
    config = str(second / "settings.toml")
    result = monitor("--config", config, "accounts", "import", str(tmp_path / "one.xlsx"), "--add-units", "--write")
    assert result.returncode == 0, result.stderr
    assert monitor("--config", config, "accounts", "export", str(tmp_path / "two.xlsx")).returncode == 0

    assert cells(tmp_path / "two.xlsx") == cells(tmp_path / "one.xlsx")
    assert len(cells(tmp_path / "one.xlsx")) == 1 + 19
    assert details(tmp_path / "two.xlsx") == details(SAMPLE)  # 运营主体 … 任意一篇文章的 URL, as the units wrote them
    assert load_settings(first / "settings.toml").accounts == load_settings(second / "settings.toml").accounts


def test_configured_accounts_take_the_registers_details_with_update(tmp_path: Path) -> None:
    """The demo's settings know the 19 accounts by unit, platform, name and URL only: importing the register
    said 已在设置中 and dropped the rest, so export wrote empty 运营主体/审核/联系人/负责人/账号 ID/URL columns."""
    path = tmp_path / "settings.toml"
    write_settings(path, "http://127.0.0.1:8700", f"sqlite:///{(tmp_path / 'm.db').as_posix()}")
    with path.open("a", encoding="utf-8") as f:
        f.write("\n# 政务新媒体账号\n" + accounts_settings_toml("http://127.0.0.1:8701", {u.name for u in portal_units()}))
    original = path.read_text(encoding="utf-8")
    config = str(path)

    preview = monitor("--config", config, "accounts", "import", str(SAMPLE))
    assert preview.returncode == 0 and "已在设置中 19 个" in preview.stderr
    assert ("[提醒] 第4行（序号1）：账号已在设置中（大数据服务中心“仓山发布”），登记表的运营主体、是否建立审核机制、联系人、"
            "负责人、账号 ID与设置不同，未更新（加 --update 按登记表更新设置）") in preview.stderr
    assert path.read_text(encoding="utf-8") == original

    dry = monitor("--config", config, "accounts", "import", str(SAMPLE), "--update")
    assert dry.returncode == 0 and "将更新已有账号 19 个的登记信息；加 --write 写入" in dry.stderr
    assert path.read_text(encoding="utf-8") == original

    written = monitor("--config", config, "accounts", "import", str(SAMPLE), "--update", "--write")
    assert written.returncode == 0, written.stderr
    assert "更新账号 19 个" in written.stderr
    assert path.with_name("settings.toml.bak").read_text(encoding="utf-8") == original
    text = path.read_text(encoding="utf-8")
    assert "# 政务新媒体账号" in text and text.startswith(original.splitlines()[0])  # comments kept
    assert monitor("--config", config, "accounts", "export", str(tmp_path / "out.xlsx")).returncode == 0
    assert details(tmp_path / "out.xlsx") == details(SAMPLE)
    again = monitor("--config", config, "accounts", "import", str(SAMPLE))
    assert again.returncode == 0 and "与设置不同" not in again.stderr


def test_messages_name_excels_rows(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["福州市政务新媒体详细汇总表"])
    ws.append(["单位名称（盖章）：仓山区教育局"])
    ws.append([])
    ws.append(HEADERS)
    ws.append([1, "教育局", "新浪微博", "仓山教育", "教育局", "https://weibo.com/u/1234567890", "是"])
    ws.append([None, "教育局", "微信公众号", "", "教育局", "", "是", "陈某 13800000001"])
    wb.save(tmp_path / "r.xlsx")
    _, problems = read_register(tmp_path / "r.xlsx")
    assert [p.message for p in problems] == [
        "第6行：账号名称为空",
        "第6行：没有可监测的地址（网址/二维码、账号 ID、任意一篇文章的 URL 都未填写有效网址）",
        "第5行（序号1）：缺少联系人",
    ]
    sheet = load_workbook(tmp_path / "r.xlsx").active
    assert sheet.cell(5, 4).value == "仓山教育" and sheet.cell(6, 3).value == "微信公众号"  # the rows named


def test_unsupported_platforms_are_listed_and_stop_the_import(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(BASE_SETTINGS.format(db=(tmp_path / "m.db").as_posix()), encoding="utf-8")
    original = config.read_text(encoding="utf-8")
    register = write_register(tmp_path / "r.xlsx", [
        AccountSettings("大数据服务中心", "weibo", "仓山发布", "https://weibo.com/u/3286529480", review=True,
                        contact="张某 13800000001"),
        AccountSettings("大数据服务中心", "抖音", "仓山发布", "https://www.douyin.com/user/MS4wLjABAAAA1"),
        AccountSettings("三叉街街道", "抖音", "", "https://www.douyin.com/user/MS4wLjABAAAA2"),
        AccountSettings("三叉街街道", "今日头条", "三叉街发布", ""),
    ])
    listed = ("抖音 2 个（第5行“仓山发布”、第6行“未填写名称”）；今日头条 1 个（第7行“三叉街发布”）")
    stopped = monitor("--config", str(config), "accounts", "import", str(register), "--write")
    assert stopped.returncode == 1 and stopped.stdout == ""
    assert f"[错误] 暂不支持监测的平台上有账号 3 个：{listed}。请删除这些行，或加 --skip-unsupported" in stopped.stderr
    assert config.read_text(encoding="utf-8") == original

    skipped = monitor("--config", str(config), "accounts", "import", str(register), "--write", "--skip-unsupported")
    assert skipped.returncode == 0, skipped.stderr
    assert f"[提醒] 已跳过暂不支持监测的平台上的账号 3 个：{listed}" in skipped.stderr
    assert [a.name for a in load_settings(config).accounts] == ["仓山发布"]
