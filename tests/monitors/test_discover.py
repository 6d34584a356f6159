"""Column discovery (`monitor discover`) on the fixture portal over loopback HTTP, against its ground truth."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from config import load_settings, parse_settings
from fixtures.portal import portal_columns, write_settings
from fixtures.portal.model import Resource
from fixtures.server import FixtureServer
from fixtures.sitekit import Site
from monitors.cli import main
from monitors.discover import (PageFacts, choose_unit, classify_category, discover, unit_from_trail, url_key)


def _settings_without_columns(path: Path, base_url: str, extra: str = "") -> Path:
    """The fixture portal's settings (its 37 units) with the [[columns]] removed."""
    write_settings(path, base_url, f"sqlite:///{(path.parent / 'monitor.db').as_posix()}")
    head = path.read_text(encoding="utf-8").split("[[columns]]")[0]
    path.write_text(head + extra, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def portal():
    with FixtureServer(site="portal") as server:
        yield server


@pytest.fixture(scope="module")
def found(portal, tmp_path_factory):
    settings = load_settings(_settings_without_columns(tmp_path_factory.mktemp("d") / "settings.toml",
                                                       portal.base_url))
    lines: list[str] = []
    portal.clear_requests()
    result = discover(portal.base_url + "/", settings, delay=0, progress=lines.append)
    return settings, result, lines, list(portal.requests)


@pytest.mark.slow
def test_proposes_every_list_column_and_nothing_else(portal, found) -> None:
    _settings, result, _lines, _requests = found
    truth = {url_key(portal.base_url + c.path) for c in portal_columns()}
    proposed = [url_key(p.url) for p in result.proposals]
    assert len(proposed) == len(set(proposed)), "a column proposed twice"
    assert set(proposed) - truth == set(), "pages that are not columns (hubs, the home page, articles)"
    assert truth - set(proposed) == set(), "columns not found"
    assert not result.skipped and not result.truncated


@pytest.mark.slow
def test_names_categories_and_units_against_the_truth(portal, found) -> None:
    settings, result, _lines, _requests = found
    truth = {url_key(portal.base_url + c.path): c for c in portal_columns()}
    by_url = {url_key(p.url): p for p in result.proposals}
    assert all(by_url[k].name == c.name for k, c in truth.items())
    right = sum(by_url[k].category == c.category for k, c in truth.items())
    assert right >= 0.9 * len(truth), f"categories right for {right} of {len(truth)}"
    known = {u.name for u in settings.units}
    units_right = [by_url[k].unit.name == c.unit for k, c in truth.items() if c.unit in known]
    assert len(units_right) == len(truth) and all(units_right)
    # blank columns are proposed too, as blank; dated ones with their newest post
    blank = {url_key(portal.base_url + f"/{slug}/{col}/") for slug, col in (("swj", "zsyz"), ("cgj", "zjdc"),
                                                                           ("gafj", "jwgk"))}
    assert {k for k, p in by_url.items() if p.blank} == blank
    audit = by_url[url_key(portal.base_url + "/sjj/gzdt/")]
    assert audit.newest is not None and audit.newest.date().isoformat() == "2020-08-21"


@pytest.mark.slow
def test_reads_navigation_not_articles_politely(found) -> None:
    _settings, result, lines, requests = found
    # hubs, unit pages and columns, plus one article per column whose list carries no full date
    article_checks = sum(1 for v in result.verdicts.values() if v.reason.startswith("列表（日期取自首条文章）"))
    pages = sum(1 for p in result.pages.values() if p.facts is not None)
    assert result.requests == len(requests) == pages + article_checks
    assert article_checks == sum(1 for c in portal_columns() if c.style in ("nodate", "plain-div"))
    assert len(result.pages) < 2 * len(portal_columns())
    assert sum(1 for line in lines if line.startswith("[")) == len(result.pages)  # a progress line a page
    assert all("已读" in line or "无法读取" in line for line in lines if line.startswith("["))
    assert not any("dataproxy" in path or "?page" in path or "pageNo" in path for _m, path in requests)


@pytest.mark.slow
def test_cli_write_appends_backs_up_and_skips_what_is_configured(portal, tmp_path: Path) -> None:
    path = _settings_without_columns(tmp_path / "settings.toml", portal.base_url, "\n[crawl]\ndownload_delay = 0.0\n")
    original = path.read_text(encoding="utf-8")
    runner = CliRunner()
    preview = runner.invoke(main, ["--config", str(path), "discover", portal.base_url + "/", "--out",
                                   str(tmp_path / "columns.toml")])
    assert preview.exit_code == 0, preview.output
    assert path.read_text(encoding="utf-8") == original
    text = (tmp_path / "columns.toml").read_text(encoding="utf-8")
    assert text.count("[[columns]]") == len(portal_columns())
    assert len(parse_settings(original + "\n" + text).columns) == len(portal_columns())
    assert "[1/500] 已读" in preview.stderr and "发现列表栏目 134 个" in preview.stderr

    written = runner.invoke(main, ["--config", str(path), "discover", portal.base_url + "/", "--write"])
    assert written.exit_code == 0, written.output
    assert (tmp_path / "settings.toml.bak").read_text(encoding="utf-8") == original
    settings = load_settings(path)
    assert {url_key(c.url) for c in settings.columns} == {url_key(portal.base_url + c.path) for c in portal_columns()}

    again = runner.invoke(main, ["--config", str(path), "discover", portal.base_url + "/"])
    assert again.exit_code == 0
    assert "已在设置中 134 个" in again.stderr and "没有需要新增的栏目" in again.stderr
    assert "[[columns]]" not in again.stdout


def _list_page(title: str, posts: list[tuple[str, str, str]]) -> str:
    items = "".join(f'<li><a href="{href}">{text}</a><span>{day}</span></li>' for text, href, day in posts)
    return (f'<html><head><meta name="ColumnName" content="{title}"><title>{title}</title></head><body>'
            f'<div class="position">当前位置：首页 &gt; 部门频道 &gt; 新设局 &gt; {title}</div>'
            f'<div class="main"><ul class="list">{items}</ul></div></body></html>')


def test_never_fetches_another_host(tmp_path: Path) -> None:
    with FixtureServer(site="portal") as other, FixtureServer(site="portal") as server:
        site = Site()
        posts = [(f"新设局开展第{i}次业务培训工作", f"/news/2020{i:02d}/t2020{i:02d}15_{i}.html", f"2020-{i:02d}-15")
                 for i in range(1, 6)]
        site.add_html("/index.html", '<html><head><title>测试门户</title></head><body><div class="nav">'
                      '<a href="/news/">工作动态</a> <a href="/go/">通知公告</a> '
                      f'<a href="{other.base_url}/xwzx/csyw/">仓山要闻</a> '
                      f'<a href="{other.base_url}/">仓山区人民政府</a></div></body></html>')
        site.add_html("/news/index.html", _list_page("工作动态", posts))
        site.pages["/go/index.html"] = Resource(b"", status=302, headers={"Location": other.base_url + "/zwgk/tzgg/"})
        server.site = site  # this server's own pages; the cached portal is untouched
        settings = load_settings(_settings_without_columns(tmp_path / "s.toml", server.base_url))
        result = discover(server.base_url + "/", settings, delay=0)
        assert other.requests == []
        assert [p.url for p in result.proposals] == [server.base_url + "/news/"]
        proposal = result.proposals[0]
        assert (proposal.unit.name, proposal.unit.known, proposal.unit.kind) == ("新设局", False, "department")
        assert proposal.category == "dynamic" and proposal.newest.month == 5
        text = result.toml(settings)
        assert 'name = "新设局"' in text and len(parse_settings(settings_text(tmp_path) + text).columns) == 1
        assert any("重定向到其他网站" in p.error for p in result.pages.values())


def settings_text(tmp_path: Path) -> str:
    return (tmp_path / "s.toml").read_text(encoding="utf-8") + "\n"


def test_category_from_the_name() -> None:
    cases = {"工作动态": "dynamic", "仓山要闻": "dynamic", "图片新闻": "dynamic", "通知公告": "notice",
             "政策文件": "notice", "人事信息": "plan", "规划计划": "plan", "政府信息公开目录": "disclosure",
             "政府信息公开年报": "disclosure", "财政预决算": "disclosure", "政策解读": "other", "招商引资": "other"}
    assert {name: classify_category(name)[0] for name in cases} == cases


def test_unit_order_forced_then_prefixes_then_breadcrumb_then_hub(tmp_path: Path) -> None:
    settings = parse_settings('[[units]]\nname = "审计局"\nurl_prefixes = ["http://x.gov.cn/sjj/"]\n\n'
                              '[[units]]\nname = "统计局"\n\n[[units]]\nname = "仓山镇"\nkind = "township"\n')
    facts = PageFacts(url="http://x.gov.cn/sjj/gzdt/", trail=["部门频道", "统计局", "工作动态"])
    assert choose_unit(facts, settings, forced="仓山镇").name == "仓山镇"
    assert choose_unit(facts, settings).source == "单位的 url_prefixes"
    facts.url = "http://x.gov.cn/tjj/gzdt/"
    assert choose_unit(facts, settings).name == "统计局"
    hub = unit_from_trail(["镇街频道", "仓山镇"], settings.units)
    plain = PageFacts(url="http://x.gov.cn/col/col1/index.html", trail=["工作动态"])
    assert choose_unit(plain, settings, hub=hub).name == "仓山镇"
    assert choose_unit(plain, settings).name == ""
    new = unit_from_trail(["镇街频道", "新建街道"], settings.units)
    assert (new.name, new.known, new.kind) == ("新建街道", False, "township")


def test_unseen_portal_in_other_templates() -> None:
    """The unseen portal (markup the main portal never uses): every column, nothing else; with no unit known,
    the blocks come out commented, so appending them still loads."""
    from fixtures.unseen import unseen_columns

    with FixtureServer(site="unseen") as server:
        settings = parse_settings("[crawl]\ndownload_delay = 0.0\n")
        result = discover(server.base_url + "/", settings)
    assert {url_key(p.url) for p in result.proposals} == {url_key(server.base_url + c.path) for c in unseen_columns()}
    text = result.toml(settings)
    assert text.count("# [[columns]]") == len(unseen_columns())
    assert parse_settings(text).columns == ()


def test_provincial_platform_site_read_once_a_page() -> None:
    """The 政务公开 sub-site on the provincial platform: its menus link columns without the trailing slash
    (`../tzgg` → 301 → `../tzgg/`); every column is proposed, with its category, and no page is read twice."""
    from fixtures.fjplatform import COLUMNS

    settings = parse_settings('[crawl]\ndownload_delay = 0.0\n[[units]]\nname = "区政府办"\n')
    with FixtureServer(site="fjplatform") as server:
        result = discover(server.base_url + "/", settings, unit="区政府办")
        gets = [path for method, path in server.requests if method == "GET"]
    assert {url_key(p.url): p.category for p in result.proposals} == {
        url_key(server.base_url + c.path): c.category for c in COLUMNS}
    pages_read = [path for path in gets if path.endswith("/")]
    assert len(pages_read) == len(set(pages_read)), sorted(pages_read)
