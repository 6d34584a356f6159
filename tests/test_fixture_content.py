"""The content problems planted in the fixture portal (fixtures/portal/planted.py) are where the truth says, and
nothing else is broken; the second site (fixtures/substale.py) stopped on 2020-08-20 and is over the columns veto.
Checked against what FixtureServer really serves on loopback."""
from __future__ import annotations

import re
import struct
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from email.message import Message
from io import BytesIO

import pytest
from lxml import html as lhtml

from fixtures.portal import portal_columns, portal_posts
from fixtures.portal.articles import DOCX_BYTES, PDF_BYTES, PNG_BYTES
from fixtures.portal.planted import (ALLOWED_LINKS, ARTICLE_META, CHECK_SETTINGS, HOME_BROKEN_IMAGE, HOME_BROKEN_LINK,
                                     LOOKALIKES, META_MISSING, MISSING_FILE, NEWEST_N, PLANTED, PROTECTED, RULES,
                                     SENSITIVE_WORDS, SETTINGS_TYPOS, SITE_UNIT, TYPOS_SHIPPED, WINDOW, content_toml,
                                     expected_keys, key, score, spot_paths)
from fixtures.server import FixtureServer, load_static_site
from fixtures.substale import (BLANK, HOME_NEWEST, STALE, TRUTH, UNIT, counts, expected, settings_toml,
                               substale_columns, substale_posts)

BODY_XPATH = ('//div[contains(@class,"TRS_Editor")] | //div[@id="zoom"] | '
              '//div[contains(@class,"xxgk")]/div[@class="content"]')
BROKEN = ("link.broken", "image.broken", "attachment.broken")
TERMS = [p.what for p in PLANTED if p.rule.startswith("content.")]
URL_ATTR = re.compile(rb'(?:href|src)="([^"]*)"')


@pytest.fixture(scope="module")
def portal() -> Iterator[FixtureServer]:
    with FixtureServer("portal", timeout_delay=2.0) as s:
        yield s


@pytest.fixture(scope="module")
def substale() -> Iterator[FixtureServer]:
    with FixtureServer("substale") as s:
        yield s


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def decode(body: bytes) -> str:
    m = re.search(rb'charset="?([\w-]+)', body[:600])
    cs = m.group(1).decode().lower() if m else "utf-8"
    return body.decode("gbk" if cs in ("gbk", "gb2312") else cs)


def body_of(page_html: str) -> lhtml.HtmlElement:
    [body] = lhtml.fromstring(page_html).xpath(BODY_XPATH)
    return body


def body_urls(page_html: str, page_url: str) -> set[str]:
    body = body_of(page_html)
    return {urllib.parse.urljoin(page_url, v) for v in body.xpath(".//a/@href | .//img/@src")
            if not v.startswith("javascript:")}


def page_urls(body: bytes, page_path: str) -> set[str]:
    """Every href/src of a page, resolved to an absolute path or URL (html entities as a parser reads them)."""
    out = set()
    for raw in URL_ATTR.findall(body):
        v = raw.decode("ascii").replace("&amp;", "&")
        if v.startswith(("javascript:", "#")):
            continue
        out.add(urllib.parse.urljoin("http://portal" + page_path, v).removeprefix("http://portal"))
    return out


def article_pages() -> dict[str, str]:
    """article path -> the column that renders it (a post listed in two columns is rendered once)."""
    owner: dict[str, str] = {}
    for p in portal_posts():
        owner.setdefault(p.path, p.column_path)
    return owner


def head_all(base: str, paths: set[str]) -> dict[str, int]:
    with ThreadPoolExecutor(16) as pool:
        return dict(zip(paths, pool.map(lambda p: fetch(base + p, "HEAD")[0], paths)))


# ---------------------------------------------------------------- where the problems are


def test_spots_are_new_posts_of_several_units_and_styles() -> None:
    cols = {c.path: c for c in portal_columns()}
    posts = portal_posts()
    listed = Counter(p.path for p in posts)
    by_col: dict[str, list] = defaultdict(list)
    for p in posts:
        by_col[p.column_path].append(p)
    styles, units = set(), set()
    for path in spot_paths():
        [post] = [p for p in posts if p.path == path]
        newest = sorted(by_col[post.column_path], key=lambda p: (p.published, p.path), reverse=True)[:NEWEST_N]
        assert post in newest and WINDOW[0] <= post.published < WINDOW[1] and listed[path] == 1, path
        styles.add(cols[post.column_path].style)
        units.add(cols[post.column_path].unit)
    assert {"trs", "hanweb", "plain-table", "disclosure"} <= styles and len(units) >= 8
    assert set(RULES) == {p.rule for p in PLANTED}
    assert Counter(p.rule for p in PLANTED) == {"content.typo": 10, "link.external": 3, "attachment.broken": 4,
                                                "link.broken": 3, "image.broken": 3, "content.sensitive": 2,
                                                "meta.missing": 2}
    assert len(set(TERMS)) == len(TERMS) == 12
    assert {p.page for p in PLANTED if p.page == "/"} == {"/"} and all(
        p.unit == SITE_UNIT for p in PLANTED if p.page == "/")


def test_broken_urls_answer_404_or_an_html_error_page(portal: FixtureServer) -> None:
    for p in PLANTED:
        if p.rule not in BROKEN:
            continue
        for method in ("GET", "HEAD"):
            status, headers, body = fetch(portal.base_url + p.what, method)
            if "text/html" in p.note:   # the download servlet's 200 + 文件不存在
                assert status == 200 and headers["Content-Type"].startswith("text/html"), p
                assert method == "HEAD" and body == b"" or MISSING_FILE in body.decode("utf-8"), p
            else:
                assert status == 404, p
        page_html = decode(fetch(portal.base_url + p.page)[2])
        urls = (body_urls(page_html, portal.base_url + p.page) if p.page != "/"
                else page_urls(page_html.encode(), "/"))
        assert (portal.base_url + p.what if p.page != "/" else p.what) in urls, p
    kinds = Counter(("html" if "text/html" in p.note else "404", p.what.rsplit(".", 1)[-1])
                    for p in PLANTED if p.rule == "attachment.broken")
    assert kinds == {("404", "doc"): 1, ("404", "pdf"): 1, ("html", "pdf"): 1, ("html", "docx"): 1}


def test_every_other_link_and_image_resolves(portal: FixtureServer) -> None:
    """No 404 anywhere but the planted ones: every href/src of every article page and of the home page (the
    furniture too), checked with HEAD on the server; the only off-site links are the planted external ones."""
    site = load_static_site("portal")
    planted = {(p.page, p.what) for p in PLANTED if p.rule in BROKEN}
    onsite: set[str] = set()
    offsite: set[tuple[str, str]] = set()
    pages = list(article_pages()) + ["/"]
    for path in pages:
        res = site.pages[path + "index.html" if path.endswith("/") else path]
        for url in page_urls(res.body, path):
            if url.startswith(("http://", "https://")):
                offsite.add((path, url))
            elif (path, url) not in planted:
                onsite.add(url)
    status = head_all(portal.base_url, onsite)
    assert len(onsite) > 2000
    assert {u: s for u, s in status.items() if s != 200} == {}
    externals = {(p.page, p.what) for p in PLANTED if p.rule == "link.external"}
    allowed = {(page, url) for page, url in ALLOWED_LINKS if url.startswith("http")}
    assert offsite == externals | allowed
    assert {urllib.parse.urlsplit(u).hostname for _, u in allowed} == {
        "www.fujian.gov.cn", "www.fuzhou.gov.cn", "mp.weixin.qq.com"}
    assert all(not (urllib.parse.urlsplit(u).hostname or "").endswith(".gov.cn") for _, u in externals)


def test_external_and_allowed_links_sit_in_the_article_body(portal: FixtureServer) -> None:
    wanted = [(p.page, p.what) for p in PLANTED if p.rule == "link.external"] + list(ALLOWED_LINKS)
    for page, url in wanted:
        page_html = decode(fetch(portal.base_url + page)[2])
        assert urllib.parse.urljoin(portal.base_url + page, url) in body_urls(page_html, portal.base_url + page)


def test_terms_are_in_their_article_body_and_nowhere_else(portal: FixtureServer) -> None:
    for p in PLANTED:
        if p.rule.startswith("content."):
            text = body_of(decode(fetch(portal.base_url + p.page)[2])).text_content()
            assert text.count(p.what) == 1, p
    for page, term in LOOKALIKES:
        assert term in body_of(decode(fetch(portal.base_url + page)[2])).text_content()
    # every article page, whole (titles, furniture): no planted term outside its page, look-alikes aside
    site = load_static_site("portal")
    planted_at = defaultdict(set)
    for p in PLANTED:
        if p.rule.startswith("content."):
            planted_at[p.page].add(p.what)
    lookalikes = defaultdict(set)
    for page, term in LOOKALIKES:
        lookalikes[page].add(term)
    seen: Counter[str] = Counter()
    for path in article_pages():
        text = decode(site.pages[path].body)
        for term in lookalikes[path]:
            text = text.replace(term, "")
        found = {t for t in TERMS if t in text}
        assert found == planted_at[path], path
        seen.update(found)
    assert seen == Counter(TERMS)
    # the settings list exactly the planted settings-level words
    assert sorted(SENSITIVE_WORDS) == sorted(p.what for p in PLANTED if p.rule == "content.sensitive")
    content = tomllib.loads(content_toml())["content"]
    assert content == CHECK_SETTINGS and content["protected"] == {"仓山区人民政府": ["苍山区人民政府", "仓山县人民政府"]}
    typos = {p.what for p in PLANTED if p.rule == "content.typo"}
    assert typos == set(TYPOS_SHIPPED) | {w for w, _ in SETTINGS_TYPOS} | {w for _, ws in PROTECTED for w in ws}


def test_meta_missing_per_column_only(portal: FixtureServer) -> None:
    site = load_static_site("portal")
    listed = Counter(p.path for p in portal_posts())
    per_column: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for path, column in article_pages().items():
        names = set(re.findall(rb'<meta name="(\w+)"', site.pages[path].body))
        per_column[column].add(tuple(n for n in ARTICLE_META if n.encode() not in names))
        if column in META_MISSING:
            assert listed[path] == 1, path  # never reached through another column's list
    for column, missing in per_column.items():
        assert missing == {META_MISSING.get(column, ())}, column
    assert [p.page for p in PLANTED if p.rule == "meta.missing"] == list(META_MISSING)
    for column in META_MISSING:
        post = max((p for p in portal_posts() if p.column_path == column), key=lambda p: p.published)
        doc = lhtml.fromstring(decode(fetch(portal.base_url + post.path)[2]))
        names = {m.get("name") for m in doc.xpath("//meta[@name]")}
        assert not names & set(META_MISSING[column]) and doc.xpath("//h1")[0].text_content() == post.title
        assert f"{post.published:%Y-%m-%d %H:%M}" in doc.text_content()  # the visible date line stays


def test_home_page_is_current_with_its_meta_and_two_planted_problems(portal: FixtureServer) -> None:
    status, _, body = fetch(portal.base_url + "/")
    text = body.decode("utf-8")
    dates = [date.fromisoformat(d) for d in re.findall(r"<span>(\d{4}-\d{2}-\d{2})</span>", text)]
    assert len(dates) >= 30 and max(dates) == date(2020, 10, 9)
    assert '<meta name="SiteIDCode" content="3501040001">' in text
    assert {HOME_BROKEN_LINK, HOME_BROKEN_IMAGE} <= page_urls(body, "/")
    assert fetch(portal.base_url + HOME_BROKEN_LINK)[0] == fetch(portal.base_url + HOME_BROKEN_IMAGE)[0] == 404


# ---------------------------------------------------------------- files, HEAD and Range


def _png_ok(data: bytes) -> bool:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    i, kinds = 8, []
    while i < len(data):
        n, kind = struct.unpack(">I4s", data[i:i + 8])
        (crc,) = struct.unpack(">I", data[i + 8 + n:i + 12 + n])
        assert zlib.crc32(kind + data[i + 8:i + 8 + n]) == crc
        kinds.append(kind)
        i += 12 + n
    return kinds == [b"IHDR", b"IDAT", b"IEND"]


def test_files_are_real_and_served_with_their_types(portal: FixtureServer) -> None:
    assert _png_ok(PNG_BYTES)
    assert PDF_BYTES.startswith(b"%PDF-1.4\n") and PDF_BYTES.endswith(b"%%EOF\n")
    xref = int(PDF_BYTES.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert PDF_BYTES[xref:].startswith(b"xref\n")
    for line in PDF_BYTES[xref:].split(b"\n")[3:8]:  # each object's offset points at "N 0 obj"
        assert re.match(rb"\d+ 0 obj", PDF_BYTES[int(line[:10]):])
    with zipfile.ZipFile(BytesIO(DOCX_BYTES)) as z:
        assert z.testzip() is None and "word/document.xml" in z.namelist()
    site = load_static_site("portal")
    types = {".png": "image/png", ".pdf": "application/pdf", ".docx": "application/vnd.openxmlformats-"
             "officedocument.wordprocessingml.document"}
    for ext, ctype in types.items():
        path = next(p for p in site.pages if p.startswith("/uploadfiles/") and p.endswith(ext)
                    and site.pages[p].content_type == ctype)
        status, headers, body = fetch(portal.base_url + path, "HEAD")
        assert (status, headers["Content-Type"], body) == (200, ctype, b"")
        assert int(headers["Content-Length"]) == len(site.pages[path].body) and headers["Accept-Ranges"] == "bytes"
        status, headers, body = fetch(portal.base_url + path, headers={"Range": "bytes=0-3"})
        assert (status, headers["Content-Range"], body) == (206, f"bytes 0-3/{len(site.pages[path].body)}",
                                                           site.pages[path].body[:4])
    status, _, body = fetch(portal.base_url + "/images/logo.png")
    assert status == 200 and body == PNG_BYTES
    n = len(PNG_BYTES)
    assert fetch(portal.base_url + "/images/logo.png", headers={"Range": "bytes=-5"})[2] == PNG_BYTES[-5:]
    assert fetch(portal.base_url + "/images/logo.png", headers={"Range": "bytes=8-"})[1]["Content-Range"] == \
        f"bytes 8-{n - 1}/{n}"
    status, headers, _ = fetch(portal.base_url + "/images/logo.png", headers={"Range": f"bytes={n}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{n}"
    status, headers, body = fetch(portal.base_url + "/images/logo.png", "HEAD", {"Range": "bytes=0-7"})
    assert status == 206 and body == b"" and headers["Content-Length"] == "8"
    status, _, body = fetch(portal.base_url + "/csz/gzdt/", headers={"Range": "bytes=0-14"})
    assert status == 206 and body == b"<!DOCTYPE html>"


# ---------------------------------------------------------------- scoring helpers


def test_score_counts_precision_and_recall() -> None:
    truth = expected_keys()
    assert len(truth) == len(PLANTED) and score(truth) == (1.0, 1.0)
    port = [(r, u, "http://127.0.0.1:8700" + pg if pg.startswith("/") else pg,
             "http://127.0.0.1:8700" + w if w.startswith("/") else w) for r, u, pg, w in truth]
    assert score(port) == (1.0, 1.0)
    some = sorted(truth)[1:]
    assert score(some)[0] == 1.0 and score(some)[1] == pytest.approx((len(truth) - 1) / len(truth))
    extra = set(truth) | {key("link.broken", "建新镇", "/jxz/gzdt/", "/jxz/gzdt/x.html")}
    assert score(extra)[0] == pytest.approx(len(truth) / (len(truth) + 1)) and score(extra)[1] == 1.0
    assert score([k for k in truth if k[0] == "content.typo"], ["content.typo"]) == (1.0, 1.0)


# ---------------------------------------------------------------- the second site


def test_substale_home_stopped_on_2020_08_20(substale: FixtureServer) -> None:
    status, _, body = fetch(substale.base_url + "/")
    text = body.decode("utf-8")
    dates = [date.fromisoformat(d) for d in re.findall(r"<span>(\d{4}-\d{2}-\d{2})</span>", text)]
    assert status == 200 and len(dates) >= 12 and max(dates) == HOME_NEWEST == date(2020, 8, 20)
    assert '<meta name="SiteIDCode"' in text
    assert TRUTH["site.homepage_stale"] == {"newest": HOME_NEWEST, "days": 51, "limit": 14}


def test_substale_columns_are_over_the_veto(substale: FixtureServer) -> None:
    newest: dict[str, datetime] = {}
    for p in substale_posts():
        newest[p.column_path] = max(newest.get(p.column_path, p.published), p.published)
    limits = {"dynamic": 14, "notice": 183}
    stale_core = blank = 0
    for c in substale_columns():
        text = fetch(substale.base_url + c.path)[2].decode("utf-8")
        dates = [datetime.strptime(d, "%Y-%m-%d") for d in re.findall(r"<span>(\d{4}-\d{2}-\d{2})</span>", text)]
        if c.path not in newest:
            assert "暂无信息" in text and not dates
            blank += 1
        else:
            assert max(dates).date() == newest[c.path].date()
            assert (date(2020, 10, 10) - newest[c.path].date()).days > limits[c.category], c
            stale_core += c.category in ("dynamic", "notice")
    assert (stale_core, blank) == (7, 6) == (len(STALE), len(BLANK))
    assert counts() == {"stale_core": 7, "stale": 7, "blank": 6}
    assert stale_core > 5 and blank > 5 and stale_core <= 10
    veto = [e for e in expected(substale.base_url) if e.rule == "site.columns_veto"]
    assert [(e.unit, e.target, e.measure, e.limit) for e in veto] == [(UNIT, substale.base_url + "/", 7, 5)]


def test_substale_settings_and_links(substale: FixtureServer) -> None:
    d = tomllib.loads(settings_toml(substale.base_url))
    assert d["sites"] == [{"name": "福州市仓山区水利局", "url": substale.base_url + "/", "unit": UNIT}]
    assert [u["name"] for u in d["units"]] == [UNIT] and d["units"][0]["kind"] == "department"
    assert len(d["columns"]) == 13 and all(c["url"].startswith(substale.base_url + "/") and c["quota"] is False
                                           for c in d["columns"])
    site = load_static_site("substale")
    urls: set[str] = set()
    for path, res in site.pages.items():
        if res.content_type.startswith("text/html"):
            urls |= page_urls(res.body, path)
    assert all(u.startswith("/") for u in urls) and len(urls) > 80
    assert {u: s for u, s in head_all(substale.base_url, urls).items() if s != 200} == {}
