"""Content checks (issue 11): pages read for them, their links and text hits, and the shared link-check cache."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, distinct, func, insert, or_, select
from sqlalchemy.orm import Session

from storage.models import Column, LinkCheck, Page, PageHit, PageLink, Post, Unit, utcnow
from storage.queries._sql import dialect_insert


@dataclass(frozen=True)
class LinkRow:
    url: str
    kind: str  # link | image | attachment
    text: str = ""


@dataclass(frozen=True)
class HitRow:
    rule: str  # content.typo | content.sensitive
    term: str
    suggestion: str = ""
    context: str = ""
    serious: bool = False


@dataclass(frozen=True)
class PageRecord:
    """A page as read by the crawl, to be stored whole (replacing an earlier read of the same URL)."""

    url: str
    kind: str  # article | home
    title: str = ""
    column_id: int | None = None
    site_url: str | None = None
    meta_missing: tuple[str, ...] = ()
    newest_date: date | None = None
    dated_items: int = 0
    links: Sequence[LinkRow] = ()
    hits: Sequence[HitRow] = ()
    links_skipped: int = 0


def store_page(session: Session, run_id: int | None, page: PageRecord) -> None:
    """One page in one transaction (the caller's): a kill never leaves half a page, a re-read replaces it."""
    old = session.scalar(select(Page.id).where(Page.url == page.url))
    if old is not None:
        session.execute(delete(PageLink).where(PageLink.page_id == old))
        session.execute(delete(PageHit).where(PageHit.page_id == old))
        session.execute(delete(Page).where(Page.id == old))
    row = Page(url=page.url, kind=page.kind, column_id=page.column_id, site_url=page.site_url, run_id=run_id,
               fetched_at=utcnow(), title=page.title[:500], meta_missing=" ".join(page.meta_missing)[:300],
               newest_date=page.newest_date, dated_items=page.dated_items, links_skipped=page.links_skipped)
    session.add(row)
    session.flush()
    if page.links:
        session.execute(insert(PageLink), [
            {"page_id": row.id, "url": link.url[:2000], "kind": link.kind, "text": link.text[:200]}
            for link in page.links])
    if page.hits:
        session.execute(insert(PageHit), [
            {"page_id": row.id, "rule": h.rule, "term": h.term[:200], "suggestion": h.suggestion[:200],
             "context": h.context[:300], "serious": h.serious} for h in page.hits])


def links_due(session: Session, run_id: int, checked_before: datetime) -> list[tuple[str, str]]:
    """The (url, kind) pairs on the pages this run read whose check is missing, older than `checked_before`,
    or undetermined (its host could not be reached last time): each URL once."""
    query = (select(PageLink.url, PageLink.kind)
             .join(Page, Page.id == PageLink.page_id)
             .outerjoin(LinkCheck, LinkCheck.url == PageLink.url)
             .where(Page.run_id == run_id,
                    or_(LinkCheck.id.is_(None), LinkCheck.checked_at < checked_before, LinkCheck.ok.is_(None)))
             .order_by(PageLink.id))
    seen: dict[str, str] = {}
    for url, kind in session.execute(query):
        # an attachment check is the strictest (an HTML page is not the file): it wins for a URL seen as both
        if url not in seen or kind == "attachment":
            seen[url] = kind
    return list(seen.items())


def run_link_count(session: Session, run_id: int) -> int:
    """Distinct link URLs on the pages this run read."""
    query = (select(func.count(distinct(PageLink.url))).join(Page, Page.id == PageLink.page_id)
             .where(Page.run_id == run_id))
    return session.scalar(query) or 0


@dataclass(frozen=True)
class LinkOutcomeRow:
    url: str
    ok: bool | None
    http_status: int | None
    outcome: str


def record_link_checks(session: Session, outcomes: Iterable[LinkOutcomeRow], at: datetime | None = None) -> None:
    """Upsert each URL's newest outcome into the shared cache."""
    at = at or utcnow()
    rows = [{"url": o.url[:2000], "checked_at": at, "ok": o.ok, "http_status": o.http_status, "outcome": o.outcome}
            for o in outcomes]
    if not rows:
        return
    insert = dialect_insert(session)(LinkCheck)
    statement = insert.on_conflict_do_update(
        index_elements=[LinkCheck.url],
        set_={"checked_at": insert.excluded.checked_at, "ok": insert.excluded.ok,
              "http_status": insert.excluded.http_status, "outcome": insert.excluded.outcome})
    session.execute(statement, rows)


@dataclass(frozen=True)
class CheckedLink:
    url: str
    kind: str
    text: str
    ok: bool | None  # None: not checked yet, or undetermined
    http_status: int | None
    outcome: str


@dataclass(frozen=True)
class PageFact:
    """A page read for the content checks, with what the rules judge on it."""

    url: str
    kind: str  # article | home
    title: str
    unit: str  # the unit of the column it was read for ("" for a home page)
    column_url: str  # the column's URL (a home page: the site's URL)
    column_name: str
    published_at: datetime | None  # the post's date (articles)
    fetched_at: datetime
    meta_missing: tuple[str, ...]
    links: list[CheckedLink] = field(default_factory=list)
    hits: list[HitRow] = field(default_factory=list)
    newest_date: date | None = None
    dated_items: int = 0


def article_facts(session: Session, start: datetime, end: datetime, unit: str | None = None) -> list[PageFact]:
    """The article pages of posts published in [start, end) (an undated post: read in that time), by unit."""
    query = (select(Page, Column.url, Column.name, Unit.name, Post.published_at)
             .join(Column, Column.id == Page.column_id).join(Unit, Unit.id == Column.unit_id)
             .outerjoin(Post, Post.url == Page.url)
             .where(Page.kind == "article", Column.active,
                    or_((Post.published_at >= start) & (Post.published_at < end),
                        Post.published_at.is_(None) & (Page.fetched_at >= start) & (Page.fetched_at < end)))
             .order_by(Unit.id, Column.id, Page.id))
    if unit is not None:
        query = query.where(Unit.name == unit)
    rows = session.execute(query).all()
    facts = [PageFact(p.url, p.kind, p.title, u, curl, cname, published, p.fetched_at,
                      tuple(p.meta_missing.split()), links=[], hits=[])
             for p, curl, cname, u, published in rows]
    _attach(session, [p.id for p, *_ in rows], facts)
    return facts


def home_facts(session: Session, site_urls: Sequence[str]) -> list[PageFact]:
    """Each configured site's home page as last read (one row a page: a new read replaces the last; a home page
    read after the evaluation's date still shows what it held then, as the posts' own dates do)."""
    if not site_urls:
        return []
    rows = session.scalars(select(Page).where(Page.kind == "home", Page.site_url.in_(site_urls))
                           .order_by(Page.id)).all()
    facts = [PageFact(p.url, p.kind, p.title, "", p.site_url or p.url, "", None, p.fetched_at,
                      tuple(p.meta_missing.split()), links=[], hits=[], newest_date=p.newest_date,
                      dated_items=p.dated_items) for p in rows]
    _attach(session, [p.id for p in rows], facts)
    return facts


def _attach(session: Session, page_ids: list[int], facts: list[PageFact]) -> None:
    """Fills each fact's links (with their cached check) and hits, in two queries a thousand pages."""
    index = dict(zip(page_ids, facts))
    for chunk in (page_ids[i:i + 1000] for i in range(0, len(page_ids), 1000)):
        links = session.execute(
            select(PageLink.page_id, PageLink.url, PageLink.kind, PageLink.text, LinkCheck.ok, LinkCheck.http_status,
                   LinkCheck.outcome)
            .outerjoin(LinkCheck, LinkCheck.url == PageLink.url)
            .where(PageLink.page_id.in_(chunk)).order_by(PageLink.id))
        for page_id, url, kind, text, ok, status, outcome in links:
            index[page_id].links.append(CheckedLink(url, kind, text, ok, status, outcome or ""))
        hits = session.execute(select(PageHit).where(PageHit.page_id.in_(chunk)).order_by(PageHit.id)).scalars()
        for h in hits:
            index[h.page_id].hits.append(HitRow(h.rule, h.term, h.suggestion, h.context, h.serious))
