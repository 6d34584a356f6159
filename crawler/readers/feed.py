"""RSS/Atom feeds (an account's own feed, or a bridge such as WeWe RSS or RSSHub) via feedparser.

We fetch the bytes ourselves (one timeout and error mapping for every reader; feedparser's own fetching
has neither) and hand them to `feedparser.parse`. Times come from `published_parsed`, else
`updated_parsed` (feedparser normalises both to UTC struct_time).
"""
from __future__ import annotations

import calendar
from datetime import datetime, timezone

import feedparser

from crawler.readers.base import (
    AccountPost, PageChanged, ReadContext, Reader, check_status, clip_id, make_title, newest_first, register,
)
from crawler.readers.timeparse import SHANGHAI

FEED_ACCEPT = "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"


def _entry_time(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        t = entry.get(key)
        if t:
            return datetime.fromtimestamp(calendar.timegm(t), tz=timezone.utc).astimezone(SHANGHAI)
    return None


def parse_feed(body: bytes, feed_url: str = "") -> tuple[list[AccountPost], list[str]]:
    """(posts newest first, every entry's title). Raises PageChanged when nothing dated can be read.

    The titles are returned too so a bridge can look for its own "登录失效" notices, dated or not.
    """
    parsed = feedparser.parse(body)
    entries = parsed.entries or []
    if not entries:
        if parsed.bozo:
            raise PageChanged(f"订阅源无法解析：{type(parsed.get('bozo_exception')).__name__}")
        raise PageChanged("订阅源没有条目")
    titles = [make_title(e.get("title", "")) for e in entries]
    posts = []
    for entry in entries:
        when = _entry_time(entry)
        if when is None:
            continue  # an undated entry says nothing about when the account last posted
        link = entry.get("link") or None
        pid = entry.get("id") or link or f"{feed_url}#{when.isoformat()}"
        posts.append(AccountPost(clip_id(pid), when, make_title(entry.get("title", "")), link))
    if not posts:
        raise PageChanged("订阅源条目没有发布时间")
    return newest_first(posts), titles


@register("feed")
class FeedReader(Reader):
    """RSS/Atom 订阅源：读取条目的发布时间（feedparser）。"""

    needs_browser = False

    async def fetch(self, url: str, ctx: ReadContext) -> bytes:
        resp = await ctx.http.get(url, headers={"Accept": FEED_ACCEPT})
        check_status(resp)
        if resp.location:  # still redirecting after the allowed hops
            raise PageChanged("重定向过多")
        return resp.body

    async def read(self, url: str, ctx: ReadContext) -> list[AccountPost]:
        posts, _ = parse_feed(await self.fetch(url, ctx), url)
        return posts
