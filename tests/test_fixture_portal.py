"""Tests of the fixture sites themselves (ground truth vs. the tsv, and what the server really serves)."""
from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from lxml import html as lhtml

from fixtures.faults import BAD_DATES
from fixtures.portal import (SNAPSHOT, portal_columns, portal_posts, portal_units, seed_table, write_settings)
from fixtures.server import FixtureServer
from fixtures.unseen import unseen_columns, unseen_posts
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent
LIMITS = {"dynamic": 14, "notice": 183, "plan": 365, "disclosure": 365, "other": 365}
STALE_NAMED = {"项目质量安全监督信息", "卫生和食品安全药品安全", "社会组织、慈善组织", "就业创业", "脱贫攻坚", "住房保障"}


def q3(d: datetime) -> bool:
    return datetime(2020, 7, 1) <= d < datetime(2020, 10, 1)


@pytest.fixture(scope="module")
def server():
    with FixtureServer("portal", timeout_delay=2.0) as s:
        yield s


@pytest.fixture(scope="module")
def unseen_server():
    with FixtureServer("unseen") as s:
        yield s


def get(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 10):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.headers, r.read()


def decode(body: bytes) -> str:
    m = re.search(rb'charset="?([\w-]+)', body[:600])
    cs = m.group(1).decode().lower() if m else "utf-8"
    return body.decode("gbk" if cs in ("gbk", "gb2312") else cs)


# ---------------------------------------------------------------- ground truth vs. the notice


def test_units_match_tsv():
    rows = seed_table()
    assert len(rows) == 35
    units = {u.name: u.kind for u in portal_units()}
    for r in rows:
        assert units[r["unit"]] == r["kind"]
    assert Counter(units.values()) == {"township": 13, "department": 22, "other": 2}


def test_monthly_counts_exact():
    cols = {c.path: c for c in portal_columns()}
    counts: dict[str, Counter] = defaultdict(Counter)
    seen = set()
    for p in portal_posts():
        c = cols[p.column_path]
        if c.quota and (c.unit, p.path) not in seen:
            seen.add((c.unit, p.path))
            counts[c.unit][p.published.strftime("%Y-%m")] += 1
    for r in seed_table():
        got = counts[r["unit"]]
        assert (got["2020-07"], got["2020-08"], got["2020-09"]) == (r["jul"], r["aug"], r["sep"]), r["unit"]
    assert counts["审计局"]["2020-10"] == 0
    active_oct = [r["unit"] for r in seed_table() if counts[r["unit"]]["2020-10"] > 0]
    assert len(active_oct) == 34


def test_quarter_totals():
    cols = {c.path: c for c in portal_columns()}
    posts = portal_posts()
    q3_paths = {p.path for p in posts if q3(p.published)}
    assert len(q3_paths) == 2792
    disclosure = {p.path for p in posts if q3(p.published) and cols[p.column_path].category == "disclosure"}
    assert len(disclosure) == 194
    quota = {p.path for p in posts if q3(p.published) and cols[p.column_path].quota}
    assert len(quota) == 1781
    # a post listed in two columns appears twice in the ground truth, under one path
    dup = [k for k, v in Counter((p.path for p in posts)).items() if v > 1]
    assert 10 <= len(dup) <= 40
    assert all(not p.published > SNAPSHOT for p in posts)


def _newest():
    newest: dict[str, datetime] = {}
    for p in portal_posts():
        newest[p.column_path] = max(newest.get(p.column_path, p.published), p.published)
    return newest


def test_stale_and_blank_columns():
    newest = _newest()
    stale, blank = set(), set()
    for c in portal_columns():
        if c.path not in newest:
            blank.add((c.unit, c.name))
        elif (SNAPSHOT - newest[c.path]).days > LIMITS[c.category]:
            stale.add((c.unit, c.name))
    assert len(blank) == 3
    assert all(not c.quota for c in portal_columns() if (c.unit, c.name) in blank | stale and c.unit != "审计局")
    named = {n for _, n in stale if n in STALE_NAMED}
    assert named == STALE_NAMED
    others = {(u, n) for u, n in stale if n not in STALE_NAMED}
    assert {u for u, _ in others} <= {"审计局", "盖山镇"}
    assert len([1 for u, n in others if u == "盖山镇"]) >= 2
    for c in portal_columns():
        if c.unit == "盖山镇" and c.category == "disclosure":
            assert (SNAPSHOT - newest[c.path]).days > 365
        if c.name in STALE_NAMED:
            assert (SNAPSHOT - newest[c.path]).days > LIMITS[c.category] + 30  # well past


def test_deterministic_across_processes():
    code = ("import hashlib,fixtures.portal as p,fixtures.unseen as u;"
            "print(hashlib.md5(repr((p.portal_columns(),p.portal_posts(),u.unseen_posts())).encode()).hexdigest())")
    outs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin"}).stdout for seed in (1, 2)}
    assert len(outs) == 1


def test_write_settings(tmp_path):
    f = tmp_path / "settings.toml"
    write_settings(f, "http://127.0.0.1:8700", "sqlite:///x \"q\".db")
    d = tomllib.loads(f.read_text(encoding="utf-8"))
    assert d["monitor"] == {"database_url": 'sqlite:///x "q".db', "timezone": "Asia/Shanghai"}
    assert d["rules"]["monthly_quota"] == 10
    assert d["report"] == {"issuer": "福州市仓山区人民政府办公室", "district": "仓山区"}
    assert d["sites"] == [{"name": "仓山区人民政府", "url": "http://127.0.0.1:8700/", "unit": "区政府办"}]
    assert len(d["units"]) == 37 and all(u["emails"] for u in d["units"])
    assert len(d["columns"]) == len(portal_columns())
    assert all(c["url"].startswith("http://127.0.0.1:8700/") for c in d["columns"])


# ---------------------------------------------------------------- what the server serves


def _links(doc, base: str) -> list[str]:
    main = doc.xpath('//div[@class="main"]')[0]
    out = []
    for a in main.xpath(".//a[@href]"):
        t = a.text_content().strip()
        if t in ("首页", "上一页", "下一页", "尾页") or a.get("href").startswith("javascript"):
            continue
        out.append(urllib.parse.urljoin(base, a.get("href")))
    return out


def read_column(base_url: str, col) -> list[str]:
    """A style-aware reader (the test knows the markup): all article URLs of a column, all pages."""
    url = base_url + col.path
    _, _, body = get(url)
    text = decode(body)
    if col.style == "hanweb":
        recs = re.findall(r"<record><!\[CDATA\[(.*?)\]\]></record>", text, re.S)
        total = int(re.search(r"totalRecord: (\d+)", text).group(1))
        cid = re.search(r"columnid: (\d+)", text).group(1)
        uid = re.search(r"unitid: (\d+)", text).group(1)
        start = len(recs) + 1
        while start <= total:
            form = urllib.parse.urlencode({"col": 1, "appid": 1, "webid": 1, "path": "/", "columnid": cid,
                                           "sourceContentType": 1, "unitid": uid, "webname": "仓山区",
                                           "permissiontype": 0}).encode()
            _, h, xml = get(f"{base_url}/module/web/jpage/dataproxy.jsp?startrecord={start}&endrecord={start + 44}"
                            "&perpage=15", data=form)
            got = re.findall(r"<record><!\[CDATA\[(.*?)\]\]></record>", xml.decode(), re.S)
            assert got, (col.path, start)
            recs += got
            start += 45
        assert len(recs) == total
        return [urllib.parse.urljoin(url, re.search(r'href="([^"]+)"', r).group(1)) for r in recs]
    out = []
    m = re.search(r'createPageHTML\((\d+), 0, "index", "html"\)', text)
    if m:
        pages = [url] + [urllib.parse.urljoin(url, f"index_{k}.html") for k in range(1, int(m.group(1)))]
        for k, u in enumerate(pages):
            t = text if k == 0 else decode(get(u)[2])
            out += _links(lhtml.fromstring(t), u)
        return out
    seen = set()
    while url and url not in seen:
        seen.add(url)
        doc = lhtml.fromstring(text)
        out += _links(doc, url)
        nxt = [a.get("href") for a in doc.xpath('//div[@class="main"]//a[@href]') if a.text_content() == "下一页"]
        url = urllib.parse.urljoin(url, nxt[0]) if nxt else None
        if url:
            text = decode(get(url)[2])
    return out


def test_every_column_serves_exactly_its_posts(server):
    truth = defaultdict(list)
    for p in portal_posts():
        truth[p.column_path].append(server.base_url + p.path)
    for col in portal_columns():
        got = read_column(server.base_url, col)
        if col.style == "pic":  # image link + title link per item
            got = list(dict.fromkeys(got))
        assert sorted(got) == sorted(truth[col.path]), col
        if not truth[col.path]:
            assert "暂无信息" in decode(get(server.base_url + col.path)[2])


def test_trs_pagination_by_js_only(server):
    _, h, body = get(server.base_url + "/xwzx/csyw/")
    text = body.decode()
    n = int(re.search(r'createPageHTML\((\d+), 0, "index", "html"\)', text).group(1))
    assert n >= 10
    assert "index_1.html" not in text and "下一页" not in text
    assert get(server.base_url + f"/xwzx/csyw/index_{n - 1}.html")[0] == 200
    with pytest.raises(urllib.error.HTTPError) as e:
        get(server.base_url + f"/xwzx/csyw/index_{n}.html")
    assert e.value.code == 404


def test_hanweb_dataproxy_get_and_post(server):
    col = next(c for c in portal_columns() if c.style == "hanweb" and c.name == "今日仓山")
    _, _, body = get(server.base_url + col.path)
    text = body.decode()
    assert text.count("<record>") == 45 and "jpage({dataStore: dataStore, perPage: 15" in text
    q = "startrecord=46&endrecord=90&perpage=15&columnid=3001&unitid="
    unitid = re.search(r"unitid: (\d+)", text).group(1)
    _, h, xml = get(server.base_url + "/module/web/jpage/dataproxy.jsp?" + q + unitid)
    assert h["Content-Type"].startswith("text/xml") and xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    posted = get(server.base_url + "/module/web/jpage/dataproxy.jsp?startrecord=46&endrecord=90&perpage=15",
                 data=f"col=1&appid=1&webid=1&path=/&columnid=3001&unitid={unitid}".encode())[2]
    assert posted == xml and xml.count(b"<record>") == 45


def test_article_dates_and_meta(server):
    cols = {c.path: c for c in portal_columns()}
    posts = portal_posts()
    for p in posts[::40]:
        _, _, body = get(server.base_url + p.path)
        doc = lhtml.fromstring(decode(body))
        meta = {m.get("name"): m.get("content") for m in doc.xpath("//meta[@name]")}
        for k in ("SiteName", "SiteDomain", "SiteIDCode", "ArticleTitle", "PubDate", "ContentSource"):
            assert meta.get(k), (k, p.path)
        assert meta["PubDate"] == p.published.strftime("%Y-%m-%d %H:%M")
        assert doc.xpath("//h1")[0].text_content() == p.title
        if cols[p.column_path].style == "nodate":
            assert "发布时间：" + meta["PubDate"] in doc.text_content()
    _, _, body = get(server.base_url + "/jyj/")
    assert get(server.base_url + portal_columns()[0].path)[0] == 200


def test_list_meta_and_furniture(server):
    for c in portal_columns()[::9]:
        doc = lhtml.fromstring(decode(get(server.base_url + c.path)[2]))
        names = {m.get("name") for m in doc.xpath("//meta[@name]")}
        assert {"SiteName", "SiteDomain", "SiteIDCode", "ColumnName", "ColumnDescription", "ColumnKeywords",
                "ColumnType"} <= names
        t = doc.text_content()
        assert "当前位置：" in t and "网站标识码3501040001" in t and "热点推荐" in t


def test_home_links_units_and_district_columns(server):
    text = get(server.base_url + "/")[2].decode()
    for u in portal_units():
        if u.kind != "other":
            assert re.search(r'href="/[a-z0-9]+/">' + u.name, text), u.name
    for path in ("/xwzx/csyw/", "/zwgk/tzgg/", "/zwgk/zcjd/", "/xwzx/tpxw/", "/col/col3001/index.html"):
        assert f'href="{path}"' in text
    assert "10-09" in text  # fresh home page


def test_gbk_sections(server):
    _, h, body = get(server.base_url + "/cmz/gzdt/")
    assert h["Content-Type"] == "text/html; charset=gbk"
    assert "城门镇" in body.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    _, h, body = get(server.base_url + "/lzz/gzdt/")
    assert h["Content-Type"].endswith("gb2312") and b"charset=gb2312" in body
    _, h, body = get(server.base_url + "/tjj/gzdt/")  # lying header
    assert h["Content-Type"] == "text/html; charset=utf-8" and b"charset=gbk" in body[:400]
    assert "统计局" in body.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_conditional_get(server):
    url = server.base_url + "/csz/gzdt/"
    _, h, _ = get(url)
    assert h["ETag"] and h["Last-Modified"]
    for hdrs in ({"If-None-Match": h["ETag"]}, {"If-Modified-Since": h["Last-Modified"]}):
        with pytest.raises(urllib.error.HTTPError) as e:
            get(url, headers=hdrs)
        assert e.value.code == 304
    assert get(url, headers={"If-None-Match": '"other"'})[0] == 200
    old = "Mon, 01 Jun 2020 00:00:00 GMT"
    assert get(url, headers={"If-Modified-Since": old})[0] == 200


def test_faults(server):
    t0 = time.monotonic()
    with pytest.raises((socket.timeout, TimeoutError, urllib.error.URLError)):
        get(server.base_url + "/faults/timeout/", timeout=0.5)
    # the sleeper does not block other requests
    assert get(server.base_url + "/", timeout=2)[0] == 200
    assert time.monotonic() - t0 < 2
    assert get(server.base_url + "/faults/timeout/", timeout=5)[0] == 200  # answers after timeout_delay
    with pytest.raises(urllib.error.HTTPError) as e:
        get(server.base_url + "/faults/500/")
    assert e.value.code == 500
    with pytest.raises(urllib.error.HTTPError) as e:
        get(server.base_url + "/faults/loop/")
    assert e.value.code in (301, 302)
    body = get(server.base_url + "/faults/broken/")[2]
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert body.count(b"<li>") == 3 and not body.rstrip().endswith(b"</html>")
    text = get(server.base_url + "/faults/baddate/")[2].decode()
    assert all(d in text for d in BAD_DATES)


def test_stop_interrupts_timeout_sleeper():
    s = FixtureServer("portal", timeout_delay=60).start()
    threading.Thread(target=lambda: _swallow(lambda: get(s.base_url + "/faults/timeout/", timeout=70)),
                     daemon=True).start()
    wait_until(lambda: s.request_count >= 1, 10, "the request reaches the sleeping handler")
    t0 = time.monotonic()
    s.stop()
    assert time.monotonic() - t0 < 5


def _swallow(f):
    try:
        f()
    except (OSError, http.client.HTTPException):
        pass  # the server stopped under the request: that is the point


def test_request_counter_and_redirect(server):
    n = server.request_count
    get(server.base_url + "/csz")  # 301 to /csz/
    assert server.request_count == n + 2
    assert server.requests[-2] == ("GET", "/csz")


# ---------------------------------------------------------------- the unseen portal


def test_unseen_columns_serve_their_posts(unseen_server):
    base = unseen_server.base_url
    truth = defaultdict(set)
    for p in unseen_posts():
        truth[p.column_path].add(base + p.path)
    assert len(unseen_columns()) == 8
    for c in unseen_columns():
        url = base + c.path
        text = decode(get(url)[2])
        got: list[str] = []
        if c.style.startswith("hanweb"):
            total = int(re.search(r"totalRecord: (\d+)", text).group(1))
            recs = re.findall(r"<record><!\[CDATA\[(.*?)\]\]>", text, re.S)
            xml = get(base + f"/module/web/jpage/dataproxy.jsp?startrecord={len(recs) + 1}&endrecord={total}"
                             "&perpage=20&columnid=5501")[2].decode()
            recs += re.findall(r"<record><!\[CDATA\[(.*?)\]\]>", xml, re.S)
            got = [urllib.parse.urljoin(url, re.search(r'href="([^"]+)"', r).group(1)) for r in recs]
        else:
            m = re.search(r'createPageHTML\((\d+),0,"(\w+)","(\w+)"\)', text)
            pages = [url]
            if m:
                pages += [urllib.parse.urljoin(url, f"{m.group(2)}_{k}.{m.group(3)}") for k in range(1, int(m.group(1)))]
            i = 0
            while i < len(pages):
                t = text if i == 0 else decode(get(pages[i])[2])
                doc = lhtml.fromstring(t)
                body = doc.xpath('//div[@class="rc-body"]')[0]
                got += [urllib.parse.urljoin(pages[i], a.get("href")) for a in body.xpath(".//a[@href]")
                        if a.text_content() not in ("首页", "上一页", "下一页", "末页")]
                nxt = [a.get("href") for a in body.xpath(".//a[@class='next']")]
                if nxt and not m:
                    pages.append(urllib.parse.urljoin(pages[i], nxt[0]))
                i += 1
        assert set(got) == truth[c.path] and len(got) == len(truth[c.path]), c.path
    _, h, body = get(base + "/zwgk/zcwj/")
    assert h["Content-Type"].endswith("gbk")
    body.decode("gbk")
