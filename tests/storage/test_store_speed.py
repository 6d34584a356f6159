"""store_entries is set-based (issue 13): a few statements a page whatever its size, no COUNT, a date UPDATE only
for posts stored undated before the page; the same posts, dates and listings as a row-by-row upsert."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, select

from storage import queries
from storage.db import get_engine, get_sessionmaker
from storage.models import Column, ColumnPost, Post
from tests.storage.test_queries import setup

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2020, 9, 1, 9, tzinfo=TZ)
BASE = "http://127.0.0.1:9/s/"


@contextmanager
def statements(db_url: str) -> Iterator[list[str]]:
    """The SQL statements sent to the database (one per cursor call, executemany included) inside the block."""
    seen: list[str] = []
    engine = get_engine(db_url)

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()).upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def dated(i: int) -> queries.EntryRow:
    return queries.EntryRow(f"{BASE}{i}", f"标题{i}", DAY - timedelta(days=i), "list")


def undated(i: int) -> queries.EntryRow:
    return queries.EntryRow(f"{BASE}{i}", f"标题{i}", None, None)


def posts(db_url: str) -> dict[str, tuple[str, datetime | None, str | None]]:
    with get_sessionmaker(db_url)() as s:
        return {p.url: (p.title, p.published_at, p.date_source) for p in s.scalars(select(Post))}


def links(db_url: str) -> set[tuple[str, str]]:
    with get_sessionmaker(db_url)() as s:
        query = (select(Column.name, Post.url).select_from(ColumnPost)
                 .join(Column, Column.id == ColumnPost.column_id).join(Post, Post.id == ColumnPost.post_id))
        return {(name, url) for name, url in s.execute(query)}


def crud(sql: list[str]) -> list[str]:
    """The writing and counting statements (the transaction's BEGIN/COMMIT and the SELECT of stored posts aside)."""
    return [s.split(" ")[0] + (" COUNT" if "COUNT(" in s else "") for s in sql if not s.startswith(("BEGIN", "COMMIT"))]


def test_statements_per_page_do_not_grow_with_its_size(db_url: str) -> None:
    cols = setup(db_url)
    gzdt = cols["sjj/工作动态"]
    sessions = get_sessionmaker(db_url)
    for size in (5, 60):
        page = [dated(size * 1000 + i) for i in range(size)]
        with statements(db_url) as sql, sessions.begin() as s:
            assert queries.store_entries(s, gzdt, page) == size
        # one SELECT of what is stored, one INSERT of the posts, one INSERT of the listing: no COUNT, no UPDATE
        assert crud(sql) == ["SELECT", "INSERT", "INSERT"], sql
    with statements(db_url) as sql, sessions.begin() as s:  # a replay: nothing new, nothing to insert
        assert queries.store_entries(s, gzdt, page) == 0
    assert crud(sql) == ["SELECT", "INSERT"], sql  # the listing's insert-or-ignore only
    assert len(posts(db_url)) == 65


def test_dates_settle_only_posts_stored_undated_before(db_url: str) -> None:
    cols = setup(db_url)
    gzdt, xxgk = cols["sjj/工作动态"], cols["sjj/政府信息公开"]
    sessions = get_sessionmaker(db_url)
    with sessions.begin() as s:  # 1, 2 undated; 3 dated
        assert queries.store_entries(s, gzdt, [undated(1), undated(2), dated(3)]) == 3
        queries.settle_post_date(s, f"{BASE}2", None, "article")  # read: the article shows no date
    # the same page later, listed in another column with dates: 1 and 2 are settled, 3 keeps its date,
    # 4 is new; the duplicate of 4 within the page (undated first, dated last) stores one post, the last
    moved = queries.EntryRow(f"{BASE}3", "标题3", DAY + timedelta(days=30), "list")
    with statements(db_url) as sql, sessions.begin() as s:
        assert queries.store_entries(s, xxgk, [dated(1), dated(2), moved, undated(4), dated(4)]) == 1
    assert crud(sql) == ["SELECT", "INSERT", "UPDATE", "INSERT"], sql
    assert posts(db_url) == {
        f"{BASE}1": ("标题1", DAY - timedelta(days=1), "list"),
        f"{BASE}2": ("标题2", DAY - timedelta(days=2), "list"),
        f"{BASE}3": ("标题3", DAY - timedelta(days=3), "list"),  # a stored date is never replaced
        f"{BASE}4": ("标题4", DAY - timedelta(days=4), "list"),
    }
    assert links(db_url) == {("工作动态", f"{BASE}{i}") for i in (1, 2, 3)} | {
        ("政府信息公开", f"{BASE}{i}") for i in (1, 2, 3, 4)}
    with statements(db_url) as sql, sessions.begin() as s:  # all dated now: a replay updates nothing
        assert queries.store_entries(s, xxgk, [dated(1), dated(2), moved, dated(4)]) == 0
    assert "UPDATE" not in crud(sql)


def test_a_page_is_stored_whole_or_not_at_all(db_url: str) -> None:
    cols = setup(db_url)
    sessions = get_sessionmaker(db_url)
    try:
        with sessions.begin() as s:
            queries.store_entries(s, cols["sjj/工作动态"], [dated(i) for i in range(10)])
            raise RuntimeError("killed before the commit")
    except RuntimeError:
        pass
    assert posts(db_url) == {} and links(db_url) == set()
    with sessions.begin() as s:  # the restart stores the page once
        assert queries.store_entries(s, cols["sjj/工作动态"], [dated(i) for i in range(10)]) == 10
    assert len(posts(db_url)) == 10 and len(links(db_url)) == 10



def test_article_dates_are_stored_in_batches_and_with_the_column_outcome(db_url: str) -> None:
    from crawler.items import ArticleDateItem, ColumnDoneItem, PageItem, PostRow
    from crawler.pipelines import DATE_BATCH, StoragePipeline
    from storage.models import FetchStatus

    cols = setup(db_url)
    gzdt, xxgk = cols["sjj/工作动态"], cols["sjj/政府信息公开"]
    sessions = get_sessionmaker(db_url)
    with sessions.begin() as s:
        run = queries.start_run(s, full=True)
    pipeline = StoragePipeline(db_url, run)
    n = DATE_BATCH + 3
    pipeline.process_item(PageItem(gzdt, [PostRow(f"{BASE}{i}", f"标题{i}", None, None) for i in range(n)]))
    pipeline.process_item(PageItem(xxgk, [PostRow(f"{BASE}x", "标题x", None, None)]))

    def undated_left() -> int:
        return sum(1 for _, when, source in posts(db_url).values() if when is None and source is None)

    for i in range(n):
        pipeline.process_item(ArticleDateItem(gzdt, f"{BASE}{i}", DAY if i % 2 else None))
        if i == DATE_BATCH - 2:
            assert undated_left() == n + 1  # waiting: a kill now would leave them to be read again
    assert undated_left() == n + 1 - DATE_BATCH
    pipeline.process_item(ColumnDoneItem(gzdt, FetchStatus.OK))  # the column's outcome stores the rest with it
    assert undated_left() == 1
    stored = posts(db_url)
    assert stored[f"{BASE}1"] == ("标题1", DAY, "article") and stored[f"{BASE}0"] == ("标题0", None, "none")
    pipeline.process_item(ArticleDateItem(xxgk, f"{BASE}x", DAY))
    pipeline.close_spider()  # the spider closes before the column's outcome (a stopped crawl): stored anyway
    assert undated_left() == 0
