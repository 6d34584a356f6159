"""No silent columns: pages that are not readable lists, lists too long, dates that cannot be right.

The spider reads the fault pages of fixtures/faults.py as Scrapy hands them to it (a real Request, the
response decoded by CharsetMiddleware), without a reactor; the end-to-end crawl is in test_crawl.py.
"""
from __future__ import annotations

import time
from datetime import date
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request

from crawler.dates import suspicious
from crawler.encoding import html_encoding
from crawler.extract import read_list, unreadable_cause
from crawler.items import ArticleDateItem, ColumnDoneItem, PageItem
from crawler.middlewares import CharsetMiddleware
from crawler.pagination import PageRequest
from crawler.spider import ColumnSpider
from fixtures.faults import MANY_LINKS, STRANGE_DATES, UTF16_TITLES, _add_list_faults
from fixtures.sitekit import Site
from storage.models import FetchStatus
from storage.queries import CrawlTarget

BASE = "http://127.0.0.1:8123"


@pytest.fixture(scope="module")
def pages() -> Site:
    site = Site()
    _add_list_faults(site)
    return site


def respond(site: Site, request: Request) -> HtmlResponse:
    path = request.url.removeprefix(BASE)
    page = site.pages[path + "index.html" if path.endswith("/") else path]
    response = HtmlResponse(request.url, body=page.body, headers={"Content-Type": page.content_type},
                            request=request)
    return CharsetMiddleware().process_response(request, response)  # type: ignore[return-value]


def read_column(site: Site, path: str, **kwargs: Any) -> tuple[list[PageItem], ColumnDoneItem, list[Any]]:
    """The spider's items for one column: its list page, then the article pages it asks for."""
    target = CrawlTarget(1, "故障单位", "故障栏目", BASE + path, None, None)
    spider = ColumnSpider([target], complete_urls=lambda urls: set(), **kwargs)
    queue = [spider._list_request(spider.states[1], PageRequest(target.url), first=True)]
    out: list[Any] = []
    while queue:
        request = queue.pop(0)
        for got in request.callback(respond(site, request)):
            (queue if isinstance(got, Request) else out).append(got)
    done = [i for i in out if isinstance(i, ColumnDoneItem)]
    assert len(done) == 1
    return [i for i in out if isinstance(i, PageItem)], done[0], out


def test_a_list_nested_too_deep_is_unreadable_and_says_why(pages: Site) -> None:
    started = time.monotonic()
    rows, done, _ = read_column(pages, "/faults/deepnest/")
    assert time.monotonic() - started < 3
    assert not rows
    assert done.status == FetchStatus.UNREADABLE
    assert done.reason == "未能识别信息列表（页面嵌套过深，超过 255 层，无法解析）"


def test_a_page_falsely_declaring_utf16_is_read_as_what_it_is(pages: Site) -> None:
    rows, done, _ = read_column(pages, "/faults/utf16/")
    assert done.status == FetchStatus.OK and done.reason is None
    assert [r.title for page in rows for r in page.rows] == UTF16_TITLES


def test_utf16_is_believed_only_where_the_bytes_can_be_utf16() -> None:
    utf8 = '<html><head><meta charset="utf-16"></head><body>栏目信息</body></html>'.encode()
    assert html_encoding(utf8, "utf-16") == "utf-8"
    assert html_encoding("<html><body>栏目信息</body></html>".encode("utf-16-le"), "utf-16") == "utf-16"


def test_a_list_page_over_the_entry_cap_is_read_to_the_cap_and_partial(pages: Site) -> None:
    started = time.monotonic()
    rows, done, _ = read_column(pages, "/faults/manylinks/", max_entries=500)
    assert time.monotonic() - started < 5
    stored = [r for page in rows for r in page.rows]
    assert len(stored) == 500 and stored[0].title == "链接过多页面中的信息1"
    assert done.status == FetchStatus.PARTIAL
    assert done.reason == f"列表页有 {MANY_LINKS} 条链接，超过上限 500 条，只读取前 500 条"


def test_suspicious_dates_are_flagged_and_a_future_one_is_no_publication_date(pages: Site) -> None:
    rows, done, out = read_column(pages, "/faults/strangedates/")
    listed = {r.title: (r.published_at.date() if r.published_at else None, r.date_source)
              for page in rows for r in page.rows}
    (normal, _, _), (old, _, _), (fixed, _, _), (future, _, _) = STRANGE_DATES
    assert listed == {normal: (date(2020, 9, 20), "list"), old: (date(1900, 1, 1), "list"),
                      fixed: (None, None), future: (None, None)}   # future list dates: the article decides
    articles = {i.url.rsplit("/", 1)[1]: i.published_at.date() if i.published_at else None
                for i in out if isinstance(i, ArticleDateItem)}
    assert articles == {"art_3.html": date(2020, 9, 18), "art_4.html": None}
    assert done.status == FetchStatus.OK   # read whole: the dates are the site's mistake
    assert done.reason == "日期可疑：1900-01-01（早于 1990 年）、2099-01-01（晚于明天）、2099-12-31（晚于明天）"


@pytest.mark.parametrize("day, why", [(date(1989, 12, 31), "早于 1990 年"), (date(1990, 1, 1), None),
                                      (date(2020, 10, 11), None), (date(2020, 10, 12), "晚于明天")])
def test_suspicious_days(day: date, why: str | None) -> None:
    assert suspicious(day, date(2020, 10, 10)) == why


def test_causes_of_an_unreadable_page() -> None:
    assert unreadable_cause("ℼ佄呃偙⁅瑨汭㰾瑨汭㰾敨摡㰾敭慴挠慨獲瑥") == \
        "未能识别信息列表（页面内容不是 HTML，可能是编码或文件类型与声明不符）"
    assert unreadable_cause("<html><body><p>栏目正在建设中，敬请期待</p></body></html>") == "未能在页面中识别出信息列表"
    # an empty Hanweb datastore or list API answer is a blank list, not an unreadable one
    assert unreadable_cause("<datastore><nextgroup></nextgroup><recordset></recordset></datastore>") is None
    assert unreadable_cause('{"pageCount": 0, "data": []}') is None


def test_read_list_counts_what_it_leaves() -> None:
    items = "".join(f'<li><a href="./t20200915_{i}.html">列表中的第{i}条信息</a><span>2020-09-15</span></li>'
                    for i in range(1, 121))
    html = f'<html><body><ul class="list">{items}</ul></body></html>'
    capped, whole = read_list(html, BASE + "/x/", limit=50), read_list(html, BASE + "/x/")
    assert (len(capped.entries), capped.found) == (50, 120) and capped.entries == whole.entries[:50]
    assert (len(whole.entries), whole.found) == (120, 120)
