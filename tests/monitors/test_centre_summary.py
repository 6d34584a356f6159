"""The centre's summary names the columns read only in part (their units' counts may be short)."""
from __future__ import annotations

from datetime import date

from monitors.alerts import AlertItem, compose_summary

URL = "http://127.0.0.1/faults/deepnest/"


def test_the_summary_lists_the_columns_read_in_part_escaped() -> None:
    item = AlertItem("故障单位", "column.unreadable", URL, "warn",
                     "栏目“深层嵌套栏目”无法读取：未能识别信息列表（页面嵌套过深，超过 255 层，无法解析）", "new", (("深层嵌套栏目", URL),))
    partial = [("故障单位", "链接过多栏目", "列表页有 20000 条链接，超过上限 500 条，只读取前 500 条"),
               ("区政府办", "<b>乡镇动态</b>", "已读取 75/107 条\n第 6 页读取失败：HTTP 403 错误")]
    summary = compose_summary([("故障单位", [item], 0)], ["centre@example.org"], date(2020, 10, 10), "仓山区",
                              partial=partial)
    assert "[提醒] 栏目“深层嵌套栏目”无法读取：未能识别信息列表（页面嵌套过深" in summary.text
    assert "以下栏目最近一次未读全，所在单位的发布数可能偏少：\n" \
           "  未读全：故障单位 · 链接过多栏目：列表页有 20000 条链接，超过上限 500 条，只读取前 500 条\n" \
           "  未读全：区政府办 · <b>乡镇动态</b>：已读取 75/107 条 第 6 页读取失败：HTTP 403 错误\n" in summary.text
    assert "<li>未读全：区政府办 · &lt;b&gt;乡镇动态&lt;/b&gt;：已读取 75/107 条" in summary.html
    assert "未读全" not in compose_summary([("故障单位", [item], 0)], ["c@example.org"], date(2020, 10, 10), "区").text
