"""A crawl killed with SIGKILL half-way and run again ends with every post stored exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from config import load_settings
from crawler.run import run_crawl
from storage.db import get_sessionmaker
from storage.models import ColumnPost, Post
from tests.crawler.test_crawl import assert_matches_truth, by_style
from tests.helpers import wait_until, write_test_settings

pytestmark = pytest.mark.slow  # a crawl killed mid-way, then crawled again


def count_posts(db_url: str) -> int:
    from storage.db import schema_ready

    if not schema_ready(db_url):  # the child may not have created the schema yet
        return 0
    with get_sessionmaker(db_url)() as s:
        return s.scalar(select(func.count()).select_from(Post)) or 0


def test_sigkill_mid_crawl_then_restart_loses_and_duplicates_nothing(portal, tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    columns = by_style(2)
    path = write_test_settings(tmp_path / "s.toml", portal.base_url, columns, db_url)
    text = path.read_text(encoding="utf-8").replace("concurrent_requests = 16", "concurrent_requests = 2") \
        .replace("download_delay = 0.0", "download_delay = 0.05")
    path.write_text(text, encoding="utf-8")
    child = subprocess.Popen([sys.executable, "-m", "monitors.cli", "--config", str(path), "crawl"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:  # gives up when the crawl finished before it could be killed (then make it slower)
        wait_until(lambda: count_posts(db_url) >= 150, 60, "150 posts stored mid-crawl",
                   give_up=lambda: child.poll() is not None)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    killed_at = count_posts(db_url)
    assert killed_at >= 150
    summary = run_crawl(load_settings(path))  # the ordinary incremental crawl
    assert not summary.failed
    assert_matches_truth(db_url, portal.base_url, columns)
    with get_sessionmaker(db_url)() as s:
        pairs = s.execute(select(ColumnPost.column_id, ColumnPost.post_id)).all()
    assert len(pairs) == len(set(pairs))
