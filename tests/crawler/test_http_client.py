"""The one plain HTTP client (crawler.readers.http.HttpClient): bodies bounded while they stream, raw and
inflated, against a real loopback server that streams an endless body and serves a gzip bomb."""
from __future__ import annotations

import gzip
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crawler.readers import read_accounts_sync
from crawler.readers.exceptions import TooLarge
from crawler.readers.http import HttpClient, Response
from monitors.probes import probe_url

LIMIT = 1024 * 1024  # 1 MB: small enough to keep the test quick, large enough to span many chunks
BOMB_MB = 200  # inflated size of the gzip bomb (about 200 KB on the wire)
PEAK_LIMIT = 50 * 1024 * 1024
PAGE = "<html><head><meta charset=\"gbk\"><title>通知公告</title></head><body>仓山区人民政府</body></html>"


def _gzip_bomb(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


class Server:
    """`/endless` streams zeros until the client hangs up (no Content-Length), `/bomb` is a gzip bomb,
    `/page` a small gzip page in GBK declared by its meta, `/declared` says it is larger than the limit."""

    def __init__(self) -> None:
        bomb, page = _gzip_bomb(BOMB_MB), gzip.compress(PAGE.encode("gbk"))
        self.sent: dict[str, int] = {}
        sent = self.sent

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, headers: dict[str, str], body: bytes) -> None:
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # http.server calls it by this name
                try:
                    if self.path == "/endless":
                        self.send_response(200)
                        self.send_header("Content-Type", "text/html")
                        self.end_headers()
                        chunk = bytes(64 * 1024)
                        while True:  # until the client closes the connection
                            self.wfile.write(chunk)
                            sent["/endless"] = sent.get("/endless", 0) + len(chunk)
                    elif self.path == "/bomb":
                        self._send({"Content-Type": "text/html", "Content-Encoding": "gzip",
                                    "Content-Length": str(len(bomb))}, bomb)
                    elif self.path == "/declared":
                        self._send({"Content-Type": "text/html", "Content-Length": str(LIMIT * 10)}, b"x" * 100)
                    else:
                        self._send({"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip",
                                    "Content-Length": str(len(page))}, page)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, as it should

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


def _peak_of(call: Callable[[], object]) -> tuple[object, int]:
    """What `call` returned or raised, and the peak of Python memory allocated while it ran."""
    tracemalloc.start()
    try:
        try:
            outcome: object = call()
        except Exception as exc:  # noqa: BLE001 - the outcome under test is the exception
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("path", ["/endless", "/bomb"])
def test_a_body_over_the_limit_stops_the_read_within_bounded_memory(server: Server, path: str) -> None:
    client = HttpClient(timeout=5.0, max_bytes=LIMIT)
    try:
        outcome, peak = _peak_of(lambda: client.fetch(server.url + path))
    finally:
        client.close()
    assert isinstance(outcome, TooLarge), outcome
    assert outcome.reason == "页面超过 1 MB，已停止读取" and outcome.status == 200
    assert peak < PEAK_LIMIT, f"peak {peak / 1024 / 1024:.1f} MB"
    if path == "/endless":  # the server was stopped soon after the limit, not drained
        assert server.sent["/endless"] < LIMIT * 20


def test_a_declared_length_over_the_limit_is_refused_before_reading(server: Server) -> None:
    client = HttpClient(timeout=5.0, max_bytes=LIMIT)
    try:
        with pytest.raises(TooLarge, match="页面超过 1 MB"):
            client.fetch(server.url + "/declared")
    finally:
        client.close()


def test_a_small_gzip_page_is_inflated_and_decoded_by_its_meta(server: Server) -> None:
    client = HttpClient(timeout=5.0, max_bytes=LIMIT)
    try:
        response = client.fetch(server.url + "/page")
    finally:
        client.close()
    assert isinstance(response, Response) and response.status == 200
    assert response.body == PAGE.encode("gbk")
    assert response.text() == PAGE  # the header's utf-8 lies; the page's meta (gbk) wins


def test_readers_and_probes_see_the_limit(server: Server) -> None:
    results = read_accounts_sync([("bomb", "feed", server.url + "/bomb")], timeout=5.0, max_bytes=LIMIT, retries=0)
    assert isinstance(results["bomb"], TooLarge) and results["bomb"].reason == "页面超过 1 MB，已停止读取"
    # A probe asks whether the page opens: a page that answers, however large, did open.
    probe = probe_url(server.url + "/endless", timeout=5.0, retries=0, max_bytes=LIMIT)
    assert probe.ok and probe.http_status == 200
