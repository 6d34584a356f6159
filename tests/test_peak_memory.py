"""`monitor crawl` against hostile answers (fixtures/hostile.py) stays small and says why it failed: a 120 MB page
sent chunked without Content-Length, and a feed that never ends. Peak RSS is the child's own (os.wait4)."""
from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.hostile import HostileServer, crawl_child, write_settings

pytestmark = pytest.mark.slow  # `monitor crawl` in a child process for each case

LIMIT_MB = 400


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


@pytest.mark.parametrize(("case", "line"), [
    ("huge", "失败：测试单位 · huge栏目：页面超过 5 MB，已停止读取"),
    ("feed-endless", "测试单位 · 订阅源“feed-endless订阅源”：无法读取（页面超过 5 MB，已停止读取）"),
])
def test_a_hostile_answer_is_a_failure_with_its_reason_in_bounded_memory(hostile, tmp_path: Path, case: str,
                                                                         line: str) -> None:
    conf = write_settings(tmp_path / "settings.toml", hostile.base_url, case, f"sqlite:///{tmp_path / 'm.db'}")
    run = crawl_child(conf)
    assert line in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert run.exit_code == (1 if case == "huge" else 0)  # a failed column fails the crawl; an account is reported
    assert run.peak_mb < LIMIT_MB, f"{case}: peak {run.peak_mb:.0f} MB"
