"""crawler.middlewares with real Scrapy Request/Response objects (the real crawl through both middlewares
is in test_crawl.py: the lying-charset fault page, conditional re-crawls answered 304)."""
from __future__ import annotations

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from scrapy.utils.test import get_crawler

from crawler.encoding import decode_html
from crawler.middlewares import (VALIDATORS, CharsetMiddleware, ConditionalRequestMiddleware, OffsiteGuardMiddleware,
                                 OffsiteRequest, Validators, netloc)
from crawler.spider import ColumnSpider
from storage.queries import CrawlTarget

URL = "http://www.example.gov.cn/xxgk/tzgg/"
TEXT = ("<html><head>{meta}<title>通知公告</title></head><body><ul>"
        + "".join(f"<li><a href='/a/{i}.html'>关于做好第{i}批政务公开重点工作的通知</a><span>2020-09-{i:02d}</span></li>"
                  for i in range(1, 21))
        + "</ul></body></html>")


def _charset() -> CharsetMiddleware:
    return CharsetMiddleware.from_crawler(get_crawler())


def _response(body: bytes, content_type: str | None, cls: type[Response] = HtmlResponse) -> Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return cls(URL, body=body, headers=headers, request=Request(URL))


@pytest.mark.parametrize("meta, codec, content_type", [
    ('<meta charset="gbk">', "gbk", "text/html; charset=utf-8"),          # GBK bytes declared UTF-8 by the server
    ("", "gbk", "text/html; charset=utf-8"),                               # ... and no meta: detection
    ('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', "utf-8",
     "text/html; charset=gb2312"),                                         # re-saved as UTF-8, old meta kept
    ('<meta charset="utf-8">', "utf-8", "text/html; charset=gbk"),         # the meta differs from the header
])
def test_a_lying_charset_is_repaired(meta: str, codec: str, content_type: str) -> None:
    page = TEXT.format(meta=meta)
    body = page.encode(codec)
    original = _response(body, content_type)
    assert isinstance(original, TextResponse) and original.text != page  # Scrapy alone trusts the header
    repaired = _charset().process_response(Request(URL), original)
    assert isinstance(repaired, HtmlResponse) and repaired.text == page
    assert repaired.text == decode_html(body, content_type.split("charset=")[1])  # the one decoder's text
    assert repaired.body == body and repaired.url == URL


def test_a_body_scrapy_did_not_take_for_text_becomes_a_page() -> None:
    page = TEXT.format(meta='<meta charset="gb2312">')
    repaired = _charset().process_response(Request(URL), _response(page.encode("gbk"), None, cls=Response))
    assert isinstance(repaired, HtmlResponse) and repaired.text == page


def test_an_empty_response_is_left_alone() -> None:
    not_modified = Response(URL, status=304, request=Request(URL))
    assert _charset().process_response(Request(URL), not_modified) is not_modified


def test_each_middleware_can_be_switched_off() -> None:
    with pytest.raises(NotConfigured):
        CharsetMiddleware.from_crawler(get_crawler(settings_dict={"MONITOR_CHARSET_REPAIR": False}))
    with pytest.raises(NotConfigured):
        ConditionalRequestMiddleware.from_crawler(get_crawler(settings_dict={"MONITOR_CONDITIONAL_REQUESTS": False}))


def _first_requests(target: CrawlTarget, full: bool) -> list[Request]:
    spider = ColumnSpider([target], complete_urls=lambda urls: set(), full=full)
    middleware = ConditionalRequestMiddleware.from_crawler(get_crawler())
    requests = list(spider.start_requests())
    for request in requests:
        assert middleware.process_request(request) is None  # headers added, the request goes on
    return requests


def test_a_column_first_request_carries_its_stored_validators() -> None:
    etag, modified = '"5f7c-1a2b"', "Fri, 09 Oct 2020 08:00:00 GMT"
    target = CrawlTarget(1, "审计局", "通知公告", URL, etag, modified, needs_full=False)
    [request] = _first_requests(target, full=False)
    assert request.meta[VALIDATORS] == Validators(etag, modified)
    assert request.headers[b"If-None-Match"] == etag.encode()
    assert request.headers[b"If-Modified-Since"] == modified.encode()
    assert 304 in request.meta["handle_httpstatus_list"]


@pytest.mark.parametrize("full, needs_full, etag, modified", [
    (True, False, '"5f7c-1a2b"', "Fri, 09 Oct 2020 08:00:00 GMT"),   # monitor crawl --full
    (False, True, '"5f7c-1a2b"', "Fri, 09 Oct 2020 08:00:00 GMT"),   # the last read was broken off
    (False, False, None, None),                                       # nothing stored yet
])
def test_no_validators_when_the_column_is_read_in_full_or_has_none(full: bool, needs_full: bool,
                                                                  etag: str | None, modified: str | None) -> None:
    target = CrawlTarget(1, "审计局", "通知公告", URL, etag, modified, needs_full=needs_full)
    [request] = _first_requests(target, full=full)
    assert b"If-None-Match" not in request.headers and b"If-Modified-Since" not in request.headers
    assert 304 not in request.meta.get("handle_httpstatus_list", [])


def test_validators_a_request_already_carries_are_kept() -> None:
    request = Request(URL, headers={"If-None-Match": '"mine"'},
                      meta={VALIDATORS: Validators('"stored"', None), "handle_httpstatus_list": [404]})
    ConditionalRequestMiddleware().process_request(request)
    assert request.headers[b"If-None-Match"] == b'"mine"'
    assert request.meta["handle_httpstatus_list"] == [404, 304]


@pytest.mark.parametrize("url, want", [
    ("http://www.example.gov.cn/xxgk/", "www.example.gov.cn:80"),
    ("HTTPS://WWW.Example.gov.cn/", "www.example.gov.cn:443"),
    ("http://127.0.0.1:8700/a.html", "127.0.0.1:8700"),
    ("http://[::1]:8080/", "::1:8080"),
    ("ftp://www.example.gov.cn/", None),        # no port known for the scheme: never allowed
    ("http://www.example.gov.cn:abc/", None),
    ("/relative/path.html", None),
])
def test_netloc_makes_the_port_explicit(url: str, want: str | None) -> None:
    assert netloc(url) == want


def _guard(*sites: str) -> OffsiteGuardMiddleware:
    target = CrawlTarget(1, "审计局", "通知公告", URL, None, None, needs_full=False)
    crawler = get_crawler(ColumnSpider)
    crawler.spider = ColumnSpider([target], complete_urls=lambda urls: set(),
                                  allowed_netlocs={n for s in sites if (n := netloc(s))})
    return OffsiteGuardMiddleware.from_crawler(crawler)


@pytest.mark.parametrize("url", [
    URL + "index_1.html", "http://www.example.gov.cn:80/a/1.html", "http://zwgk.example.gov.cn:8080/api",
])
def test_requests_on_the_configured_sites_go_on(url: str) -> None:
    assert _guard("http://zwgk.example.gov.cn:8080/").process_request(Request(url, dont_filter=True)) is None


@pytest.mark.parametrize("url", [
    "http://www.example.gov.cn:8080/a/1.html",     # same host, another port
    "https://www.example.gov.cn/a/1.html",         # same host, https (443)
    "http://127.0.0.1/admin", "http://169.254.169.254/latest/meta-data/", "http://evil.example.com/",
    "http://sub.www.example.gov.cn/",              # a subdomain is another site
])
def test_requests_off_the_configured_sites_are_refused_whatever_dont_filter_says(url: str) -> None:
    guard = _guard("http://zwgk.example.gov.cn:8080/")
    with pytest.raises(OffsiteRequest) as refused:
        guard.process_request(Request(url, dont_filter=True))
    assert refused.value.url == url and not refused.value.redirected
    redirect = Request(url, dont_filter=True, meta={"redirect_urls": [URL]})   # as RedirectMiddleware makes it
    with pytest.raises(OffsiteRequest) as refused:
        guard.process_request(redirect)
    assert refused.value.redirected
