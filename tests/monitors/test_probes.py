"""Availability probes against real loopback servers, and the `site.unavailable` rule at 5 %."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from config import load_settings
from config.model import RuleSettings
from monitors.probes import probe_targets, probe_url, probe_window, run_probes, site_findings
from monitors.rules import SITE_RULES, evaluate_site
from storage import queries
from storage.db import get_sessionmaker
from storage.models import Probe
from tests.helpers import free_port, toml_str

TZ = ZoneInfo("Asia/Shanghai")


class Server:
    """A loopback server: `/` answers at once, `/slow` after `delay` seconds, `/500` with HTTP 500."""

    def __init__(self, delay: float = 2.0) -> None:
        release = self.release = threading.Event()
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                hits.append(self.path)
                if self.path.startswith("/slow"):
                    release.wait(delay)
                status = 500 if self.path.startswith("/500") else 200
                body = "<html><head><title>首页</title></head><body>仓山区人民政府</body></html>".encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the probe gave up waiting, as it should

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as srv:
        yield srv



def test_a_page_that_answers_is_up(server: Server) -> None:
    result = probe_url(server.url + "/", timeout=2.0, retries=1, retry_delay=0.05)
    assert result.ok and result.http_status == 200 and result.error is None and result.attempts == 1
    assert 0 <= result.latency_ms < 2000


def test_a_page_that_times_out_fails_only_after_a_retry(server: Server) -> None:
    result = probe_url(server.url + "/slow", timeout=0.3, retries=1, retry_delay=0.05)
    assert not result.ok and result.attempts == 2
    assert "超过 0.3 秒" in result.error
    assert server.hits == ["/slow", "/slow"]


def test_http_errors_and_refused_connections_fail(server: Server) -> None:
    error = probe_url(server.url + "/500", timeout=2.0, retries=0)
    assert not error.ok and error.http_status == 500 and error.error == "HTTP 500"
    refused = probe_url(f"http://127.0.0.1:{free_port()}/", timeout=2.0, retries=1, retry_delay=0.05)
    assert not refused.ok and refused.attempts == 2 and refused.error.startswith("无法连接")


def write_settings(tmp_path: Path, db_url: str, sites: list[str], pages: list[str] = (), timeout: float = 0.3) -> Path:
    lines = ["[monitor]", f"database_url = {toml_str(db_url)}", "", "[rules]", f"probe_timeout = {timeout}", "",
             "[probes]", "retry_delay = 0.05", f"pages = [{', '.join(toml_str(p) for p in pages)}]", ""]
    for i, url in enumerate(sites):
        lines += ["[[sites]]", f"name = \"站点{i}\"", f"url = {toml_str(url)}", ""]
    path = tmp_path / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_run_probes_stores_every_result(tmp_path: Path, db_url: str, server: Server) -> None:
    with Server(delay=2.0) as slow_site:
        good, slow = server.url + "/", slow_site.url + "/slow/"
        settings = load_settings(write_settings(tmp_path, db_url, [good, slow], pages=[server.url + "/500/page"]))
        assert probe_targets(settings) == [(good, good), (slow, slow), (good, server.url + "/500/page")]
        summary = run_probes(settings)
    assert summary.probes == 3 and {u for u, _ in summary.failed} == {server.url + "/500/page", slow}
    with get_sessionmaker(db_url)() as s:
        rows = {p.url: p for p in s.scalars(select(Probe))}
    assert rows[good].ok and rows[good].http_status == 200 and rows[good].latency_ms is not None
    assert not rows[slow].ok and "超过 0.3 秒" in rows[slow].error and rows[slow].site_url == slow
    assert not rows[server.url + "/500/page"].ok and rows[server.url + "/500/page"].http_status == 500
    assert all(p.started_at.tzinfo is not None for p in rows.values())


def store(db_url: str, site: str, when: datetime, ok: bool, n: int = 1) -> None:
    with get_sessionmaker(db_url).begin() as s:
        for i in range(n):
            queries.store_probe(s, queries.ProbeRow(site, site, when + timedelta(minutes=i), ok, 200 if ok else None,
                                                    50, None if ok else "超过 15 秒未能打开"))


@pytest.mark.parametrize("failures, flagged", [(5, True), (4, False)])
def test_site_unavailable_at_five_percent_of_a_week(tmp_path: Path, db_url: str, failures: int, flagged: bool) -> None:
    site = "http://www.example.gov.cn/"
    settings = load_settings(write_settings(tmp_path, db_url, [site], timeout=15))
    as_of = date(2020, 10, 10)
    start, end = probe_window(settings, as_of)
    assert (start, end) == (datetime(2020, 10, 4, tzinfo=TZ), datetime(2020, 10, 11, tzinfo=TZ))
    store(db_url, site, start + timedelta(hours=1), True, 100 - failures)
    store(db_url, site, start + timedelta(days=3), False, failures)
    store(db_url, site, start - timedelta(hours=1), False, 50)  # the week before: not counted
    store(db_url, site, end, False, 50)  # after as_of: not counted
    with get_sessionmaker(db_url)() as s:
        stats = queries.probe_stats(s, start, end)
        findings = site_findings(s, settings, as_of)
    assert [(x.total, x.failed) for x in stats] == [(100, failures)]
    assert stats[0].days == 2
    if flagged:
        assert [(f.rule, f.severity, f.target) for f in findings] == [("site.unavailable", "veto", site)]
        assert "监测 100 次，5 次无法在 15 秒内打开（5.0%" in findings[0].detail
    else:
        assert findings == []


def test_evaluate_site_is_pure() -> None:
    params = RuleSettings()
    assert (params.unavailable_ratio, params.probe_timeout, params.unavailable_days) == (0.05, 15.0, 7)
    assert "site.unavailable" in SITE_RULES
    page = "http://a.gov.cn/xxgk/"
    stats = [queries.ProbeStats("http://a.gov.cn/", "http://a.gov.cn/", 168, 8, 7),
             queries.ProbeStats("http://a.gov.cn/", page, 168, 9, 7),
             queries.ProbeStats("http://b.gov.cn/", "http://b.gov.cn/", 0, 0, 0)]
    findings = evaluate_site(stats, date(2020, 10, 10), params)
    assert [f.target for f in findings] == [page]  # 8/168 = 4.8 % passes; 9/168 = 5.4 % fails; no probes: no finding
    assert f"页面 {page}" in findings[0].detail


def test_site_unavailable_reaches_check_of_its_unit_and_the_report(tmp_path: Path, db_url: str) -> None:
    from monitors.evaluate import build_quarter_report, evaluate_unit
    from storage.db import migrate

    site = "http://www.example.gov.cn/"
    path = write_settings(tmp_path, db_url, [site], timeout=15)
    text = path.read_text(encoding="utf-8").replace(f'url = "{site}"', f'url = "{site}"\nunit = "大数据服务中心"')
    path.write_text(text + '\n[[units]]\nname = "大数据服务中心"\nkind = "other"\n[[units]]\nname = "审计局"\n',
                    encoding="utf-8")
    settings = load_settings(path)
    migrate(db_url)
    with get_sessionmaker(db_url).begin() as s:
        queries.sync_settings(s, settings)
    start, _ = probe_window(settings, date(2020, 10, 10))
    store(db_url, site, start + timedelta(hours=1), True, 90)
    store(db_url, site, start + timedelta(days=2), False, 10)
    with get_sessionmaker(db_url)() as s:
        owner = evaluate_unit(s, settings, "大数据服务中心", date(2020, 10, 10))
        other = evaluate_unit(s, settings, "审计局", date(2020, 10, 10))
        report = build_quarter_report(s, settings, "2020Q3", date(2020, 10, 10))
    assert [f.rule for f in owner.findings] == ["site.unavailable"]
    assert owner.to_json()["findings"][0]["severity"] == "veto"
    assert all(f.rule != "site.unavailable" for f in other.findings)
    assert [f["rule"] for f in report.site_findings] == ["site.unavailable"]
