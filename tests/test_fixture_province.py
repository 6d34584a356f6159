"""The synthetic province (fixtures.province): determinism, generations and validators, the style mix, and an
end-to-end crawl storing exactly the ground truth (fixtures/README.md, "Synthetic province")."""
from __future__ import annotations

import hashlib
import http.client
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from config import load_settings
from crawler.extract import read_list
from fixtures.province import STYLES, Province, ProvinceServer, ProvinceSpec
from fixtures.province import plan as province_plan
from fixtures.province import render
from fixtures.province.plan import PER_PAGE, column_posts, host_of

# every style (columns 1.. cycle through STYLES)
SMALL = ProvinceSpec(sites=3, columns_per_site=8, mix="cycle", seed=15, pin_share=0.3)


@pytest.fixture(scope="module")
def province() -> Iterator[ProvinceServer]:
    with ProvinceServer(SMALL, generation=0) as p:
        yield p


def request(url: str, method: str = "GET", body: str | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    hdrs = dict(headers or {})
    if body is not None:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, parts.path + ("?" + parts.query if parts.query else ""), body=body, headers=hdrs)
    r = conn.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    conn.close()
    return out


def _all_pages(spec: ProvinceSpec, generation: int) -> dict[tuple[int, str], bytes]:
    out = {}
    for site in province_plan.province_sites(spec):
        for col in site.columns:
            v = province_plan.version(spec, col, generation)
            for key, res in render.column_pages(spec, site.index, col.index, v).items():
                out[(site.index, key)] = res.body
            for post in column_posts(spec, col, generation)[:2]:
                out[(site.index, post.path)] = render.article(spec, site.index, col.index, post).body
    return out


def _clear_caches() -> None:
    for f in (province_plan.province_sites, province_plan.posts_at_version, render.column_pages, render.article,
              render.home, render._hanweb_cached, render._titles, render._hot, render._side):
        f.cache_clear()


def test_default_plan_has_every_style_and_a_realistic_mix() -> None:
    prov = Province()   # 100 sites × 200 columns, not served
    cols = prov.columns
    assert len(prov.sites) == 100 and len(cols) == 20000
    styles = Counter(c.style for c in cols)
    assert set(styles) == set(STYLES)
    assert styles["trs"] + styles["plain-table"] + styles["plain-slash"] + styles["disclosure"] > len(cols) / 2
    assert 0.01 < styles["blank"] / len(cols) < 0.03
    assert {c.category for c in cols} == {"dynamic", "notice", "plan", "other", "disclosure"}
    counts = [c.base_posts for c in cols if c.style != "blank"]
    assert sum(20 <= n <= 200 for n in counts) / len(counts) > 0.8 and max(counts) >= 300
    pages = [-(-c.base_posts // PER_PAGE[c.style]) for c in cols if c.style not in ("blank", "hanweb")]
    assert 3 <= sum(pages) / len(pages) <= 6   # list pages a column
    units = [u.name for s in prov.sites for u in s.units]
    assert len(units) == len(set(units)) == 1000   # unique across the province
    assert len({host_of(s.index) for s in prov.sites}) == 100 and host_of(99) == "127.0.0.101"
    newest = max(p.published for c in cols[:400] for p in column_posts(prov.spec, c, 0)[:1])
    oldest = min(p.published for c in cols[:400] for p in column_posts(prov.spec, c, 0)[-1:])
    assert newest.date() <= prov.spec.today and (prov.spec.today - oldest.date()).days > 600
    changed = sum(1 for c in cols if province_plan.changes_at(prov.spec, c, 1))
    assert 0.27 < changed / len(cols) < 0.33


def test_same_seed_same_bytes_and_another_seed_differs() -> None:
    first = _all_pages(SMALL, 1)
    _clear_caches()
    assert _all_pages(SMALL, 1) == first
    other = _all_pages(ProvinceSpec(sites=3, columns_per_site=8, mix="cycle", seed=16), 1)
    assert sum(other.get(k) == v for k, v in first.items()) < len(first) / 10


def test_served_pages_validators_and_apis(province: ProvinceServer) -> None:
    served = province.requests_served()
    site = province.sites[0]
    base = province.base_url(0)
    status, headers, body = request(base + "/robots.txt")
    assert status == 200 and b"Allow: /" in body
    col = site.columns[0]
    status, headers, body = request(province.column_url(col))
    pages = render.column_pages(SMALL, 0, 0, 0)
    assert status == 200 and body == pages[col.path + "index.html"].body
    assert headers["etag"] == pages[col.path + "index.html"].etag and "last-modified" in headers
    assert request(province.column_url(col), headers={"If-None-Match": headers["etag"]})[0] == 304
    assert request(province.column_url(col), headers={"If-Modified-Since": headers["last-modified"]})[0] == 304
    status, head_headers, head_body = request(province.column_url(col), "HEAD")
    assert status == 200 and head_body == b"" and head_headers["content-length"] == str(len(body))
    assert request(base + col.path.rstrip("/"))[0] == 301
    assert request(base + "/no/such/page.html")[0] == 404
    assert request(base + col.path + "index.html?page=999")[0] == 404
    post = column_posts(SMALL, col, 0)[0]
    status, _, art = request(base + post.path)
    assert status == 200 and f'content="{post.published:%Y-%m-%d %H:%M}"'.encode() in art
    # the provincial platform's list API and Hanweb's dataproxy, by POST
    plat = next(c for s in province.sites for c in s.columns if c.style == "platform")
    pc = render.platform_column(plat)
    form = urlencode({"channelid": render.search_id(province.sites[plat.site]), "classsql": f"chnlid={pc.chnlid}",
                      "page": "1", "prepage": "15"})
    status, _, data = request(province.base_url(plat.site) + render.SEARCH_API, "POST", form)
    answer = json.loads(data)
    assert status == 200 and answer["recordCount"] == plat.base_posts and len(answer["data"]) == min(15, plat.base_posts)
    hw = next(c for s in province.sites for c in s.columns if c.style == "hanweb")
    form = urlencode({"columnid": 1000 + hw.index, "unitid": 100 + hw.index})
    status, _, xml = request(province.base_url(hw.site) + render.DATAPROXY + "?startrecord=1&endrecord=45&perpage=15",
                             "POST", form)
    assert status == 200 and xml.count(b"<record>") == min(45, hw.base_posts)
    # keep-alive: several requests on one connection, each answer whole
    conn = http.client.HTTPConnection(host_of(0), province.port, timeout=10)
    for _ in range(3):
        conn.request("GET", col.path)
        r = conn.getresponse()
        assert r.status == 200 and r.read() == body
    conn.close()
    control = json.loads(request(province.control_url)[2])
    assert control["generation"] == 0 and control["requests"] == province.requests_served() == served + 15


def test_generation_changes_only_its_share_and_keeps_the_others_validators(province: ProvinceServer) -> None:
    before = {}
    for url in province.column_urls:
        status, headers, body = request(url)
        assert status == 200
        before[url] = (headers["etag"], headers["last-modified"], hashlib.md5(body).hexdigest())
    try:
        province.set_generation(1)
        changed = set(province.changed_columns(1))
        assert 0 < len(changed) < len(before)
        for url, (etag, lm, digest) in before.items():
            status, headers, body = request(url, headers={"If-None-Match": etag})
            status_lm = request(url, headers={"If-Modified-Since": lm})[0]
            if url in changed:
                assert (status, status_lm) == (200, 200) and headers["etag"] != etag, url
            else:
                assert (status, status_lm) == (304, 304), url
                assert hashlib.md5(request(url)[2]).hexdigest() == digest
        c0, c1 = province.expected_counts(0), province.expected_counts(1)
        assert {u for u in c0 if c1[u] != c0[u]} == changed
        e0, e1 = province.expected_urls(0), province.expected_urls(1)
        assert all(e0[u] < e1[u] if u in changed else e0[u] == e1[u] for u in e0)
    finally:
        province.set_generation(0)


def _stored(db: Path) -> dict[str, set[str]]:
    con = sqlite3.connect(db)
    rows = con.execute("SELECT c.url, p.url FROM column_posts cp JOIN columns c ON c.id = cp.column_id "
                       "JOIN posts p ON p.id = cp.post_id").fetchall()
    con.close()
    out: dict[str, set[str]] = {}
    for column, post in rows:
        out.setdefault(column, set()).add(post)
    return out


@pytest.mark.slow
def test_crawl_stores_exactly_the_ground_truth_then_the_new_posts(province: ProvinceServer, tmp_path: Path) -> None:
    from crawler.run import run_crawl

    assert sum(1 for c in province.columns if province_plan.pinned_path(SMALL, c)) >= 2   # 置顶 on page 1
    db = tmp_path / "p.db"
    settings_path = province.write_settings(tmp_path / "settings.toml", f"sqlite:///{db}")
    settings = load_settings(settings_path)
    assert len(settings.columns) == 24 and len(settings.sites) == 3
    first = run_crawl(settings)
    assert first.failed == [] and first.partial == []
    expected = province.expected_urls(0)
    assert _stored(db) == {u: set(v) for u, v in expected.items() if v}
    assert first.new_posts == province.expected_total(0)
    try:
        province.set_generation(1)
        served = province.requests_served()
        second = run_crawl(settings)
        assert _stored(db) == {u: set(v) for u, v in province.expected_urls(1).items() if v}
        assert second.new_posts == province.expected_total(1) - province.expected_total(0) > 0
        # one conditional request a column (304 for the unchanged), a few more for the changed ones
        assert province.requests_served() - served < len(settings.columns) + 3 * len(province.changed_columns(1))
    finally:
        province.set_generation(0)


def test_a_list_page_of_two_posts_reads_both() -> None:
    """A column's own short heading with a side-box word (<h2>专题活动</h2>) is no side box when the page's title
    names the column so: a page of two rows read both (it once gave one entry, one post's URL with the other's
    date, and the column stayed 未读全 forever)."""
    spec = ProvinceSpec(sites=10, columns_per_site=50)
    col = province_plan.province_sites(spec)[6].columns[44]   # plain-table 专题活动, 62 posts: page 5 lists two
    assert (col.style, col.name, col.base_posts) == ("plain-table", "专题活动", 62)
    key = col.path + "index.html?page=5"
    html = render.column_pages(spec, 6, 44, 0)[key].body.decode()
    entries = read_list(html, "http://127.0.0.8:80" + key).entries
    posts = column_posts(spec, col, 0)[-2:]
    assert [(urlsplit(e.url).path, e.date.date() if e.date else None) for e in entries] == \
        [(p.path, p.published.date()) for p in posts]


def test_a_pinned_post_tops_page_one_out_of_date_order() -> None:
    col = next(c for c in Province(SMALL).columns if province_plan.pinned_path(SMALL, c))
    pin = province_plan.pinned_path(SMALL, col)
    assert pin is not None
    page = render.column_pages(SMALL, col.site, col.index, 0)[col.path + "index.html"].body.decode()
    main = page[page.index('<div class="main">'):]
    first = main.index('href="')
    assert "[置顶]" in main and main[first:first + 200].split('"')[1].split("/")[-1] == pin.split("/")[-1]
    posts = column_posts(SMALL, col, 0)
    assert posts[-3].path == pin   # its third-oldest post, moved from its own place to the top
