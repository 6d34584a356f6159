"""End-to-end crawls of the fixture portal on loopback: every page style, incremental re-crawls, faults."""
from __future__ import annotations

from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from config import load_settings
from crawler.run import run_crawl
from fixtures.portal import portal_columns, portal_posts
from storage import queries
from storage.db import get_sessionmaker
from storage.models import Column, ColumnFetch, Post
from tests.helpers import truth, write_test_settings

pytestmark = pytest.mark.slow  # every test crawls the fixture portal end to end

TZ = ZoneInfo("Asia/Shanghai")


def stored(db_url: str) -> dict[str, tuple[str, object]]:
    with get_sessionmaker(db_url)() as s:
        return {p.url: (p.title, p.published_at.astimezone(TZ).date() if p.published_at else None)
                for p in s.scalars(select(Post))}


def by_style(n: int) -> list:
    """The first n columns of each page style the portal uses, skipping blank ones."""
    posts_by_column = {p.column_path for p in portal_posts()}
    seen: dict[str, list] = defaultdict(list)
    for c in portal_columns():
        if c.path in posts_by_column and len(seen[c.style]) < n:
            seen[c.style].append(c)
    return [c for cols in seen.values() for c in cols]


def assert_matches_truth(db_url: str, base_url: str, columns: list) -> None:
    want = {url: (title, when.date()) for url, (title, when) in truth(portal_posts(), base_url, {c.path for c in columns}).items()}
    got = stored(db_url)
    missing = sorted(set(want) - set(got))[:5]
    extra = sorted(set(got) - set(want))[:5]
    assert not missing and not extra, f"missing {missing} extra {extra}"
    wrong = [(u, got[u], want[u]) for u in want if got[u] != want[u]][:5]
    assert not wrong, wrong


def test_full_crawl_reads_every_page_style(portal, tmp_path, db_url: str) -> None:
    columns = by_style(2)
    assert len({c.style for c in columns}) >= 5
    settings = load_settings(write_test_settings(tmp_path / "s.toml", portal.base_url, columns, db_url))
    summary = run_crawl(settings, full=True)
    assert summary.columns == len(columns) and not summary.failed
    assert_matches_truth(db_url, portal.base_url, columns)


def test_incremental_recrawl_with_nothing_new_makes_one_request_per_column(portal, tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    columns = by_style(2)
    settings = load_settings(write_test_settings(tmp_path / "s.toml", portal.base_url, columns, db_url))
    run_crawl(settings, full=True)
    before = len(stored(db_url))
    start = portal.request_count
    summary = run_crawl(settings)
    column_requests = portal.request_count - start - 1  # one robots.txt a crawl
    assert summary.new_posts == 0 and len(stored(db_url)) == before
    assert column_requests / len(columns) <= 1.05, column_requests
    with get_sessionmaker(db_url)() as s:
        statuses = {f.status for f in queries.run_fetches(s, summary.run_id)}
    assert statuses == {"unchanged"}  # the server's ETag/Last-Modified answered 304


FAULTS = {
    "/faults/timeout/": "超时",
    "/faults/500/": "HTTP 500",
    "/faults/loop/": "重定向",
}


def test_faulty_columns_are_reported_and_the_rest_is_stored(portal, tmp_path) -> None:
    from fixtures.portal.model import ColumnSpec

    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    good = by_style(1)[:2]
    faults = [ColumnSpec("故障单位", name, path, "dynamic", True, "fault") for name, path in
              [("超时栏目", "/faults/timeout/"), ("错误栏目", "/faults/500/"), ("循环栏目", "/faults/loop/"),
               ("损坏栏目", "/faults/broken/"), ("日期栏目", "/faults/baddate/")]]
    settings = load_settings(write_test_settings(tmp_path / "s.toml", portal.base_url, faults + good, db_url,
                                                 timeout=2.0))
    summary = run_crawl(settings)
    with get_sessionmaker(db_url)() as s:
        outcome = {c.url.removeprefix(portal.base_url): (f.status, f.reason or "")
                   for f, c in s.execute(select(ColumnFetch, Column).join(Column, Column.id == ColumnFetch.column_id)
                                         .where(ColumnFetch.run_id == summary.run_id))}
    for path, words in FAULTS.items():
        assert outcome[path][0] == "error" and words in outcome[path][1], outcome[path]
    assert outcome["/faults/broken/"][0] == "partial", outcome["/faults/broken/"]
    assert outcome["/faults/baddate/"][0] == "partial" and "日期" in outcome["/faults/baddate/"][1]
    for c in good:
        assert outcome[c.path][0] == "ok"
    assert_matches_truth_subset(db_url, portal.base_url, good)


def assert_matches_truth_subset(db_url: str, base_url: str, columns: list) -> None:
    want = truth(portal_posts(), base_url, {c.path for c in columns})
    got = stored(db_url)
    assert set(want) <= set(got)


def test_pages_over_the_size_limit_fail_and_the_rest_is_stored(portal, tmp_path) -> None:
    """A 4 MB list page and 8 KB of gzip inflating to 8 MB are stopped at [crawl] max_page_mb (a failure with
    its reason, nothing of them stored), while the other columns are read as usual."""
    from fixtures.portal.model import ColumnSpec

    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    good = by_style(1)[:1]
    big = [ColumnSpec("故障单位", "超大栏目", "/faults/huge/", "dynamic", True, "fault"),
           ColumnSpec("故障单位", "压缩炸弹栏目", "/faults/gzipbomb/", "dynamic", True, "fault")]
    settings = load_settings(write_test_settings(tmp_path / "s.toml", portal.base_url, big + good, db_url,
                                                 extra="max_page_mb = 1.0\n"))
    summary = run_crawl(settings)
    with get_sessionmaker(db_url)() as s:
        outcome = {c.url.removeprefix(portal.base_url): (f.status, f.reason or "")
                   for f, c in s.execute(select(ColumnFetch, Column).join(Column, Column.id == ColumnFetch.column_id)
                                         .where(ColumnFetch.run_id == summary.run_id))}
    for path in ("/faults/huge/", "/faults/gzipbomb/"):
        assert outcome[path] == ("error", "页面超过 1 MB，已停止读取"), outcome[path]
    assert outcome[good[0].path][0] == "ok"
    assert not [url for url in stored(db_url) if "/faults/" in url]
    assert_matches_truth_subset(db_url, portal.base_url, good)


def test_the_crawl_never_leaves_the_configured_sites(portal, tmp_path) -> None:
    """A 302 and a meta refresh to another port fail their column without following; the undated entries of a
    list that link to another port are neither fetched nor stored. The other port is a real server: it counts
    every request, and must receive none."""
    from fixtures.faults import OFFSITE_LINKS_ONSITE, add_offsite_faults
    from fixtures.portal.model import ColumnSpec
    from fixtures.server import FixtureServer

    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    good = by_style(1)[:2]
    with FixtureServer(site="portal") as elsewhere:
        add_offsite_faults(portal.site, elsewhere.base_url)
        faults = [ColumnSpec("故障单位", name, path, "dynamic", True, "fault") for name, path in
                  [("重定向栏目", "/faults/offsite-redirect/"), ("跳转栏目", "/faults/offsite-refresh/"),
                   ("站外链接栏目", "/faults/offsite-links/")]]
        settings = load_settings(write_test_settings(tmp_path / "s.toml", portal.base_url, faults + good, db_url))
        summary = run_crawl(settings, full=True)
        assert elsewhere.requests == []
    with get_sessionmaker(db_url)() as s:
        outcome = {c.url.removeprefix(portal.base_url): (f.status, f.reason or "")
                   for f, c in s.execute(select(ColumnFetch, Column).join(Column, Column.id == ColumnFetch.column_id)
                                         .where(ColumnFetch.run_id == summary.run_id))}
    assert outcome["/faults/offsite-redirect/"] == (
        "error", f"重定向到站外地址 {elsewhere.base_url}/xxgk/tzgg/，未跟随")
    assert outcome["/faults/offsite-refresh/"] == ("error", f"重定向到站外地址 {elsewhere.base_url}/x，未跟随")
    assert outcome["/faults/offsite-links/"] == ("partial", "3 条无日期信息链接到站外地址，未打开也未收录")
    got = stored(db_url)
    assert not [url for url in got if url.startswith(elsewhere.base_url)]
    links = {url: when for url, (_, when) in got.items() if "/faults/offsite-links/" in url}
    assert len(links) == OFFSITE_LINKS_ONSITE and all(links.values()), links  # dated by their article pages
    for c in good:
        assert outcome[c.path][0] == "ok"
    assert_matches_truth_subset(db_url, portal.base_url, good)


def test_columns_not_read_whole_are_never_silent(portal, tmp_path) -> None:
    """The list faults through every output: `monitor crawl` exits 1 with a count, `check` shows the page that is
    no list as column.unreadable, the report's column sheet and the centre's summary name it, a capped list and
    a column cut at max_pages_per_column are partial, a future date is never the newest post, and a false UTF-16
    declaration is read right."""
    import json
    import subprocess
    import sys
    from datetime import date

    from click.testing import CliRunner
    from openpyxl import load_workbook

    from fixtures.faults import UTF16_TITLES
    from fixtures.portal.model import ColumnSpec
    from monitors.app import Monitor
    from monitors.cli import main

    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    long = [ColumnSpec("故障单位", "分页较多栏目", "/csz/gzdt/", "dynamic", True, "trs")]   # 61 posts, 4 pages
    faults = [ColumnSpec("故障单位", name, path, "dynamic", True, "fault") for name, path in
              [("深层嵌套栏目", "/faults/deepnest/"), ("编码声明错误栏目", "/faults/utf16/"),
               ("链接过多栏目", "/faults/manylinks/"), ("日期可疑栏目", "/faults/strangedates/")]]
    path = write_test_settings(tmp_path / "s.toml", portal.base_url, faults + long, db_url,
                               extra='max_entries_per_page = 100\nmax_pages_per_column = 2\n\n'
                                     '[alerts]\ncentre = ["centre@example.org"]\n')
    crawl = subprocess.run([sys.executable, "-m", "monitors.cli", "--config", str(path), "crawl"],
                           capture_output=True, text=True, timeout=120)
    assert crawl.returncode == 1, crawl.stderr[-2000:]
    assert crawl.stderr.rstrip().endswith("有 2 个栏目未读全、1 个栏目失败"), crawl.stderr[-2000:]
    assert "未读全：故障单位 · 分页较多栏目：分页超过 2 页，已停止" in crawl.stderr
    assert "深层嵌套栏目：无法读取（未能识别信息列表（页面嵌套过深，超过 255 层，无法解析））" in crawl.stderr
    assert "未读全：故障单位 · 链接过多栏目：列表页有 20000 条链接，超过上限 100 条，只读取前 100 条" in crawl.stderr
    assert "提示：故障单位 · 日期可疑栏目：日期可疑：1900-01-01（早于 1990 年）、2099-01-01（晚于明天）" in crawl.stderr

    got = stored(db_url)
    assert sorted(t for url, (t, _) in got.items() if "/faults/utf16/" in url) == sorted(UTF16_TITLES)
    assert len([url for url in got if "/faults/manylinks/" in url]) == 100
    strange = {t: when for url, (t, when) in got.items() if "/faults/strangedates/" in url}
    assert sorted(strange.values(), key=str) == [date(1900, 1, 1), date(2020, 9, 18), date(2020, 9, 20), None]

    def monitor(*args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(path), *args])
        assert result.exit_code in (0, 1), result.output
        return result.output

    checked = json.loads(monitor("check", "--unit", "故障单位", "--as-of", "2020-10-10", "--no-crawl", "--format", "json"))
    unreadable = [f for f in checked["findings"] if f["rule"] == "column.unreadable"]
    assert [(f["target"], f["severity"]) for f in unreadable] == [(portal.base_url + "/faults/deepnest/", "warn")]
    assert unreadable[0]["detail"] == "栏目“深层嵌套栏目”无法读取：未能识别信息列表（页面嵌套过深，超过 255 层，无法解析）"
    assert not [f for f in checked["findings"] if f["rule"] == "column.blank"]
    columns = {c["name"]: c for c in checked["columns"]}
    assert columns["日期可疑栏目"]["last_post"] == "2020-09-20"   # not 2099-12-31
    assert columns["链接过多栏目"]["partial"].startswith("列表页有 20000 条链接")
    assert columns["深层嵌套栏目"]["unreadable"].startswith("未能识别信息列表")
    text = monitor("check", "--unit", "故障单位", "--as-of", "2020-10-10", "--no-crawl")
    assert "无法读取（未能识别信息列表（页面嵌套过深" in text and "未读全（列表页有 20000 条链接" in text

    monitor("report", "--quarter", "2020Q3", "--out", str(tmp_path / "out"), "--as-of", "2020-10-10")
    sheet = load_workbook(tmp_path / "out" / "附件-2020Q3.xlsx")["栏目更新"]
    problems = {row[2]: row[4] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert problems["深层嵌套栏目"] == "无法读取：未能识别信息列表（页面嵌套过深，超过 255 层，无法解析）"
    assert problems["链接过多栏目"].startswith("未读全：列表页有 20000 条链接")

    summary = Monitor(load_settings(path)).plan_alerts(date(2020, 10, 10)).summary
    assert summary is not None and "栏目“深层嵌套栏目”无法读取：未能识别信息列表（页面嵌套过深" in summary.text
    assert "  未读全：故障单位 · 链接过多栏目：列表页有 20000 条链接，超过上限 100 条，只读取前 100 条" in summary.text
