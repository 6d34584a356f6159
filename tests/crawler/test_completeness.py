"""A column read short of the total its page states is partial, never complete (crawler.pipelines)."""
from __future__ import annotations

import pytest

from crawler.items import ColumnDoneItem
from crawler.pipelines import settle_completeness


def done(status: str = "ok", stated: int | None = 107, reason: str | None = None) -> ColumnDoneItem:
    return ColumnDoneItem(column_id=1, status=status, reason=reason, pages=5, etag='"e"', last_modified="x",
                          stated_total=stated)


@pytest.mark.parametrize("item, listed", [
    (done(stated=None), 75),          # the page states no total: nothing to compare
    (done(), 107),                    # read whole
    (done(), 112),                    # more stored than stated (posts moved out of the column since)
    (done("error", reason="HTTP 500 错误"), 0),   # a failed read stays a failure, not a partial one
    (done("unchanged", stated=None), 0),
])
def test_whole_or_not_comparable_reads_are_left_as_they_are(item: ColumnDoneItem, listed: int) -> None:
    assert settle_completeness(item, listed) == item


def test_a_short_read_is_partial_and_says_how_short() -> None:
    settled = settle_completeness(done(), 75)
    assert (settled.status, settled.reason) == ("partial", "已读取 75/107 条")
    assert settled.etag is None and settled.last_modified is None  # the next crawl must not be answered by a 304


def test_a_short_read_keeps_the_reason_of_the_failed_page() -> None:
    settled = settle_completeness(done("partial", reason="第 6 页读取失败：HTTP 403 错误"), 75)
    assert settled.reason == "已读取 75/107 条；第 6 页读取失败：HTTP 403 错误"
