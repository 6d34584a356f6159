"""Sina Weibo accounts: the mobile JSON API by plain HTTP first, Chromium only behind the visitor wall.

Order, cheapest first (each request keeps the configured URL's scheme, host and port, except that the real
weibo.com / m.weibo.cn hosts are mapped to where each API really lives):
1. `GET /api/container/getIndex?containerid=107603{uid}` (m.weibo.cn) → `data.cards[].mblog`;
2. `GET /ajax/statuses/mymblog?uid={uid}&page=1&feature=0` (weibo.com) → `data.list[]`;
3. when a plain request is redirected to the Sina Visitor System (`/visitor/…`, which sets the `SUB`
   cookie by JavaScript), open the profile in a fresh Chromium context, let the script run, and fetch the
   same JSON from inside that context (`context.request` shares its cookies).
A redirect to `/signin/login` or `passport` is a login wall, in the browser too. A profile shows a pinned
(置顶, `isTop`) post first, often months old: posts are flagged and the caller takes the newest by time.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from crawler.readers.base import (
    AccountPost, LoginWall, NotFound, PageChanged, RateLimited, ReadContext, ReadError, Reader, Unreachable,
    UnsupportedUrl, VisitorWall, check_status, make_title, newest_first, origin, register,
)
from crawler.readers.http import MOBILE_UA, Response
from crawler.readers.timeparse import parse_weibo_time

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

_UID_PATHS = [re.compile(p) for p in (r"^/u/(\d{5,})", r"^/profile/(\d{5,})", r"^/(\d{5,})/?$")]
# The real hosts: the mobile API lives on m.weibo.cn, the ajax API on weibo.com, whichever was configured.
_REAL_HOSTS = {"weibo.com", "www.weibo.com", "m.weibo.cn", "weibo.cn"}
_JSON_HEADERS = {"Accept": "application/json, text/plain, */*", "X-Requested-With": "XMLHttpRequest",
                 "MWeibo-Pwa": "1"}
_MAX_HOPS = 3
# Weibo pages 10 posts; a page of nothing but pinned posts says nothing about the newest: read one more.
_EXTRA_PAGES_IF_ALL_PINNED = 1


def is_visitor_url(url: str) -> bool:
    return "/visitor/" in urlsplit(url).path or urlsplit(url).path.rstrip("/").endswith("/visitor")


def is_login_url(url: str) -> bool:
    parts = urlsplit(url)
    if is_visitor_url(url):
        return False
    return "/signin/login" in parts.path or "passport" in parts.netloc or "passport" in parts.path \
        or "/login" in parts.path


def weibo_uid(url: str) -> str:
    parts = urlsplit(url)
    for rx in _UID_PATHS:
        if m := rx.match(parts.path):
            return m.group(1)
    uid = parse_qs(parts.query).get("uid", [""])[0]
    if uid.isdigit():
        return uid
    raise UnsupportedUrl("微博地址中没有用户ID")


def endpoints(url: str, uid: str, page: int = 1) -> list[tuple[str, str]]:
    """[(kind, url)] of the JSON APIs to try, in order."""
    base = origin(url)
    host = urlsplit(url).hostname or ""
    mobile, web = (("https://m.weibo.cn", "https://weibo.com") if host in _REAL_HOSTS else (base, base))
    index = f"{mobile}/api/container/getIndex?containerid=107603{uid}" + (f"&page={page}" if page > 1 else "")
    return [("getIndex", index), ("mymblog", f"{web}/ajax/statuses/mymblog?uid={uid}&page={page}&feature=0")]


def _pinned(mblog: dict[str, Any], card: dict[str, Any] | None = None) -> bool:
    title = mblog.get("title")
    if not isinstance(title, dict):
        title = {}
    return (str(mblog.get("isTop", "0")) in ("1", "True", "true") or mblog.get("mblogtype") == 2
            or title.get("text") == "置顶" or bool(card and card.get("is_top")))


def _post(mblog: dict[str, Any], now: datetime, detail_base: str, text_key: str,
          card: dict[str, Any] | None = None) -> AccountPost:
    pid = str(mblog.get("idstr") or mblog.get("id") or mblog.get("mid") or "")
    if not pid:
        raise PageChanged("微博缺少ID")
    try:
        when = parse_weibo_time(str(mblog.get("created_at", "")), now)
    except ValueError:
        raise PageChanged(f"时间格式无法识别：{str(mblog.get('created_at'))[:40]}") from None
    text = mblog.get(text_key) or mblog.get("text") or ""
    return AccountPost(pid, when, make_title(text), f"{detail_base}/detail/{pid}", _pinned(mblog, card))


def parse_weibo_json(data: object, now: datetime, detail_base: str) -> list[AccountPost]:
    """Posts from a getIndex (`data.cards`) or mymblog (`data.list`) answer, newest first."""
    if not isinstance(data, dict):
        raise PageChanged("不是JSON对象")
    if str(data.get("ok", "1")) != "1":
        target = str(data.get("url") or "")
        if target and is_visitor_url(target):
            raise VisitorWall("需要访客Cookie")
        if target and is_login_url(target):
            raise LoginWall()
        raise PageChanged(f"ok={data.get('ok')}{' ' + str(data.get('msg'))[:40] if data.get('msg') else ''}")
    body = data.get("data")
    if not isinstance(body, dict):
        raise PageChanged("缺少data")
    posts: list[AccountPost] = []
    if isinstance(body.get("cards"), list):
        for card in body["cards"]:
            if not isinstance(card, dict):
                continue
            for sub in [card, *(card.get("card_group") or [])]:
                if isinstance(sub, dict) and isinstance(sub.get("mblog"), dict):
                    posts.append(_post(sub["mblog"], now, detail_base, "text", sub))
    elif isinstance(body.get("list"), list):
        for mblog in body["list"]:
            if isinstance(mblog, dict):
                posts.append(_post(mblog, now, detail_base, "text_raw"))
    else:
        raise PageChanged("缺少data.cards/data.list")
    if not posts:
        raise PageChanged("没有读到微博")
    return newest_first(posts)


def judge(resp: Response) -> object:
    """The JSON of one API answer, or the ReadError it means."""
    loc = resp.location
    if loc:
        if is_visitor_url(loc):
            raise VisitorWall("需要访客Cookie", location=loc)
        if is_login_url(loc):
            raise LoginWall()
        raise PageChanged(f"意外的重定向 {urlsplit(loc).path[:60]}")
    check_status(resp)
    text = resp.text().strip()
    try:
        return json.loads(text)
    except ValueError:
        low = text[:5000].lower()
        if "sina visitor system" in low or "visitor" in low and "sub" in low:
            raise VisitorWall("需要访客Cookie", location=resp.url) from None
        if "signin" in low or "登录" in text[:5000] and "<form" in low:
            raise LoginWall() from None
        raise PageChanged("返回的不是JSON") from None


_RANK = {LoginWall: 6, VisitorWall: 5, RateLimited: 4, NotFound: 3, PageChanged: 2, Unreachable: 1}


def _worst(errors: list[ReadError]) -> ReadError:
    """The most telling refusal among the endpoints' (a login wall says more than a missing field)."""
    return max(errors, key=lambda e: next((r for cls, r in _RANK.items() if isinstance(e, cls)), 0))


@register("weibo")
class WeiboReader(Reader):
    """新浪微博：先用移动端接口（纯HTTP），遇访客验证再用浏览器取得Cookie后读取。"""

    needs_browser = True  # only behind the visitor wall

    async def read(self, url: str, ctx: ReadContext) -> list[AccountPost]:
        uid = weibo_uid(url)

        async def plain(api: str) -> object:
            headers = {**_JSON_HEADERS, "User-Agent": MOBILE_UA, "Referer": url}
            for _ in range(_MAX_HOPS):
                resp = await ctx.http.get(api, headers=headers, max_redirects=0)
                loc = resp.location
                if loc and not is_visitor_url(loc) and not is_login_url(loc):
                    api = loc  # e.g. http → https, weibo.com → www.weibo.com
                    continue
                return judge(resp)
            raise PageChanged("重定向过多")

        errors: list[ReadError] = []
        for kind, api in endpoints(url, uid):
            try:
                return await self._with_more(plain, kind, url, uid, await plain(api), ctx)
            except LoginWall:
                raise  # the same wall stands in front of every endpoint and every browser
            except ReadError as e:
                errors.append(e)
        visitor = next((e for e in errors if isinstance(e, VisitorWall)), None)
        if visitor is None:
            raise _worst(errors)
        return await self._read_in_browser(url, uid, getattr(visitor, "location", None), ctx)

    async def _with_more(self, fetch: Callable[[str], Awaitable[object]], kind: str, url: str, uid: str,
                         data: object, ctx: ReadContext) -> list[AccountPost]:
        base = _detail_base(url)
        posts = parse_weibo_json(data, ctx.now, base)
        page = 1
        while all(p.pinned for p in posts) and page <= _EXTRA_PAGES_IF_ALL_PINNED:
            page += 1
            api = dict(endpoints(url, uid, page))[kind]
            try:
                posts = newest_first(posts + parse_weibo_json(await fetch(api), ctx.now, base))
            except ReadError:
                break  # page 1 was read; a missing page 2 does not make the account unreadable
        return posts

    async def _read_in_browser(self, url: str, uid: str, visitor_url: str | None,
                               ctx: ReadContext) -> list[AccountPost]:
        from playwright.async_api import Error as PlaywrightError

        async with ctx.get_browser().context() as bctx:
            page = await bctx.new_page()
            try:
                for target in [url, visitor_url]:
                    if not target:
                        continue
                    try:
                        await page.goto(target, wait_until="load")
                    except PlaywrightError as e:
                        # The visitor page's script navigates on before "load": not a failure by itself.
                        if "interrupted" not in str(e) and "ERR_ABORTED" not in str(e):
                            raise
                    await page.wait_for_load_state("load")
                    if is_login_url(page.url):
                        raise LoginWall("浏览器中")
                    if await _wait_for_cookie(bctx, min(ctx.timeout / 3, 5.0)):
                        break
            except PlaywrightError as e:
                msg = str(e)
                raise Unreachable("超时" if "Timeout" in msg else msg.splitlines()[0][:80]) from e

            async def in_context(api: str) -> object:
                for _ in range(_MAX_HOPS):
                    try:
                        r = await bctx.request.get(api, max_redirects=0, timeout=ctx.timeout * 1000,
                                                   headers={**_JSON_HEADERS, "Referer": url})
                        resp = Response(r.url, r.status, {k.lower(): v for k, v in r.headers.items()},
                                        await r.body())
                    except PlaywrightError as e:
                        raise Unreachable(str(e).splitlines()[0][:80]) from e
                    loc = resp.location
                    if loc and not is_visitor_url(loc) and not is_login_url(loc):
                        api = loc
                        continue
                    try:
                        return judge(resp)
                    except VisitorWall:
                        raise VisitorWall() from None  # the cookie did not get us through
                raise PageChanged("重定向过多")

            errors: list[ReadError] = []
            for kind, api in endpoints(url, uid):
                try:
                    return await self._with_more(in_context, kind, url, uid, await in_context(api), ctx)
                except LoginWall:
                    raise
                except ReadError as e:
                    errors.append(e)
            raise _worst(errors)


def _detail_base(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return "https://m.weibo.cn" if host in _REAL_HOSTS else origin(url)


async def _wait_for_cookie(bctx: BrowserContext, within: float, name: str = "SUB") -> bool:
    """Poll the context's cookies until the visitor script has set `name` (or time runs out)."""
    deadline = time.monotonic() + within
    while True:
        if any(c.get("name") == name for c in await bctx.cookies()):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)
