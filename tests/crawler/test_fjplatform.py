"""Fujian's provincial platform (TRS "动静结合" lists + POST /fjdzapp/search), crawled over loopback and
compared with the fixture's truth: static blocks merged, the list API followed, totals stated."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from config import load_settings
from crawler.run import run_crawl
from fixtures.fjplatform import COLUMNS, SEARCH_API, SEARCH_ID, fjplatform_columns, fjplatform_listings, fjplatform_posts
from fixtures.server import FixtureServer
from storage.db import get_sessionmaker
from storage.models import Column, ColumnFetch, ColumnPost, Post
from tests.crawler.test_crawl import TZ, stored
from tests.helpers import write_test_settings

BIG, FORBIDDEN, PICTURES, JIEDU, HIDDEN_NO_DATA = "/zwgk/gzdt/", "/zwgk/xzdt/", "/zwgk/tpxw/", "/zwgk/zcjd/", "/zwgk/bmdt/"
HEALTHY = [c for c in fjplatform_columns() if c.path != FORBIDDEN]


def static_count(path: str) -> int:
    col = next(c for c in COLUMNS if c.path == path)
    return col.per_page * col.static_pages


def expected(base_url: str, listings: dict) -> dict[str, list[str]]:
    """column path -> the article URLs a crawl must store for it (the 403 column: its static pages only)."""
    return {path: [base_url + p.path for p in (posts[:static_count(path)] if path == FORBIDDEN else posts)]
            for path, posts in listings.items()}


def listed(db_url: str, base_url: str) -> dict[str, set[str]]:
    with get_sessionmaker(db_url)() as s:
        rows = s.execute(select(Column.url, Post.url).join(ColumnPost, ColumnPost.column_id == Column.id)
                         .join(Post, Post.id == ColumnPost.post_id))
        out: dict[str, set[str]] = {}
        for column_url, post_url in rows:
            out.setdefault(column_url.removeprefix(base_url), set()).add(post_url)
    return out


def outcomes(db_url: str, base_url: str, run_id: int) -> dict[str, ColumnFetch]:
    with get_sessionmaker(db_url)() as s:
        return {c.url.removeprefix(base_url): f for f, c in
                s.execute(select(ColumnFetch, Column).join(Column, Column.id == ColumnFetch.column_id)
                          .where(ColumnFetch.run_id == run_id))}


def api_forms(server: FixtureServer, start: int = 0) -> list[dict[str, str]]:
    """The form of every list-API POST the server received since its `start`-th POST."""
    return [{k: v[-1] for k, v in parse_qs(form).items()} for path, form in server.posted[start:]
            if path.startswith(SEARCH_API)]


@pytest.fixture(scope="module")
def platform() -> Iterator[FixtureServer]:
    with FixtureServer(site="fjplatform") as server:
        yield server


@pytest.fixture(scope="module")
def full_crawl(platform: FixtureServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, int]:
    """One full crawl of every column: (database URL, run id, requests the server received)."""
    platform.clear_requests()
    tmp = tmp_path_factory.mktemp("fj")
    db_url = f"sqlite:///{tmp / 'm.db'}"
    settings = load_settings(write_test_settings(tmp / "s.toml", platform.base_url, fjplatform_columns(), db_url))
    start = platform.request_count
    summary = run_crawl(settings, full=True)
    assert summary.columns == len(COLUMNS) and not summary.failed, summary.failed
    return db_url, summary.run_id, platform.request_count - start


@pytest.mark.slow
def test_every_column_is_read_whole_and_matches_truth(platform: FixtureServer, full_crawl) -> None:
    db_url, _, _ = full_crawl
    want_lists = expected(platform.base_url, fjplatform_listings())
    truth = {platform.base_url + p.path: (p.title, p.published.date()) for p in fjplatform_posts()}
    want = {u: truth[u] for urls in want_lists.values() for u in urls}
    got = stored(db_url)
    assert sorted(set(want) - set(got))[:5] == [] and sorted(set(got) - set(want))[:5] == []
    wrong = [(u, got[u], want[u]) for u in want if got[u] != want[u]]
    assert not wrong, wrong[:5]
    got_lists = listed(db_url, platform.base_url)
    for path, urls in want_lists.items():
        assert got_lists.get(path) == set(urls), path
    assert len(want_lists[BIG]) == 107 and len(want_lists[PICTURES]) == 41 and len(want_lists[JIEDU]) == 34


@pytest.mark.slow
def test_the_big_column_gives_75_static_items_and_32_from_the_api(platform: FixtureServer, full_crawl) -> None:
    db_url, run_id, _ = full_crawl
    big = outcomes(db_url, platform.base_url, run_id)[BIG]
    assert (big.status, big.pages, big.entries) == ("ok", 4, 107)   # column page + API pages 6, 7, 8
    months = Counter(p.published.strftime("%Y-%m") for p in fjplatform_listings()[BIG])
    with get_sessionmaker(db_url)() as s:
        rows = s.execute(select(Post.published_at).join(ColumnPost, ColumnPost.post_id == Post.id)
                         .join(Column, Column.id == ColumnPost.column_id).where(Column.url == platform.base_url + BIG))
        got = Counter(when.astimezone(TZ).strftime("%Y-%m") for (when,) in rows)
    assert got == months


@pytest.mark.slow
def test_forbidden_api_makes_the_column_partial_and_the_rest_goes_on(platform: FixtureServer, full_crawl) -> None:
    db_url, run_id, _ = full_crawl
    fetches = outcomes(db_url, platform.base_url, run_id)
    bad = fetches[FORBIDDEN]
    assert bad.status == "partial" and "403" in (bad.reason or "") and "第 6 页" in (bad.reason or ""), bad.reason
    assert (bad.stated_total, bad.listed) == (107, 75)
    assert bad.reason.startswith("已读取 75/107 条；第 6 页读取失败：HTTP 403 错误"), bad.reason
    assert {p: f.status for p, f in fetches.items() if p != FORBIDDEN} == {c.path: "ok" for c in HEALTHY}
    assert (fetches[BIG].stated_total, fetches[BIG].listed) == (107, 107)


def test_settings_blocks_load_beside_the_portal(tmp_path) -> None:
    from fixtures.fjplatform import UNIT, settings_toml
    from fixtures.portal import write_settings

    path = tmp_path / "s.toml"
    write_settings(path, "http://127.0.0.1:8700", f"sqlite:///{tmp_path / 'm.db'}")
    path.write_text(path.read_text(encoding="utf-8") + "\n" + settings_toml("http://127.0.0.1:8701"), encoding="utf-8")
    settings = load_settings(path)
    ours = [c for c in settings.columns if c.url.startswith("http://127.0.0.1:8701/")]
    assert [(c.unit, c.name, c.quota) for c in ours] == [(UNIT, c.name, False) for c in fjplatform_columns()]
    assert any(s.unit == UNIT and s.url == "http://127.0.0.1:8701/" for s in settings.sites)


@pytest.mark.slow
def test_picture_jiedu_and_hidden_no_data_columns(platform: FixtureServer, full_crawl) -> None:
    db_url, run_id, _ = full_crawl
    fetches = outcomes(db_url, platform.base_url, run_id)
    lists = listed(db_url, platform.base_url)
    truth = fjplatform_listings()
    assert (fetches[PICTURES].pages, fetches[PICTURES].entries) == (2, 41)   # 3 static pages of 12 + API page 4
    assert (fetches[JIEDU].pages, fetches[JIEDU].entries) == (3, 34)         # 1 static page + API pages 2, 3
    # 部门动态's hidden <div ms-visible="data.length==0">暂无数据</div> sits inside its static block.
    assert fetches[HIDDEN_NO_DATA].status == "ok" and len(lists[HIDDEN_NO_DATA]) == len(truth[HIDDEN_NO_DATA]) == 24


@pytest.mark.slow
def test_page_furniture_is_never_an_item(platform: FixtureServer, full_crawl) -> None:
    db_url, _, _ = full_crawl
    articles = {platform.base_url + p.path for p in fjplatform_posts()}
    furniture = [u for u in stored(db_url) if u not in articles]
    assert not furniture   # nav, 更多栏目, 发布时间 filter, sidebar menu, 相关链接, pager: none stored
    assert not any(u.endswith("/") or "javascript" in u or "fujian.gov.cn" in u for u in stored(db_url))


@pytest.mark.slow
def test_an_article_in_two_columns_is_one_post_listed_in_both(platform: FixtureServer, full_crawl) -> None:
    db_url, _, _ = full_crawl
    twice = Counter(p.path for p in fjplatform_posts())
    shared = [platform.base_url + path for path, n in twice.items() if n == 2]
    assert len(shared) == 9   # 6 政府文件 in 通知公告 (static), 3 部门动态 in 工作动态 (from the API)
    lists = listed(db_url, platform.base_url)
    for url in shared:
        assert sum(url in urls for urls in lists.values()) == 2, url
    with get_sessionmaker(db_url)() as s:
        assert len(set(s.scalars(select(Post.url)))) == len(twice) - static_gap()


def static_gap() -> int:
    """Articles of the 403 column beyond its static pages: never reached, so never stored."""
    return len(fjplatform_listings()[FORBIDDEN]) - static_count(FORBIDDEN)


@pytest.mark.slow
def test_incremental_recrawl_then_two_new_records(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    with FixtureServer(site="fjplatform") as server:
        settings = load_settings(write_test_settings(tmp_path / "s.toml", server.base_url, HEALTHY, db_url))
        run_crawl(settings, full=True)
        before = stored(db_url)

        start = server.request_count
        summary = run_crawl(settings)
        column_requests = server.request_count - start - 1   # one robots.txt a crawl
        assert summary.new_posts == 0 and stored(db_url) == before
        assert column_requests / len(HEALTHY) <= 1.05, server.requests[start:]

        new = server.site.publish(BIG, 2)
        start = server.request_count
        summary = run_crawl(settings)
        requests = server.requests[start:]
        after = stored(db_url)
    assert summary.new_posts == 2 and not summary.failed
    assert {server.base_url + p.path: (p.title, p.published.date()) for p in new}.items() <= after.items()
    assert len(after) == len(before) + 2
    assert not [r for r in requests if r[0] == "POST"]   # the page's last item was stored: no API page
    assert (len(requests) - 1) / len(HEALTHY) <= 1.05, requests
    assert listed(db_url, server.base_url)[BIG] == {server.base_url + p.path for p in server.site.listings[BIG]}


@pytest.mark.slow
def test_api_pages_are_requested_as_the_page_declares(platform: FixtureServer, full_crawl) -> None:
    forms = api_forms(platform)
    # pages after maxStaticIndex up to pageCount; nothing for the columns whose records are all static
    assert sorted((f["classsql"], int(f["page"]), int(f["prepage"])) for f in forms) == sorted([
        ("chnlid=1780", 6, 15), ("chnlid=1780", 7, 15), ("chnlid=1780", 8, 15), ("chnlid=1784", 6, 15),
        ("chnlid=1785", 4, 12), ("chnlid=1786", 2, 15), ("chnlid=1786", 3, 15)])
    assert {(f["channelid"], f["sortfield"]) for f in forms} == {(SEARCH_ID, "-docorderpri,-docreltime")}
