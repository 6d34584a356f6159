"""Blank means blank: a column page with no list of its own (an empty 信息公开 table, an empty <ul class="list">)
beside a sidebar's 热点推荐 or a 相关链接 box is blank, never a list of the sidebar's undated links.

The pages are modelled on the templates of Chinese government CMSs (TRS 信息公开 tables, Hanweb 大汉 column pages,
the 福建省级集约化平台's list pages); the crawl runs against a small loopback server that counts every request.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from config import load_settings
from crawler.extract import read_list, unreadable_cause
from crawler.run import run_crawl
from fixtures.portal.model import ColumnSpec
from monitors.rules import UnitFacts, column_blank
from storage.db import get_sessionmaker
from storage.models import Column, ColumnFetch, Post
from storage.queries.facts import column_facts
from tests.helpers import write_test_settings

TZ = ZoneInfo("Asia/Shanghai")
BASE = "http://127.0.0.1:8000"
HOT_TITLES = ["全区召开安全生产工作部署会议", "区政府常务会议研究部署近期重点工作", "我区开展防汛应急演练活动",
              "关于做好春节期间市场保供工作的通知", "区领导调研乡村振兴重点项目建设", "全区优化营商环境工作推进会召开",
              "我区举办2020年就业援助月专场招聘会", "区人大常委会开展执法检查"]


def page(title: str, main: str, side: str = "") -> str:
    """A district portal's column page: header and nav, breadcrumb, the main box, a sidebar, the footer."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}-某某区人民政府</title>
<script src="/js/jquery.min.js"></script></head>
<body>
<div class="header"><div class="logo"><img src="/images/logo.png" alt="某某区人民政府"></div>
  <div class="search"><form action="/search/"><input name="q"><button>搜索</button></form></div></div>
<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li>
  <li><a href="/hdjl/">互动交流</a></li><li><a href="/zwfw/">政务服务</a></li><li><a href="/zjmq/">走进某某</a></li></ul></div>
<div class="container">
  <div class="position">您的位置：<a href="/">首页</a> &gt; <a href="/zwgk/">政务公开</a> &gt; {title}</div>
  {main}
  {side}
</div>
<div class="footer"><p>主办单位：某某区人民政府办公室 地址：某某区人民路1号</p>
  <p><a href="/wzdt/">网站地图</a> <a href="/lxwm/">联系我们</a> 闽ICP备12345678号</p></div>
</body></html>"""


def hot_sidebar(prefix: str = "/xwzx/") -> str:
    """The TRS sidebar: a 热点推荐 <ol class="hot-list"> of undated links to articles."""
    items = "\n".join(f'<li><a href="{prefix}202009/t2020091{i}_55{i}1.html" target="_blank" title="{t}">{t}</a></li>'
                      for i, t in enumerate(HOT_TITLES))
    return f'<div class="sidebar"><div class="side-box"><h3>热点推荐</h3><ol class="hot-list">{items}</ol></div></div>'


def related_block() -> str:
    """A 相关链接 box in a neutral wrapper (only its heading says what it is)."""
    items = "\n".join(f'<li><a href="/art/2020/9/1{i}/art_1201_88{i}.html">{t}</a></li>' for i, t in enumerate(HOT_TITLES[:6]))
    return f'<div class="box2"><div class="tit">相关链接</div><ul>{items}</ul></div>'


def dated_list(n: int, prefix: str = "/zwgk/tzgg/") -> str:
    return "\n".join(f'<li><a href="{prefix}202010/t202010{n - i:02d}_77{i}.html" title="关于第{i + 1}批政务公开事项的通知">'
                     f'关于第{i + 1}批政务公开事项的通知</a><span class="date">2020-10-{n - i:02d}</span></li>'
                     for i in range(n))


EMPTY_TABLE = page("法定主动公开内容", """<div class="xxgk-main"><div class="xxgk-title">法定主动公开内容</div>
  <table class="xxgk-table" width="100%"><tr><th>序号</th><th>标题</th><th>文号</th><th>发布日期</th></tr></table>
  </div>""", hot_sidebar())
EMPTY_UL = page("通知公告", """<div class="main-right"><div class="list-title"><span>通知公告</span></div>
  <ul class="list"></ul><div class="page"></div></div>""", related_block())
NORMAL = page("通知公告", f'<div class="main-right"><ul class="list">{dated_list(15)}</ul></div>', hot_sidebar())
NEUTRAL = page("工作动态", f'<div class="box-c3"><div class="bd">{dated_list(7, "/gzdt/")}</div></div>')
SIDEBAR_ONLY = page("政策解读", '<div class="main-right"><div class="list-title">政策解读</div></div>', hot_sidebar())
SCRIPTED = page("通知公告", """<div class="main-right"><ul class="list" id="newsList"></ul></div>
  <script>$.ajax({url: "/api/list", success: function (d) { render(d); }});</script>""", hot_sidebar())
HOT_COLUMN = page("热点推荐", f'<div class="main-right"><h3>热点推荐</h3><ul>{dated_list(6, "/rdtj/")}</ul></div>')


def test_an_empty_disclosure_table_beside_a_hot_list_has_no_entries_and_is_blank() -> None:
    assert read_list(EMPTY_TABLE, BASE + "/zwgk/fdzdgknr/").entries == []
    assert unreadable_cause(EMPTY_TABLE) is None   # a list that is simply empty


def test_an_empty_list_beside_a_related_links_box_is_blank() -> None:
    assert read_list(EMPTY_UL, BASE + "/zwgk/tzgg/").entries == []
    assert unreadable_cause(EMPTY_UL) is None


def test_a_list_with_a_sidebar_still_reads_its_own_list() -> None:
    entries = read_list(NORMAL, BASE + "/zwgk/tzgg/").entries
    assert len(entries) == 15 and all(e.date is not None for e in entries)
    assert not any(e.title in HOT_TITLES for e in entries)


def test_a_list_in_a_neutral_box_is_read() -> None:
    entries = read_list(NEUTRAL, BASE + "/gzdt/").entries
    assert [e.title for e in entries] == [f"关于第{i + 1}批政务公开事项的通知" for i in range(7)]


def test_a_page_with_only_a_sidebar_list_is_unreadable_not_blank() -> None:
    assert read_list(SIDEBAR_ONLY, BASE + "/zwgk/zcjd/").entries == []
    assert unreadable_cause(SIDEBAR_ONLY) == "未能在页面中识别出信息列表"


def test_an_empty_list_a_script_fills_is_not_blank() -> None:
    assert read_list(SCRIPTED, BASE + "/zwgk/tzgg/").entries == []
    assert unreadable_cause(SCRIPTED) == "未能在页面中识别出信息列表"


def test_a_column_named_like_a_side_box_reads_its_list() -> None:
    assert len(read_list(HOT_COLUMN, BASE + "/rdtj/").entries) == 6


# --- a real crawl on loopback ---------------------------------------------------------------------------------

SITE = {"/zwgk/fdzdgknr/": EMPTY_TABLE, "/zwgk/tzgg/": EMPTY_UL, "/zwgk/gzdt/": NORMAL}


class _Handler(BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = SITE.get(self.path)   # the sidebar's articles are gone: a request for one fails, as in the issue
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_crawl_stores_blank_columns_as_read_with_no_post_and_no_article_request(
        server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, requests = server
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    columns = [ColumnSpec("某某区政府办", "法定主动公开内容", "/zwgk/fdzdgknr/", "disclosure", True, "trs"),
               ColumnSpec("某某区政府办", "通知公告", "/zwgk/tzgg/", "notice", True, "hanweb"),
               ColumnSpec("某某区政府办", "工作动态", "/zwgk/gzdt/", "dynamic", True, "trs")]
    settings = load_settings(write_test_settings(tmp_path / "s.toml", base, columns, db_url))
    for _ in range(2):   # a re-crawl is as quiet: no column left partial, no sidebar article ever opened
        summary = run_crawl(settings, full=True)
        assert not summary.failed and not summary.partial, (summary.failed, summary.partial)
    with get_sessionmaker(db_url)() as s:
        outcome = {c.url.removeprefix(base): (f.status, f.reason, f.entries)
                   for f, c in s.execute(select(ColumnFetch, Column).join(Column, Column.id == ColumnFetch.column_id)
                                         .where(ColumnFetch.run_id == summary.run_id))}
        assert s.scalar(select(func.count(Post.id))) == 15
        facts = column_facts(s, datetime.now(TZ) + timedelta(days=1))
    assert outcome["/zwgk/fdzdgknr/"] == ("ok", None, 0)
    assert outcome["/zwgk/tzgg/"] == ("ok", None, 0)
    assert outcome["/zwgk/gzdt/"] == ("ok", None, 15)
    articles = [p for p in requests if p not in SITE and not p.startswith("/robots")]
    assert articles == [], articles   # the normal list is dated; the sidebars are never anyone's posts
    blank = column_blank(UnitFacts("某某区政府办", "department", [], facts), datetime.now(TZ).date(), None)  # type: ignore[arg-type]
    assert sorted(f.target.removeprefix(base) for f in blank) == ["/zwgk/fdzdgknr/", "/zwgk/tzgg/"]
