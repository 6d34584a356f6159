"""Availability probes: does each site's home page (and each configured page) open within the limit?

国办秘函〔2019〕19号 counts a site unavailable when its home page fails to open within 15 s in 5 % or more of a
week's probes, made at least 20 times a day. The daemon's `probes` job calls `run_probes` (every 60 minutes
by default: 24 a day); each probe is one row of `probes` (time, HTTP status, latency, error), and the rule
`site.unavailable` (`monitors.rules.evaluate_site`) judges them through `site_findings`.

Library choice: the standard library's urllib, not Scrapy or requests. A probe is one GET of one page, made
the way a visitor's browser would (redirects followed, the body read to the end), timed from the first byte
sent to the last byte read. Scrapy's reactor cannot run in the daemon's threads, and requests would add a
dependency for nothing urllib lacks here.

Outages are noisy (DESIGN.md): a failed attempt is retried once after `[probes] retry_delay` seconds, and
only a probe whose retry failed too is stored as failed. The limit is the total time of an attempt, not
urllib's per-read socket timeout, so a page that trickles in slowly fails as a visitor would see it fail.
"""
from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from config import Settings
from monitors.rules import Finding, evaluate_site
from storage import queries
from storage.db import get_sessionmaker, migrate
from storage.models import utcnow

log = logging.getLogger("monitors.probes")

MAX_BODY = 10 * 1024 * 1024  # a home page larger than this is read no further (still counted as opened)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    http_status: int | None
    latency_ms: int | None
    error: str | None
    attempts: int


def _attempt(url: str, timeout: float, user_agent: str) -> tuple[int | None, str | None]:
    """One GET: (HTTP status, error or None). Raises nothing."""
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": user_agent, "Accept": "text/html,*/*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) URLs from settings)
            status = response.status
            read = 0
            while read < MAX_BODY:
                chunk = response.read(65536)
                if not chunk:
                    break
                read += len(chunk)
                if time.monotonic() - started > timeout:
                    return status, f"超过 {timeout:g} 秒未能打开"
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (TimeoutError, socket.timeout):
        return None, f"超过 {timeout:g} 秒未能打开"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return None, f"超过 {timeout:g} 秒未能打开"
        return None, f"无法连接：{reason}"
    except (http.client.HTTPException, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if time.monotonic() - started > timeout:
        return status, f"超过 {timeout:g} 秒未能打开"
    if status >= 400:
        return status, f"HTTP {status}"
    return status, None


def probe_url(url: str, *, timeout: float = 15.0, retries: int = 1, retry_delay: float = 5.0,
              user_agent: str = "Mozilla/5.0", stop: threading.Event | None = None) -> ProbeResult:
    """Open `url` within `timeout` seconds; on failure wait `retry_delay` and try again, `retries` times."""
    attempts = 0
    while True:
        attempts += 1
        started = time.monotonic()
        status, error = _attempt(url, timeout, user_agent)
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


def run_probes(settings: Settings, stop: threading.Event | None = None) -> ProbesSummary:
    """Probe every target once (concurrently) and store each result as it comes."""
    url = settings.monitor.database_url
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
                           retry_delay=settings.probes.retry_delay, user_agent=settings.crawl.user_agent, stop=stop)
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
