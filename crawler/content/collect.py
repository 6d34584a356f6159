"""From a fetched page to what the content checks store (`storage.queries.PageRecord`): the crawl's one step
between `crawler.content.page` (reading) and the pipeline (storing)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from crawler.content.page import ATTACHMENT_EXTENSIONS, PageContent, missing_meta, read_article, read_home
from crawler.content.textmatch import TextMatcher
from storage.queries import HitRow, LinkRow, PageRecord

# Links of one page checked at most (a page of 5,000 links is a dump or a trap): the rest are counted, not checked.
MAX_LINKS_PER_PAGE = 1000


@dataclass(frozen=True)
class ContentPlan:
    """What a crawl with `[content] enabled` does besides reading the lists."""

    matcher: TextMatcher
    max_articles: int  # article pages opened a column and run, newest first
    homes: tuple[str, ...] = ()  # the configured sites' home pages to read (their URLs)


def article_record(html: str, url: str, column_id: int, matcher: TextMatcher) -> PageRecord:
    """An article page: the links, images and attachments of its body, the hits in its text, its meta tags."""
    page = read_article(html, url)
    hits = [HitRow(h.rule, h.term, h.suggestion, h.context, h.serious) for h in matcher.find(page.text)]
    return _record(page, url, "article", column_id=column_id, hits=hits, body_only=True)


def home_record(html: str, url: str, site_url: str, today: date) -> PageRecord:
    """A site's home page: every link and image on it, the newest date of its lists (a year-less 10-09 placed by
    `today`, the day it was read), its meta tags."""
    return _record(read_home(html, url, today=today), url, "home", site_url=site_url)


def _record(page: PageContent, url: str, kind: str, *, column_id: int | None = None, site_url: str | None = None,
            hits: list[HitRow] | None = None, body_only: bool = False) -> PageRecord:
    links = [LinkRow(link.url, link.kind, link.text) for link in page.links
             if (link.in_body or not body_only) and link.url.startswith(("http://", "https://"))]
    return PageRecord(url=url, kind=kind, title=page.title, column_id=column_id, site_url=site_url,
                      meta_missing=missing_meta(page.meta, kind), newest_date=page.newest_date,
                      dated_items=page.dated_items, links=links[:MAX_LINKS_PER_PAGE], hits=hits or [],
                      links_skipped=max(0, len(links) - MAX_LINKS_PER_PAGE))


def is_attachment(url: str) -> bool:
    """A URL whose path names a file (.pdf, .docx, …): a list entry that is a file is not an article page."""
    path = urlsplit(url).path.lower()
    return any(path.endswith(ext) for ext in ATTACHMENT_EXTENSIONS)
