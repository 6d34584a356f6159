"""Downloader middlewares: download behaviour every column shares, kept out of the spider (STYLE.md §5).

- `CharsetMiddleware` gives every response the codec the project's one decoder chooses
  (`crawler.encoding.html_encoding`: the page's own declaration, then the header, then charset-normalizer),
  so `response.text` is right even where the server lies (GBK bytes sent as `charset=utf-8`, a meta charset
  that differs from the header). Scrapy's own choice (w3lib) trusts the header first, the wrong way round
  for these sites.
- `ConditionalRequestMiddleware` sends the validators the spider put in `request.meta["validators"]`
  (the column's stored ETag and Last-Modified; the spider leaves them out in a full crawl) and lets the
  spider see the 304 that answers them.

Both are on by default and can be switched off by a setting (`MONITOR_CHARSET_REPAIR`,
`MONITOR_CONDITIONAL_REQUESTS`), which makes them raise NotConfigured as Scrapy's own components do.
"""
from __future__ import annotations

from dataclasses import dataclass

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Request, Response, TextResponse

from crawler.encoding import header_charset, html_encoding

VALIDATORS = "validators"  # request.meta key: the Validators a conditional request carries


@dataclass(frozen=True)
class Validators:
    """What the server said about a column page after its last complete read."""

    etag: str | None
    last_modified: str | None

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


class CharsetMiddleware:
    """Sets the encoding `crawler.encoding.html_encoding` chooses on every response with a body."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CharsetMiddleware:
        if not crawler.settings.getbool("MONITOR_CHARSET_REPAIR", True):
            raise NotConfigured
        return cls()

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if not response.body:
            return response  # a 304, or an empty page: nothing to decode
        content_type = response.headers.get(b"Content-Type")
        declared = header_charset(content_type.decode("latin-1")) if content_type else None
        encoding = html_encoding(response.body, declared)
        # A body Scrapy did not take for text (no or odd Content-Type) is read as a page all the same.
        cls = type(response) if isinstance(response, TextResponse) else HtmlResponse
        return response.replace(cls=cls, encoding=encoding)


class ConditionalRequestMiddleware:
    """Adds If-None-Match / If-Modified-Since from `request.meta["validators"]`; a 304 reaches the spider."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        if not crawler.settings.getbool("MONITOR_CONDITIONAL_REQUESTS", True):
            raise NotConfigured
        return cls()

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        validators = request.meta.get(VALIDATORS)
        if not validators:
            return
        if validators.etag:
            request.headers.setdefault(b"If-None-Match", validators.etag)
        if validators.last_modified:
            request.headers.setdefault(b"If-Modified-Since", validators.last_modified)
        # HttpErrorMiddleware drops non-2xx responses; a 304 here is the answer "unchanged", not an error.
        allowed = list(request.meta.get("handle_httpstatus_list", ()))
        if 304 not in allowed:
            request.meta["handle_httpstatus_list"] = [*allowed, 304]
