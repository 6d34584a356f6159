"""What every reader shares: the post it returns, the context it reads in, the base class, the registry.

The shape follows changedetection.io's `content_fetchers/`: a base class declares what a reader can do
(`needs_browser`), one module per platform implements `read`, `resolve_reader` (in `__init__`) picks one.
"""
from __future__ import annotations

import html
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from config.registry import registrar
from crawler.readers.browser import BrowserPool
from crawler.readers.exceptions import (  # noqa: F401 - re-exported: the contract names them here
    BridgeExpired, BrowserUnavailable, Deleted, LoginWall, NotFound, PageChanged, RateLimited, ReadError,
    ReaderCrashed, TooLarge, Unreachable, UnsupportedUrl, VisitorWall,
)
from crawler.readers.http import HttpClient, Response
from crawler.readers.timeparse import local_now

TITLE_CHARS = 60  # a post's title is its first 60 characters (Weibo posts have no title of their own)
PLATFORM_ID_CHARS = 200  # storage.models.AccountPost.platform_id is String(200)


@dataclass(frozen=True)
class AccountPost:
    platform_id: str
    published_at: datetime  # aware
    title: str
    url: str | None
    pinned: bool = False  # 置顶: shown first whatever its age

    def __post_init__(self) -> None:
        if self.published_at.tzinfo is None:
            raise ValueError("AccountPost.published_at must be timezone-aware")


class ReadContext:
    """What a read needs besides its URL: HTTP, the clock, and (lazily) the run's one browser."""

    def __init__(self, timeout: float = 15.0, now: datetime | None = None, http: HttpClient | None = None,
                 browser: BrowserPool | None = None) -> None:
        self.timeout = timeout
        self.now = local_now(now)
        self.http = http if http is not None else HttpClient(timeout=timeout)
        self.browser = browser

    def get_browser(self) -> BrowserPool:
        if self.browser is None:  # a reader that may need one was used without read_accounts' pool
            self.browser = BrowserPool(timeout=self.timeout)
        return self.browser

    async def close(self) -> None:
        if self.browser is not None:
            await self.browser.close()
        self.http.close()


class Reader(ABC):
    """Reads one account's recent posts. Subclasses set `platform`, their docstring's first line is for users."""

    platform: str = ""
    needs_browser: bool = False  # capability: may start Chromium (only when plain HTTP is refused)

    @abstractmethod
    async def read(self, url: str, ctx: ReadContext) -> list[AccountPost]:
        """Posts newest first (pinned ones flagged). Raises ReadError when the posts cannot be seen."""


READERS: dict[str, type[Reader]] = {}


_register_reader = registrar(READERS, "reader platform")


def register(platform: str) -> Callable[[type[Reader]], type[Reader]]:
    """Class decorator: add a reader under the word users write in settings.toml (platform = "weibo")."""
    add = _register_reader(platform)

    def wrap(cls: type[Reader]) -> type[Reader]:
        cls.platform = platform
        return add(cls)
    return wrap


# --- helpers shared by the platform modules ----------------------------------------------------------

_TAG_RE = re.compile(r"<[^>]+>")
_BR_RE = re.compile(r"<br\s*/?>", re.I)


def strip_html(text: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(_TAG_RE.sub("", _BR_RE.sub(" ", text or ""))).split())


def make_title(text: str) -> str:
    return strip_html(text)[:TITLE_CHARS]


def origin(url: str) -> str:
    """scheme://host:port of a URL: every request a reader derives keeps it (tests serve imitations)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise UnsupportedUrl(url[:100])
    return f"{parts.scheme}://{parts.netloc}"


def check_status(resp: Response, what: str = "") -> None:
    """Turn a refusing HTTP status into its ReadError (2xx and 3xx pass: the caller judges redirects)."""
    s = resp.status
    if s in (403, 418, 429):
        raise RateLimited(f"HTTP {s}")
    if s in (404, 410):
        raise NotFound(f"HTTP {s}{' ' + what if what else ''}")
    if s == 401:
        raise LoginWall("HTTP 401")
    if s >= 500:
        raise Unreachable(f"HTTP {s}")
    if s >= 400:
        raise PageChanged(f"HTTP {s}")


def clip_id(value: str) -> str:
    if len(value) <= PLATFORM_ID_CHARS:
        return value
    import hashlib
    return "sha1:" + hashlib.sha1(value.encode("utf-8")).hexdigest()


def newest_first(posts: list[AccountPost]) -> list[AccountPost]:
    """Sorted newest first; at equal times pinned posts stay before the rest, as the platform shows them."""
    return sorted(posts, key=lambda p: (p.published_at, p.pinned), reverse=True)
