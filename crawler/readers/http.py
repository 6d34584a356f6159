"""The one plain-HTTP client outside the Scrapy crawl: readers, availability probes and discovery use it.

httpx's synchronous client in a bounded thread pool: the probes run in the daemon's threads and call
`fetch` directly, readers and discovery await `get`. Scrapy is not used here because its reactor belongs
to the portal crawl and starts once per process.

- Redirects are never followed blindly: each is seen one at a time (`max_redirects`; 0 returns the 3xx
  itself), every Location is kept in `Response.redirects`. A redirect to `/visitor/` or `/signin/login`
  *is* the answer for a reader; discovery follows same-host redirects only.
- Every body is bounded while it streams in, raw and decompressed (STYLE.md §5): a body over `max_bytes`
  (`[crawl] max_page_mb`) raises `TooLarge` (`页面超过 5 MB，已停止读取`) before more than that is held. We
  inflate gzip/deflate ourselves with a bounded output size, because a decoder that inflates a whole
  network chunk at once lets a 64 KB chunk of a gzip bomb become 64 MB.
- A deadline covers the whole call (every hop and the whole body), so a server that drips bytes under
  the per-read timeout still fails in time.
- Network failures become `Unreachable`; HTTP statuses are returned for the caller to judge.
"""
from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import quote, urljoin

import httpx

from crawler.encoding import decode_html, header_charset
from crawler.readers.exceptions import TooLarge, Unreachable, UnsupportedUrl

# A current desktop Chrome: platforms serve their ordinary pages to it (a Python UA is refused at once).
DESKTOP_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")
MOBILE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/16.6 Mobile/15E148 Safari/604.1")
DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # config.model.CrawlSettings.max_page_mb's default
CHUNK = 64 * 1024
_INTERNAL_NAMES = ("localhost", "metadata", "metadata.google.internal", "instance-data")


@dataclass
class Response:
    url: str  # the last URL requested (after any redirects followed)
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes  # decompressed
    redirects: list[str] = field(default_factory=list)  # every Location seen, in order

    @property
    def location(self) -> str | None:
        """Where an unfollowed 3xx points (absolute), else None."""
        loc = self.headers.get("location")
        return urljoin(self.url, loc) if loc and 300 <= self.status < 400 else None

    def text(self) -> str:
        """The body decoded by the project's one decoder (`crawler.encoding.decode_html`)."""
        return decode_html(self.body, header_charset(self.headers.get("content-type")))


def ascii_url(url: str) -> str:
    """Percent-encode what is not ASCII (settings hold `weixin?query=仓山营商`), leave the rest as written."""
    return url if url.isascii() else quote(url, safe=":/?#[]@!$&'()*+,;=%~")


class _Inflater:
    """Streaming gzip/deflate decoder whose output never exceeds the room it is given."""

    _WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}

    def __init__(self, content_encoding: str) -> None:
        self.wbits = self._WBITS.get(content_encoding.strip().lower())
        self._obj = zlib.decompressobj(self.wbits) if self.wbits else None
        self._started = False
        self.broken = False  # not valid gzip/deflate after all: the caller keeps the raw bytes

    @property
    def active(self) -> bool:
        return self._obj is not None and not self.broken

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflate `data`; at most room + 1 bytes come out (more than `room` means: over the limit)."""
        out = b""
        while data and self._obj is not None and len(out) <= room:
            try:
                out += self._obj.decompress(data, room + 1 - len(out))
            except zlib.error:
                if not self._started and self.wbits == zlib.MAX_WBITS:  # "deflate" sent without its zlib header
                    self.wbits, self._obj = -zlib.MAX_WBITS, zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                self.broken = True
                return b""
            self._started = True
            if self._obj.unconsumed_tail:  # output reached room + 1: over the limit
                break
            data = self._obj.unused_data  # a second gzip member follows
            if data and self._obj.eof and self.wbits is not None:
                self._obj = zlib.decompressobj(self.wbits)
            else:
                data = b""
        return out


def _refused(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "refused" in str(exc).lower()


def _no_cookies() -> CookieJar:
    # Each read starts as a first-time visitor, as before: a cookie one account's answer sets must not
    # change how the next account is answered.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class HttpClient:
    """Blocking httpx calls (`fetch`), or the same in a bounded thread pool awaited (`get`)."""

    def __init__(self, timeout: float = 15.0, max_workers: int = 8, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_workers = max(1, max_workers)
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, cookies=_no_cookies(), trust_env=True,
                                    limits=httpx.Limits(max_connections=self.max_workers * 2))
        self._pool: ThreadPoolExecutor | None = None
        self.request_count = 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def _once(self, url: str, headers: dict[str, str], deadline: float) -> Response:
        url = ascii_url(url)
        self.request_count += 1
        try:
            request = self._client.build_request("GET", url, headers={"Accept-Encoding": "gzip, deflate", **headers})
            resp = self._client.send(request, stream=True)
            try:
                status = resp.status_code
                lowered = {k.lower(): v for k, v in resp.headers.items()}
                body = self._read_body(resp, lowered, deadline)
            finally:
                resp.close()
        except httpx.TimeoutException as e:
            raise Unreachable("超时") from e
        except httpx.ConnectError as e:
            raise Unreachable("连接被拒绝" if _refused(e) else str(e)[:100] or type(e).__name__) from e
        except httpx.InvalidURL as e:
            raise UnsupportedUrl(url[:100]) from e
        except httpx.HTTPError as e:  # protocol errors, connection reset, unsupported scheme
            raise Unreachable(type(e).__name__) from e
        return Response(url, status, lowered, body)

    def _read_body(self, resp: httpx.Response, headers: dict[str, str], deadline: float) -> bytes:
        """The whole body, raw and inflated each at most `max_bytes`, read before `deadline`."""
        limit = self.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TooLarge(limit, resp.status_code)
        inflater = _Inflater(headers.get("content-encoding", ""))
        raw, out = bytearray(), bytearray()
        for chunk in resp.iter_raw(CHUNK):
            raw += chunk
            if len(raw) > limit:
                raise TooLarge(limit, resp.status_code)
            if inflater.active:
                out += inflater.feed(chunk, limit - len(out))
                if len(out) > limit:
                    raise TooLarge(limit, resp.status_code)
            if time.monotonic() > deadline:
                raise Unreachable("超时")
        return bytes(out) if inflater.active else bytes(raw)

    def fetch(self, url: str, *, headers: dict[str, str] | None = None, max_redirects: int = 5,
              deadline: float | None = None) -> Response:
        """GET `url` (blocking); follow at most `max_redirects` redirects (0: return the 3xx itself).
        `deadline`: seconds for the whole call, every hop and body included (default: a timeout a hop)."""
        hdrs = {"User-Agent": DESKTOP_UA, "Accept-Language": "zh-CN,zh;q=0.9", **(headers or {})}
        limit = time.monotonic() + (deadline if deadline is not None else self._overall(max_redirects))
        seen: list[str] = []
        while True:
            resp = self._once(url, hdrs, limit)
            resp.redirects = seen
            loc = resp.location
            if loc is None or len(seen) >= max_redirects or loc in seen:
                return resp
            seen = [*seen, loc]
            url = loc

    def _overall(self, max_redirects: int) -> float:
        return self.timeout * (max_redirects + 1) + 1

    async def get(self, url: str, *, headers: dict[str, str] | None = None, max_redirects: int = 5) -> Response:
        """`fetch` in the client's thread pool, awaited."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="reader-http")
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, lambda: self.fetch(url, headers=headers, max_redirects=max_redirects))
        try:
            # The thread stops itself at the same deadline; this bounds the wait if it is stuck elsewhere.
            return await asyncio.wait_for(fut, self._overall(max_redirects) + 1)
        except asyncio.TimeoutError as e:
            raise Unreachable("超时") from e


def internal_host(host: str) -> bool:
    """True for an address a monitor must never be sent to: loopback, private, link-local (169.254.169.254,
    the cloud metadata address, among them), unspecified or reserved, by IP in any spelling or by name."""
    host = host.strip("[]").rstrip(".").lower()
    if host in _INTERNAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if not re.fullmatch(r"[0-9a-fx.]+", host):
            return False  # a name: not resolved here
        try:  # 2130706433, 0x7f.1, 017700000001: what the resolver reads as IPv4
            ip = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_unspecified or ip.is_reserved
