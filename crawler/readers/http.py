"""Plain HTTP for readers: the standard library's urllib, run in worker threads.

Why urllib and not aiohttp (installed only as a transitive dependency, not one of ours) or Scrapy (whose
reactor belongs to the portal crawl): readers make one to three requests an account, and they must see
each redirect rather than follow it blindly (a redirect to `/visitor/` or `/signin/login` *is* the answer).
Redirects are followed by hand (`max_redirects`), every Location is kept in `Response.redirects`.
Network failures become `Unreachable`; HTTP statuses are returned for the reader to judge.
"""
from __future__ import annotations

import asyncio
import gzip
import re
import socket
import ssl
import urllib.error
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin

from crawler.readers.exceptions import Unreachable

# A current desktop Chrome: platforms serve their ordinary pages to it (a Python UA is refused at once).
DESKTOP_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")
MOBILE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/16.6 Mobile/15E148 Safari/604.1")
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.I)


@dataclass
class Response:
    url: str  # the last URL requested (after any redirects followed)
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    redirects: list[str] = field(default_factory=list)  # every Location seen, in order

    @property
    def location(self) -> str | None:
        """Where an unfollowed 3xx points (absolute), else None."""
        loc = self.headers.get("location")
        return urljoin(self.url, loc) if loc and 300 <= self.status < 400 else None

    def text(self) -> str:
        """The body decoded: the header's charset, then the page's meta, then UTF-8, then GB18030."""
        m = re.search(r"charset=([\w-]+)", self.headers.get("content-type", ""), re.I)
        meta = _CHARSET_RE.search(self.body[:4096])
        for enc in (m and m.group(1), meta and meta.group(1).decode("ascii", "ignore"), "utf-8"):
            if not enc:
                continue
            try:
                return self.body.decode(enc)
            except (LookupError, UnicodeDecodeError):
                continue
        return self.body.decode("gb18030", "replace")


def ascii_url(url: str) -> str:
    """Percent-encode what is not ASCII (settings hold `weixin?query=仓山营商`), leave the rest as written."""
    return url if url.isascii() else quote(url, safe=":/?#[]@!$&'()*+,;=%~")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None  # urllib then raises HTTPError carrying the 3xx, which we return as a Response


def _decode_body(body: bytes, encoding: str) -> bytes:
    encoding = encoding.lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


class HttpClient:
    """Blocking urllib calls in a bounded thread pool, awaited with an overall deadline."""

    def __init__(self, timeout: float = 15.0, max_workers: int = 8):
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="reader-http")
        self.request_count = 0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _once(self, url: str, headers: dict[str, str]) -> Response:
        url = ascii_url(url)
        req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip, deflate", **headers})
        self.request_count += 1
        try:
            with self._opener.open(req, timeout=self.timeout) as r:
                status, hdrs, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:  # 3xx (not followed), 4xx, 5xx: an answer, not a failure
            status, hdrs = e.code, e.headers
            try:
                body = e.read()
            except (OSError, ValueError):
                body = b""
        except (socket.timeout, TimeoutError) as e:
            raise Unreachable("超时") from e
        except urllib.error.URLError as e:
            if isinstance(e.reason, (socket.timeout, TimeoutError)):
                raise Unreachable("超时") from e
            if isinstance(e.reason, ConnectionRefusedError):
                raise Unreachable("连接被拒绝") from e
            raise Unreachable(str(e.reason)[:100]) from e
        except (ConnectionError, ssl.SSLError, OSError) as e:
            raise Unreachable(type(e).__name__) from e
        headers = {k.lower(): v for k, v in (hdrs.items() if hdrs else [])}
        try:
            body = _decode_body(body, headers.get("content-encoding", ""))
        except (OSError, zlib.error, EOFError):
            pass  # keep the raw bytes; the parser will say the page is unreadable
        return Response(url, status, headers, body)

    def _get(self, url: str, headers: dict[str, str], max_redirects: int) -> Response:
        seen: list[str] = []
        while True:
            resp = self._once(url, headers)
            resp.redirects = seen
            loc = resp.location
            if loc is None or len(seen) >= max_redirects or loc in seen:
                return resp
            seen = [*seen, loc]
            url = loc

    async def get(self, url: str, *, headers: dict[str, str] | None = None, max_redirects: int = 5) -> Response:
        """GET `url`; follow at most `max_redirects` redirects (0: return the 3xx itself)."""
        hdrs = {"User-Agent": DESKTOP_UA, "Accept-Language": "zh-CN,zh;q=0.9", **(headers or {})}
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, self._get, url, hdrs, max_redirects)
        try:
            # A server that drips bytes can keep each socket read under the timeout forever: cap the whole.
            return await asyncio.wait_for(fut, self.timeout * (max_redirects + 1) + 1)
        except asyncio.TimeoutError as e:
            raise Unreachable("超时") from e
