"""The content checks' storage on SQLite and PostgreSQL: a page re-read replaces its links and hits (nothing left
over, nothing twice), the link cache is one row a URL and says which links are due, and the facts the rules read
join each link to its cached outcome."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from storage import queries
from storage.db import get_sessionmaker
from storage.models import Column, LinkCheck, PageHit, PageLink, Unit

T0 = datetime(2020, 10, 1, tzinfo=timezone.utc)


def setup(url: str) -> tuple[int, int, int]:
    """A unit with a column, two crawl runs; returns (column id, run 1, run 2)."""
    sessions = get_sessionmaker(url)
    with sessions.begin() as session:
        unit = Unit(name="审计局", kind="department")
        session.add(unit)
        session.flush()
        column = Column(unit_id=unit.id, name="工作动态", url="http://127.0.0.1:1/sjj/gzdt/", category="dynamic")
        session.add(column)
        session.flush()
        first, second = queries.start_run(session, True), queries.start_run(session, False)
        queries.store_entries(session, column.id, [queries.EntryRow("http://127.0.0.1:1/a.html", "甲", T0, "list")])
        return column.id, first, second


def page(column_id: int, links: list[tuple[str, str]], hits: int = 0) -> queries.PageRecord:
    return queries.PageRecord(
        url="http://127.0.0.1:1/a.html", kind="article", title="甲", column_id=column_id,
        meta_missing=("SiteIDCode",), links=[queries.LinkRow(u, k, "文字") for u, k in links],
        hits=[queries.HitRow("content.typo", "再接再励", "再接再厉", "…【再接再励】…")] * hits)


def test_a_re_read_page_replaces_its_links_and_hits(db_url: str) -> None:
    column_id, first, second = setup(db_url)
    sessions = get_sessionmaker(db_url)
    with sessions.begin() as session:
        queries.store_page(session, first, page(column_id, [("http://127.0.0.1:1/x.pdf", "attachment"),
                                                             ("http://127.0.0.1:1/y.png", "image")], hits=2))
    with sessions.begin() as session:
        queries.store_page(session, second, page(column_id, [("http://127.0.0.1:1/x.pdf", "attachment")], hits=1))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PageLink)) == 1
        assert session.scalar(select(func.count()).select_from(PageHit)) == 1
        facts = queries.article_facts(session, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [(f.url, f.unit, f.meta_missing, len(f.links), len(f.hits)) for f in facts] == [
        ("http://127.0.0.1:1/a.html", "审计局", ("SiteIDCode",), 1, 1)]
    with sessions() as session:  # a post outside the window is not judged
        assert queries.article_facts(session, T0 + timedelta(days=1), T0 + timedelta(days=30)) == []


def test_the_link_cache_is_one_row_a_url_and_says_what_is_due(db_url: str) -> None:
    column_id, first, _ = setup(db_url)
    sessions = get_sessionmaker(db_url)
    links = [("http://127.0.0.1:1/x.pdf", "attachment"), ("http://127.0.0.1:1/y.png", "image"),
             ("http://127.0.0.1:1/z.html", "link")]
    with sessions.begin() as session:
        queries.store_page(session, first, page(column_id, links))
        assert sorted(queries.links_due(session, first, T0)) == sorted(links)
        queries.record_link_checks(session, [queries.LinkOutcomeRow(links[0][0], False, 404, "HTTP 404 错误"),
                                             queries.LinkOutcomeRow(links[1][0], None, None, "未检查：网站无法访问")],
                                   at=T0)
    with sessions.begin() as session:
        # checked at T0: not due for a cut before it; undetermined and unchecked ones are due whatever the cut
        assert sorted(queries.links_due(session, first, T0 - timedelta(days=7))) == sorted(links[1:])
        assert sorted(queries.links_due(session, first, T0 + timedelta(days=1))) == sorted(links)
        queries.record_link_checks(session, [queries.LinkOutcomeRow(links[0][0], True, 200, "正常（HTTP 200）")],
                                   at=T0 + timedelta(days=8))
    with sessions() as session:
        rows = session.execute(select(LinkCheck.url, LinkCheck.ok, LinkCheck.http_status)).all()
        facts = queries.article_facts(session, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert sorted(rows) == sorted([(links[0][0], True, 200), (links[1][0], None, None)])
    assert {(link.url, link.ok) for link in facts[0].links} == {(links[0][0], True), (links[1][0], None),
                                                                (links[2][0], None)}


def test_home_pages_are_judged_as_last_read(db_url: str) -> None:
    _, first, second = setup(db_url)
    sessions = get_sessionmaker(db_url)
    home = "http://127.0.0.1:1/"
    for run, newest in ((first, T0.date() - timedelta(days=30)), (second, T0.date())):
        with sessions.begin() as session:
            queries.store_page(session, run, queries.PageRecord(url=home, kind="home", site_url=home,
                                                                newest_date=newest, dated_items=12))
    with sessions() as session:
        facts = queries.home_facts(session, [home])
        assert queries.home_facts(session, ["http://127.0.0.1:2/"]) == []
    assert [(f.column_url, f.newest_date, f.dated_items) for f in facts] == [(home, T0.date(), 12)]
