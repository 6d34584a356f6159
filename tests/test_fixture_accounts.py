"""Tests of the new-media fixtures (fixtures/accounts): ground truth and what the server really serves."""
from __future__ import annotations

import json
import re
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest

from fixtures.accounts import (ACCOUNTS_NOW, EXTRA_WEIBO, NAMELESS, account_posts, accounts_settings_toml,
                               extra_samples, seed_accounts, status_of, unseen_accounts)
from fixtures.accounts.render import weibo_relative
from fixtures.server import FixtureServer

ROOT = Path(__file__).resolve().parent.parent
TZ8 = timezone(timedelta(hours=8))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


OPEN = urllib.request.build_opener(NoRedirect)


@pytest.fixture(scope="module")
def server():
    with FixtureServer("accounts") as s:
        yield s


def fetch(url: str, cookie: str | None = None, follow: bool = False):
    """(status, headers, body) without raising on 3xx/4xx/5xx."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with (urllib.request.urlopen if follow else OPEN.open)(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def spec(no: int):
    return next(s for s in seed_accounts() if s.no == no)


# ---------------------------------------------------------------- ground truth
def test_seed_matches_register():
    rows = [ln.split("\t") for ln in (ROOT / "fixtures/data/accounts_2020.tsv").read_text("utf-8").splitlines()
            if ln and not ln.startswith("#")][1:]
    specs = seed_accounts()
    assert len(specs) == 19 == len(rows)
    for s, (no, unit, platform, name) in zip(specs, rows):
        assert (s.no, s.unit, s.name) == (int(no), unit, name)
        assert s.platform == {"新浪微博": "weibo", "微信公众号": "wechat"}[platform]
    assert {s.source for s in specs if s.platform == "wechat"} >= {"wechat-article", "sogou", "wewe-atom",
                                                                    "wewe-rss", "rsshub"}


def test_status_distribution():
    specs = seed_accounts()
    c = Counter(s.expected for s in specs)
    assert c["正常"] >= 8 and c["预警"] >= 2 and c["不合格"] >= 2 and c["无法读取"] >= 5, c
    reasons = {s.reason_kind for s in specs if s.expected == "无法读取"}
    assert {"login", "403", "418"} <= reasons and reasons & {"empty", "changed"} and \
        reasons & {"antispider", "bridge_expired"}, reasons
    for s in specs + unseen_accounts():
        posts = account_posts(s)
        if s.expected == "无法读取":
            assert s.newest is None and s.reason_kind and posts == []
        else:
            assert s.reason_kind is None and s.newest == posts[0][1] == max(p[1] for p in posts)
            assert s.expected == status_of(s.newest)
            assert [p[1] for p in posts] == sorted((p[1] for p in posts), reverse=True)
    browser = [s for s in specs if s.needs_browser]
    assert browser and all(s.platform == "weibo" and s.expected == "正常" for s in browser)
    assert any(s.has_pinned and s.expected == "正常" for s in specs if s.platform == "weibo")
    assert {spec(13).expected, spec(19).expected} & {"不合格"}
    un = unseen_accounts()
    assert [s.platform for s in un] == ["weibo", "feed"] and all(s.newest for s in un)
    assert un[0].path.startswith("/profile/") and un[1].path.startswith("/feed/") and un[1].path.endswith(".xml")


def test_relative_forms():
    n = ACCOUNTS_NOW
    assert n == datetime(2020, 10, 10, 9, 0, tzinfo=TZ8)
    assert weibo_relative(n) == "刚刚"
    assert weibo_relative(n - timedelta(minutes=5)) == "5分钟前"
    assert weibo_relative(n - timedelta(hours=2)) == "2小时前"
    assert weibo_relative(datetime(2020, 10, 9, 10, 12, tzinfo=TZ8)) == "昨天 10:12"
    assert weibo_relative(datetime(2020, 9, 29, 10, 12, tzinfo=TZ8)) == "09-29"
    assert weibo_relative(datetime(2019, 12, 31, 18, 0, tzinfo=TZ8)) == "2019-12-31"


def test_settings_toml():
    from fixtures.portal import portal_units
    from config.loader import parse_settings

    known = {u.name for u in portal_units()}
    text = accounts_settings_toml("http://127.0.0.1:8701", known)
    data = tomllib.loads(text)
    assert len(data["accounts"]) == 19
    assert {u["name"] for u in data["units"]} == {s.unit for s in seed_accounts()} - known
    assert all(u["kind"] == "other" for u in data["units"])
    assert data["accounts"][12]["name"] == NAMELESS
    assert data["accounts"][0]["url"] == "http://127.0.0.1:8701" + spec(1).path
    from fixtures.portal import toml_str
    full = "".join(f"[[units]]\nname = {toml_str(u)}\nkind = \"other\"\n\n" for u in sorted(known)) + text
    settings = parse_settings(full)
    assert len(settings.accounts) == 19 and {a.platform for a in settings.accounts} == {"weibo", "wechat"}


# ---------------------------------------------------------------- Weibo over HTTP
def test_getindex_shape_and_pinned(server):
    s = unseen_accounts()[0]
    uid = s.path.rsplit("/", 1)[1]
    st, h, body = fetch(f"{server.base_url}/api/container/getIndex?type=uid&value={uid}&containerid=107603{uid}")
    assert st == 200 and h["Content-Type"].startswith("application/json")
    d = json.loads(body)
    assert d["ok"] == 1 and d["data"]["cardlistInfo"]["containerid"] == f"107603{uid}"
    cards = d["data"]["cards"]
    assert len(cards) == 10 and all(c["card_type"] == 9 for c in cards)
    first = cards[0]["mblog"]
    assert first["isTop"] == 1 and first["title"]["text"] == "置顶"
    assert all("isTop" not in c["mblog"] for c in cards[1:])
    assert first["user"]["screen_name"] == s.name
    truth = account_posts(s)
    # the newest real post is the second card, not the (older) pinned first
    assert cards[1]["mblog"]["mid"] == truth[0][0]
    assert cards[1]["mblog"]["created_at"] == s.newest.strftime("%a %b %d %H:%M:%S +0800 %Y")
    assert datetime.strptime(first["created_at"], "%a %b %d %H:%M:%S %z %Y") < s.newest
    # all pages together hold exactly the truth; past the end: "这里还没有内容"
    mids, page = [], 1
    while True:
        d = json.loads(fetch(f"{server.base_url}/api/container/getIndex?containerid=107603{uid}&page={page}")[2])
        if d["ok"] != 1:
            assert d["msg"] == "这里还没有内容" and d["data"]["cards"] == []
            break
        mids += [c["mblog"]["mid"] for c in d["data"]["cards"] if not c["mblog"].get("isTop")]
        page += 1
    assert mids == [p[0] for p in truth] and page == 4
    # userInfo form (type=uid&value= without containerid)
    d = json.loads(fetch(f"{server.base_url}/api/container/getIndex?type=uid&value={uid}")[2])
    assert d["data"]["userInfo"]["screen_name"] == s.name


def test_visitor_redirect_and_cookie(server):
    s = spec(1)
    uid = s.path.rsplit("/", 1)[1]
    for path in (f"/api/container/getIndex?containerid=107603{uid}", f"/ajax/statuses/mymblog?uid={uid}&page=1&feature=0",
                 s.path):
        st, h, _ = fetch(server.base_url + path)
        assert st == 302
        loc = h["Location"]
        assert loc.startswith(server.base_url + "/visitor/visitor?entry=miniblog&a=enter&url=")
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
        assert q["url"][0] == server.base_url + path
    st, _, page = fetch(loc)  # the visitor page: JS sets SUB and goes back
    assert st == 200 and b'document.cookie = "SUB=' in page and b"location.replace" in page
    # a plain client following redirects ends on the visitor page, not on JSON
    st, _, body = fetch(f"{server.base_url}/api/container/getIndex?containerid=107603{uid}", follow=True)
    assert b"Sina Visitor System" in body
    server.clear_requests()
    st, _, body = fetch(f"{server.base_url}/api/container/getIndex?containerid=107603{uid}",
                        cookie="SUBP=1; SUB=_2AkMfixture")
    assert st == 200 and server.sub_cookie == [True]
    cards = json.loads(body)["data"]["cards"]
    assert cards[0]["mblog"]["isTop"] == 1 and cards[0]["mblog"]["created_at"] == "03-15"
    shown = [c["mblog"]["created_at"] for c in cards[1:7]]
    assert shown == ["刚刚", "5分钟前", "2小时前", "昨天 16:30", "昨天 10:12", "10-08"]
    assert account_posts(s)[0][1] == ACCOUNTS_NOW == s.newest
    d = json.loads(fetch(f"{server.base_url}/ajax/statuses/mymblog?uid={uid}&page=1&feature=0", cookie="SUB=x")[2])
    lst = d["data"]["list"]
    assert d["ok"] == 1 and lst[0]["isTop"] == 1 and len(lst) == 20 and d["data"]["since_id"]
    assert lst[1]["created_at"] == "Sat Oct 10 09:00:00 +0800 2020" and lst[1]["idstr"] == account_posts(s)[0][0]
    assert lst[1]["mblogid"] and lst[1]["text_raw"]
    d2 = json.loads(fetch(f"{server.base_url}/ajax/statuses/mymblog?uid={uid}&page=2&feature=0", cookie="SUB=x")[2])
    later = [x["idstr"] for x in lst[1:] + d2["data"]["list"]]
    assert later == [p[0] for p in account_posts(s)]
    # the profile page with the cookie: the SPA shell that fetches getIndex
    st, _, page = fetch(server.base_url + s.path, cookie="SUB=x")
    assert st == 200 and "107603".encode() in page and b'class="card-list"' in page


def test_login_wall(server):
    s = spec(3)
    assert s.reason_kind == "login"
    uid = s.path.rsplit("/", 1)[1]
    for path in (s.path, f"/api/container/getIndex?containerid=107603{uid}", f"/ajax/statuses/mymblog?uid={uid}&page=1"):
        st, h, _ = fetch(server.base_url + path, cookie="SUB=_2AkMfixture")  # even with a visitor passport
        assert st == 302 and "/signin/login?entry=mweibo&" in h["Location"]
    st, _, page = fetch(h["Location"])
    assert st == 200 and "<title>登录 - 新浪微博</title>" in page.decode()


def test_refusals_403_418_empty_changed(server):
    s2 = spec(2)
    assert s2.reason_kind == "418"
    uid = s2.path.rsplit("/", 1)[1]
    for path in (s2.path, f"/api/container/getIndex?containerid=107603{uid}", f"/ajax/statuses/mymblog?uid={uid}"):
        st, _, body = fetch(server.base_url + path)
        assert st == 418 and body == b""
    uid = EXTRA_WEIBO["403"]
    st, _, body = fetch(f"{server.base_url}/api/container/getIndex?containerid=107603{uid}")
    assert st == 403 and json.loads(body) == {"ok": 0, "msg": "请求过于频繁", "errno": "100005"}
    uid = EXTRA_WEIBO["empty"]
    d = json.loads(fetch(f"{server.base_url}/api/container/getIndex?containerid=107603{uid}")[2])
    assert d == {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}
    uid = EXTRA_WEIBO["changed"]
    d = json.loads(fetch(f"{server.base_url}/api/container/getIndex?containerid=107603{uid}")[2])
    assert d["ok"] == 1 and "cards" not in d["data"]
    d = json.loads(fetch(f"{server.base_url}/ajax/statuses/mymblog?uid={uid}&page=1")[2])
    assert d["ok"] == 1 and "list" not in d["data"]
    st, _, body = fetch(server.base_url + spec(14).path)  # RSSHub with access control
    assert spec(14).reason_kind == "403" and st == 403 and b"Access denied" in body
    for key, path in extra_samples().items():
        assert fetch(server.base_url + path)[0] in (200, 302, 403, 418, 503), key


# ---------------------------------------------------------------- WeChat over HTTP
def test_article_var_ct(server):
    s = spec(19)
    st, _, body = fetch(server.base_url + s.path)
    page = body.decode()
    ts = int(s.newest.timestamp())
    assert st == 200 and f'var ct = "{ts}";' in page and f'var create_time = "{ts}" * 1;' in page
    title = account_posts(s)[0][2]
    assert f"var msg_title = '{title}'.html(false);" in page
    assert 'var nickname = htmlDecode("三叉街街道");' in page and re.search(r'var user_name = "gh_[0-9a-f]{12}";', page)
    assert '<em id="publish_time" class="rich_media_meta rich_media_meta_text"></em>' in page
    assert f'<meta property="og:title" content="{title}">' in page and 'id="js_name"' in page
    assert 'id="activity-name"' in page and server.base_url + s.path in page  # msg_link made absolute
    deleted = fetch(server.base_url + spec(16).path)[2].decode()
    assert "该内容已被发布者删除" in deleted and "var ct" not in deleted
    changed = fetch(server.base_url + spec(8).path)[2].decode()
    assert "var ct" not in changed and not re.search(r"20\d\d|publish_time|create_time", changed)
    assert "此内容因违规无法查看" in fetch(server.base_url + extra_samples()["wechat_violation"])[2].decode()


def test_sogou_timeconvert_and_antispider(server):
    s = spec(5)
    st, _, body = fetch(server.base_url + s.path)
    page = body.decode()
    assert st == 200 and '<ul class="news-list2">' in page and "function timeConvert" in page
    items = page.split("<li ")[1:]
    assert len(items) == 2  # the account, then a look-alike with a NEWER article
    own = items[0]
    assert re.sub(r"<[^>]+>", "", re.search(r'<p class="tit">(.*?)</p>', own).group(1)) == s.name
    assert '<label name="em_weixinhao">' in own
    ts = int(re.search(r"timeConvert\('(\d+)'\)", own).group(1))
    assert datetime.fromtimestamp(ts, TZ8) == s.newest
    twin = int(re.search(r"timeConvert\('(\d+)'\)", items[1]).group(1))
    assert twin > ts
    href = re.search(r'uigs="account_article_0" href="([^"]+)"', own).group(1).replace("&amp;", "&")
    st, h, _ = fetch(server.base_url + href)
    assert st == 302 and h["Location"] == f"{server.base_url}/s/{account_posts(s)[0][0]}"
    assert f'var ct = "{ts}"'.encode() in fetch(h["Location"])[2]
    # antispider
    s10 = spec(10)
    st, h, _ = fetch(server.base_url + s10.path)
    assert s10.reason_kind == "antispider" and st == 302 and "/antispider/?from=" in h["Location"]
    st, _, body = fetch(h["Location"])
    assert st == 200 and "用户您好，我们的系统检测到您网络中存在异常访问请求" in body.decode() and b"seccodeInput" in body
    st, _, body = fetch(server.base_url + "/weixin?type=1&query=" + urllib.parse.quote("不存在的号") + "&ie=utf8")
    assert st == 200 and "暂无与" in body.decode()


def _feed_newest(d) -> datetime:
    times = [datetime(*(e.get("published_parsed") or e.updated_parsed)[:6], tzinfo=timezone.utc) for e in d.entries]
    return max(times)


def test_feeds_newest_equals_truth(server):
    readable = [s for s in seed_accounts() + unseen_accounts()
                if s.source in ("wewe-atom", "wewe-rss", "rsshub", "feed") and s.expected != "无法读取"]
    assert {s.source for s in readable} == {"wewe-atom", "wewe-rss", "rsshub", "feed"}
    for s in readable:
        st, h, body = fetch(server.base_url + s.path)
        assert st == 200, s.path
        d = feedparser.parse(body)
        assert not d.bozo, (s.path, d.bozo_exception)
        assert _feed_newest(d) == s.newest, s.path
        truth = account_posts(s)
        assert len(d.entries) == len(truth)
        assert all(e.link.startswith(server.base_url + "/") for e in d.entries)
        # every link resolves on the same server
        link = d.entries[0].link
        assert fetch(link)[0] == 200
        if s.source.startswith("wewe"):
            assert d.feed.get("generator", "").startswith("WeWe") or "WeWe" in body.decode()
    atom = next(s for s in readable if s.source == "wewe-atom")
    body = fetch(server.base_url + atom.path)[2].decode()
    assert re.search(r"<updated>2020-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00</updated>", body)
    rss = next(s for s in readable if s.source == "wewe-rss")
    assert re.search(r"<pubDate>\w{3}, \d\d \w{3} 2020 \d\d:\d\d:\d\d \+0800</pubDate>", fetch(server.base_url + rss.path)[2].decode())
    # the silent duplicate (row 13): the feed is fresh (synced today) but its newest entry is months old
    s13 = spec(13)
    d = feedparser.parse(fetch(server.base_url + s13.path)[2])
    assert s13.expected == "不合格" and _feed_newest(d) == s13.newest and d.feed.updated.startswith("2020-10-10")
    # the expired bridge: a valid feed with a single fresh entry saying the login expired
    s15 = spec(15)
    d = feedparser.parse(fetch(server.base_url + s15.path)[2])
    assert s15.reason_kind == "bridge_expired" and len(d.entries) == 1 and d.entries[0].title == "账号登录失效，请重新登录"
    assert fetch(server.base_url + extra_samples()["wewe_503"])[0] == 503
    assert fetch(server.base_url + extra_samples()["rsshub_503"])[0] == 503


def test_server_bookkeeping(server):
    server.clear_requests()
    fetch(server.base_url + spec(4).path)
    fetch(server.base_url + "/nope")
    assert server.request_count == 2 and server.requests[0] == ("GET", spec(4).path)
    assert server.sub_cookie == [False, False]
    assert fetch(server.base_url + "/nope")[0] == 404
