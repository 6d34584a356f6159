"""Availability probes: does each site's home page (and each configured page) open within the limit?

国办秘函〔2019〕19号 counts a site unavailable when its home page fails to open within 15 s in 5 % or more of a
week's probes, made at least 20 times a day. The daemon's `probes` job calls `run_probes` (every 60 minutes
by default: 24 a day); each probe is one row of `probes` (time, HTTP status, latency, error), and the rule
`site.unavailable` (`monitors.rules.evaluate_site`) judges them through `site_findings`.

HTTP: the project's one plain client, `crawler.readers.http.HttpClient` (httpx). A probe is one GET of one
page, made the way a visitor's browser would (redirects followed, the body read to the end, at most
`[crawl] max_page_mb`: a larger home page still counts as opened), timed from the first byte sent to the
last byte read. Scrapy's reactor cannot run in the daemon's threads.

Outages are noisy (DESIGN.md): a failed attempt is retried once after `[probes] retry_delay` seconds, and
only a probe whose retry failed too is stored as failed. The limit is the total time of an attempt, not
a per-read socket timeout, so a page that trickles in slowly fails as a visitor would see it fail.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from config import Settings
from monitors.rules import Finding, evaluate_site
from storage import queries

if TYPE_CHECKING:  # the evaluation reads only `site_findings`: the HTTP client (httpx) loads with a probe
    from sqlalchemy.orm import Session

    from crawler.readers.http import HttpClient

log = logging.getLogger("monitors.probes")

REDIRECTS = 10  # as many as a browser-like client follows (urllib's and Scrapy's default)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    http_status: int | None
    latency_ms: int | None
    error: str | None
    attempts: int


def _attempt(client: HttpClient, url: str, timeout: float, user_agent: str) -> tuple[int | None, str | None]:
    """One GET: (HTTP status, error or None). Raises nothing."""
    from crawler.readers.exceptions import ReadError, TooLarge, Unreachable

    started = time.monotonic()
    timed_out = f"超过 {timeout:g} 秒未能打开"
    try:
        response = client.fetch(url, headers={"User-Agent": user_agent, "Accept": "text/html,*/*"},
                                max_redirects=REDIRECTS, deadline=timeout)
    except TooLarge as exc:  # the page opened; only its size is over the limit
        status = exc.status
    except Unreachable as exc:
        return None, timed_out if exc.detail == "超时" else f"无法连接：{exc.detail}"
    except ReadError as exc:
        return None, exc.reason
    else:
        status = response.status
        if response.location is not None:
            return status, "重定向次数过多（可能是重定向循环）"
    if time.monotonic() - started > timeout:
        return status, timed_out
    if status is None or status >= 400:
        return status, f"HTTP {status}"
    return status, None


def probe_url(url: str, *, timeout: float = 15.0, retries: int = 1, retry_delay: float = 5.0,
              user_agent: str = "Mozilla/5.0", stop: threading.Event | None = None,
              max_bytes: int | None = None) -> ProbeResult:
    """Open `url` within `timeout` seconds; on failure wait `retry_delay` and try again, `retries` times.
    `max_bytes`: at most this much of the body is read (default `crawler.readers.http.DEFAULT_MAX_BYTES`)."""
    from crawler.readers.http import DEFAULT_MAX_BYTES, HttpClient

    if max_bytes is None:
        max_bytes = DEFAULT_MAX_BYTES
    client = HttpClient(timeout=timeout, max_workers=1, max_bytes=max_bytes)
    try:
        return _probe(client, url, timeout, retries, retry_delay, user_agent, stop)
    finally:
        client.close()


def _probe(client: HttpClient, url: str, timeout: float, retries: int, retry_delay: float, user_agent: str,
           stop: threading.Event | None) -> ProbeResult:
    attempts = 0
    while True:
        attempts += 1
        started = time.monotonic()
        status, error = _attempt(client, url, timeout, user_agent)
        latency = int((time.monotonic() - started) * 1000)
        if error is None:
            return ProbeResult(True, status, latency, None, attempts)
        if attempts > retries:
            return ProbeResult(False, status, latency, error, attempts)
        if stop is None:
            time.sleep(retry_delay)
        elif stop.wait(retry_delay):  # the daemon is stopping: count what we saw
            return ProbeResult(False, status, latency, error, attempts)


def probe_targets(settings: Settings) -> list[tuple[str, str]]:
    """(site URL, page URL): each site's home page, then each `[probes] pages` entry under its site."""
    sites = [s.url for s in settings.sites]
    targets = [(url, url) for url in sites]
    for page in settings.probes.pages:
        owner = max((s for s in sites if page.startswith(s)), key=len, default=None)
        if owner is None:
            parts = urlsplit(page)
            owner = f"{parts.scheme}://{parts.netloc}/"
        targets.append((owner, page))
    return list(dict.fromkeys(targets))


@dataclass(frozen=True)
class ProbesSummary:
    probes: int
    failed: list[tuple[str, str]]  # (url, error)


def run_probes(settings: Settings, stop: threading.Event | None = None, *, prepared: bool = False) -> ProbesSummary:
    """Probe every target once (concurrently) and store each result as it comes. `prepared`: the caller has
    already brought the database to the newest schema."""
    from storage.db import get_sessionmaker, migrate
    from storage.models import utcnow

    url = settings.monitor.database_url
    if not prepared:
        migrate(url)
    sessions = get_sessionmaker(url)
    timeout = settings.rules.probe_timeout
    lock = threading.Lock()
    failed: list[tuple[str, str]] = []
    done = 0

    def one(target: tuple[str, str]) -> None:
        nonlocal done
        if stop is not None and stop.is_set():
            return
        site_url, page = target
        started_at = utcnow()
        result = probe_url(page, timeout=timeout, retries=settings.probes.retries,
                           retry_delay=settings.probes.retry_delay, user_agent=settings.crawl.user_agent, stop=stop,
                           max_bytes=int(settings.crawl.max_page_mb * 1024 * 1024))
        with sessions.begin() as session:
            queries.store_probe(session, queries.ProbeRow(site_url, page, started_at, result.ok, result.http_status,
                                                          result.latency_ms, result.error))
        with lock:
            done += 1
            if not result.ok:
                failed.append((page, result.error or ""))
        if not result.ok:
            log.warning("probe url=%s ok=false status=%s latency_ms=%s attempts=%d error=%s", page,
                        result.http_status, result.latency_ms, result.attempts, _quote(result.error or ""))

    targets = probe_targets(settings)
    with ThreadPoolExecutor(max_workers=max(1, min(settings.probes.concurrency, len(targets) or 1)),
                            thread_name_prefix="probe") as pool:
        list(pool.map(one, targets))
    return ProbesSummary(done, failed)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def probe_window(settings: Settings, as_of: date) -> tuple[datetime, datetime]:
    """Local midnight `unavailable_days - 1` days before `as_of` to the local midnight ending it."""
    tz = ZoneInfo(settings.monitor.timezone)
    end = datetime.combine(as_of + timedelta(days=1), dtime(), tz)
    return end - timedelta(days=settings.rules.unavailable_days), end


def site_findings(session: Session, settings: Settings, as_of: date) -> list[Finding]:
    """`site.unavailable` and any other site-level finding as of the date (for check, report and alerts)."""
    start, end = probe_window(settings, as_of)
    return evaluate_site(queries.probe_stats(session, start, end), as_of, settings.rules)
