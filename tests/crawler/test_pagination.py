"""crawler.pagination: every pager style, walked page by page from case tables."""
from pathlib import Path

import pytest

from crawler.pagination import HanwebConfig, PageRequest, hanweb_config, next_page

PAGES = Path(__file__).parent / "pages"
SITE = "http://www.example-qu.gov.cn"
PROXY = f"{SITE}/module/web/jpage/dataproxy.jsp"


def _read(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def _trs_page(current: int) -> str:
    # TRS writes the page's own index into the call on each generated page.
    return _read("trs_list.html").replace("createPageHTML(7, 0,", f"createPageHTML(7, {current},")


def test_trs_walks_every_page_then_stops():
    url, seen = f"{SITE}/zwgk/gzdt/", []
    for current in range(10):
        request = next_page(_trs_page(current), url)
        if request is None:
            break
        assert request.method == "GET" and request.url != url
        url = request.url
        seen.append(url.rsplit("/", 1)[-1])
    assert seen == [f"index_{k}.html" for k in range(1, 7)]


@pytest.mark.parametrize(("script", "url", "expected"), [
    ('createPageHTML(4,0,"list","shtml");', f"{SITE}/tzgg/list.shtml", f"{SITE}/tzgg/list_1.shtml"),
    ('createPageHTML(4,0,"list","shtml");', f"{SITE}/tzgg/list_3.shtml", None),
    ("createPageHTML('page_div',7,1,'index','html',150);", f"{SITE}/gzdt/index_1.html", f"{SITE}/gzdt/index_2.html"),
    ("createPageHTML('page_div',7,6,'index','html',150);", f"{SITE}/gzdt/index_6.html", None),
    ('var countPage = 3; var currentPage = 1;\ncreatePageHTML(countPage, currentPage, "index", "htm");',
     f"{SITE}/a/index_1.htm", f"{SITE}/a/index_2.htm"),
    ('createPageHTML(1, 0, "index", "html");', f"{SITE}/a/", None),
    ('createPageHTML(0, 0, "index", "html");', f"{SITE}/a/", None),
    # the file name wins over a stale currentPage in a cached page
    ('createPageHTML(5, 0, "index", "html");', f"{SITE}/a/index_2.html", f"{SITE}/a/index_3.html"),
])
def test_trs_variants(script, url, expected):
    html = f"<html><body><ul><li>x</li></ul><div class='page'><script>{script}</script></div></body></html>"
    request = next_page(html, url)
    assert (request.url if request else None) == expected


LINK_CASES = [
    ("table_list.html", f"{SITE}/zwgk/zcwj/", f"{SITE}/zwgk/zcwj/?page=2"),
    ("dl_list.html", f"{SITE}/tzgg/list.html", f"{SITE}/tzgg/list_2.html"),
    ("div_em.html", f"{SITE}/xzdt/list.aspx?pageIndex=2", f"{SITE}/xzdt/list.aspx?pageIndex=3"),
    ("dateless_list.html", f"{SITE}/zwgk/rsxx/", None),
    ("blank_column.html", f"{SITE}/zwgk/ghjh/", None),
]


@pytest.mark.parametrize(("page", "url", "expected"), LINK_CASES, ids=[c[0] for c in LINK_CASES])
def test_link_pagers_on_sample_pages(page, url, expected):
    request = next_page(_read(page), url)
    assert (request.url if request else None) == expected


def _pager(inner: str) -> str:
    return f"<html><body><ul><li><a href='/a/1.html'>某条信息标题内容</a></li></ul><div class='pages'>{inner}</div></body></html>"


SNIPPET_CASES = [
    ('<a href="?page=3">下一页</a>', f"{SITE}/l/?page=2", f"{SITE}/l/?page=3"),
    ('<a href="list_4.html">下页</a>', f"{SITE}/l/list_3.html", f"{SITE}/l/list_4.html"),
    ('<a href="index_2.html" title="下一页">&raquo;</a>', f"{SITE}/l/index_1.html", f"{SITE}/l/index_2.html"),
    ('<a href="p2.html" class="next">›</a>', f"{SITE}/l/", f"{SITE}/l/p2.html"),
    ('<a href="javascript:;" onclick="location.href=\'list_2.html\'">下一页</a>', f"{SITE}/l/list.html",
     f"{SITE}/l/list_2.html"),
    ('<a href="list_2.html"> 下一页 &gt; </a>', f"{SITE}/l/list.html", f"{SITE}/l/list_2.html"),
    ('<a href="?page=2"><img src="next.gif" alt="下一页"></a>', f"{SITE}/l/", f"{SITE}/l/?page=2"),
    # last pages
    ('<a href="?page=4">上一页</a> <span>下一页</span>', f"{SITE}/l/?page=5", None),
    ('<a href="?page=4">上一页</a> <a href="javascript:;">下一页</a>', f"{SITE}/l/?page=5", None),
    ('<a href="#">下一页</a>', f"{SITE}/l/?page=5", None),
    ("<a>下一页</a>", f"{SITE}/l/?page=5", None),
    ('<a href="?page=5">下一页</a>', f"{SITE}/l/?page=5", None),            # points at itself
    ('<a href="?page=5#list">下一页</a>', f"{SITE}/l/?page=5", None),       # itself, with a fragment
    # numbered pagers without a 下一页 link
    ('<a href="?pageNo=1">1</a> <b>2</b> <a href="?pageNo=3">3</a>', f"{SITE}/l/?pageNo=2", f"{SITE}/l/?pageNo=3"),
    ('共3页 <a href="?pageNo=1">1</a> <a href="?pageNo=2">2</a> <b>3</b>', f"{SITE}/l/?pageNo=3", None),
    ("<span>1</span>", f"{SITE}/l/", None),
]


@pytest.mark.parametrize(("inner", "url", "expected"), SNIPPET_CASES)
def test_link_pager_snippets(inner, url, expected):
    request = next_page(_pager(inner), url)
    assert (request.url if request else None) == expected


HANWEB_FORM = (("col", "1"), ("appid", "1"), ("webid", "1"), ("path", "/"), ("columnid", "1234"),
               ("sourceContentType", "1"), ("unitid", "4455"), ("webname", "示例区"), ("permissiontype", "0"))


def test_hanweb_config_from_first_page():
    config = hanweb_config(_read("hanweb_first.html"))
    assert config == HanwebConfig(proxy_url="/module/web/jpage/dataproxy.jsp", per_page=2, group_size=3,
                                  total_record=17, params=HANWEB_FORM)


def test_hanweb_walks_record_groups_then_stops():
    first_url = f"{SITE}/col/col1234/index.html"
    first = _read("hanweb_first.html")
    config = hanweb_config(first)
    group2 = next_page(first, first_url, hanweb=config)
    assert group2 == PageRequest(f"{PROXY}?startrecord=7&endrecord=12&perpage=2", "POST", HANWEB_FORM)
    proxy = _read("hanweb_proxy.xml")
    group3 = next_page(proxy, group2.url, method="POST", formdata=group2.formdata, hanweb=config,
                       first_page_url=first_url)
    assert group3 == PageRequest(f"{PROXY}?startrecord=13&endrecord=18&perpage=2", "POST", HANWEB_FORM)
    # 19 > totalRecord 17: done, even though group 3 came back full
    assert next_page(proxy, group3.url, method="POST", formdata=group3.formdata, hanweb=config) is None


def test_hanweb_stops_on_an_empty_group():
    url = f"{PROXY}?startrecord=7&endrecord=12&perpage=2"
    assert next_page(_read("hanweb_proxy_last.xml"), url, method="POST", formdata=HANWEB_FORM) is None


def test_hanweb_first_page_holding_everything_has_no_next():
    html = _read("hanweb_first.html").replace("totalRecord: 17", "totalRecord: 6").replace("perPage: 2", "perPage: 15")
    assert next_page(html, f"{SITE}/col/col1234/index.html") is None


@pytest.mark.parametrize("config_js", [
    "$('#4455').jpage({dataStore: dataStore, perPage: 2, totalRecord: 40, groupSize: 3, "
    "proxyUrl: '/module/web/jpage/dataproxy.jsp', ajaxParam: {col: 1, appid: 1, webid: 1, path: '/', "
    "columnid: 1234, sourceContentType: 1, unitid: 4455, webname: '示例区', permissiontype: 0}})",
    '$("#4455").jpage({"dataStore": dataStore, "perPage": "2", "totalRecord": "40", "groupSize": "3", '
    '"proxyUrl": "/module/web/jpage/dataproxy.jsp", "ajaxParam": {"col": "1", "appid": "1", "webid": "1", '
    '"path": "/", "columnid": "1234", "sourceContentType": "1", "unitid": "4455", "webname": "示例区", '
    '"permissiontype": "0"}})',
])
def test_hanweb_config_quoting_variants(config_js):
    html = _read("hanweb_first.html")
    start = html.index("$('#4455').jpage(")
    end = html.index("});", start) + 3
    html = html[:start] + config_js + ";" + html[end:]
    config = hanweb_config(html)
    assert (config.per_page, config.group_size, config.total_record) == (2, 3, 40)
    assert config.params == HANWEB_FORM
    request = next_page(html, f"{SITE}/col/col1234/index.html")
    assert request.url == f"{PROXY}?startrecord=7&endrecord=12&perpage=2"


def test_hanweb_without_config_uses_nextgroup_fields():
    html = _read("hanweb_first.html")
    start = html.index("$('#4455').jpage(")
    html = html[:start] + html[html.index("});", start) + 3:]
    config = hanweb_config(html)
    assert config is not None and config.total_record is None
    assert dict(config.params) == {"webid": "1", "path": "/", "columnid": "1234", "unitid": "4455",
                                   "webname": "示例区", "permissiontype": "0"}
    # 6 inline records is less than the default 15 x 3 group: this first page holds everything
    assert next_page(html, f"{SITE}/col/col1234/index.html") is None


def test_not_hanweb_has_no_config():
    assert hanweb_config(_read("trs_list.html")) is None


@pytest.mark.parametrize("html", ["", "<html></html>", "<html><body>无分页</body></html>"])
def test_no_pager(html):
    assert next_page(html, f"{SITE}/l/") is None


# --- Fujian provincial platform (动静结合) ----------------------------------------------------------------

from crawler.pagination import platform_config, stated_total  # noqa: E402

PLATFORM_PAGE = """<html><body><div ms-controller="list"><div ms-visible="showStatic">…</div>
<div class="pagebar"><a href="javascript:;" ms-click="nextPage()">下一页</a></div></div>
<script>
var SiteInfo = {siteId: "fzcs", searchId: "4028e4ef", siteName: "示例区"};
var pageChnlInfo={quickMode:"动静结合", maxStaticIndex: 5, classsql: "chnlid=1780", recordCount:'107',
  sortfield:'-docorderpri,-docreltime', prepage:15, cache:true};
listModel({ el: "list", listApi: {url: "/fjdzapp/search"},
  listArgs: {channelid: SiteInfo.searchId, classsql: pageChnlInfo.classsql, sortfield: pageChnlInfo.sortfield},
  pagebar: {recordCount: pageChnlInfo.recordCount, prepage: pageChnlInfo.prepage}});
</script></body></html>"""
API = f"{SITE}/fjdzapp/search"
ARGS = (("channelid", "4028e4ef"), ("classsql", "chnlid=1780"), ("sortfield", "-docorderpri,-docreltime"))


def test_platform_config_resolves_the_script_references():
    cfg = platform_config(PLATFORM_PAGE, f"{SITE}/zwgk/gzdt/")
    assert cfg is not None and (cfg.api_url, cfg.static_pages, cfg.per_page, cfg.record_count, cfg.args) == (
        API, 5, 15, 107, ARGS)
    assert not cfg.offsite
    assert platform_config(_read("trs_list.html"), f"{SITE}/zwgk/gzdt/") is None


def test_platform_walks_the_api_after_the_static_pages():
    url = f"{SITE}/zwgk/gzdt/"
    cfg = platform_config(PLATFORM_PAGE, url)
    request = next_page(PLATFORM_PAGE, url, platform=cfg)
    assert request == PageRequest(API, "POST", (*ARGS, ("page", "6"), ("prepage", "15")))
    answer = '{"pageCount": 8, "data": [{"doctitle": "x"}]}'
    request = next_page(answer, API, method="POST", formdata=request.formdata, platform=cfg)
    assert dict(request.formdata)["page"] == "7"
    last = (*ARGS, ("page", "8"), ("prepage", "15"))
    assert next_page(answer, API, method="POST", formdata=last, platform=cfg) is None
    assert next_page('{"pageCount": 9, "data": []}', API, method="POST", formdata=request.formdata, platform=cfg) is None


def test_platform_stops_when_static_pages_hold_everything_or_the_api_is_offsite():
    small = PLATFORM_PAGE.replace("recordCount:'107'", "recordCount:'75'")
    assert next_page(small, f"{SITE}/zwgk/gzdt/", platform=platform_config(small, f"{SITE}/zwgk/gzdt/")) is None
    away = PLATFORM_PAGE.replace('url: "/fjdzapp/search"', 'url: "http://search.other.example.cn/fjdzapp/search"')
    cfg = platform_config(away, f"{SITE}/zwgk/gzdt/")
    assert cfg is not None and cfg.offsite and next_page(away, f"{SITE}/zwgk/gzdt/", platform=cfg) is None


def test_platform_literal_list_args_and_picture_prepage():
    page = ('<script>var pageChnlInfo={quickMode:"动静结合", maxStaticIndex: 3, recordCount:"41", prepage:12};'
            'listModel({listApi: {url: "/fjdzapp/search"}, listArgs: {channelid: "abc", classsql: "chnlid=1785"},'
            ' pagebar: {recordCount: pageChnlInfo.recordCount, prepage: pageChnlInfo.prepage}});</script>')
    cfg = platform_config(page, f"{SITE}/zwgk/tpxw/")
    assert cfg is not None and (cfg.static_pages, cfg.per_page, cfg.record_count) == (3, 12, 41)
    assert next_page(page, f"{SITE}/zwgk/tpxw/", platform=cfg).formdata == (
        ("channelid", "abc"), ("classsql", "chnlid=1785"), ("page", "4"), ("prepage", "12"))


@pytest.mark.parametrize(("html", "total"), [
    (PLATFORM_PAGE, 107),
    ('<div class="page">共 58 条记录 第1/4页 <a href="?page=2">下一页</a></div>', 58),
    ('<div class="fy">共<span>23</span>条</div>', 23),
    ("<script>$('#1').jpage({dataStore: dataStore, perPage: 15, totalRecord: 96, groupSize: 3});</script>", 96),
    ("<datastore><totalrecord>12</totalrecord><recordset></recordset></datastore>", 12),
    ('<ul><li><a href="/a/1.html">收到群众意见共12条的情况说明</a></li></ul>', None),   # a title is not a total
    ('<div class="page">共 4 页 <a href="?page=2">下一页</a></div>', None),
    ("", None),
])
def test_stated_total(html, total):
    assert stated_total(html) == total
