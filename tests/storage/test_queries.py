"""Storage on SQLite and PostgreSQL: idempotent upserts, aware datetimes, counts by unit and month."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from config import parse_settings
from storage import queries
from storage.db import get_sessionmaker, migrate
from storage.models import ColumnPost, Post

TZ = ZoneInfo("Asia/Shanghai")
SETTINGS = parse_settings("""
[[units]]
name = "审计局"
kind = "department"
[[units]]
name = "统计局"
[[columns]]
unit = "审计局"
name = "工作动态"
url = "http://127.0.0.1:9/sjj/gzdt/"
[[columns]]
unit = "审计局"
name = "政府信息公开"
url = "http://127.0.0.1:9/sjj/xxgk/"
category = "disclosure"
quota = false
[[columns]]
unit = "统计局"
name = "工作动态"
url = "http://127.0.0.1:9/tjj/gzdt/"
""")


def rows(*items: tuple[str, datetime | None]) -> list[queries.EntryRow]:
    return [queries.EntryRow(url, f"标题{url[-2:]}", when, "list" if when else None) for url, when in items]


def setup(url: str) -> dict[str, int]:
    with get_sessionmaker(url).begin() as s:
        queries.sync_settings(s, SETTINGS)
    with get_sessionmaker(url)() as s:
        return {t.url.split("/")[-3] + "/" + t.name: t.column_id for t in queries.crawl_targets(s)}


def test_replayed_pages_store_each_post_once(db_url: str) -> None:
    cols = setup(db_url)
    gzdt = cols["sjj/工作动态"]
    page = rows(("http://127.0.0.1:9/a/1", datetime(2020, 7, 1, 9, tzinfo=TZ)),
                ("http://127.0.0.1:9/a/2", None))
    sessions = get_sessionmaker(db_url)
    with sessions.begin() as s:
        assert queries.store_entries(s, gzdt, page) == 2
    with sessions.begin() as s:  # the same page again, as after a crash and restart
        assert queries.store_entries(s, gzdt, page) == 0
    with sessions.begin() as s:  # the same article listed in a second column
        assert queries.store_entries(s, cols["sjj/政府信息公开"], page[:1]) == 0
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 2
        assert s.scalar(select(func.count()).select_from(ColumnPost)) == 3
        # the undated post is not "complete" until its article page is read
        assert queries.complete_urls(s, ["http://127.0.0.1:9/a/1", "http://127.0.0.1:9/a/2"]) == {"http://127.0.0.1:9/a/1"}
    with sessions.begin() as s:
        queries.settle_post_date(s, "http://127.0.0.1:9/a/2", datetime(2020, 7, 31, 23, 30, tzinfo=TZ), "article")
    with sessions() as s:
        post = s.scalar(select(Post).where(Post.url == "http://127.0.0.1:9/a/2"))
        assert post.published_at == datetime(2020, 7, 31, 23, 30, tzinfo=TZ)
        assert post.published_at.tzinfo is not None and post.date_source == "article"


def test_counts_by_unit_and_month_in_local_time(db_url: str) -> None:
    cols = setup(db_url)
    sessions = get_sessionmaker(db_url)
    with sessions.begin() as s:
        # 23:30 on 31 July in Shanghai is still July although it is 15:30 UTC
        queries.store_entries(s, cols["sjj/工作动态"], rows(
            ("http://127.0.0.1:9/b/1", datetime(2020, 7, 31, 23, 30, tzinfo=TZ)),
            ("http://127.0.0.1:9/b/2", datetime(2020, 8, 1, 0, 30, tzinfo=TZ)),
            ("http://127.0.0.1:9/b/3", datetime(2020, 8, 2, tzinfo=TZ))))
        queries.store_entries(s, cols["sjj/政府信息公开"], rows(("http://127.0.0.1:9/b/4", datetime(2020, 8, 3, tzinfo=TZ))))
        queries.store_entries(s, cols["tjj/工作动态"], rows(("http://127.0.0.1:9/b/5", datetime(2020, 8, 3, tzinfo=TZ))))
    jul, aug, sep = (datetime(2020, m, 1, tzinfo=TZ) for m in (7, 8, 9))
    with sessions() as s:
        assert queries.unit_posts_between(s, "审计局", jul, aug) == 1
        assert queries.unit_posts_between(s, "审计局", aug, sep) == 2  # the quota=false column does not count
        assert queries.posts_between(s, jul, sep) == 5
        assert queries.posts_between(s, jul, sep, category="disclosure") == 1
        facts = {f.url: f for f in queries.column_facts(s, sep, "审计局")}
        assert facts["http://127.0.0.1:9/sjj/gzdt/"].posts == 3
        assert facts["http://127.0.0.1:9/sjj/gzdt/"].last_post == datetime(2020, 8, 2, tzinfo=TZ)
        assert facts["http://127.0.0.1:9/sjj/gzdt/"].ever_fetched is False


def test_fetch_outcomes_and_errors(db_url: str) -> None:
    cols = setup(db_url)
    sessions = get_sessionmaker(db_url)
    with sessions.begin() as s:
        run = queries.start_run(s, full=False)
        queries.record_fetch(s, run, cols["sjj/工作动态"], status="ok", pages=2)
        queries.record_fetch(s, run, cols["tjj/工作动态"], status="error", reason="HTTP 500 错误", http_status=500)
        queries.record_fetch(s, run, cols["tjj/工作动态"], status="error", reason="连接超时")  # recorded once a run
        queries.finish_run(s, run)
    with sessions() as s:
        assert len(queries.run_fetches(s, run)) == 2
        facts = {f.url: f for f in queries.column_facts(s, datetime.now(timezone.utc) + timedelta(days=1))}
        assert facts["http://127.0.0.1:9/tjj/gzdt/"].last_error == "连接超时"
        assert facts["http://127.0.0.1:9/sjj/gzdt/"].ever_fetched and facts["http://127.0.0.1:9/sjj/gzdt/"].last_error is None


def test_migrate_is_idempotent_and_settings_resync_deactivates_removed_columns(db_url: str) -> None:
    setup(db_url)
    migrate(db_url)
    smaller = parse_settings('[[units]]\nname = "审计局"\n[[columns]]\nunit = "审计局"\nname = "工作动态"\n'
                             'url = "http://127.0.0.1:9/sjj/gzdt/"\n')
    with get_sessionmaker(db_url).begin() as s:
        queries.sync_settings(s, smaller)
    with get_sessionmaker(db_url)() as s:
        assert [t.url for t in queries.crawl_targets(s)] == ["http://127.0.0.1:9/sjj/gzdt/"]
        assert [u.name for u in queries.units(s)] == ["审计局"]


def test_a_partial_read_is_reported_until_a_whole_read(db_url: str) -> None:
    cols = setup(db_url)
    gzdt = cols["sjj/工作动态"]
    sessions = get_sessionmaker(db_url)
    day = datetime(2020, 9, 1, 9, tzinfo=TZ)
    with sessions.begin() as s:
        queries.store_entries(s, gzdt, rows(*((f"http://127.0.0.1:9/p/{i:02d}", day + timedelta(days=i))
                                              for i in range(3))))
        assert queries.listed_count(s, gzdt) == 3
        run = queries.start_run(s, full=True)
        queries.record_fetch(s, run, gzdt, status="partial", reason="已读取 3/5 条", stated_total=5, listed=3)
        queries.finish_run(s, run)
    cut = datetime(2020, 10, 10, tzinfo=TZ)
    with sessions() as s:
        fact = {f.url: f for f in queries.column_facts(s, cut, "审计局")}["http://127.0.0.1:9/sjj/gzdt/"]
        assert (fact.partial, fact.first_post, fact.last_error) == ("已读取 3/5 条", day, None)
        fetch = queries.run_fetches(s, run)[0]
        assert (fetch.stated_total, fetch.listed) == (5, 3)
        assert [t.needs_full for t in queries.crawl_targets(s, ["审计局"]) if t.column_id == gzdt] == [True]
    with sessions.begin() as s:  # a run under way is not an outcome: the partial read stays reported
        running = queries.start_run(s, full=False)
        queries.mark_running(s, running, [gzdt])
    with sessions() as s:
        assert {f.url: f for f in queries.column_facts(s, cut)}["http://127.0.0.1:9/sjj/gzdt/"].partial
    with sessions.begin() as s:
        queries.record_fetch(s, running, gzdt, status="ok", stated_total=5, listed=5)
    with sessions() as s:
        assert {f.url: f for f in queries.column_facts(s, cut)}["http://127.0.0.1:9/sjj/gzdt/"].partial is None


def test_an_older_schema_is_not_ready_until_migrated(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from storage.db import MIGRATIONS, get_engine, schema_ready

    setup(db_url)
    assert schema_ready(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with get_engine(db_url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
        assert connection.execute(text("select version_num from alembic_version")).scalar() == "0002"
    assert not schema_ready(db_url)
    migrate(db_url)
    assert schema_ready(db_url)
