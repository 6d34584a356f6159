"""Month counts from one bucketed statement equal the per-unit, per-month counts, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from config import parse_settings
from monitors.evaluate import Evaluator, check_months, evaluate_all, quarter_windows
from storage import queries
from storage.db import get_sessionmaker
from storage.models import Column
from storage.queries.facts import unit_month_counts

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = date(2020, 10, 10)
SETTINGS = parse_settings("""
[monitor]
timezone = "Asia/Shanghai"
[[units]]
name = "审计局"
kind = "department"
[[units]]
name = "统计局"
[[units]]
name = "民政局"
[[columns]]
unit = "审计局"
name = "工作动态"
url = "http://127.0.0.1:9/sjj/gzdt/"
[[columns]]
unit = "审计局"
name = "通知公告"
url = "http://127.0.0.1:9/sjj/tzgg/"
category = "notice"
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
[[columns]]
unit = "统计局"
name = "旧栏目"
url = "http://127.0.0.1:9/tjj/old/"
[[columns]]
unit = "民政局"
name = "工作动态"
url = "http://127.0.0.1:9/mzj/gzdt/"
""")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TZ)


# (post, its date, the columns listing it)
POSTS: list[tuple[str, datetime | None, tuple[str, ...]]] = [
    ("jun-last", local(2020, 6, 30, 23, 59, 59), ("sjj/gzdt",)),  # before the first window
    ("jul-first", local(2020, 7, 1), ("sjj/gzdt",)),
    ("jul-last", local(2020, 7, 31, 23, 59, 59), ("sjj/gzdt", "sjj/tzgg")),  # two columns of one unit: once
    ("aug-first", local(2020, 8, 1), ("sjj/gzdt", "tjj/gzdt")),  # two units: once each
    ("aug-quota-and-not", local(2020, 8, 15, 12), ("sjj/xxgk", "sjj/tzgg")),  # counted by its quota column
    ("aug-not-quota", local(2020, 8, 20), ("sjj/xxgk",)),  # only a non-quota column: not counted
    ("sep-last", local(2020, 9, 30, 23, 59, 59), ("tjj/gzdt",)),
    ("sep-inactive", local(2020, 9, 10), ("tjj/old",)),  # the column was removed from the settings
    ("oct-first", local(2020, 10, 1), ("sjj/tzgg", "sjj/gzdt")),
    ("oct-as-of", local(2020, 10, 10, 23, 59, 59), ("tjj/gzdt",)),  # the last second of as_of
    ("oct-after", local(2020, 10, 11), ("tjj/gzdt",)),  # after as_of: not counted
    ("undated-1", None, ("sjj/gzdt", "tjj/gzdt")),
    ("undated-2", None, ("mzj/gzdt",)),
]
# What the rules must see, as of 2020-10-10: July, August, September and October up to the 10th.
EXPECTED = {"审计局": [2, 2, 0, 1], "统计局": [0, 1, 1, 1], "民政局": [0, 0, 0, 0]}


def load(url: str) -> None:
    sessions = get_sessionmaker(url)
    with sessions.begin() as s:
        queries.sync_settings(s, SETTINGS)
    with sessions() as s:
        ids = {t.url.split("/", 3)[3].rstrip("/"): t.column_id for t in queries.crawl_targets(s)}
    with sessions.begin() as s:
        for name, when, columns in POSTS:
            for column in columns:
                queries.store_entries(s, ids[column], [
                    queries.EntryRow(f"http://127.0.0.1:9/p/{name}.html", name, when, "list" if when else None)])
        s.execute(update(Column).where(Column.id == ids["tjj/old"]).values(active=False))


def per_unit(url: str, unit: str, windows: list[tuple[str, date, date]], as_of: date) -> list[int]:
    """The counts as evaluation made them before: one unit_posts_between statement per unit and month."""
    with get_sessionmaker(url)() as s:
        at = Evaluator(s, SETTINGS).at
        cut = as_of + timedelta(days=1)
        return [queries.unit_posts_between(s, unit, at(start), at(min(end, cut))) for _, start, end in windows]


def test_bucketed_counts_equal_per_unit_counts(db_url: str) -> None:
    load(db_url)
    windows = check_months(AS_OF)
    old = {unit: per_unit(db_url, unit, windows, AS_OF) for unit in EXPECTED}
    assert old == EXPECTED
    with get_sessionmaker(db_url)() as s:
        evaluator = Evaluator(s, SETTINGS)
        months = evaluator.units_months(list(EXPECTED), windows, AS_OF)
        assert {unit: [m.posts for m in found] for unit, found in months.items()} == EXPECTED
        assert [m.complete for m in months["审计局"]] == [True, True, True, False]
        assert [m.month for m in months["审计局"]] == ["2020-07", "2020-08", "2020-09", "2020-10"]
        for unit in EXPECTED:  # one unit alone, as check --unit and the dashboard ask
            assert [m.posts for m in evaluator.unit_months(unit, windows, AS_OF)] == EXPECTED[unit]
        # every unit in one statement; a unit without posts in the windows is absent
        cut = AS_OF + timedelta(days=1)
        bounds = [(evaluator.at(start), evaluator.at(min(end, cut))) for _, start, end in windows]
        assert unit_month_counts(s, bounds) == {u: n for u, n in EXPECTED.items() if any(n)}


def test_evaluate_all_months_equal_per_unit_counts(db_url: str) -> None:
    load(db_url)
    with get_sessionmaker(db_url)() as s:
        evaluation = evaluate_all(s, SETTINGS, AS_OF)
        one = evaluate_all(s, SETTINGS, AS_OF, units=["统计局"])
    windows = check_months(AS_OF)
    assert {r.unit: [m.posts for m in r.facts.months] for r in evaluation.units} == {
        unit: per_unit(db_url, unit, windows, AS_OF) for unit in EXPECTED}
    assert [m.posts for m in one.units[0].facts.months] == EXPECTED["统计局"]


@pytest.mark.parametrize("quarter, as_of", [("2020Q3", date(2020, 8, 1)), ("2020Q3", date(2020, 10, 10)),
                                            ("2020Q4", date(2020, 10, 10)), ("2020Q2", date(2020, 6, 30))])
def test_quarters_cut_mid_quarter(db_url: str, quarter: str, as_of: date) -> None:
    """The dashboard's history asks each quarter as of a day inside it or after it: windows after the cut are
    empty, the window holding it stops at its end."""
    load(db_url)
    windows = quarter_windows(quarter)
    with get_sessionmaker(db_url)() as s:
        evaluator = Evaluator(s, SETTINGS)
        for unit in EXPECTED:
            assert [m.posts for m in evaluator.unit_months(unit, windows, as_of)] == per_unit(
                db_url, unit, windows, as_of)
    if (quarter, as_of) == ("2020Q3", date(2020, 8, 1)):  # July whole, August's first day, September nothing
        assert per_unit(db_url, "审计局", windows, as_of) == [2, 1, 0]


def test_windows_must_not_overlap(db_url: str) -> None:
    with get_sessionmaker(db_url)() as s:
        with pytest.raises(ValueError):
            unit_month_counts(s, [(local(2020, 7, 1), local(2020, 8, 2)), (local(2020, 8, 1), local(2020, 9, 1))])
        assert unit_month_counts(s, [(local(2020, 7, 1), local(2020, 7, 1))]) == {}  # empty windows: nothing
