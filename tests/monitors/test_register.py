"""The new-media accounts register (福州市政务新媒体详细汇总表): import checks, TOML, export, round trip, CLI."""
from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from config import parse_settings
from config.model import AccountSettings
from monitors.cli import main
from monitors.register import (HEADERS, NAMELESS, STATUS_HEADERS, internal_host, new_rows, platform_of, read_register,
                               rows_to_toml, unit_key, write_register)

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "fixtures" / "data" / "register_2020.xlsx"

BASE_SETTINGS = """\
[monitor]
database_url = "sqlite:///{db}"

# The fixture portal on loopback: its host makes the sample register's loopback accounts (the accounts fixture,
# 127.0.0.1:8701) acceptable, as in every test and demo settings file.
[[sites]]
name = "测试站点"
url = "http://127.0.0.1:8700/"

[[units]]
name = "大数据服务中心"
kind = "other"

[[units]]
name = "三叉街街道"
kind = "township"
"""


def monitor(*args: str) -> subprocess.CompletedProcess:
    """`monitor ARGS` in process (click's CliRunner); a crash is a test failure, not an exit code."""
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(BASE_SETTINGS.format(db=(tmp_path / "monitor.db").as_posix()), encoding="utf-8")
    return path


def messages(problems) -> list[str]:
    return [p.message for p in problems]


def test_sample_register_is_the_generated_one(tmp_path: Path) -> None:
    from fixtures.register_sample import write_sample

    fresh = write_sample(tmp_path / "r.xlsx")
    cells = lambda p: [[c.value for c in row] for row in load_workbook(p).active.iter_rows()]  # noqa: E731
    assert cells(fresh) == cells(SAMPLE), "regenerate it: python -m fixtures.register_sample"


def test_import_of_the_seed_register() -> None:
    rows, problems = read_register(SAMPLE)
    assert [r.no for r in rows] == list(range(1, 20))
    assert [r.platform for r in rows] == ["weibo"] * 3 + ["wechat"] * 16
    assert rows[0].name == "仓山发布" and rows[0].url == "http://127.0.0.1:8701/u/3286529480"
    assert rows[0].account_id == "3286529480" and rows[0].review is True
    assert rows[12].unit == "三叉街街道" and rows[12].name == "" and rows[12].to_account().name == NAMELESS
    assert rows[4].review is False and rows[12].review is None
    assert rows[18].sample_url.endswith("/s/hHHZOJu6UNatSkesEgxa4r")
    assert not [p for p in problems if p.level == "error"]
    assert messages(problems) == [
        "第8行（序号5）：未建立审核机制",
        "第8行（序号5）：缺少联系人",
        "第16行（序号13）：账号名称为空，暂以“（未填写名称）”登记",
        "第16行（序号13）：未建立审核机制（未填写）",
        "第16行（序号13）：缺少联系人",
        "第19行（序号16）：联系人“郑某某”没有手机号码",
        "第22行（序号19）：与第16行（序号13）同一单位“三叉街街道”同一平台“微信公众号”，可能重复登记",
    ]
    assert all(p.level == "warning" for p in problems)
    assert [p.row for p in problems] == [8, 8, 16, 16, 16, 19, 22]  # Excel's rows: title, 单位名称, header above


def test_platform_names_and_loose_units() -> None:
    assert platform_of("新浪微博") == platform_of(" 微博 ") == "weibo"
    assert platform_of("微信公众号") == platform_of("微信") == platform_of("微信公众号（服务号）") == "wechat"
    assert platform_of("RSS") == platform_of("订阅源") == "feed"
    assert platform_of("抖音") is None and platform_of("微信视频号") is None and platform_of("人民日报客户端") is None
    assert unit_key("三叉街街道办事处") == unit_key("三叉街街道") != unit_key("三叉街社区")
    assert unit_key("盖山镇人民政府") == unit_key("盖山镇")


def test_toml_parses_into_settings() -> None:
    rows, _ = read_register(SAMPLE)
    text = rows_to_toml(rows, ["大数据服务中心", "三叉街街道"], source="register_2020.xlsx")
    settings = parse_settings(BASE_SETTINGS.format(db="/tmp/x.db") + "\n" + text)
    assert len(settings.accounts) == 19
    by_no = dict(zip(range(1, 20), settings.accounts))
    assert by_no[13].name == NAMELESS and by_no[13].unit == "三叉街街道" and by_no[13].review is None
    assert by_no[19].unit == "三叉街街道"  # 三叉街街道办事处 is the same unit
    assert "登记表单位“三叉街街道办事处”按“三叉街街道”记入" in text
    assert by_no[5].review is False and by_no[5].contact == ""
    assert by_no[1].contact.startswith("张某某") and by_no[1].account_id == "3286529480"
    assert {u.name for u in settings.units if u.kind == "other"} >= {"福州市公安局仓山分局", "营商办"}
    assert len(settings.units) == 2 + 16  # 18 units in the register, 三叉街 twice, two known
    # Without known units, the register's first spelling becomes the unit and the second joins it.
    alone = tomllib.loads(rows_to_toml(rows, []))
    assert [u["name"] for u in alone["units"]].count("三叉街街道") == 1
    assert "三叉街街道办事处" not in {u["name"] for u in alone["units"]}


def test_toml_strings_are_escaped() -> None:
    rows, _ = read_register(SAMPLE)
    from dataclasses import replace

    odd = replace(rows[0], name='仓山"发布"\\ \t', note="第一行\n第二行", unit="新单位")
    data = tomllib.loads(rows_to_toml([odd], []))
    assert data["accounts"][0]["name"] == '仓山"发布"\\ \t' and data["accounts"][0]["note"] == "第一行\n第二行"


def test_export_then_import_round_trip(tmp_path: Path) -> None:
    rows, _ = read_register(SAMPLE)
    settings = parse_settings(BASE_SETTINGS.format(db="/tmp/x.db") + "\n"
                              + rows_to_toml(rows, ["大数据服务中心", "三叉街街道"]))
    plain = write_register(tmp_path / "plain.xlsx", settings.accounts)
    again, problems = read_register(plain)
    assert [r.to_account() for r in again] == list(settings.accounts)
    statuses = {a.url: ("正常", "2020-10-09") for a in settings.accounts[:5]}
    with_status = write_register(tmp_path / "status.xlsx", settings.accounts, statuses, date="2020年10月10日")
    again, _ = read_register(with_status)
    assert [r.to_account() for r in again] == list(settings.accounts)
    ws = load_workbook(with_status).active
    assert ws["A1"].value == "福州市政务新媒体详细汇总表" and "A1:N1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["A2"].value.startswith("单位名称（盖章）：") and ws["A2"].value.endswith("填表日期：2020年10月10日")
    assert [c.value for c in ws[3]] == HEADERS + STATUS_HEADERS
    assert ws.freeze_panes == "A4" and ws["B4"].font.name == "宋体"
    assert [ws.cell(4, c).value for c in (1, 13, 14)] == [1, "2020-10-09", "正常"]
    assert ws.cell(10, 14).value == "尚未读取"
    footer = [ws.cell(r, 1).value for r in range(23, 27)]
    assert footer[0].startswith("填表人：") and footer[1].startswith("注：1.平台类型") and footer[3].startswith("3.")


def test_unsupported_platforms_and_rows_without_an_address(tmp_path: Path) -> None:
    rows, _ = read_register(SAMPLE)
    accounts = [rows[0].to_account(),
                AccountSettings("文体旅局", "抖音", "仓山文旅", "https://www.douyin.com/user/MS4wLjABAAAA"),
                AccountSettings("商务局", "今日头条", "仓山商务", ""),
                AccountSettings("教育局", "wechat", "", ""),
                AccountSettings("司法局", "wechat", "仓山普法", "", account_id="见二维码"),
                AccountSettings("司法局", "wechat", "仓山法援", "", account_id="csfy_gov", review=True,
                                contact="林某某 13800000000"),
                AccountSettings("大数据服务中心", "weibo", "仓山发布二", rows[0].url)]
    path = write_register(tmp_path / "r.xlsx", accounts)
    got, problems = read_register(path, skip_unsupported=True)
    errors = [p.message for p in problems if p.level == "error"]
    assert errors == ["第7行（序号4）：账号名称为空",
                      "第7行（序号4）：没有可监测的地址（网址/二维码、账号 ID、任意一篇文章的 URL 都未填写有效网址）",
                      "第8行（序号5）：没有可监测的地址（网址/二维码、账号 ID、任意一篇文章的 URL 都未填写有效网址）",
                      f"第10行（序号7）：与第4行（序号1）的监测地址相同（{rows[0].url}），重复登记"]
    assert "已跳过暂不支持监测的平台上的账号 2 个：抖音 1 个（第5行“仓山文旅”）；今日头条 1 个（第6行“仓山商务”）" \
        in messages(problems)
    assert [r.name for r in got] == ["仓山发布", "仓山法援"]
    assert got[1].url == "https://weixin.sogou.com/weixin?type=1&query=csfy_gov&ie=utf8"


def test_merged_cells_blank_rows_and_an_extra_title(tmp_path: Path) -> None:
    """A hand-made sheet: unit merged over two rows, a blank row, pre-numbered empty rows, header on row 4."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["福州市政务新媒体详细汇总表"])
    ws.append(["单位名称（盖章）：仓山区教育局", None, None, "填表日期: 2020.10.12"])
    ws.append([])
    ws.append(["序号", "单位", "平台类型", "账号名称", "运营主体", "网址/二维码", "是否建立审\n核机制",
               "联系人姓名、手\n机号码", "负责人姓名、手\n机号码", "备注", "账号 ID", "任意一篇文章的 URL"])
    ws.append([1, "教育局", "新浪微博", "仓山教育", "教育局", "weibo.com/u/1234567890", "是", "陈某 13800000001"])
    ws.append([2, None, "微信公众号", "福州仓山区教育局", "教育局", "二维码", "已建立三审三校制度", "陈某 13800000001",
               None, None, None, "https://mp.weixin.qq.com/s/AbCdEf"])
    ws.merge_cells("B5:B6")
    ws.append([])
    ws.append([3])
    ws.append([4])
    ws.append(["填表人：陈某", None, "联系电话：83000000"])
    ws.append(["注：1.平台类型为开通（或入驻）新媒体平台的类型"])
    wb.save(tmp_path / "hand.xlsx")
    rows, problems = read_register(tmp_path / "hand.xlsx")
    assert [(r.no, r.unit, r.platform, r.url, r.review) for r in rows] == [
        (1, "教育局", "weibo", "https://weibo.com/u/1234567890", True),
        (2, "教育局", "wechat", "https://mp.weixin.qq.com/s/AbCdEf", True)]
    assert problems == []  # one unit on two platforms is no duplicate; a described mechanism counts as 是


def test_unreadable_files(tmp_path: Path) -> None:
    from monitors.register import RegisterError

    with pytest.raises(RegisterError, match="找不到登记表"):
        read_register(tmp_path / "none.xlsx")
    (tmp_path / "bad.xlsx").write_text("not a workbook", encoding="utf-8")
    with pytest.raises(RegisterError, match="不是有效的 .xlsx"):
        read_register(tmp_path / "bad.xlsx")
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["姓名", "电话"])
    wb.save(tmp_path / "other.xlsx")
    with pytest.raises(RegisterError, match="找不到表头"):
        read_register(tmp_path / "other.xlsx")


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_import_preview_write_and_backup(settings_file: Path) -> None:
    original = settings_file.read_text(encoding="utf-8")
    preview = monitor("--config", str(settings_file), "accounts", "import", str(SAMPLE), "--add-units")
    assert preview.returncode == 0, preview.stderr
    assert "[提醒] 第16行（序号13）：账号名称为空" in preview.stderr
    assert "[提醒] 第22行（序号19）：与第16行（序号13）同一单位“三叉街街道”同一平台“微信公众号”，可能重复登记" in preview.stderr
    assert "新账号 19 个" in preview.stderr and "新单位 16 个" in preview.stderr
    assert len(tomllib.loads(preview.stdout)["accounts"]) == 19
    assert settings_file.read_text(encoding="utf-8") == original  # a preview writes nothing
    assert not settings_file.with_name("settings.toml.bak").exists()

    written = monitor("--config", str(settings_file), "accounts", "import", str(SAMPLE), "--write", "--add-units")
    assert written.returncode == 0, written.stderr
    assert settings_file.with_name("settings.toml.bak").read_text(encoding="utf-8") == original
    settings = parse_settings(settings_file.read_text(encoding="utf-8"))
    assert len(settings.accounts) == 19 and len(settings.units) == 18
    assert settings.accounts[12].name == NAMELESS and settings.accounts[18].unit == "三叉街街道"
    assert settings_file.read_text(encoding="utf-8").startswith(original)  # appended: comments kept

    again = monitor("--config", str(settings_file), "accounts", "import", str(SAMPLE), "--write")
    assert again.returncode == 0, again.stderr
    assert "已在设置中 19 个" in again.stderr and "没有需要新增的账号" in again.stderr
    assert len(parse_settings(settings_file.read_text(encoding="utf-8")).accounts) == 19


def test_cli_import_exit_codes(settings_file: Path, tmp_path: Path) -> None:
    original = settings_file.read_text(encoding="utf-8")
    bad = write_register(tmp_path / "bad.xlsx", [AccountSettings("教育局", "wechat", "", "")])
    result = monitor("--config", str(settings_file), "accounts", "import", str(bad), "--write")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "[错误] 第4行（序号1）：账号名称为空"  # errors first, Excel's row
    assert result.stdout == "" and "未写入" in result.stderr
    assert settings_file.read_text(encoding="utf-8") == original
    assert not settings_file.with_name("settings.toml.bak").exists()

    missing = monitor("--config", str(settings_file), "accounts", "import", str(tmp_path / "none.xlsx"))
    assert missing.returncode == 2 and missing.stderr.startswith("错误：找不到登记表")
    assert "Traceback" not in missing.stderr
    (tmp_path / "junk.xlsx").write_bytes(b"PK\x03\x04 junk")
    junk = monitor("--config", str(settings_file), "accounts", "import", str(tmp_path / "junk.xlsx"))
    assert junk.returncode == 2 and junk.stderr.startswith("错误：无法读取登记表") and "Traceback" not in junk.stderr
    no_settings = monitor("--config", str(tmp_path / "nope.toml"), "accounts", "import", str(SAMPLE))
    assert no_settings.returncode == 2 and no_settings.stderr.startswith("错误：找不到设置文件")


def test_cli_export_with_statuses_from_the_database(settings_file: Path, tmp_path: Path) -> None:
    from fixtures.accounts import account_posts, seed_accounts
    from storage import queries
    from storage.db import get_sessionmaker

    assert monitor("--config", str(settings_file), "accounts", "import", str(SAMPLE), "--write",
                   "--add-units").returncode == 0
    # Before `monitor init`: the register without statuses.
    early = monitor("--config", str(settings_file), "accounts", "export", str(tmp_path / "early.xlsx"))
    assert early.returncode == 0, early.stderr
    assert "不含最近更新和监测状态" in early.stderr
    assert [c.value for c in load_workbook(tmp_path / "early.xlsx").active[3]] == HEADERS

    assert monitor("--config", str(settings_file), "init").returncode == 0
    url = f"sqlite:///{(tmp_path / 'monitor.db').as_posix()}"
    specs = {"http://127.0.0.1:8701" + s.path: s for s in seed_accounts()}
    with get_sessionmaker(url).begin() as session:
        for target in queries.account_targets(session):
            spec = specs[target.url]
            posts = account_posts(spec)
            rows = [queries.AccountPostRow(pid, when, title, None) for pid, when, title in posts]
            queries.store_account_read(session, target.account_id, None if spec.expected == "无法读取" else rows,
                                       spec.reason_kind)
    result = monitor("--config", str(settings_file), "accounts", "export", str(tmp_path / "out.xlsx"),
                     "--as-of", "2020-10-10")
    assert result.returncode == 0, result.stderr
    ws = load_workbook(tmp_path / "out.xlsx").active
    assert [c.value for c in ws[3]] == HEADERS + STATUS_HEADERS
    assert ws["A2"].value.endswith("填表日期：2020年10月10日")
    for r in range(4, 23):
        spec = specs[ws.cell(r, 6).value]
        assert ws.cell(r, 14).value.startswith(spec.expected), (r, spec)
        assert ws.cell(r, 13).value == (spec.newest.date().isoformat() if spec.newest and spec.expected != "无法读取"
                                        else "—")
    again, _ = read_register(tmp_path / "out.xlsx")
    assert len(again) == 19

    bad_date = monitor("--config", str(settings_file), "accounts", "export", str(tmp_path / "x.xlsx"), "--as-of", "10/10")
    assert bad_date.returncode == 2 and bad_date.stderr.startswith("错误：日期格式")


@pytest.mark.parametrize("host, internal", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True), ("api.localhost", True), ("::1", True),
    ("10.1.2.3", True), ("172.16.0.9", True), ("192.168.1.1", True), ("169.254.169.254", True),
    ("metadata.google.internal", True), ("0.0.0.0", True), ("fe80::1", True), ("::ffff:127.0.0.1", True),
    ("2130706433", True), ("0x7f.1", True),                       # 127.0.0.1 as the resolver also reads it
    ("weibo.com", False), ("mp.weixin.qq.com", False), ("www.fuzhou.gov.cn", False), ("8.8.8.8", False),
    ("deadbeef.gov.cn", False),
])
def test_internal_hosts(host: str, internal: bool) -> None:
    assert internal_host(host) is internal


INTERNAL = ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8700/admin", "http://localhost/",
            "http://10.0.0.5:8080/rss", "http://0.0.0.0/feed", "http://2130706433/"]


def _internal_register(tmp_path: Path) -> Path:
    accounts = [AccountSettings("教育局", "weibo", "教育发布", "https://weibo.com/u/3286529480", review=True,
                                contact="张三 13800000000")]
    accounts += [AccountSettings("教育局", "feed", f"内网订阅源{i}", url, review=True, contact="张三 13800000000")
                 for i, url in enumerate(INTERNAL, 1)]
    accounts.append(AccountSettings("教育局", "wechat", "教育微信", "https://mp.weixin.qq.com/s/abcdefghij", review=True,
                                    contact="张三 13800000000", sample_url="http://192.168.0.2/s/1"))
    return write_register(tmp_path / "internal.xlsx", accounts)


def test_internal_addresses_are_refused_with_their_row(tmp_path: Path) -> None:
    rows, problems = read_register(_internal_register(tmp_path))
    assert len(rows) == 8 and not [p for p in problems if p.level == "error"]
    fresh, _, refused = new_rows(rows, parse_settings(BASE_SETTINGS.split("# The fixture portal")[0]
                                                      .format(db=tmp_path / "m.db")), add_units=True)
    assert [r.no for r in fresh] == [1]
    bad = [(url, no) for no, url in enumerate(INTERNAL, 2)] + [("http://192.168.0.2/s/1", 8)]
    assert messages(refused) == [f"第{no + 3}行（序号{no}）：地址 {url} 指向本机、内网或云元数据地址，不予登记"
                                 for url, no in bad]
    assert {p.level for p in refused} == {"error"} and [p.line for p in refused] == [no + 3 for _, no in bad]


def test_a_configured_sites_host_is_not_refused(tmp_path: Path) -> None:
    """The site is on 127.0.0.1 (as the fixtures are): loopback accounts on that host pass, nothing else does."""
    rows, _ = read_register(_internal_register(tmp_path))
    settings = parse_settings(BASE_SETTINGS.format(db=tmp_path / "m.db"))
    fresh, _, refused = new_rows(rows, settings, add_units=True)
    assert [r.url for r in fresh] == ["https://weibo.com/u/3286529480", "http://127.0.0.1:8700/admin"]
    assert len(refused) == 6


@pytest.mark.parametrize("written", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://10.0.0.1/a.rss"])
def test_a_non_http_address_is_refused(tmp_path: Path, written: str) -> None:
    path = write_register(tmp_path / "scheme.xlsx", [AccountSettings("教育局", "feed", "订阅源", written, review=True,
                                                                     contact="张三 13800000000")])
    rows, problems = read_register(path)
    assert rows == [] and messages(problems) == [f"第4行（序号1）：网址“{written}”不是 http(s) 地址，不予登记"]


def test_cli_import_of_internal_addresses_writes_nothing(settings_file: Path, tmp_path: Path) -> None:
    original = settings_file.read_text(encoding="utf-8")
    result = monitor("--config", str(settings_file), "accounts", "import", str(_internal_register(tmp_path)),
                     "--write")
    assert result.returncode == 1 and "未写入" in result.stderr
    assert "[错误] 第5行（序号2）：地址 http://169.254.169.254/latest/meta-data/ 指向本机" in result.stderr
    assert settings_file.read_text(encoding="utf-8") == original


def test_a_bracketed_address_is_no_address_not_a_crash(tmp_path: Path) -> None:
    path = write_register(tmp_path / "v6.xlsx", [AccountSettings("教育局", "feed", "订阅源", "http://[::1]/feed",
                                                                 review=True, contact="张三 13800000000")])
    rows, problems = read_register(path)
    assert rows == [] and [p.level for p in problems] == ["error"] and "没有可监测的地址" in problems[0].message
