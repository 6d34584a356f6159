"""crawler.extract: the main list of a column page, checked on sample pages from case tables."""
from datetime import datetime
from pathlib import Path

import pytest

from crawler.encoding import decode_html
from crawler.extract import ListEntry, extract_entries, hanweb_records

PAGES = Path(__file__).parent / "pages"
SITE = "http://www.example-qu.gov.cn"


def _read(name: str, header: str | None = "utf-8") -> str:
    return decode_html((PAGES / name).read_bytes(), header)


# (page, page url, count, first entry, last entry)
PAGE_CASES = [
    ("trs_list.html", f"{SITE}/zwgk/gzdt/", 9,
     ListEntry("【置顶】示例区2019年政府工作报告全文发布", f"{SITE}/zwgk/gzdt/201901/t20190102_100001.html",
               datetime(2019, 1, 2), False),
     ListEntry("示例区“我为群众办实事”实践活动启动", f"{SITE}/zwgk/gzdt/202008/t20200805_5727000.html",
               datetime(2020, 8, 5), False)),
    ("table_list.html", f"{SITE}/zwgk/zcwj/", 5,
     ListEntry("示例区人民政府关于印发示例区2020年度重点工作任务分解方案的通知", f"{SITE}/zwgk/zcwj/content_20355.html",
               datetime(2020, 9, 18), False),
     ListEntry("示例区人民政府关于公布2020年区级财政专项资金清单的通知", f"{SITE}/zwgk/zcwj/content_20199.html",
               datetime(2020, 5, 12), False)),
    ("dl_list.html", f"{SITE}/tzgg/list.html", 4,
     ListEntry("关于2020年国庆节放假安排的通知", f"{SITE}/tzgg/2020/0925/c1234a56789/page.htm",
               datetime(2020, 9, 25), False),
     ListEntry("关于征集2021年区政府为民办实事项目的公告", f"{SITE}/tzgg/2020/0820/c1234a56600/page.htm",
               datetime(2020, 8, 20), False)),
    ("div_em.html", f"{SITE}/xzdt/list.aspx?pageIndex=2", 6,
     ListEntry("城关街道开展垃圾分类入户宣传活动", f"{SITE}/xzdt/show.aspx?id=8812", datetime(2020, 9, 16), False),
     ListEntry("下渡街道组织开展防汛应急演练", f"{SITE}/xzdt/show.aspx?id=8777", datetime(2020, 8, 12), False)),
    ("hanweb_first.html", f"{SITE}/col/col1234/index.html", 6,
     ListEntry("区发改局召开重点项目建设推进会", f"{SITE}/art/2020/9/15/art_1234_567890.html",
               datetime(2020, 9, 15), False),
     ListEntry("区水利局开展河湖长制巡查", f"{SITE}/art/2020/9/7/art_1234_567840.html", datetime(2020, 9, 7), False)),
    ("hanweb_proxy.xml", f"{SITE}/module/web/jpage/dataproxy.jsp?startrecord=7&endrecord=12&perpage=2", 6,
     ListEntry("区应急局组织开展地震应急疏散演练", f"{SITE}/art/2020/9/3/art_1234_567830.html",
               datetime(2020, 9, 3), False),
     ListEntry("区科技局组织高新技术企业申报培训", f"{SITE}/art/2020/8/18/art_1234_567780.html",
               datetime(2020, 8, 18), False)),
    ("dateless_list.html", f"{SITE}/zwgk/rsxx/", 3,
     ListEntry("示例区人民政府关于任免工作人员职务的通知", f"{SITE}/zwgk/rsxx/202009/t20200920_5735001.html", None, True),
     ListEntry("示例区事业单位公开招聘工作人员体检结果公告", f"{SITE}/zwgk/rsxx/202007/t20200703_5720100.html", None, True)),
    ("yearless_list.html", f"{SITE}/tpxw/", 4,
     ListEntry("示例区举办庆祝第36个教师节座谈会", f"{SITE}/tpxw/content/post_3310021.html", None, True),
     ListEntry("示例区城市书房正式向市民开放", f"{SITE}/tpxw/content/post_3309700.html", None, True)),
    ("gbk_list.html", f"{SITE}/czj/tzgg/", 3,
     ListEntry("示例区财政局关于2020年部门预算编制工作的通知", f"{SITE}/czj/tzgg/201909/t20190916_1001.html",
               datetime(2019, 9, 16), False),
     ListEntry("示例区政府采购意向公开工作说明", f"{SITE}/czj/tzgg/201907/t20190705_999.html", datetime(2019, 7, 5), False)),
]


@pytest.mark.parametrize(("page", "url", "count", "first", "last"), PAGE_CASES, ids=[c[0] for c in PAGE_CASES])
def test_extract_sample_pages(page, url, count, first, last):
    entries = extract_entries(_read(page), url)
    assert len(entries) == count
    assert entries[0] == first
    assert entries[-1] == last


# Furniture that must never be taken for posts: menus, breadcrumbs, sibling columns, side boxes, footers.
FURNITURE_CASES = [
    ("trs_list.html", f"{SITE}/zwgk/gzdt/", ["/zwgk/tzgg/", "/zwfw/", "/ztzl/", "www.gov.cn", "t20201009_5740001"]),
    ("table_list.html", f"{SITE}/zwgk/zcwj/", ["/gzcy/", "/zwgk/zcwj/qzfwj/", "?page="]),
    ("dl_list.html", f"{SITE}/tzgg/list.html", ["/xxgk/", "list_2.html"]),
    ("hanweb_first.html", f"{SITE}/col/col1234/index.html", ["art_999_", "/col/col1000/"]),
]


@pytest.mark.parametrize(("page", "url", "banned"), FURNITURE_CASES, ids=[c[0] for c in FURNITURE_CASES])
def test_furniture_is_not_listed(page, url, banned):
    urls = [e.url for e in extract_entries(_read(page), url)]
    for fragment in banned:
        assert not [u for u in urls if fragment in u], fragment


def test_trs_list_keeps_pinned_item_and_page_order():
    entries = extract_entries(_read("trs_list.html"), f"{SITE}/zwgk/gzdt/")
    assert entries[0].title.startswith("【置顶】")
    assert [e.date for e in entries[1:]] == sorted((e.date for e in entries[1:]), reverse=True)
    # title= holds the full title when the anchor text is cut with "…"
    assert entries[1].title == "区审计局召开2020年第三季度审计工作推进会"
    # fragment removed from an absolute href
    assert entries[-1].url.endswith("t20200805_5727000.html")


@pytest.mark.parametrize(("page", "url"), [
    ("blank_column.html", f"{SITE}/zwgk/ghjh/"),
    ("hanweb_proxy_last.xml", f"{SITE}/module/web/jpage/dataproxy.jsp?startrecord=13&endrecord=18&perpage=2"),
])
def test_blank_columns_give_no_entries(page, url):
    assert extract_entries(_read(page), url) == []


SNIPPETS = [
    # <br>-separated anchors with the date in the tail text
    ('<body><div class="n"><td>'
     '<a href="/a/1001.html">示例区召开第一次全体会议</a> (2020-09-15)<br>'
     '<a href="/a/1002.html">示例区召开第二次全体会议</a> (2020-09-10)<br>'
     '<a href="/a/1003.html">示例区召开第三次全体会议</a> (2020-09-01)<br></td></div></body>',
     [("示例区召开第一次全体会议", "/a/1001.html", datetime(2020, 9, 15)),
      ("示例区召开第三次全体会议", "/a/1003.html", datetime(2020, 9, 1))]),
    # the date inside the anchor is not part of the title
    ('<ul class="l"><li><a href="/c/1.shtml"><span>区委理论学习中心组开展专题学习</span><span>2020-09-15</span></a></li>'
     '<li><a href="/c/2.shtml"><span>区政协召开常委会议审议提案办理</span><span>2020-09-12</span></a></li></ul>',
     [("区委理论学习中心组开展专题学习", "/c/1.shtml", datetime(2020, 9, 15)),
      ("区政协召开常委会议审议提案办理", "/c/2.shtml", datetime(2020, 9, 12))]),
    # a date in the title is not the entry's date; the entry's own date cell is
    ('<ul><li><a href="/n/11.html">关于2019年12月31日停水的通知公告</a><span>2020-01-02</span></li>'
     '<li><a href="/n/12.html">关于2019年12月20日停电的通知公告</a><span>2019-12-18</span></li></ul>',
     [("关于2019年12月31日停水的通知公告", "/n/11.html", datetime(2020, 1, 2)),
      ("关于2019年12月20日停电的通知公告", "/n/12.html", datetime(2019, 12, 18))]),
    # one post only: still a list
    ('<div class="nav"><a href="/">首页</a></div><ul class="list"><li>'
     '<a href="./202009/t20200915_1.html">示例区召开年度唯一一次专题会议</a><span>2020-09-15</span></li></ul>',
     [("示例区召开年度唯一一次专题会议", "/x/202009/t20200915_1.html", datetime(2020, 9, 15))]),
]


@pytest.mark.parametrize(("html", "expected"), SNIPPETS)
def test_extract_snippets(html, expected):
    entries = extract_entries(html, f"{SITE}/x/")
    got = [(e.title, e.url.removeprefix(SITE), e.date) for e in entries]
    assert got[0] == expected[0]
    assert got[-1] == expected[-1]
    assert all(e.needs_article is (e.date is None) for e in entries)


def test_duplicate_pinned_url_is_listed_once():
    html = ('<ul><li class="top"><a href="/a/1.html" title="置顶的重要通知公告内容">置顶的重要通知公告…</a></li>'
            '<li><a href="/a/2.html">另一条普通的工作动态</a><span>2020-09-10</span></li>'
            '<li><a href="/a/1.html">置顶的重要通知公告内容</a><span>2020-08-01</span></li></ul>')
    entries = extract_entries(html, f"{SITE}/x/")
    assert [e.url for e in entries] == [f"{SITE}/a/1.html", f"{SITE}/a/2.html"]
    assert entries[0].date == datetime(2020, 8, 1)
    assert entries[0].needs_article is False


def test_hanweb_records_are_read_from_cdata():
    records = hanweb_records(_read("hanweb_first.html"))
    assert records is not None and len(records) == 6
    assert records[0].startswith("<li><a href=\"/art/2020/9/15/")
    assert hanweb_records("<html><body><ul></ul></body></html>") is None


@pytest.mark.parametrize("html", ["", "   ", "<html></html>", "<html><body><p>暂无信息</p></body></html>"])
def test_empty_inputs(html):
    assert extract_entries(html, f"{SITE}/x/") == []


def test_blank_marker_in_an_unrelated_widget_keeps_the_list():
    html = ('<div class="interview"><h4>在线访谈</h4><p>暂无信息</p></div>'
            '<div class="column"><ul>'
            '<li><a href="/a/202009/t20200915_1.html">示例区召开秋季农业生产推进会</a><span>2020-09-15</span></li>'
            '<li><a href="/a/202009/t20200912_2.html">示例区举办社区消防安全知识培训</a><span>2020-09-12</span></li>'
            '</ul></div>')
    assert len(extract_entries(html, f"{SITE}/a/")) == 2


def test_main_list_in_div_right_beats_a_longer_hot_box():
    hot = "".join(f'<li><a href="/h/t2020100{i}_{i}.html">热点新闻标题第{i}条内容较长</a><span>2020-10-0{i}</span></li>'
                  for i in range(1, 10))
    html = ('<div class="left"><ul><li><a href="/c1/">本栏目下级栏目之一</a></li><li><a href="/c2/">本栏目下级栏目之二</a></li></ul></div>'
            '<div class="right"><ul>'
            '<li><a href="/m/t20200915_1.html">示例区召开秋季农业生产推进会</a><span>2020-09-15</span></li>'
            '<li><a href="/m/t20200912_2.html">示例区举办社区消防安全知识培训</a><span>2020-09-12</span></li>'
            '<li><a href="/m/t20200901_3.html">示例区开展食品安全宣传周活动</a><span>2020-09-01</span></li>'
            f'</ul></div><div class="hotnews"><ul>{hot}</ul></div>')
    urls = [e.url for e in extract_entries(html, f"{SITE}/m/")]
    assert urls == [f"{SITE}/m/t20200915_1.html", f"{SITE}/m/t20200912_2.html", f"{SITE}/m/t20200901_3.html"]


# --- lists split into wrappers (the provincial platform's $showStatic blocks) --------------------------

TOPICS = ["召开秋季农业生产推进会", "举办社区消防安全知识培训", "开展食品安全宣传周活动", "部署防汛防台风工作",
          "推进老旧小区改造项目", "召开重点项目建设调度会"]


def _li(i: int, day: int = 0) -> str:
    day = day or 28 - i
    return (f'<li><a href="./202009/t202009{day:02d}_{9000 + i}.htm" target="_blank" title="示例区{TOPICS[i % 6]}{i}">'
            f'示例区{TOPICS[i % 6]}{i}</a><em id="rel_{9000 + i}"></em><span class="bf-pass">2020-09-{day:02d}</span></li>')


def _static_blocks(n_blocks: int, size: int = 5) -> str:
    return '<div ms-visible="showStatic">' + "".join(
        f'<div ms-visible="$showStatic({b * size + 1})"><ul>' + "".join(_li(b * size + k) for k in range(size))
        + '</ul><div class="border_b_dashed mar-t10"></div></div>' for b in range(n_blocks)) + "</div>"


def test_wrapped_blocks_are_one_list_in_page_order():
    html = f'<body><div class="col-right" ms-controller="list"><h2>工作动态</h2>{_static_blocks(4)}</div></body>'
    entries = extract_entries(html, f"{SITE}/zwgk/gzdt/")
    assert [e.url.rsplit("_", 1)[-1] for e in entries] == [f"{9000 + i}.htm" for i in range(20)]
    assert entries[-1].date == datetime(2020, 9, 9)


def test_wrappers_without_template_attributes_merge_too():
    blocks = "".join(f'<div class="box"><ul class="ul">{"".join(_li(b * 3 + k) for k in range(3))}</ul></div>'
                     for b in range(3))
    assert len(extract_entries(f'<div class="con">{blocks}</div>', f"{SITE}/m/")) == 9


def test_a_nav_of_small_menus_and_a_related_box_are_not_merged():
    menus = "".join(f'<div class="sub"><ul><li><a href="/c{m}{k}/">第{m}组下级栏目名称{k}</a></li>'
                    f'<li><a href="/c{m}{k}x/">第{m}组另一栏目名称{k}</a></li></ul></div>' for m in range(3) for k in range(2))
    related = ('<div class="blk"><h3>相关链接</h3><ul>' + "".join(
        f'<li><a href="http://www.gov.cn/zhengce/content/2020-09/{d:02d}/content_55{d:02d}.htm">国务院关于政策的通知第{d}号'
        f'</a><span>2020-09-{d:02d}</span></li>' for d in range(1, 6)) + "</ul></div>")
    html = (f'<body><div class="nav">{menus}</div><div class="main"><div class="blk"><ul>'
            f'{"".join(_li(i) for i in range(5))}</ul></div>{related}</div></body>')
    urls = [e.url for e in extract_entries(html, f"{SITE}/m/")]
    assert len(urls) == 5 and all("/m/202009/" in u for u in urls), urls


def test_boxes_with_their_own_heading_stay_apart():
    # A home page: one box per column, each with a heading and a 更多 link (not pieces of one list).
    boxes = "".join(f'<div class="box"><div class="tit"><h3>栏目{b}</h3><a href="/c{b}/">更多</a></div><ul>'
                    f'{"".join(_li(b * 5 + k) for k in range(5))}</ul></div>' for b in range(3))
    assert len(extract_entries(f'<div class="main">{boxes}</div>', f"{SITE}/")) == 5


def test_hidden_no_data_template_does_not_blank_the_list():
    template = '<div ms-visible="data.length==0" class="no-data">暂无数据</div>'
    html = f'<div class="list"><ul>{"".join(_li(i) for i in range(5))}</ul>{template}</div>'
    assert len(extract_entries(html, f"{SITE}/m/")) == 5
    shown = f'<div class="list"><ul>{"".join(_li(i) for i in range(5))}</ul><div class="no-data">暂无数据</div></div>'
    assert extract_entries(shown, f"{SITE}/m/") == []   # a visible marker beside the list still blanks it


def test_platform_json_answer_is_read():
    answer = ('{"pageCount": 8, "data": ['
              '{"doctitle": "仓山区召开<font color=red>防汛</font>工作会议", "docpuburl": "http://h.gov.cn/zwgk/gzdt/202009/'
              't20200921_97999.htm", "pubdate": "2020-09-21 10:12:00", "chnlid": 1780},'
              '{"doctitle": "仓山区开展消防安全检查", "docpuburl": "/zwgk/gzdt/202009/t20200920_97990.htm",'
              ' "pubdate": 1600567920000},'
              '{"doctitle": "关于做好秋季防火工作的通知", "docpuburl": "", "chnldocurl": "../../zfxxgk/zfwj/202009/'
              't20200908_98328.htm", "pubdate": "1599532200000", "docreltime": "2020-09-08 10:30:00"},'
              '{"doctitle": "没有链接的记录", "docpuburl": ""}]}')
    entries = extract_entries(answer, "http://h.gov.cn/fjdzapp/search")
    assert [(e.title, e.url, e.date) for e in entries] == [
        ("仓山区召开防汛工作会议", "http://h.gov.cn/zwgk/gzdt/202009/t20200921_97999.htm", datetime(2020, 9, 21, 10, 12)),
        ("仓山区开展消防安全检查", "http://h.gov.cn/zwgk/gzdt/202009/t20200920_97990.htm", datetime(2020, 9, 20, 10, 12)),
        ("关于做好秋季防火工作的通知", "http://h.gov.cn/zfxxgk/zfwj/202009/t20200908_98328.htm", datetime(2020, 9, 8, 10, 30)),
    ]
    assert extract_entries('{"pageCount": 0, "data": []}', "http://h.gov.cn/fjdzapp/search") == []
