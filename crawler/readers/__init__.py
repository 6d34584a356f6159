"""New-media account readers: one module per platform, an explicit registry, one function that picks.

    READERS["weibo" | "wechat" | "feed"]      the registry (filled by @register in each module)
    resolve_reader(platform, url) -> Reader
    await read_accounts([(key, platform, url), ...]) -> {key: [AccountPost, ...] | ReadError}
    newest_post(posts) -> AccountPost | None

A reader returns posts or raises a ReadError whose `reason` is stored as the 无法读取 reason; an account
that could not be read is never "silent" (DESIGN.md). Plain HTTP first; the one shared Chromium starts
only when a reader really needs it (Weibo behind its visitor wall).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Iterable, Sequence
from datetime import datetime
from typing import Any

from crawler.readers.base import READERS, AccountPost, ReadContext, Reader, register  # noqa: F401
from crawler.readers.browser import BrowserPool, find_chromium  # noqa: F401
from crawler.readers.exceptions import (  # noqa: F401
    BridgeExpired, BrowserUnavailable, Deleted, LoginWall, NotFound, PageChanged, RateLimited, ReadError,
    ReaderCrashed, TooLarge, Unreachable, UnsupportedUrl, VisitorWall,
)
from crawler.readers.http import DEFAULT_MAX_BYTES, HttpClient
from crawler.readers.timeparse import local_now, parse_weibo_time  # noqa: F401

# Explicit imports, one line a platform: a broken reader fails loudly at import (STYLE.md §2).
from crawler.readers import feed, wechat, weibo  # noqa: F401  isort: skip

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 8  # accounts read at once over plain HTTP (browser pages are bounded apart: max_pages)
# Outages are noisy (DESIGN.md): a network failure is retried once after a short pause before it counts.
# Refusals (403/418, login walls) are not retried here: asking again at once only prolongs a cool-down;
# they are read again at the next scheduled read.
DEFAULT_RETRIES, RETRY_PAUSE = 1, 1.0


def resolve_reader(platform: str, url: str) -> Reader:
    """The reader for an account's platform. An unknown platform is a settings error listing the known ones."""
    cls = READERS.get((platform or "").strip().lower())
    if cls is None:
        raise ValueError(f"未知的平台 {platform!r}，可选：{', '.join(sorted(READERS))}")
    return cls()


def newest_post(posts: Iterable[AccountPost]) -> AccountPost | None:
    """The account's newest post by time. A pinned (置顶) post, shown first whatever its age, counts only
    when it really is newer than every other post; never the first card just for being first."""
    posts = list(posts)
    regular = [p for p in posts if not p.pinned]
    best = max(regular, key=lambda p: p.published_at, default=None)
    for p in posts:
        if p.pinned and (best is None or p.published_at > best.published_at):
            best = p
    return best


async def read_account(reader: Reader, url: str, ctx: ReadContext) -> list[AccountPost]:
    """One read with an overall deadline; any failure is a ReadError (a bug becomes ReaderCrashed)."""
    try:
        # Weibo may take two plain requests, a page load and two in-browser requests: allow for them.
        posts = await asyncio.wait_for(reader.read(url, ctx), ctx.timeout * 6)
    except ReadError:
        raise
    except asyncio.TimeoutError as e:
        raise Unreachable("超时") from e
    except Exception as e:  # one account's bug must not sink the batch (logged, then re-raised as a ReadError)
        log.exception("reader %s crashed on %s", reader.platform, url)
        raise ReaderCrashed(f"{type(e).__name__}: {str(e)[:80]}") from e
    if not posts:  # an empty list would pose as silence: readers raise instead, enforce it here too
        raise PageChanged("没有读到任何发布")
    return posts


async def read_accounts(accounts: Sequence[tuple[Hashable, str, str]], *, now: datetime | None = None,
                        executable_path: str | None = None, timeout: float = 15.0, max_pages: int = 3,
                        concurrency: int = DEFAULT_CONCURRENCY, retries: int = DEFAULT_RETRIES,
                        retry_pause: float = RETRY_PAUSE, max_bytes: int = DEFAULT_MAX_BYTES,
                        ) -> dict[Hashable, list[AccountPost] | ReadError]:
    """Read every (key, platform, url); each key maps to its posts (newest first) or the ReadError.

    One Chromium serves the whole batch: it is prepared only if some reader may need one, and launched
    only when one actually does. At most `concurrency` accounts are read at once, `max_pages` of them in
    the browser. A network failure (Unreachable) is retried `retries` times, `retry_pause` seconds apart
    (doubling). A body over `max_bytes` (`[crawl] max_page_mb`) is a TooLarge failure. Unknown platforms
    raise ValueError before anything is fetched (a settings error).
    """
    resolved = [(key, resolve_reader(platform, url), url) for key, platform, url in accounts]
    pool = (BrowserPool(executable_path, max_pages=max_pages, timeout=timeout)
            if any(r.needs_browser for _, r, _ in resolved) else None)
    http = HttpClient(timeout, max_workers=concurrency, max_bytes=max_bytes)
    ctx = ReadContext(timeout=timeout, now=local_now(now), http=http, browser=pool)
    sem = asyncio.Semaphore(max(1, concurrency))

    async def one(key: Hashable, reader: Reader, url: str) -> tuple[Hashable, list[AccountPost] | ReadError]:
        async with sem:
            attempt = 0
            while True:
                try:
                    return key, await read_account(reader, url, ctx)
                except Unreachable as e:
                    if attempt >= retries:
                        return key, e
                except ReadError as e:
                    return key, e
                await asyncio.sleep(retry_pause * 2 ** attempt)
                attempt += 1

    try:
        results = await asyncio.gather(*(one(k, r, u) for k, r, u in resolved))
    finally:
        await ctx.close()
    return dict(results)


def read_accounts_sync(accounts: Sequence[tuple[Hashable, str, str]],
                       **kwargs: Any) -> dict[Hashable, list[AccountPost] | ReadError]:
    """`read_accounts` for callers without an event loop (CLI, tests)."""
    return asyncio.run(read_accounts(accounts, **kwargs))
