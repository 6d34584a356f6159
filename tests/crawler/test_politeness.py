"""Per-host politeness measured from the server's side: however `[crawl]` is set (no delay, AutoThrottle off),
no more than `concurrent_per_domain` requests are in flight at once against one host."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from config import load_settings
from crawler.run import MIN_DOWNLOAD_DELAY, run_crawl, scrapy_settings
from tests.helpers import FAST_CRAWL

COLUMNS = 12
HOLD = 0.3  # seconds each answer is held, so requests that may overlap do


class CountingServer(ThreadingHTTPServer):
    """Answers every list page after HOLD seconds and records the most requests it held at once."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.served = 0

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1
            self.served += 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, CountingServer)
        server.enter()
        try:
            time.sleep(HOLD)
            if self.path.startswith("/robots.txt"):
                status, body = 404, b"not found"
            else:
                name = self.path.strip("/").split("/")[0]
                status, body = 200, (
                    '<html><head><meta charset="utf-8"><title>栏目</title></head><body><ul class="list">'
                    f'<li><a href="/{name}/202009/t20200915_1.html">{name}的信息</a><span>2020-09-15</span></li>'
                    "</ul></body></html>").encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            server.leave()


@pytest.fixture
def counting_server():
    server = CountingServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _settings(tmp_path, base: str, per_domain: int, delay: float = 0.0):
    lines = ["[monitor]", f'database_url = "sqlite:///{tmp_path / "m.db"}"', "",
             "[[sites]]", 'name = "测试站点"', f'url = "{base}/"', "", "[[units]]", 'name = "测试单位"',
             'kind = "department"', ""]
    for i in range(COLUMNS):
        lines += ["[[columns]]", 'unit = "测试单位"', f'name = "栏目{i}"', f'url = "{base}/c{i}/"',
                  'category = "dynamic"', "quota = true", ""]
    crawl = FAST_CRAWL.format(timeout=10, retries=0).replace("concurrent_per_domain = 8",
                                                             f"concurrent_per_domain = {per_domain}")
    crawl = crawl.replace("download_delay = 0.0", f"download_delay = {delay}")
    path = tmp_path / "settings.toml"
    path.write_text("\n".join(lines) + crawl, encoding="utf-8")
    return load_settings(path)


@pytest.mark.slow  # an end-to-end crawl in a child process
def test_no_delay_and_no_autothrottle_still_keep_to_the_per_host_limit(counting_server, tmp_path) -> None:
    base = f"http://127.0.0.1:{counting_server.server_address[1]}"
    settings = _settings(tmp_path, base, per_domain=4)
    assert settings.crawl.download_delay == 0 and not settings.crawl.autothrottle
    assert settings.crawl.concurrent_requests == 16
    summary = run_crawl(settings, full=True)
    assert summary.columns == COLUMNS and not summary.failed
    assert counting_server.served >= COLUMNS
    # 12 list pages were there to fetch at once and 16 requests were allowed in all: only the host's 4 ran together.
    assert 2 <= counting_server.peak <= 4, counting_server.peak


def test_scrapy_settings_never_leave_the_delay_at_zero(tmp_path) -> None:
    """Scrapy 2.13+ applies the per-slot limit only between delayed starts (crawler/run.py MIN_DOWNLOAD_DELAY)."""
    for delay in (0.0, 0.0001, 0.5):
        built = scrapy_settings(_settings(tmp_path, "http://127.0.0.1:9", per_domain=4, delay=delay).crawl,
                                "sqlite://", 1)
        assert built["DOWNLOAD_DELAY"] == max(delay, MIN_DOWNLOAD_DELAY) > 0
        assert built["CONCURRENT_REQUESTS_PER_DOMAIN"] == 4
        assert built.get("CONCURRENT_REQUESTS_PER_IP", 0) == 0  # per IP would replace the per-host limit
