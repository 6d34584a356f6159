"""WeChat official accounts (公众号), which have no public list of posts; three sources, chosen by URL path:

- an article page `/s/{id}` or `/s?__biz=…` (mp.weixin.qq.com): its publish time (`var ct = "…"`,
  `create_time`, else the meta tags) and title; one article gives one post;
- a Sogou WeChat account search `/weixin?type=1&query=…` (weixin.sogou.com): the account's 最近文章 and its
  `timeConvert('…')` timestamp;
- an RSS/Atom bridge (WeWe RSS `/feeds/MP_WXS_….atom|.rss`, RSSHub `/rsshub/wechat/mp/…`): the feed
  reader, plus the bridge's own way of failing (503, or an entry telling its owner to log in again).
Plain HTTP only: none of these needs JavaScript to show its dates.
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from urllib.parse import parse_qs, urljoin, urlsplit

from lxml import html as lxml_html

from crawler.encoding import decode_html
from crawler.readers.base import (
    AccountPost, BridgeExpired, Deleted, PageChanged, RateLimited, ReadContext, ReadError, Reader, Unreachable,
    UnsupportedUrl, VisitorWall, check_status, clip_id, make_title, register, strip_html,
)
from crawler.readers.feed import FeedReader, parse_feed
from crawler.readers.timeparse import from_timestamp, parse_weibo_time

DELETED_MARKERS = ("该内容已被发布者删除", "此内容因违规无法查看", "此内容被投诉且经审核涉嫌侵权",
                   "此内容发送失败无法查看", "该内容已被删除")
CAPTCHA_MARKERS = ("环境异常", "完成验证后即可继续访问")
ANTISPIDER_MARKERS = ("异常访问", "seccodeImage")
EXPIRED_MARKERS = ("登录失效", "重新登录", "登录过期", "账号失效", "授权失效", "授权过期")
_TS_RES = [re.compile(p) for p in (
    r"""\bvar\s+ct\s*=\s*["']?(\d{9,11})""",
    r"""\bct\s*=\s*["'](\d{9,11})["']""",
    r"""\bcreate_time\s*[:=]\s*(?:JsDecode\()?["']?(\d{9,11})""",
)]
_TEXT_TIME_RE = re.compile(
    r"""\bcreate_time\s*[:=]\s*["'](\d{4}-\d{1,2}-\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?)["']""")
_TITLE_RES = [re.compile(p) for p in (r"""\bvar\s+msg_title\s*=\s*'((?:[^'\\]|\\.)*)'""",
                                      r"""\bvar\s+msg_title\s*=\s*"((?:[^"\\]|\\.)*)\"""")]
_TIMECONVERT_RE = re.compile(r"timeConvert\(\s*['\"]?(\d{9,11})")
_META_TIME = ("article:published_time", "og:article:published_time", "og:published_time", "publish_time",
              "PubDate")


def _meta(doc: lxml_html.HtmlElement, *names: str) -> str | None:
    for name in names:
        for attr in ("property", "name"):
            found = doc.xpath(f"//meta[@{attr}=$n]/@content", n=name)
            if found and found[0].strip():
                return found[0].strip()
    return None


def _unescape_js(s: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), s).replace("\\'", "'") \
        .replace('\\"', '"').replace("\\\\", "\\")


def _article_id_of(url: str | None) -> str | None:
    """The article id of an mp.weixin.qq.com-style `/s/{id}` or `/s?__biz=…&mid=…` link, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.path.startswith("/s/") or (parts.path == "/s" and "mid=" in parts.query):
        return article_id(url)
    return None


def article_id(url: str) -> str:
    parts = urlsplit(url)
    if parts.path.startswith("/s/") and parts.path[3:].strip("/"):
        return parts.path[3:].strip("/")
    q = parse_qs(parts.query)
    if q.get("__biz") and q.get("mid"):
        return f"{q['__biz'][0]}:{q['mid'][0]}:{q.get('idx', ['1'])[0]}"
    return clip_id(url)


def parse_article(page: str, url: str, now: datetime) -> AccountPost:
    """The one post an article page gives; Deleted for a removal notice, PageChanged without a time."""
    if any(m in page for m in DELETED_MARKERS):
        raise Deleted()
    if any(m in page for m in CAPTCHA_MARKERS):
        raise VisitorWall("微信环境验证")
    doc = lxml_html.fromstring(page or "<html/>")
    when = None
    for rx in _TS_RES:
        if m := rx.search(page):
            when = from_timestamp(m.group(1))
            break
    if when is None and (m := _TEXT_TIME_RE.search(page)):
        when = parse_weibo_time(m.group(1), now)
    if when is None:
        shown = _meta(doc, *_META_TIME) or "".join(doc.xpath("//*[@id='publish_time']//text()")).strip()
        if shown:
            try:
                when = parse_weibo_time(shown, now)
            except ValueError:
                raise PageChanged(f"时间格式无法识别：{shown[:40]}") from None
    if when is None:
        raise PageChanged("文章页没有发布时间")
    title = ""
    for rx in _TITLE_RES:
        if m := rx.search(page):
            title = _unescape_js(m.group(1))
            break
    if not title:
        title = " ".join("".join(doc.xpath("//*[@id='activity-name']//text()")).split())
    if not title:
        title = _meta(doc, "og:title", "twitter:title") or ""
    return AccountPost(article_id(url), when, make_title(title), url)


def parse_sogou(page: str, url: str) -> AccountPost:
    """The newest article of the searched account from a Sogou WeChat account search result."""
    if any(m in page for m in ANTISPIDER_MARKERS):
        raise RateLimited("搜狗反爬验证")
    doc = lxml_html.fromstring(page or "<html/>")
    query = parse_qs(urlsplit(url).query).get("query", [""])[0].strip()
    blocks = [dl for dl in doc.iter("dl") if "最近文章" in "".join(dl.xpath("./dt//text()"))]
    if not blocks:
        if doc.xpath("//ul[contains(@class,'news-list2')]/li") or query and query in page:
            raise PageChanged("搜狗结果中没有最近文章")
        raise PageChanged("搜狗未找到该公众号")

    def names(dl: lxml_html.HtmlElement) -> set[str]:
        li = next((a for a in dl.iterancestors("li")), None)
        if li is None:
            return set()
        found = {" ".join("".join(n.xpath(".//text()")).split())
                 for n in li.xpath(".//p[contains(@class,'tit')]|.//label[@name='em_weixinhao']")}
        return {strip_html(n) for n in found if n}

    dl = next((b for b in blocks if query and query in names(b)), blocks[0])
    link = next(iter(dl.xpath("./dd//a")), None)
    if link is None:
        raise PageChanged("最近文章没有链接")
    title = " ".join(link.text_content().split())
    m = _TIMECONVERT_RE.search(lxml_html.tostring(dl, encoding="unicode"))
    if not m:
        raise PageChanged("最近文章没有时间")
    when = from_timestamp(m.group(1))
    href = link.get("href")
    return AccountPost(clip_id(f"sogou:{m.group(1)}:{title}"), when, make_title(title),
                       urljoin(url, href) if href else None)


def source_of(url: str) -> str:
    """article | sogou | bridge, from the URL path."""
    path = urlsplit(url).path
    if path == "/s" or path.startswith("/s/"):
        return "article"
    if path.rstrip("/").endswith("/weixin"):
        return "sogou"
    if (path.startswith("/feeds/") or "/rsshub/" in path or path.startswith("/wechat/")
            or path.endswith((".atom", ".rss", ".xml", ".json"))):
        return "bridge"
    raise UnsupportedUrl("不是文章、搜狗搜索或订阅源地址")


@register("wechat")
class WechatReader(Reader):
    """微信公众号：读取文章页、搜狗微信搜索或RSS桥接（WeWe RSS、RSSHub）中的最新文章时间。"""

    needs_browser = False

    async def read(self, url: str, ctx: ReadContext) -> list[AccountPost]:
        source = source_of(url)
        if source == "bridge":
            return await self._bridge(url, ctx)
        resp = await ctx.http.get(url)
        chain = [*resp.redirects, resp.url]
        if source == "sogou" and any("/antispider" in urlsplit(u).path for u in chain):
            raise RateLimited("搜狗反爬验证")
        check_status(resp)
        if source == "article":
            return [parse_article(resp.text(), url, ctx.now)]
        return [await self._resolve_sogou_link(parse_sogou(resp.text(), url), ctx)]

    async def _resolve_sogou_link(self, post: AccountPost, ctx: ReadContext) -> AccountPost:
        """Sogou's `/link?url=…` tokens change on every search; when the link redirects to the article,
        take the article's own id and address (stable across reads and sources). Else keep what we have."""
        if not post.url or "/link" not in urlsplit(post.url).path:
            return post
        try:
            resp = await ctx.http.get(post.url, max_redirects=0)
        except ReadError:
            return post
        aid = _article_id_of(resp.location)
        return replace(post, platform_id=aid, url=resp.location) if aid else post

    async def _bridge(self, url: str, ctx: ReadContext) -> list[AccountPost]:
        try:
            body = await FeedReader().fetch(url, ctx)
        except Unreachable as e:
            if e.detail == "HTTP 503":  # RSSHub and WeWe RSS answer 503 when their WeChat login is gone
                raise BridgeExpired("HTTP 503") from e
            raise
        try:
            posts, titles = parse_feed(body, url)
        except PageChanged:
            text = decode_html(body[:20000], None)
            if any(m in text for m in EXPIRED_MARKERS):
                raise BridgeExpired() from None
            raise
        if any(m in t for t in titles for m in EXPIRED_MARKERS):
            raise BridgeExpired()
        # One article, one id, whichever way it was read (article page, Sogou, WeWe RSS, RSSHub).
        return [replace(p, platform_id=_article_id_of(p.url) or p.platform_id) for p in posts]
