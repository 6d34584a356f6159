"""The content rules (issue 11): pure functions of the pages read for the content checks, as of a date.

Article pages are judged for the unit of the column they were read for, one finding per page and rule (its
target the page's URL, each problem an `Evidence`); a column's missing meta tags are one finding per column;
a site's home page is judged for the unit that answers for the site (`[[sites]] unit`), its links counted apart
from the other pages' as the national indicators count them.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from config.model import RuleSettings
from config.registry import registrar
from monitors.rules import Evidence, Finding, Severity
from storage.queries import PageFact


@dataclass(frozen=True)
class ContentContext:
    """What the content rules know besides the pages: the district's own hosts and the settings."""

    own_netlocs: frozenset[str]  # host:port of the configured sites and columns
    allow_domains: tuple[str, ...]  # [content] allow_domains
    knows: Callable[[str, str], bool]  # (rule, term): is a stored hit's term still in today's dictionaries


PageRule = Callable[[Sequence[PageFact], ContentContext], list[Finding]]
CONTENT_RULES: dict[str, PageRule] = {}
content_rule = registrar(CONTENT_RULES, "rule")

LINK_KIND_RULES = {"link": "link.broken", "image": "image.broken", "attachment": "attachment.broken"}
LINK_KIND_LABELS = {"link": "链接", "image": "图片", "attachment": "附件"}
SITE_HOMEPAGE_STALE = "site.homepage_stale"
SHOWN = 3  # problems named in a finding's sentence; the rest are in its evidence
# What each content rule's problem is called in the notice, its attachment and the demo, worded as the seed's
# demand (确保公开的内容未涉密、无错别字、无敏感信息、无发布非政府网站链接、排版正常、图片正常显示、附件能够下载).
CONTENT_LABELS = {
    "link.broken": "链接无法打开",
    "image.broken": "图片无法显示",
    "attachment.broken": "附件无法下载",
    "link.external": "非政府网站链接",
    "content.typo": "错别字",
    "content.sensitive": "敏感词",
    "meta.missing": "元数据缺失",
    SITE_HOMEPAGE_STALE: "首页长期未更新",
}


def evaluate_pages(pages: Sequence[PageFact], ctx: ContentContext) -> list[Finding]:
    """Every content rule over a unit's article pages."""
    return [f for func in CONTENT_RULES.values() for f in func(pages, ctx)]


def page_label(page: PageFact) -> str:
    title = page.title.strip() or page.url
    return f"《{title[:60]}》" + (f"（栏目“{page.column_name}”）" if page.column_name else "")


def _named(items: Sequence[str]) -> str:
    return "；".join(items[:SHOWN]) + (f" 等 {len(items)} 处" if len(items) > SHOWN else "")


def _broken(pages: Sequence[PageFact], kind: str, where: Callable[[PageFact], str]) -> list[Finding]:
    rule_id, label = LINK_KIND_RULES[kind], LINK_KIND_LABELS[kind]
    out = []
    for page in pages:
        bad = [link for link in page.links if link.kind == kind and link.ok is False]
        bad = list({link.url: link for link in bad}.values())
        if not bad:
            continue
        named = [f"“{link.text}” {link.url}（{link.outcome}）" if link.text else f"{link.url}（{link.outcome}）"
                 for link in bad]
        out.append(Finding(rule_id, Severity.FAIL, page.url,
                           f"{where(page)}有 {len(bad)} 个{label}"
                           f"{dict(attachment='无法下载', image='无法显示').get(kind, '无法打开')}："
                           f"{_named(named)}", unit=page.unit, measure=len(bad),
                           evidence=tuple(Evidence(link.url, link.text, link.outcome) for link in bad)))
    return out


@content_rule("link.broken")
def link_broken(pages: Sequence[PageFact], ctx: ContentContext) -> list[Finding]:
    """链接不可用：页面中的链接无法打开（重试后仍失败；首页与其他页面分开统计）。"""
    return _broken(pages, "link", page_label)


@content_rule("image.broken")
def image_broken(pages: Sequence[PageFact], ctx: ContentContext) -> list[Finding]:
    """图片无法显示：页面中的图片地址无法打开，或返回的不是图片。"""
    return _broken(pages, "image", page_label)


@content_rule("attachment.broken")
def attachment_broken(pages: Sequence[PageFact], ctx: ContentContext) -> list[Finding]:
    """附件无法下载：附件地址无法打开，或返回的是“文件不存在”之类的网页而不是文件。"""
    return _broken(pages, "attachment", page_label)


@functools.cache
def _extractor() -> object:
    import tldextract

    # the snapshot of the public suffix list shipped with tldextract: no request at run time
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def government_host(host: str) -> bool:
    """A host under .gov.cn by the public suffix rules (www.fuzhou.gov.cn; not gov.cn.example.com)."""
    suffix = _extractor()(host).suffix  # type: ignore[operator]
    return bool(suffix) and (suffix == "gov.cn" or suffix.endswith(".gov.cn"))


def external(url: str, ctx: ContentContext) -> bool:
    """A link to a site that is neither the district's own, nor a government site, nor allowed in settings."""
    from urllib.parse import urlsplit

    from crawler.middlewares import netloc

    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host or parts.scheme not in ("http", "https") or netloc(url) in ctx.own_netlocs:
        return False
    if any(host == d or host.endswith("." + d) for d in (a.lower().strip(".") for a in ctx.allow_domains)):
        return False
    return not government_host(host)


@content_rule("link.external")
def link_external(pages: Sequence[PageFact], ctx: ContentContext) -> list[Finding]:
    """发布非政府网站链接：文章正文链接到政府网站（.gov.cn）、本站和允许的平台以外的网站。"""
    out = []
    for page in pages:
        if page.kind != "article":
            continue
        links = list({link.url: link for link in page.links if link.kind == "link" and external(link.url, ctx)}
                     .values())
        if not links:
            continue
        named = [f"“{link.text}” {link.url}" if link.text else link.url for link in links]
        out.append(Finding("link.external", Severity.FAIL, page.url,
                           f"{page_label(page)}正文有 {len(links)} 个非政府网站链接：{_named(named)}",
                           unit=page.unit, measure=len(links),
                           evidence=tuple(Evidence(link.url, link.text, "非政府网站") for link in links)))
    return out


def _hits(pages: Sequence[PageFact], ctx: ContentContext, rule_id: str) -> list[Finding]:
    out = []
    for page in pages:
        hits = [h for h in page.hits if h.rule == rule_id and ctx.knows(h.rule, h.term)]
        if not hits:
            continue
        if rule_id == "content.typo":
            named = [f"“{h.term}”应为“{h.suggestion}”" for h in hits]
            what = "错别字或错误表述"
        else:
            named = [f"“{h.term}”" for h in hits]
            what = "敏感词"
        serious = any(h.serious for h in hits)
        out.append(Finding(rule_id, Severity.VETO if serious else Severity.FAIL, page.url,
                           f"{page_label(page)}有 {len(hits)} 处{what}"
                           + ("（含严重表述错误）" if serious else "") + f"：{_named(named)}",
                           unit=page.unit, measure=len(hits),
                           evidence=tuple(Evidence(h.term, h.context, h.suggestion, h.serious) for h in hits)))
    return out


@content_rule("content.typo")
def content_typo(pages: Sequence[PageFact], ctx: ContentContext) -> list[Finding]:
    """错别字：文章中出现常见错别字，或领导姓名、机构名称、固定表述写错（后者为严重表述错误，单项否决）。"""
    return _hits(pages, ctx, "content.typo")


@content_rule("content.sensitive")
def content_sensitive(pages: Sequence[PageFact], ctx: ContentContext) -> list[Finding]:
    """敏感词：文章中出现本区设定的敏感词。"""
    return _hits(pages, ctx, "content.sensitive")


@content_rule("meta.missing")
def meta_missing(pages: Sequence[PageFact], ctx: ContentContext) -> list[Finding]:
    """页面元数据缺失：文章页缺少 SiteName、SiteDomain、SiteIDCode、ColumnName、ArticleTitle、PubDate、ContentSource 等
    标准元数据，每个栏目一条；首页缺少 SiteIDCode 等。"""
    by_column: dict[str, list[PageFact]] = {}
    for page in pages:
        if page.meta_missing:
            by_column.setdefault(page.column_url, []).append(page)
    out = []
    for column_url, lacking in by_column.items():
        first = lacking[0]
        names = "、".join(dict.fromkeys(n for p in lacking for n in p.meta_missing))
        where = "首页" if first.kind == "home" else f"栏目“{first.column_name}”有 {len(lacking)} 个文章页"
        out.append(Finding("meta.missing", Severity.WARN, column_url, f"{where}缺少元数据 {names}",
                           unit=first.unit, measure=len(lacking),
                           evidence=tuple(Evidence(p.url, p.title, " ".join(p.meta_missing)) for p in lacking)))
    return out


def evaluate_homes(homes: Sequence[PageFact], ctx: ContentContext, as_of: date, params: RuleSettings,
                   site_names: dict[str, str]) -> list[Finding]:
    """A site's home page: its links, images and meta tags (counted apart from the other pages), and whether
    its dated lists have anything new (site.homepage_stale)."""
    def where(page: PageFact) -> str:
        return f"网站“{site_names.get(page.column_url, page.column_url)}”首页"

    found = _broken(homes, "link", where) + _broken(homes, "image", where) + meta_missing(homes, ctx)
    return found + homepage_stale(homes, as_of, params, site_names)


def homepage_stale(homes: Sequence[PageFact], as_of: date, params: RuleSettings,
                   site_names: dict[str, str]) -> list[Finding]:
    """首页长期不更新：首页带日期的信息两周内没有更新（无日期的不算更新），单项否决（国办秘函〔2019〕19号）。"""
    out = []
    for page in homes:
        name = site_names.get(page.column_url, page.column_url)
        newest = page.newest_date
        if newest is not None and (as_of - newest).days <= params.homepage_stale_days:
            continue
        days = (as_of - newest).days if newest is not None else None
        detail = (f"网站“{name}”首页最新信息日期为 {newest:%Y-%m-%d}，已 {days} 天未更新（超过 "
                  f"{params.homepage_stale_days} 天）" if newest is not None
                  else f"网站“{name}”首页未找到带日期的信息，无法确认 {params.homepage_stale_days} 天内有更新")
        out.append(Finding(SITE_HOMEPAGE_STALE, Severity.VETO, page.column_url, detail, measure=days,
                           limit=params.homepage_stale_days, since=newest))
    return out


# Every content rule id (the pages' and the home page's staleness): what the report's 内容问题 lists.
CONTENT_RULE_IDS = frozenset({*CONTENT_RULES, SITE_HOMEPAGE_STALE})
