"""Read every configured new-media account and store what was read (posts, or why it could not be read).

Readers live in `crawler.readers` (plain HTTP or feedparser first, one shared Chromium only where needed);
this module only runs them for the configured accounts and writes through `storage`.
"""
from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from config import Settings
from config.model import PLATFORM_LABELS
from storage import queries
from storage.db import get_sessionmaker, prepare

if TYPE_CHECKING:  # the readers import Playwright: only when there are accounts to read
    from crawler.readers import AccountPost


@dataclass(frozen=True)
class AccountsSummary:
    accounts: int
    readable: int
    unreadable: list[tuple[str, str, str]]  # (unit, account, reason)
    new_posts: int


def posts_to_store(posts: Sequence[AccountPost]) -> list[queries.AccountPostRow]:
    """Real posts, plus a pinned (置顶) one only when it really is newer than every other post."""
    regular = [p for p in posts if not p.pinned]
    newest = max((p.published_at for p in regular), default=None)
    kept = regular + [p for p in posts if p.pinned and (newest is None or p.published_at > newest)]
    return [queries.AccountPostRow(p.platform_id, p.published_at, p.title, p.url) for p in kept]


def read_and_store_accounts(settings: Settings, units: Sequence[str] | None = None, *, now: datetime | None = None,
                            progress: bool | Callable[[str], None] = True, prepared: bool = False) -> AccountsSummary:
    """Read every account (of `units`) and store its posts; progress lines go to `progress` when it is a
    callback, else (when true) to stderr. `prepared`: the caller has already prepared the database."""
    def say(line: str) -> None:
        if callable(progress):
            progress(line)
        elif progress:
            print(line, file=sys.stderr, flush=True)

    sessions = get_sessionmaker(settings.monitor.database_url) if prepared else prepare(settings)
    with sessions() as session:
        targets = queries.account_targets(session, units)
    if not targets:
        return AccountsSummary(0, 0, [], 0)
    from crawler.readers import ReadError, read_accounts  # Playwright is imported only when there are accounts
    from crawler.readers.browser import CHROMIUM_HOW_TO
    from crawler.readers.exceptions import BrowserUnavailable

    say(f"读取政务新媒体账号 {len(targets)} 个……")
    results = asyncio.run(read_accounts(
        [(t.account_id, t.platform, t.url) for t in targets], now=now, timeout=settings.crawl.timeout,
        executable_path=settings.crawl.chromium_path or None, max_pages=settings.crawl.browser_pages,
        max_bytes=int(settings.crawl.max_page_mb * 1024 * 1024)))
    unreadable, new_posts = [], 0
    for i, target in enumerate(targets, 1):
        result = results.get(target.account_id)
        with sessions.begin() as session:
            if isinstance(result, ReadError) or result is None:
                reason = result.reason if result is not None else "未读取"
                queries.store_account_read(session, target.account_id, None, reason)
                unreadable.append((target.unit, target.name, reason))
                line = f"无法读取（{reason}）"
            else:
                added = queries.store_account_read(session, target.account_id, posts_to_store(result))
                new_posts += added
                line = f"正常读取，{len(result)} 条，新增 {added} 条"
        label = PLATFORM_LABELS.get(target.platform, target.platform)
        say(f"[{i:>{len(str(len(targets)))}}/{len(targets)}] {target.unit} · {label}“{target.name}”：{line}")
    if no_browser := sum(reason.startswith(BrowserUnavailable.base_reason) for _, _, reason in unreadable):
        say(f"有 {no_browser} 个账号需要浏览器而 Chromium 无法启动：{CHROMIUM_HOW_TO}。")
    return AccountsSummary(len(targets), len(targets) - len(unreadable), unreadable, new_posts)
