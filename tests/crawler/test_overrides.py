"""Per-column selector overrides, for the rare page the heuristics cannot read."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from config import parse_settings
from crawler.overrides import extract_with_selectors, next_page_with_selector

PAGE = (Path(__file__).parent / "pages" / "override_list.html").read_text(encoding="utf-8")
URL = "http://127.0.0.1:8700/zdly/"

SETTINGS = """
[[units]]
name = "区政府办"
[[columns]]
unit = "区政府办"
name = "重点领域信息公开"
url = "http://127.0.0.1:8700/zdly/"
[columns.selectors]
item = "div.hot-links p.row"
date = "i"
next_page = "//a[@class='next-pg']"
"""


def test_selectors_from_settings_read_the_list_and_the_next_page() -> None:
    selectors = parse_settings(SETTINGS).columns[0].selectors
    entries = extract_with_selectors(PAGE, URL, selectors)
    assert [(e.title, e.url, e.date) for e in entries][:1] == [
        ("关于2020年秋季学期义务教育招生工作的公告", "http://127.0.0.1:8700/zdly/2020/0915/c1234.html", datetime(2020, 9, 15))]
    assert len(entries) == 3 and not any(e.needs_article for e in entries)
    assert next_page_with_selector(PAGE, URL, selectors).url == "http://127.0.0.1:8700/zdly/list_2.html"


def test_unknown_selector_key_is_refused() -> None:
    import pytest

    from config import SettingsError

    with pytest.raises(SettingsError, match="columns\\[0\\].selectors.itme"):
        parse_settings(SETTINGS.replace("item =", "itme ="))
