"""crawler.dates: the date forms gov portals print, checked from case tables."""
from datetime import datetime
from pathlib import Path

import pytest

from crawler.dates import YEARLESS_YEAR, article_date, date_from_url, has_yearless_date, parse_date

PAGES = Path(__file__).parent / "pages"

PARSE_CASES = [
    ("2020-09-15", datetime(2020, 9, 15)),
    ("2020-9-15 10:32", datetime(2020, 9, 15, 10, 32)),
    ("2020-09-15 10:32:05", datetime(2020, 9, 15, 10, 32, 5)),
    ("2020年09月15日", datetime(2020, 9, 15)),
    ("2020年9月15日 10时32分", datetime(2020, 9, 15, 10, 32)),
    ("2020/9/15", datetime(2020, 9, 15)),
    ("2020.09.15", datetime(2020, 9, 15)),
    ("[2020-09-15]", datetime(2020, 9, 15)),
    ("(2020-09-15)", datetime(2020, 9, 15)),
    ("发布时间：2020-09-15 10:32 来源：区政府办", datetime(2020, 9, 15, 10, 32)),
    ("2020-09-15T10:32:05+08:00", datetime(2020, 9, 15, 10, 32, 5)),
    ("2020-09-15 25:99", datetime(2020, 9, 15)),          # a broken time keeps the date
    ("2020-13-45", None),
    ("2020-02-30", None),
    ("2020-13-45 and 2020-02-03", datetime(2020, 2, 3)),  # the first *valid* date
    ("09-15", None),
    ("[09-15]", None),
    ("9月15日", None),
    ("20200915", None),                                   # compact form only in URLs
    ("©2020 示例区人民政府", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("09-15", datetime(YEARLESS_YEAR, 9, 15)),
    ("[02-29]", datetime(YEARLESS_YEAR, 2, 29)),
    ("9月15日", datetime(YEARLESS_YEAR, 9, 15)),
    ("2020-09-15", datetime(2020, 9, 15)),
    ("13-45", None),
])
def test_parse_date_without_year_requirement(text, expected):
    assert parse_date(text, require_year=False) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("09-15", True), ("[09-15]", True), ("(9/15)", True), ("9月15日", True), ("09.15", True),
    ("2020-09-15", False), ("2020年9月15日", False), ("10:32", False), ("13-45", False),
    ("第3.5版", False), ("", False),
])
def test_has_yearless_date(text, expected):
    assert has_yearless_date(text) is expected


@pytest.mark.parametrize(("url", "expected"), [
    ("http://www.example-qu.gov.cn/zwgk/gzdt/202009/t20200915_5731234.html", datetime(2020, 9, 15)),
    ("/art/2020/9/15/art_1234_567890.html", datetime(2020, 9, 15)),
    ("/2020-09/15/content_5543.htm", datetime(2020, 9, 15)),
    ("/202009/15/c_1126.htm", datetime(2020, 9, 15)),
    ("/news/20200915/1.html", datetime(2020, 9, 15)),
    ("/zwgk/202009/abc.html", None),          # a month folder is not a date
    ("/show.aspx?id=20201399", None),
    ("/tzgg/2020/0925/c1234a56789/page.htm", None),
])
def test_date_from_url(url, expected):
    assert date_from_url(url) == expected


# Article pages: (file, the URL it was served at or None, its true publication date). The pages without
# date meta tags reproduce real failures: a headline copy with another date in a sidebar or related box,
# the site's "更新时间" banner, a footer date, the date only in the URL. bench/article_dates.py reads this
# table too.
ARTICLE_PAGES = [
    ("article_meta.html", None, datetime(2020, 9, 15, 10, 32)),     # meta PubDate beats the body's dates
    ("article_visible.html", None, datetime(2020, 9, 11, 16, 5)),   # labelled, not the header clock
    ("article_cn.html", None, datetime(2020, 9, 25)),               # 发布日期：2020年09月25日
    ("article_plain.html", None, datetime(2020, 8, 15)),            # unlabelled line under the h1
    ("article_nodate.html", None, None),                            # ©2020 in the footer is no date
    # a sidebar before the content lists a copy of the headline (re-posted in another column) dated 2020-09-18
    ("article_sidebar_copy.html", None, datetime(2020, 9, 15, 10, 32)),
    # <span class="time"> under the h1; a related box below repeats the headline dated 2020-09-22
    ("article_related_below.html", None, datetime(2020, 9, 15)),
    ("article_label_published.html", None, datetime(2020, 9, 15, 10, 32)),  # 发布时间：, signed 9月14日
    ("article_label_riqi.html", None, datetime(2020, 9, 15)),      # 日期：2020年9月15日, 最后更新 in the footer
    # only the URL dates it; related box, hot list and footer carry other dates
    ("article_url_only.html", "/xwzx/sfyw/202009/t20200915_5733310.html", datetime(2020, 9, 15)),
    ("article_url_only.html", None, None),
    ("article_site_update.html", None, datetime(2020, 9, 15)),     # not the banner's 本站更新时间
]


@pytest.mark.parametrize(("page", "url", "expected"), ARTICLE_PAGES)
def test_article_date_pages(page, url, expected):
    assert article_date((PAGES / page).read_text(encoding="utf-8"), url=url) == expected


@pytest.mark.parametrize(("html", "expected"), [
    ('<meta name="firstpublishedtime" content="2020-09-15-10:32:00"><p>x</p>', datetime(2020, 9, 15)),
    ('<meta property="article:published_time" content="2020-09-15T10:32:00+08:00">',
     datetime(2020, 9, 15, 10, 32)),
    ('<meta name="PubDate" content=""><p>时间：2020/9/15</p>', datetime(2020, 9, 15)),
    ("<p>正文提到2019-01-01。</p><p>发布日期：2020-09-15</p>", datetime(2020, 9, 15)),
    ('<div class="footer">网站更新时间：2020-10-10</div><p>无日期</p>', None),
    ('<div class="top">本站更新时间：2020-10-10</div><h1>区城市书房开放</h1><p>无日期</p>', None),
    ("<title>区城市书房开放</title><h1>区城市书房开放</h1><p>2020年9月14日下午，首批城市书房开放。</p>", None),
    ("<p>会议时间：2020年9月20日</p><p>日期：2020-09-15</p>", datetime(2020, 9, 15)),
    ('<title>区城市书房开放</title><div class="tit">区城市书房开放<span>2020-09-15</span></div>',
     datetime(2020, 9, 15)),
    ("<h1>区城市书房开放</h1><ul><li><a href='/a.html'>区图书馆开展阅读月活动</a>2020-09-01</li></ul>", None),
    ("", None),
])
def test_article_date_snippets(html, expected):
    assert article_date(html) == expected
