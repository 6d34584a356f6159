"""Readers of new-media accounts: time forms, each parser on sample payloads, error mapping over real
local HTTP, the Chromium path behind a JavaScript cookie wall, and the accounts fixture site."""
from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler import readers
from crawler.readers import (
    AccountPost, BridgeExpired, Deleted, LoginWall, NotFound, PageChanged, RateLimited, ReadContext, ReadError,
    Unreachable, UnsupportedUrl, VisitorWall, newest_post, read_accounts, resolve_reader,
)
from crawler.readers.base import register
from crawler.readers.browser import find_chromium
from crawler.readers.feed import parse_feed
from crawler.readers.timeparse import SHANGHAI, parse_weibo_time
from crawler.readers.wechat import parse_article, parse_sogou, source_of
from crawler.readers.weibo import endpoints, parse_weibo_json, weibo_uid

DATA = Path(__file__).parent / "readers_data"
NOW = datetime(2020, 10, 10, 9, 30, tzinfo=SHANGHAI)


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


# --- time forms -------------------------------------------------------------------------------------------

TIME_CASES = [
    ("Tue Sep 29 10:12:00 +0800 2020", sh(2020, 9, 29, 10, 12)),
    ("Tue Sep 29 02:12:00 +0000 2020", sh(2020, 9, 29, 10, 12)),
    ("刚刚", sh(2020, 10, 10, 9, 30)),
    ("30秒前", sh(2020, 10, 10, 9, 29, 30)),
    ("5分钟前", sh(2020, 10, 10, 9, 25)),
    ("3小时前", sh(2020, 10, 10, 6, 30)),
    ("2天前", sh(2020, 10, 8, 9, 30)),
    ("今天 08:00", sh(2020, 10, 10, 8, 0)),
    ("昨天 10:12", sh(2020, 10, 9, 10, 12)),
    ("昨天10:12", sh(2020, 10, 9, 10, 12)),
    ("前天 23:59", sh(2020, 10, 8, 23, 59)),
    ("09-29", sh(2020, 9, 29)),
    ("10-10", sh(2020, 10, 10)),
    ("10-11", sh(2019, 10, 11)),  # in the future this year: last year
    ("12-31 18:00", sh(2019, 12, 31, 18, 0)),
    ("2019-12-31", sh(2019, 12, 31)),
    ("2019-12-31 23:05", sh(2019, 12, 31, 23, 5)),
    ("2020/9/1", sh(2020, 9, 1)),
    ("2020年9月1日 08:30", sh(2020, 9, 1, 8, 30)),
    ("2020-10-08T16:45:00+08:00", sh(2020, 10, 8, 16, 45)),
    ("2020-10-08T08:45:00Z".replace("Z", "+00:00"), sh(2020, 10, 8, 16, 45)),
]


@pytest.mark.parametrize("text,expected", TIME_CASES)
def test_parse_weibo_time(text, expected):
    got = parse_weibo_time(text, NOW)
    assert got == expected
    assert got.tzinfo is not None and got.utcoffset() == timedelta(hours=8)


def test_parse_weibo_time_new_year_and_naive_now():
    assert parse_weibo_time("12-31", datetime(2021, 1, 2, 8, 0)) == sh(2020, 12, 31)
    assert parse_weibo_time("昨天 23:00", datetime(2021, 1, 1, 0, 30, tzinfo=timezone.utc)) == sh(2020, 12, 31, 23)


@pytest.mark.parametrize("text", ["", "某日", "昨天下午", "2020-13-45", "Xyz Abc 99 10:00:00 +0800 2020"])
def test_parse_weibo_time_refuses_unknown(text):
    with pytest.raises(ValueError):
        parse_weibo_time(text, NOW)


# --- registry and newest_post -------------------------------------------------------------------------

def test_registry_is_explicit_and_documented():
    assert set(readers.READERS) == {"weibo", "wechat", "feed"}
    for name, cls in readers.READERS.items():
        assert cls.platform == name and (cls.__doc__ or "").strip()
    assert readers.READERS["weibo"].needs_browser
    assert not readers.READERS["wechat"].needs_browser and not readers.READERS["feed"].needs_browser
    with pytest.raises(ValueError, match="twice"):
        register("feed")(type("Again", (readers.Reader,), {"__doc__": "x", "read": None}))
    with pytest.raises(ValueError, match="empty"):
        register(" ")(type("Blank", (readers.Reader,), {"__doc__": "x", "read": None}))


def test_resolve_reader():
    assert resolve_reader("weibo", "https://weibo.com/u/1").platform == "weibo"
    assert resolve_reader("WeChat", "https://mp.weixin.qq.com/s/x").platform == "wechat"
    with pytest.raises(ValueError, match="feed, wechat, weibo"):
        resolve_reader("douyin", "https://www.douyin.com/user/x")


def post(pid, when, pinned=False):
    return AccountPost(pid, when, pid, None, pinned)


def test_newest_post_skips_an_old_pinned_post_shown_first():
    posts = [post("top", sh(2020, 3, 1), pinned=True), post("a", sh(2020, 10, 9)), post("b", sh(2020, 10, 7))]
    assert newest_post(posts).platform_id == "a"
    # a pinned post that really is the newest counts
    posts = [post("top", sh(2020, 10, 10), pinned=True), post("a", sh(2020, 10, 9))]
    assert newest_post(posts).platform_id == "top"
    assert newest_post([post("top", sh(2020, 3, 1), pinned=True)]).platform_id == "top"
    assert newest_post([]) is None


def test_read_errors_carry_chinese_reasons():
    assert RateLimited("HTTP 418").reason == "平台限制访问（HTTP 418）"
    assert LoginWall().reason == "需要登录"
    assert Deleted().reason == "文章已删除" and isinstance(Deleted(), NotFound)
    assert BridgeExpired().reason == "订阅源登录失效"
    assert Unreachable().reason == "无法连接/超时"
    assert PageChanged().reason == "页面结构已变化或无内容"
    assert VisitorWall().reason == "访客验证未通过"


# --- Weibo parsing ------------------------------------------------------------------------------------------

def test_weibo_urls_keep_scheme_host_and_port():
    assert weibo_uid("http://127.0.0.1:8701/u/1234567890") == "1234567890"
    assert weibo_uid("https://m.weibo.cn/profile/2803301701") == "2803301701"
    assert weibo_uid("https://weibo.com/2803301701") == "2803301701"
    with pytest.raises(UnsupportedUrl):
        weibo_uid("https://weibo.com/cangshanfabu")
    eps = dict(endpoints("http://127.0.0.1:8701/u/1234567890", "1234567890"))
    assert eps["getIndex"] == "http://127.0.0.1:8701/api/container/getIndex?containerid=1076031234567890"
    assert eps["mymblog"] == "http://127.0.0.1:8701/ajax/statuses/mymblog?uid=1234567890&page=1&feature=0"
    real = dict(endpoints("https://weibo.com/u/1234567890", "1234567890"))
    assert real["getIndex"].startswith("https://m.weibo.cn/api/container/getIndex?")
    assert real["mymblog"].startswith("https://weibo.com/ajax/statuses/mymblog?")


def test_parse_getindex_flags_pinned_and_strips_html():
    data = json.loads((DATA / "weibo_getindex.json").read_text("utf-8"))
    posts = parse_weibo_json(data, NOW, "http://x")
    assert [p.platform_id for p in posts] == ["4554012345678901", "4553900000000002", "4553000000000003",
                                              "4481234567890001"]
    assert [p.pinned for p in posts] == [False, False, False, True]
    first = posts[0]
    assert first.published_at == sh(2020, 10, 9, 18, 30)
    assert first.title.startswith("【仓山区召开防汛工作会议】10月9日下午，区政府召开会议 部署") and "<" not in first.title
    assert len(posts[3].title) <= 60 and "#仓山发布#" in posts[3].title
    assert first.url == "http://x/detail/4554012345678901"
    assert newest_post(posts).platform_id == "4554012345678901"


def test_parse_mymblog():
    data = json.loads((DATA / "weibo_mymblog.json").read_text("utf-8"))
    posts = parse_weibo_json(data, NOW, "http://x")
    assert [(p.platform_id, p.pinned) for p in posts] == [
        ("4554000000000011", False), ("4553500000000013", False), ("4400000000000012", True)]
    assert posts[0].title == "#警方提示# 国庆中秋假期后，谨防电信诈骗！"


@pytest.mark.parametrize("payload,error", [
    ({"ok": 0, "msg": "这里还没有内容"}, PageChanged),
    ({"ok": 1, "data": {}}, PageChanged),
    ({"ok": 1, "data": {"cards": []}}, PageChanged),
    ({"ok": 1, "data": {"cards": [{"card_type": 58}]}}, PageChanged),
    ({"ok": -100, "url": "https://passport.weibo.com/signin/login?entry=mweibo"}, LoginWall),
    ({"ok": 1, "data": {"list": [{"id": 1, "created_at": "某日"}]}}, PageChanged),
    ([], PageChanged),
])
def test_parse_weibo_json_refusals(payload, error):
    with pytest.raises(error):
        parse_weibo_json(payload, NOW, "http://x")


# --- WeChat and feeds parsing --------------------------------------------------------------------------

def test_wechat_article():
    p = parse_article((DATA / "wechat_article.html").read_text("utf-8"), "http://h/s/AbCdEf123", NOW)
    assert p.published_at == sh(2020, 9, 29, 9, 12)  # ct 1601341920
    assert p.title == '仓山区开展"双随机、一公开"抽查'
    assert p.platform_id == "AbCdEf123" and p.url == "http://h/s/AbCdEf123"
    m = parse_article((DATA / "wechat_article_meta.html").read_text("utf-8"), "http://h/s/Meta1", NOW)
    assert m.published_at == sh(2020, 10, 8, 16, 45) and m.title.startswith("仓山疾控提醒")
    no_time = "<html><head><meta property='og:title' content='x'></head><body><h1 id='activity-name'>x</h1></body></html>"
    with pytest.raises(PageChanged):
        parse_article(no_time, "http://h/s/x", NOW)
    with pytest.raises(Deleted):
        parse_article((DATA / "wechat_deleted.html").read_text("utf-8"), "http://h/s/gone", NOW)
    with pytest.raises(Deleted):
        parse_article("<p>此内容因违规无法查看</p>", "http://h/s/gone", NOW)


def test_sogou_picks_the_searched_account():
    page = (DATA / "sogou_account.html").read_text("utf-8")
    p = parse_sogou(page, "http://h/weixin?type=1&query=仓山营商")
    assert p.title == "仓山区“一件事”集成套餐服务上线"
    assert p.published_at == sh(2020, 9, 29, 9, 12)
    assert p.url == "http://h/link?url=dn9a_-gY295K0Rci"
    # by WeChat id too; an unknown query falls back to the first result
    assert parse_sogou(page, "http://h/weixin?type=1&query=csysfw").title == "别的账号的文章"
    with pytest.raises(RateLimited, match="搜狗反爬验证"):
        parse_sogou((DATA / "sogou_antispider.html").read_text("utf-8"), "http://h/weixin?type=1&query=x")
    with pytest.raises(PageChanged):
        parse_sogou("<html><body><div>暂无与“x”相关的公众号</div></body></html>", "http://h/weixin?type=1&query=x")


@pytest.mark.parametrize("url,source", [
    ("https://mp.weixin.qq.com/s/AbCdEf123", "article"),
    ("https://mp.weixin.qq.com/s?__biz=MzA5&mid=2650&idx=1&sn=ab", "article"),
    ("https://weixin.sogou.com/weixin?type=1&query=仓山营商", "sogou"),
    ("http://127.0.0.1:4000/feeds/MP_WXS_3001234567.atom", "bridge"),
    ("http://127.0.0.1:4000/feeds/MP_WXS_3001234567.rss", "bridge"),
    ("http://127.0.0.1:1200/rsshub/wechat/mp/msgalbum/MzA5", "bridge"),
])
def test_wechat_source_from_path(url, source):
    assert source_of(url) == source


def test_wechat_unknown_path():
    with pytest.raises(UnsupportedUrl):
        source_of("https://mp.weixin.qq.com/mp/profile_ext?action=home")


def test_feeds():
    posts, titles = parse_feed((DATA / "feed.atom").read_bytes())
    assert [(p.platform_id, p.published_at) for p in posts] == [
        ("AbCdEfGh01", sh(2020, 10, 9, 10, 30)), ("AbCdEfGh02", sh(2020, 9, 28, 10, 0))]
    assert len(titles) == 3 and posts[0].url == "https://mp.weixin.qq.com/s/AbCdEfGh01"
    posts, _ = parse_feed((DATA / "feed.rss").read_bytes())
    assert [(p.platform_id, p.published_at) for p in posts] == [
        ("Rss001", sh(2020, 10, 8, 15, 0)), ("https://mp.weixin.qq.com/s/Rss000", sh(2020, 9, 21, 9, 0))]
    with pytest.raises(PageChanged):
        parse_feed(b"<html><body>not a feed</body></html>")
    with pytest.raises(PageChanged):
        parse_feed(b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title></channel></rss>")


# --- over real local HTTP ---------------------------------------------------------------------------------

class LocalServer:
    """A tiny threaded HTTP server whose routes are functions of the request handler."""

    def __init__(self, routes):
        self.routes = routes
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests.append(self.path)
                route = outer.routes.get(urlsplit(self.path).path)
                status, headers, body = route(self) if route else (404, {}, b"not found")
                if isinstance(body, str):
                    body = body.encode("utf-8")
                self.send_response(status)
                for k, v in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(routes):
        servers.append(LocalServer(routes))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


def fixed(status, body=b"", ctype="text/html; charset=utf-8", **headers):
    return lambda h: (status, {"Content-Type": ctype, **headers}, body)


JSON = "application/json; charset=utf-8"
GETINDEX = (DATA / "weibo_getindex.json").read_bytes()
MYMBLOG = (DATA / "weibo_mymblog.json").read_bytes()
UID = "1234567890"


def read_one(platform, url, **kw):
    return asyncio.run(read_accounts([("k", platform, url)], now=NOW, timeout=kw.pop("timeout", 5.0), **kw))["k"]


def test_weibo_plain_http_reads_getindex_without_a_browser(serve):
    s = serve({"/api/container/getIndex": fixed(200, GETINDEX, JSON)})
    posts = read_one("weibo", f"{s.base}/u/{UID}", executable_path="/nonexistent/chromium")
    assert newest_post(posts).platform_id == "4554012345678901"
    assert s.requests == [f"/api/container/getIndex?containerid=107603{UID}"]


def test_weibo_falls_back_to_mymblog(serve):
    s = serve({"/api/container/getIndex": fixed(418, b"", "text/plain"),
               "/ajax/statuses/mymblog": fixed(200, MYMBLOG, JSON)})
    posts = read_one("weibo", f"{s.base}/profile/{UID}")
    assert newest_post(posts).published_at == sh(2020, 10, 8, 10, 12)
    assert s.requests[-1] == f"/ajax/statuses/mymblog?uid={UID}&page=1&feature=0"


ALL_PINNED = json.dumps({"ok": 1, "data": {"cards": [{"mblog": {
    "id": "1", "created_at": "Sun Mar 01 09:00:00 +0800 2020", "isTop": 1, "text": "置顶"}}]}}).encode()


def test_weibo_reads_page_two_when_page_one_is_all_pinned(serve):
    def index(h):
        return 200, {"Content-Type": JSON}, (GETINDEX if "page=2" in h.path else ALL_PINNED)
    s = serve({"/api/container/getIndex": index})
    posts = read_one("weibo", f"{s.base}/u/{UID}")
    assert newest_post(posts).platform_id == "4554012345678901"
    assert len(s.requests) == 2


@pytest.mark.parametrize("routes,error,reason", [
    ({"/api/container/getIndex": fixed(418), "/ajax/statuses/mymblog": fixed(418)}, RateLimited, "HTTP 418"),
    ({"/api/container/getIndex": fixed(403), "/ajax/statuses/mymblog": fixed(403)}, RateLimited, "HTTP 403"),
    ({"/api/container/getIndex": fixed(200, b'{"ok":0}', JSON),
      "/ajax/statuses/mymblog": fixed(200, b'{"ok":0}', JSON)}, PageChanged, "ok=0"),
    ({"/api/container/getIndex": fixed(302, Location="/signin/login?entry=mweibo"),
      "/ajax/statuses/mymblog": fixed(200, MYMBLOG, JSON)}, LoginWall, "需要登录"),
    ({"/api/container/getIndex": fixed(200, b"<html>upgrade</html>"),
      "/ajax/statuses/mymblog": fixed(200, b"<html>upgrade</html>")}, PageChanged, "不是JSON"),
    ({"/api/container/getIndex": fixed(404), "/ajax/statuses/mymblog": fixed(404)}, NotFound, "HTTP 404"),
])
def test_weibo_refusals_are_typed(serve, routes, error, reason):
    s = serve(routes)
    result = read_one("weibo", f"{s.base}/u/{UID}")
    assert isinstance(result, error), result
    assert reason in result.reason


def test_unreachable_and_timeout(serve):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    result = read_one("feed", f"http://127.0.0.1:{port}/feed.xml", retry_pause=0.01)
    assert isinstance(result, Unreachable) and "连接被拒绝" in result.reason

    def slow(h):
        import time
        time.sleep(3)
        return 200, {}, b""
    s = serve({"/slow.xml": slow})
    result = read_one("feed", f"{s.base}/slow.xml", timeout=1.0, retries=0)
    assert isinstance(result, Unreachable) and "超时" in result.reason


def test_a_network_failure_is_retried_once(serve):
    calls = []

    def flaky(h):
        calls.append(1)
        return (500, {}, b"oops") if len(calls) == 1 else (200, {"Content-Type": "application/rss+xml"},
                                                            (DATA / "feed.rss").read_bytes())
    s = serve({"/f.xml": flaky, "/refuse.xml": fixed(418)})
    posts = read_one("feed", f"{s.base}/f.xml", retry_pause=0.01)
    assert newest_post(posts).platform_id == "Rss001" and len(calls) == 2
    assert isinstance(read_one("feed", f"{s.base}/refuse.xml", retry_pause=0.01), RateLimited)
    assert s.requests.count("/refuse.xml") == 1  # a refusal is not asked again at once


def test_wechat_sources_over_http(serve):
    s = serve({
        "/s/AbCdEf123": fixed(200, (DATA / "wechat_article.html").read_bytes()),
        "/s/gone": fixed(200, (DATA / "wechat_deleted.html").read_bytes()),
        "/weixin": lambda h: ((302, {"Location": "/antispider/?from=%2Fweixin"}, b"") if "blocked" in h.path
                              else (200, {}, (DATA / "sogou_account.html").read_bytes())),
        "/antispider/": fixed(200, b"<html>please verify</html>"),
        "/feeds/MP_WXS_1.atom": fixed(200, (DATA / "feed.atom").read_bytes(), "application/atom+xml"),
        "/feeds/MP_WXS_2.atom": fixed(200, (DATA / "bridge_expired.atom").read_bytes(), "application/atom+xml"),
        "/rsshub/wechat/mp/x": fixed(503, b"RSSHub error"),
    })
    got = asyncio.run(read_accounts([
        ("article", "wechat", f"{s.base}/s/AbCdEf123"),
        ("gone", "wechat", f"{s.base}/s/gone"),
        ("sogou", "wechat", f"{s.base}/weixin?type=1&query=仓山营商"),
        ("blocked", "wechat", f"{s.base}/weixin?type=1&query=blocked"),
        ("wewe", "wechat", f"{s.base}/feeds/MP_WXS_1.atom"),
        ("expired", "wechat", f"{s.base}/feeds/MP_WXS_2.atom"),
        ("rsshub503", "wechat", f"{s.base}/rsshub/wechat/mp/x"),
        ("feed404", "feed", f"{s.base}/nope.xml"),
    ], now=NOW, timeout=5.0))
    assert got["article"][0].published_at == sh(2020, 9, 29, 9, 12)
    assert isinstance(got["gone"], Deleted) and got["gone"].reason == "文章已删除"
    assert got["sogou"][0].title == "仓山区“一件事”集成套餐服务上线"
    assert isinstance(got["blocked"], RateLimited) and "搜狗反爬验证" in got["blocked"].reason
    assert newest_post(got["wewe"]).platform_id == "AbCdEfGh01"
    assert isinstance(got["expired"], BridgeExpired) and isinstance(got["rsshub503"], BridgeExpired)
    assert isinstance(got["feed404"], NotFound)


# --- the browser path: a JavaScript cookie wall in front of the JSON ---------------------------------------

VISITOR_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sina Visitor System</title></head>
<body><script>
setTimeout(function () {
  document.cookie = "SUB=_2AkMvisitor" + Date.now() + "; path=/";
  document.cookie = "SUBP=0033WrSXqPxfM72-Ws9jqgMF55529P9D9W5; path=/";
  var m = /[?&]url=([^&]+)/.exec(location.search);
  location.replace(m ? decodeURIComponent(m[1]) : "/");
}, 150);
</script><img src="/big.png"></body></html>"""


def cookie_wall_routes(login_wall=False):
    def has_sub(h):
        return "SUB=" in (h.headers.get("Cookie") or "")

    def to_visitor(h):
        return 302, {"Location": "/visitor/visitor?entry=miniblog&url=" + urlsplit(h.path).path}, b""

    def api(payload):
        def route(h):
            if login_wall and has_sub(h):
                return 302, {"Location": "/signin/login?entry=miniblog"}, b""
            return (200, {"Content-Type": JSON}, payload) if has_sub(h) else to_visitor(h)
        return route

    def profile(h):
        return (200, {}, "<html><body><div id='app'>仓山发布</div></body></html>") if has_sub(h) else to_visitor(h)

    return {
        "/api/container/getIndex": api(GETINDEX),
        "/ajax/statuses/mymblog": api(MYMBLOG),
        f"/u/{UID}": profile,
        "/visitor/visitor": fixed(200, VISITOR_PAGE),
        "/signin/login": fixed(200, "<html><form>登录</form></html>"),
        "/big.png": fixed(200, b"\x89PNG", "image/png"),
    }


needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="no Chromium binary on this machine")


@pytest.mark.slow
@needs_chromium
def test_browser_gets_the_visitor_cookie_then_reads_the_json(serve, monkeypatch):
    pools = []

    class CountingPool(readers.BrowserPool):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pools.append(self)
    monkeypatch.setattr(readers, "BrowserPool", CountingPool)
    s = serve(cookie_wall_routes())
    feed = serve({"/f.xml": fixed(200, (DATA / "feed.rss").read_bytes(), "application/rss+xml")})
    got = asyncio.run(read_accounts([
        ("a", "weibo", f"{s.base}/u/{UID}"), ("b", "weibo", f"{s.base}/profile/{UID}"),
        ("c", "feed", f"{feed.base}/f.xml"),
    ], now=NOW, timeout=10.0, max_pages=2))
    for key in "ab":
        assert not isinstance(got[key], ReadError), got[key]
        assert newest_post(got[key]).platform_id == "4554012345678901"
        assert got[key][-1].pinned
    assert newest_post(got["c"]).platform_id == "Rss001"
    # the plain requests were tried first, the JSON then came with the cookie, and the image was blocked
    assert s.requests[0] == f"/api/container/getIndex?containerid=107603{UID}"
    assert any(p.startswith("/visitor/visitor") for p in s.requests)
    assert "/big.png" not in s.requests
    assert len(pools) == 1 and pools[0].launches == 1 and not pools[0].launched  # one Chromium, closed after


@pytest.mark.slow
@needs_chromium
def test_login_wall_stays_a_login_wall_in_the_browser(serve):
    s = serve(cookie_wall_routes(login_wall=True))
    result = read_one("weibo", f"{s.base}/u/{UID}", timeout=10.0)
    assert isinstance(result, LoginWall), result


def test_no_browser_launched_for_plain_readers(serve, monkeypatch):
    from crawler.readers import browser as browser_mod
    launched = []
    monkeypatch.setattr(browser_mod.BrowserPool, "_ensure", lambda self: launched.append(1))
    s = serve({"/api/container/getIndex": fixed(200, GETINDEX, JSON),
               "/f.xml": fixed(200, (DATA / "feed.rss").read_bytes(), "application/rss+xml")})
    got = asyncio.run(read_accounts([("w", "weibo", f"{s.base}/u/{UID}"), ("f", "feed", f"{s.base}/f.xml")],
                                    now=NOW, timeout=5.0))
    assert all(isinstance(v, list) for v in got.values()) and not launched


def test_missing_browser_is_a_read_error(serve):
    s = serve(cookie_wall_routes())
    result = read_one("weibo", f"{s.base}/u/{UID}", executable_path="/nonexistent/chromium")
    assert isinstance(result, readers.BrowserUnavailable) and result.reason.startswith("浏览器无法启动")


# --- the accounts fixture site (19 seed accounts of the notice, 2 unseen, refusal samples) ------------------

REFUSAL_KINDS = {"login": LoginWall, "403": RateLimited, "418": RateLimited, "empty": PageChanged,
                 "changed": PageChanged, "deleted": Deleted, "antispider": RateLimited,
                 "bridge_expired": BridgeExpired}
REFUSAL_TEXT = {"403": "HTTP 403", "418": "HTTP 418", "antispider": "搜狗反爬验证"}


@pytest.fixture(scope="module")
def accounts_site():
    pytest.importorskip("fixtures.accounts")
    from fixtures.server import FixtureServer
    with FixtureServer(site="accounts") as server:
        yield server


@pytest.fixture(scope="module")
def accounts_read(accounts_site):
    """Every seed and unseen account read in one batch, from nothing but its URL."""
    from fixtures.accounts import ACCOUNTS_NOW, seed_accounts, unseen_accounts
    specs = seed_accounts() + unseen_accounts()
    accounts_site.clear_requests()
    got = asyncio.run(read_accounts([(s.path, s.platform, accounts_site.base_url + s.path) for s in specs],
                                    now=ACCOUNTS_NOW, timeout=15.0))
    return specs, got, list(accounts_site.requests)


def check_against_truth(spec, result):
    from fixtures.accounts import account_posts, status_of
    label = f"#{spec.no} {spec.name} ({spec.source})"
    if spec.expected == "无法读取":
        expected = REFUSAL_KINDS[spec.reason_kind]
        assert isinstance(result, expected), f"{label}: {result!r}, wanted {expected.__name__}"
        assert REFUSAL_TEXT.get(spec.reason_kind, "") in result.reason
        return
    assert isinstance(result, list) and result, f"{label}: {result!r}"
    truth = account_posts(spec)
    best = newest_post(result)
    pid, when, title = truth[0]
    assert best.published_at == when == spec.newest, f"{label}: {best} vs {truth[0]}"
    assert best.platform_id == pid or best.platform_id.endswith(pid), label  # a portal feed's id is its URL
    assert title[:20] in best.title, label
    assert not best.pinned
    assert status_of(best.published_at) == spec.expected, label
    if spec.has_pinned:  # the pinned card came first on the page, old, flagged, and not taken as the newest
        pinned = [p for p in result if p.pinned]
        assert pinned and all(p.published_at < when for p in pinned), label
    # every post the reader returned is a real one with the right time (Weibo's year-less/relative
    # forms lose precision only below the displayed unit)
    by_id = {t[0]: t[1] for t in truth}
    for p in result:
        if p.pinned:
            continue
        real = next((v for k, v in by_id.items() if p.platform_id == k or p.platform_id.endswith(k)), None)
        assert real is not None, f"{label}: {p.platform_id} not among the account's posts"
        assert abs(real - p.published_at) < timedelta(days=1) and real.date() == p.published_at.date(), label


@pytest.mark.slow
@needs_chromium
def test_fixture_seed_accounts(accounts_read):
    specs, got, _ = accounts_read
    seed = [s for s in specs if s.no > 0]
    assert len(seed) == 19
    for spec in seed:
        check_against_truth(spec, got[spec.path])
    unreadable = [s.no for s in seed if isinstance(got[s.path], ReadError)]
    assert unreadable == [s.no for s in seed if s.expected == "无法读取"]


@pytest.mark.slow
def test_fixture_unseen_accounts(accounts_read):
    specs, got, _ = accounts_read
    unseen = [s for s in specs if s.no == 0]
    assert {s.platform for s in unseen} == {"weibo", "feed"}
    for spec in unseen:
        check_against_truth(spec, got[spec.path])


@pytest.mark.slow
@needs_chromium
def test_fixture_requests_stay_cheap(accounts_read):
    """Plain HTTP first: only the visitor-walled account opened a profile page (in the browser); every
    other Weibo account was answered by its first API call or refused at it."""
    specs, _, requests = accounts_read
    paths = [p for _, p in requests]
    visitor = [s for s in specs if s.needs_browser]
    assert visitor and all(s.platform == "weibo" for s in visitor)
    profile_hits = {p.split("?")[0] for p in paths if p.startswith(("/u/", "/profile/"))}
    assert profile_hits == {s.path for s in visitor}
    assert len(paths) < 3 * len(specs)


def test_fixture_extra_refusals(accounts_site):
    from fixtures.accounts import ACCOUNTS_NOW, extra_samples
    samples = extra_samples()
    platform = {k: ("weibo" if k.startswith("weibo_") else "wechat") for k in samples}
    got = asyncio.run(read_accounts([(k, platform[k], accounts_site.base_url + p) for k, p in samples.items()],
                                    now=ACCOUNTS_NOW))
    wanted = {"weibo_403": RateLimited, "weibo_418": RateLimited, "weibo_empty": PageChanged,
              "weibo_changed": PageChanged, "weibo_login": LoginWall, "wechat_violation": Deleted,
              "wewe_503": BridgeExpired, "rsshub_503": BridgeExpired}
    for key, cls in wanted.items():
        if key in got:
            assert isinstance(got[key], cls), f"{key}: {got[key]!r}"
    assert got["weibo_403"].reason == "平台限制访问（HTTP 403）"
    assert got["weibo_418"].reason == "平台限制访问（HTTP 418）"


def test_a_crashing_or_empty_reader_is_never_silence(monkeypatch):
    class Broken(readers.Reader):
        """x"""
        async def read(self, url, ctx):
            raise KeyError("boom")

    class Empty(readers.Reader):
        """x"""
        async def read(self, url, ctx):
            return []

    async def run(reader):
        ctx = ReadContext(timeout=2.0, now=NOW)
        try:
            return await readers.read_account(reader, "http://127.0.0.1:9/", ctx)
        finally:
            await ctx.close()
    with pytest.raises(readers.ReaderCrashed, match="KeyError"):
        asyncio.run(run(Broken()))
    with pytest.raises(PageChanged):
        asyncio.run(run(Empty()))
