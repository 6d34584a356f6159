"""The link checker: does each link, image and attachment of a page still load? Network only, no database.

`check_links` takes (url, kind) pairs and returns one `LinkOutcome` per distinct URL (as written, in the order
first seen; a URL given with several kinds is judged as the strictest: attachment, then image, then link).
The application layer calls it after the Scrapy crawl has ended; it runs its own asyncio loop and httpx's
AsyncClient (the same bounding discipline as `crawler.readers.http`: redirects seen one at a time, bodies
cut off while they stream, raw and inflated).

- Method: HEAD first. Where HEAD is refused or unreliable (400/403/404/405/501/5xx, a reset or a hang after
  the connection was made) a GET with `Range: bytes=0-4095` confirms, reading at most 64 KB of the body before
  the stream is closed (a 500 MB attachment is never downloaded). 2xx is present; 416 on a ranged GET is too.
  A host whose HEAD answered 405/501 once is asked with GET only for the rest of the call.
- Attachments and images: a 2xx answered with an HTML page (Content-Type text/html or xhtml, or a body that
  starts like HTML) is broken, whatever the page says: a .pdf/.docx address that answers a web page does not
  give the user the file (the error page's phrase such as 文件不存在, else its <title>, is quoted).
  A HEAD answer that is HTML or has no Content-Type is confirmed by the ranged GET, which is what decides.
- Redirects followed one hop at a time up to 5; a loop (the same URL asked with the same cookies again) or a
  sixth hop is "重定向次数过多". Cookies a hop sets go back to that host within the same chain only (a WAF's
  set-cookie-and-redirect challenge), never to another URL's check.
- Retries: `retries` more attempts after a connection failure, a timeout or a 5xx/429, with backoff
  (Retry-After honoured up to RETRY_AFTER_CAP). Every request is capped at `timeout` as a whole (connection,
  headers and the 64 KB); every URL at `max_seconds_per_url` (default 2×timeout+5) of its own work, every
  retry, redirect, backoff and DNS lookup included (waiting for a free per-host slot is not its work).
- Outages are not broken links: a connection-level failure (refused, timeout, DNS, reset) on a host (host:port)
  that gave no HTTP answer at all in this call, or within a run of BREAKER_STREAK URLs failing in a row there,
  gives ok=None, reachable_host=False ("未检查：网站无法访问（…）"); once that run is reached, the host's
  remaining URLs are not requested (same outcome) unless it answers again. A connection failure on a host that
  answers other URLs is broken (ok=False). TLS failures (bad certificate) are answers: broken, not an outage.
  ok=None with reachable_host=True: not checked by policy (internal address, not http/https).
- Safety: only http/https. A host:port outside `allowed_netlocs` (spelt as `crawler.middlewares.netloc`) that
  is internal by `internal_host` — by name or IP, or because its name resolves to any internal address — is
  never requested (ok=None, "未检查：内网地址"), nor followed to by a redirect ("未检查：重定向到内网地址").
  (httpx resolves the name again when it connects; a resolver that changes its answer in between is not
  guarded against.) CR/LF are stripped from URLs; no body is kept beyond the 64 KB being judged, and each
  connection's receive buffer is fixed small (RECEIVE_BUFFER) so the kernel does not pull in what is never read.
- Politeness as the crawl: at most `per_host` requests in flight to one host:port and at least `delay`
  seconds between two request starts to it; at most GLOBAL_CONCURRENCY URLs checked at once by a fixed set of
  workers (memory stays flat however many links a call holds), interleaved across hosts.
"""
from __future__ import annotations

import asyncio
import email.utils
import html
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urljoin, urlsplit

import httpx

from crawler.encoding import decode_html, header_charset
from crawler.extract import squash
from crawler.middlewares import netloc
from crawler.readers.http import _Inflater, ascii_url, internal_host

GLOBAL_CONCURRENCY = 16   # URLs checked at once, all hosts together
MAX_REDIRECTS = 5
BODY_LIMIT = 64 * 1024    # raw and inflated bytes read from a GET before the stream is closed
RANGE = "bytes=0-4095"
RECEIVE_BUFFER = 64 * 1024  # SO_RCVBUF of every connection (the kernel doubles it)
RETRY_AFTER_CAP = 10.0    # seconds: a longer Retry-After is not waited for
BACKOFF = 0.5             # seconds before the first retry, doubled each time, at most BACKOFF_CAP
BACKOFF_CAP = 4.0
BREAKER_STREAK = 5        # connection failures in a row on one host: it is down, stop asking it
HEAD_UNRELIABLE = frozenset({400, 403, 404, 405, 501})
HEAD_REFUSED = frozenset({405, 501})
KIND_RANK = {"link": 0, "image": 1, "attachment": 2}

NOT_CHECKED_INTERNAL = "未检查：内网地址"
NOT_CHECKED_REDIRECT_INTERNAL = "未检查：重定向到内网地址"
NOT_CHECKED_SCHEME = "未检查：不是 http/https 地址"
NOT_CHECKED_REDIRECT_SCHEME = "未检查：重定向到不是 http/https 的地址"
TOO_MANY_REDIRECTS = "重定向次数过多"
BAD_URL = "链接地址格式错误"
TIMEOUT = "连接超时"
REFUSED = "无法连接（连接被拒绝）"
RESET = "无法连接（连接被重置）"
DNS = "域名无法解析"
TLS = "HTTPS 证书或加密连接错误"

_ERROR_PHRASES = re.compile(
    r"页面不存在|文件不存在|网页不存在|找不到|已被删除|已删除|不存在|not\s+found|404|error", re.I)
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title", re.I | re.S)
_TAG_RE = re.compile(r"<script\b.*?</script>|<style\b.*?</style>|<[^>]+>", re.I | re.S)
_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<title", b"<body", b"<meta", b"<script")


@dataclass(frozen=True)
class LinkOutcome:
    url: str
    ok: bool | None  # None: not determined (host unreachable in this run, or not checked by policy)
    http_status: int | None
    outcome: str  # Chinese, for users
    reachable_host: bool  # False only for an outage of the target host (ok is None then)


@dataclass
class _Answer:
    """An HTTP answer: status, lower-cased headers, and (GET only) up to BODY_LIMIT inflated bytes."""
    url: str
    status: int
    headers: dict[str, str]
    body: bytes = b""
    set_cookies: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass
class _Result:
    ok: bool | None
    status: int | None
    outcome: str
    down_netloc: str | None = None  # set for a connection-level failure: the host:port that failed


class _Failure(Exception):
    """A connection-level failure (no HTTP answer). `after_connect`: the server accepted, then reset or hung."""

    def __init__(self, reason: str, netloc: str, after_connect: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.netloc, self.after_connect = reason, netloc, after_connect


class _BadUrl(Exception):
    pass


class _HostDown(Exception):
    """The host's breaker has tripped: the request is not made."""


class _Definite(Exception):
    """An answer that is no HTTP answer but says enough: the host is up and the link broken (a TLS failure)."""


class _Budget:
    """The seconds of work one URL may still spend; every request and wait is cut off where it runs out."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    @asynccontextmanager
    async def spend(self, cap: float) -> AsyncIterator[None]:
        start = time.monotonic()
        try:
            async with asyncio.timeout(max(0.0, min(cap, self.left))):
                yield
        finally:
            self.left -= time.monotonic() - start


class _Host:
    """Per host:port: the politeness slots, and what this call has learnt of the host."""

    def __init__(self, per_host: int, delay: float) -> None:
        self.slots = asyncio.Semaphore(per_host)
        self.delay = delay
        self.next_start = 0.0
        self.answered = False  # any HTTP answer in this call
        self.head_refused = False
        self.streak: list[int] = []  # URL indexes of the current run of connection failures
        self.down: set[int] = set()  # indexes whose failures belong to an outage
        self.tripped = False
        self.last_failure = ""

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self.slots:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.delay  # reserved before sleeping: concurrent starts stay spaced
            if start > now:
                await asyncio.sleep(start - now)
            yield

    def failed(self, index: int, reason: str) -> None:
        """A URL's check ended in a connection failure here (after its retries)."""
        self.streak.append(index)
        self.last_failure = reason
        if self.tripped or len(self.streak) >= BREAKER_STREAK:
            self.tripped = True
            self.down.update(self.streak)

    def succeeded(self) -> None:
        self.streak.clear()
        self.tripped = False


def _no_cookies() -> CookieJar:
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _clean(url: str) -> str:
    return url.replace("\r", "").replace("\n", "").strip()


def _netloc(url: str) -> str | None:
    try:
        return netloc(url)
    except ValueError:  # "http://[bad": urlsplit refuses it
        return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _failure_reason(exc: BaseException) -> tuple[str, bool]:
    """(reason, after_connect) of a network exception."""
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return TIMEOUT, False
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return TIMEOUT, True
    chain = list(_causes(exc))
    if any(isinstance(c, socket.gaierror) for c in chain):
        return DNS, False
    if any(isinstance(c, ConnectionRefusedError) for c in chain) or "refused" in str(exc).lower():
        return REFUSED, False
    if isinstance(exc, httpx.ConnectError):
        return f"无法连接（{str(exc)[:60] or type(exc).__name__}）", False
    return RESET, True  # ReadError, RemoteProtocolError, WriteError: accepted, then dropped


def _is_tls(exc: BaseException) -> bool:
    return any(isinstance(c, ssl.SSLError) for c in _causes(exc))


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when.timestamp() - time.time()), RETRY_AFTER_CAP)


def _looks_html(answer: _Answer) -> bool:
    if "html" in answer.content_type:
        return True
    start = answer.body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith(_HTML_START)


def _page_hint(answer: _Answer) -> str:
    """What an HTML answer says: its error phrase (文件不存在), else its title, else ""."""
    text = decode_html(answer.body, header_charset(answer.headers.get("content-type")))
    match = _TITLE_RE.search(text)
    title = squash(html.unescape(match.group(1))) if match else ""
    visible = squash(html.unescape(_TAG_RE.sub(" ", text)))
    phrase = _ERROR_PHRASES.search(title) or _ERROR_PHRASES.search(visible)
    if phrase:
        return phrase.group(0)
    return f"标题：{title[:60]}" if title else ""


def _judge(answer: _Answer, kind: str) -> _Result:
    status = answer.status
    if 200 <= status < 300:
        if kind in ("attachment", "image") and _looks_html(answer):
            what = "附件" if kind == "attachment" else "图片"
            hint = _page_hint(answer)
            return _Result(False, status, f"{what}地址返回的是网页（{hint}）" if hint else
                           f"{what}地址返回的是网页而不是{'文件' if kind == 'attachment' else '图片'}")
        return _Result(True, status, f"正常（HTTP {status}）")
    if status == 416:
        return _Result(True, status, "正常（HTTP 416，文件存在）")
    return _Result(False, status, f"HTTP {status} 错误")


def _needs_get(head: _Answer, kind: str) -> bool:
    if head.status in HEAD_UNRELIABLE or head.status >= 500:
        return True
    return 200 <= head.status < 300 and kind != "link" and (not head.content_type or _looks_html(head))


def _cookie_pairs(set_cookies: list[str]) -> dict[str, str]:
    pairs = {}
    for line in set_cookies:
        name, sep, value = line.split(";", 1)[0].partition("=")
        if sep and name.strip():
            pairs[name.strip()] = value.strip()
    return pairs


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _interleaved(indexes_by_host: dict[str, list[int]]) -> list[int]:
    """Round robin over hosts, so the workers are not all queued behind one host's slots."""
    queues = [iter(v) for v in indexes_by_host.values()]
    order: list[int] = []
    while queues:
        alive = []
        for q in queues:
            nxt = next(q, None)
            if nxt is not None:
                order.append(nxt)
                alive.append(q)
        queues = alive
    return order


class _Checker:
    def __init__(self, *, timeout: float, per_host: int, delay: float, retries: int, user_agent: str,
                 allowed_netlocs: set[str], max_seconds: float, dns_pool: ThreadPoolExecutor) -> None:
        self.timeout, self.per_host, self.delay = timeout, max(1, per_host), max(0.0, delay)
        self.retries, self.max_seconds = max(0, retries), max_seconds
        self.allowed = {n.lower() for n in allowed_netlocs}
        self.headers = {"User-Agent": user_agent, "Accept": "*/*", "Accept-Language": "zh-CN,zh;q=0.9",
                        "Accept-Encoding": "gzip, deflate"}
        self.hosts: dict[str, _Host] = {}
        self.dns: dict[str, asyncio.Future[bool]] = {}
        self.dns_pool = dns_pool
        limits = httpx.Limits(max_connections=GLOBAL_CONCURRENCY, max_keepalive_connections=GLOBAL_CONCURRENCY)
        # A small fixed receive buffer: what we never read is not pulled in by the kernel's window either.
        transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=[
            (socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)])
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False, cookies=_no_cookies(),
                                        trust_env=True, limits=limits, transport=transport)

    def host(self, netloc_: str) -> _Host:
        if netloc_ not in self.hosts:
            self.hosts[netloc_] = _Host(self.per_host, self.delay)
        return self.hosts[netloc_]

    # --- safety -------------------------------------------------------------------------------------------
    async def _resolves_internal(self, host: str, port: int, netloc_: str, budget: _Budget) -> bool:
        """Does `host` resolve to any internal address? Looked up once a call, in a thread, within the budget."""
        fut = self.dns.get(host)
        if fut is None:
            loop = asyncio.get_running_loop()
            fut = self.dns[host] = asyncio.ensure_future(self._lookup(loop, host, port))
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved even if nobody waits
        try:
            async with budget.spend(self.max_seconds):
                return await asyncio.shield(fut)
        except TimeoutError as e:
            raise _Failure(TIMEOUT, netloc_) from e
        except socket.gaierror as e:
            raise _Failure(DNS, netloc_) from e
        except (UnicodeError, ValueError) as e:  # a name the resolver cannot even encode
            raise _BadUrl(host) from e

    async def _lookup(self, loop: asyncio.AbstractEventLoop, host: str, port: int) -> bool:
        for attempt in range(self.retries + 1):
            try:
                infos = await asyncio.wait_for(loop.run_in_executor(
                    self.dns_pool, lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)), self.timeout)
                return any(internal_host(str(info[4][0])) for info in infos)
            except (socket.gaierror, TimeoutError) as e:
                if attempt == self.retries or (isinstance(e, socket.gaierror) and e.errno == socket.EAI_NONAME):
                    raise socket.gaierror(str(e)) from e
                await asyncio.sleep(min(BACKOFF * 2 ** attempt, BACKOFF_CAP))
        raise AssertionError("unreachable")

    async def _refusal(self, url: str, budget: _Budget) -> str | None:
        """Why `url` must not be requested ("scheme" | "internal"), or None."""
        try:
            parts = urlsplit(url)
            hostname = parts.hostname
        except ValueError as e:
            raise _BadUrl(url) from e
        if parts.scheme.lower() not in ("http", "https"):
            return "scheme"
        where = _netloc(url)
        if where is None or not hostname:
            raise _BadUrl(url)
        if where.lower() in self.allowed:
            return None
        if internal_host(hostname):
            return "internal"
        if _ip_literal(hostname):
            return None
        port = int(where.rsplit(":", 1)[1])
        return "internal" if await self._resolves_internal(hostname, port, where, budget) else None

    # --- requests -----------------------------------------------------------------------------------------
    async def _request(self, method: str, url: str, cookies: str, budget: _Budget) -> _Answer:
        where = _netloc(url) or ""
        headers = dict(self.headers)
        if method == "GET":
            headers["Range"] = RANGE
        if cookies:
            headers["Cookie"] = cookies
        host = self.host(where)
        async with host.slot():
            if host.tripped:
                raise _HostDown(where)
            if budget.left <= 0:
                raise _Failure(TIMEOUT, where, after_connect=True)
            try:
                async with budget.spend(self.timeout):
                    async with self.client.stream(method, ascii_url(url), headers=headers) as resp:
                        host.answered = True
                        host.succeeded()
                        lowered = {k.lower(): v for k, v in resp.headers.items()}
                        answer = _Answer(str(resp.url), resp.status_code, lowered,
                                         set_cookies=resp.headers.get_list("set-cookie"))
                        if method == "GET":
                            answer.body = await self._read_start(resp, lowered)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeError) as e:
                raise _BadUrl(url) from e
            except (httpx.HTTPError, TimeoutError, OSError) as e:
                if _is_tls(e):
                    host.answered = True
                    raise _Definite(TLS) from e
                reason, after_connect = _failure_reason(e)
                raise _Failure(reason, where, after_connect) from e
        return answer

    @staticmethod
    async def _read_start(resp: httpx.Response, headers: dict[str, str]) -> bytes:
        """At most BODY_LIMIT bytes of the body, raw and inflated; the rest is never read."""
        inflater = _Inflater(headers.get("content-encoding", ""))
        raw, out = bytearray(), bytearray()
        async for chunk in resp.aiter_raw(16 * 1024):
            raw += chunk
            if inflater.active:
                out += inflater.feed(chunk, BODY_LIMIT - len(out))
            if len(raw) >= BODY_LIMIT or len(out) >= BODY_LIMIT:
                break
        return bytes(out[:BODY_LIMIT]) if inflater.active else bytes(raw[:BODY_LIMIT])

    async def _follow(self, method: str, url: str, budget: _Budget) -> _Answer | _Result:
        """`method` on `url`, redirects followed one hop at a time (each hop passes `_refusal` first)."""
        seen: set[tuple[str, str]] = set()
        jar: dict[str, dict[str, str]] = {}  # host:port → cookies set within this chain
        for hop in range(MAX_REDIRECTS + 1):
            refusal = await self._refusal(url, budget)
            if refusal:
                first = hop == 0
                text = {"scheme": NOT_CHECKED_SCHEME if first else NOT_CHECKED_REDIRECT_SCHEME,
                        "internal": NOT_CHECKED_INTERNAL if first else NOT_CHECKED_REDIRECT_INTERNAL}[refusal]
                return _Result(None, None, text)
            where = _netloc(url) or ""
            cookies = "; ".join(f"{k}={v}" for k, v in jar.get(where, {}).items())
            answer = await self._request(method, url, cookies, budget)
            location = answer.headers.get("location", "").strip()
            if not (300 <= answer.status < 400 and location):
                return answer
            jar.setdefault(where, {}).update(_cookie_pairs(answer.set_cookies))
            seen.add((url, cookies))
            nxt = urljoin(url, _clean(location)).split("#", 1)[0]
            nxt_cookies = "; ".join(f"{k}={v}" for k, v in jar.get(_netloc(nxt) or "", {}).items())
            if hop == MAX_REDIRECTS or (nxt, nxt_cookies) in seen:
                return _Result(False, answer.status, TOO_MANY_REDIRECTS)
            url = nxt
        raise AssertionError("unreachable")

    async def _probe(self, url: str, kind: str, budget: _Budget, state: dict[str, bool]) -> _Answer | _Result:
        """HEAD, then a ranged GET where HEAD cannot be trusted. `state["get_only"]` carries over retries."""
        host = self.host(_netloc(url) or "")
        if not (state["get_only"] or host.head_refused):
            try:
                head = await self._follow("HEAD", url, budget)
            except _Failure as f:
                if not f.after_connect:
                    raise
                state["get_only"] = True  # reset or hung on HEAD: some servers mishandle it
            else:
                if isinstance(head, _Result):
                    return head
                if head.status in HEAD_REFUSED:
                    self.host(_netloc(head.url) or "").head_refused = True
                if not _needs_get(head, kind):
                    return head
                state["get_only"] = not 200 <= head.status < 300
        return await self._follow("GET", url, budget)

    async def check(self, index: int, url: str, kind: str) -> _Result:
        url = _clean(url)
        budget = _Budget(self.max_seconds)
        state = {"get_only": False}
        last: _Result | None = None
        for attempt in range(self.retries + 1):
            first = _netloc(url)
            if first and self.host(first).tripped:
                return _Result(None, None, "", down_netloc=first)  # not requested: an outage
            wait = min(BACKOFF * 2 ** attempt, BACKOFF_CAP)
            try:
                got = await self._probe(url, kind, budget, state)
            except _BadUrl:
                return _Result(False, None, BAD_URL)
            except _Definite as d:
                return _Result(False, None, str(d))
            except _HostDown as h:
                return _Result(None, None, "", down_netloc=str(h))
            except _Failure as f:
                last = _Result(False, None, f.reason, down_netloc=f.netloc)
            else:
                if isinstance(got, _Result):
                    return got
                last = _judge(got, kind)
                if not (got.status >= 500 or got.status == 429):
                    return last
                wait = _retry_after(got.headers) or wait
            if attempt == self.retries or budget.left < wait + min(1.0, self.timeout):
                break
            async with budget.spend(wait + 1):
                await asyncio.sleep(wait)
        assert last is not None
        if last.down_netloc is not None:
            self.host(last.down_netloc).failed(index, last.outcome)
        return last

    async def run(self, items: list[tuple[str, str]],
                  progress: Callable[[int, int], None] | None) -> list[LinkOutcome]:
        total = len(items)
        results: list[_Result | None] = [None] * total
        by_host: dict[str, list[int]] = {}
        for i, (url, _) in enumerate(items):
            by_host.setdefault(_netloc(_clean(url)) or "", []).append(i)
        order = iter(_interleaved(by_host))
        done = 0

        async def worker() -> None:
            nonlocal done
            for i in order:  # one shared iterator: each index is taken by one worker
                results[i] = await self.check(i, *items[i])
                done += 1
                if progress is not None:
                    progress(done, total)

        try:
            await asyncio.gather(*(worker() for _ in range(min(GLOBAL_CONCURRENCY, total))))
        finally:
            await self.client.aclose()
        return [self._outcome(i, items[i][0], r) for i, r in enumerate(results) if r is not None]

    def _outcome(self, index: int, url: str, r: _Result) -> LinkOutcome:
        if r.down_netloc is not None:
            host = self.hosts.get(r.down_netloc)
            if host is None or not host.answered or index in host.down or not r.outcome:
                reason = r.outcome or (host.last_failure if host else "") or "连续多次无法连接"
                return LinkOutcome(url, None, None, f"未检查：网站无法访问（{reason}）", reachable_host=False)
        return LinkOutcome(url, r.ok, r.status, r.outcome, reachable_host=True)


def _distinct(links: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    kinds: dict[str, str] = {}
    for url, kind in links:
        if url not in kinds or KIND_RANK.get(kind, 0) > KIND_RANK.get(kinds[url], 0):
            kinds[url] = kind
    return list(kinds.items())


def check_links(links: Sequence[tuple[str, str]], *, timeout: float, per_host: int, delay: float, retries: int,
                user_agent: str, allowed_netlocs: set[str], max_seconds_per_url: float | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[LinkOutcome]:
    """Check each distinct URL of `links` ((url, kind) pairs, kind link|image|attachment); see the module doc.
    Blocking: runs its own event loop (in a thread of its own if this thread already runs one)."""
    items = _distinct(links)
    if not items:
        return []
    max_seconds = max_seconds_per_url if max_seconds_per_url is not None else 2 * timeout + 5

    def run_loop() -> list[LinkOutcome]:
        # Not asyncio.run: it would wait for a getaddrinfo thread stuck past its deadline before returning.
        loop = asyncio.new_event_loop()
        dns_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="linkcheck-dns")
        try:
            checker = _Checker(timeout=timeout, per_host=per_host, delay=delay, retries=retries,
                               user_agent=user_agent, allowed_netlocs=allowed_netlocs, max_seconds=max_seconds,
                               dns_pool=dns_pool)
            return loop.run_until_complete(checker.run(items, progress))
        finally:
            dns_pool.shutdown(wait=False, cancel_futures=True)
            leftovers = asyncio.all_tasks(loop)  # DNS lookups nobody waits for any more
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_loop()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="linkcheck") as pool:
        return pool.submit(run_loop).result()
