"""Downloader middlewares: download behaviour every column shares, kept out of the spider (STYLE.md §5).

- `CharsetMiddleware` gives every response the codec the project's one decoder chooses
  (`crawler.encoding.html_encoding`: the page's own declaration, then the header, then charset-normalizer),
  so `response.text` is right even where the server lies (GBK bytes sent as `charset=utf-8`, a meta charset
  that differs from the header). Scrapy's own choice (w3lib) trusts the header first, the wrong way round
  for these sites.
- `ConditionalRequestMiddleware` sends the validators the spider put in `request.meta["validators"]`
  (the column's stored ETag and Last-Modified; the spider leaves them out in a full crawl) and lets the
  spider see the 304 that answers them.
- `OffsiteGuardMiddleware` refuses (IgnoreRequest) every request whose host:port is not one of the configured
  sites' and columns' (`spider.allowed_netlocs`), whatever `dont_filter` says: pagination, article pages,
  list APIs, and the new requests RedirectMiddleware and MetaRefreshMiddleware make for a redirect.
- `PageSizeMiddleware` names the limit (`PageTooLarge`, 页面超过 N MB) when DOWNLOAD_MAXSIZE cuts off a body
  sent without Content-Length, which Scrapy reports as a bare DownloadCancelledError.

The first two are on by default and can be switched off by a setting (`MONITOR_CHARSET_REPAIR`,
`MONITOR_CONDITIONAL_REQUESTS`), which makes them raise NotConfigured as Scrapy's own components do.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
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


_DEFAULT_PORTS = {"http": 80, "https": 443}


def netloc(url: str) -> str | None:
    """`host:port` of a URL, the port made explicit (http 80, https 443); None without a host."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # a port that is not a number
        return None
    if not parts.hostname or port is None:
        return None
    return f"{parts.hostname}:{port}"


class OffsiteRequest(IgnoreRequest):
    """A request refused by OffsiteGuardMiddleware; `redirected`: it is a redirect (HTTP or meta refresh)."""

    def __init__(self, url: str, redirected: bool) -> None:
        super().__init__(f"offsite request refused: {url}")
        self.url = url
        self.redirected = redirected


class OffsiteGuardMiddleware:
    """Refuses every request off the spider's `allowed_netlocs` (host:port), dont_filter or not.

    It runs first (priority below RobotsTxtMiddleware), so not even robots.txt is fetched off-site; a redirect
    is a new request scheduled again, so it comes through here before it is downloaded.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OffsiteGuardMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        allowed = getattr(spider or self.crawler.spider, "allowed_netlocs", None)
        if allowed is None:
            return  # a spider that does not name its sites is not ours to guard
        if netloc(request.url) not in allowed:
            raise OffsiteRequest(request.url, redirected=bool(request.meta.get("redirect_urls")))


class PageTooLarge(IgnoreRequest):
    """A body cut off at DOWNLOAD_MAXSIZE while it streamed in; the message reads as Scrapy's own when the
    Content-Length is over (crawler.spider.describe_failure turns both into 页面超过 N MB，已停止读取)."""

    def __init__(self, url: str, maxsize: int) -> None:
        super().__init__(f"Cancelled download of {url}: received more than DOWNLOAD_MAXSIZE ({maxsize} B)")


class PageSizeMiddleware:
    """Names the limit when DOWNLOAD_MAXSIZE stops a body sent without Content-Length (chunked, or until the
    connection closes): Scrapy then cancels the download with an empty DownloadCancelledError. The bytes each
    request received (the `bytes_received` signal) tell that cancellation from any other."""

    def __init__(self, crawler: Crawler) -> None:
        from weakref import WeakKeyDictionary

        from scrapy import signals

        self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.received: WeakKeyDictionary[Request, int] = WeakKeyDictionary()
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageSizeMiddleware:
        return cls(crawler)

    def _bytes_received(self, data: bytes, request: Request, spider: Spider | None = None) -> None:
        self.received[request] = self.received.get(request, 0) + len(data)

    def process_exception(self, request: Request, exception: BaseException, spider: Spider | None = None) -> None:
        maxsize = int(request.meta.get("download_maxsize", self.maxsize) or 0)
        if maxsize and type(exception).__name__ in ("DownloadCancelledError", "CancelledError") \
                and self.received.get(request, 0) > maxsize:
            raise PageTooLarge(request.url, maxsize) from None
