"""An unseen district portal, in CMS templates the crawler was not written against, read with nothing but
its column URLs in settings."""
from __future__ import annotations

import pytest

from config import load_settings
from crawler.run import run_crawl
from fixtures.server import FixtureServer
from fixtures.unseen import unseen_columns, unseen_posts
from tests.crawler.test_crawl import stored
from tests.helpers import truth, write_test_settings

pytestmark = pytest.mark.slow  # a crawl of the unseen portal end to end


def test_unseen_portal_comes_out_right(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    with FixtureServer(site="unseen") as server:
        settings = load_settings(write_test_settings(tmp_path / "s.toml", server.base_url, unseen_columns(), db_url))
        summary = run_crawl(settings)
    assert summary.columns == len(unseen_columns()) and not summary.failed
    want = {url: (title, when.date()) for url, (title, when)
            in truth(unseen_posts(), server.base_url, {c.path for c in unseen_columns()}).items()}
    got = stored(db_url)
    assert sorted(set(want) - set(got))[:5] == [] and sorted(set(got) - set(want))[:5] == []
    wrong = [(u, got[u], want[u]) for u in want if got[u] != want[u]]
    assert not wrong, wrong[:5]
