"""Loopback servers for the link checker's tests: a portal host whose links are good, broken, lying, huge or
hostile, and a host that accepts connections and never answers. Everything they see is counted server-side.

LinkServer routes (HEAD and GET):
  /ok, /page/N            200 small HTML page (/page/N after 2 ms)               /missing 404          /error 500
  /head405                405 on HEAD, 200 on GET            /headlies 404 on HEAD, 200 on GET
  /files/gone.pdf         200 text/html "文件不存在" page     /files/login.docx 200 HTML login page
  /files/real.pdf         200 application/pdf (also as /files/通知.pdf)   /files/gzip-gone.doc the "文件不存在" page gzipped
  /img/fake.png           200 HTML                           /img/real.png 200 PNG
  /redir/N                302 → /redir/N-1, /redir/0 is 200  /loop/a ↔ /loop/b        /cookie-gate set-cookie challenge
  /to-internal            302 → http://localhost:<port>/never-redirected
  /big.pdf                405 on HEAD; GET ignores Range and streams 500 MB generated on the fly (bytes counted)
  /big-head.pdf           HEAD 200 with Content-Length 500 MB; GET as /big.pdf
  /empty.pdf              405 on HEAD; a ranged GET gets 416 (a file of 0 bytes)
  /reset                  the connection is reset (RST) before any answer, HEAD and GET alike
  /head-reset             reset on HEAD, 200 on GET
  /hold                   answers 200 after HOLD seconds (so concurrent requests overlap)
  /busy                   503 with Retry-After: 1 the first time, 200 after
  /drip                   the status line dripped one byte every 0.2 s, forever
"""
from __future__ import annotations

import fcntl
import gzip
import socket
import struct
import termios
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

BIG = 500 * 1024 * 1024
CHUNK = 16 * 1024
HOLD = 0.2
PAGE_HOLD = 0.002
PAGE = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>通知公告</title></head><body>仓山区</body></html>'
GONE = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>仓山区人民政府</title></head><body>'
        '<div class="err">对不起，您要下载的文件不存在或已被删除！</div><a href="/">返回首页</a></body></html>')
LOGIN = '<html><head><meta charset="gbk"><title>用户登录</title></head><body><form>用户名 密码</form></body></html>'
FAKE_IMAGE = "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>404</h1></body></html>"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


class LinkServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port: int = self.server_address[1]
        self.netloc = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.netloc}"
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.hits: dict[str, int] = {}       # "METHOD /path" → requests
        self.starts: list[tuple[float, str]] = []  # (monotonic time, "METHOD /path") of every request
        self.big_sent = 0       # bytes of /big*.pdf bodies written into the socket (its kernel buffer included)
        self.big_delivered = 0  # of those, bytes that left the send queue: acknowledged by the client's kernel
        self.to_reset: set[socket.socket] = set()
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> LinkServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hung up on a body it did not want: expected

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        if request in self.to_reset:  # close with SO_LINGER 0: an RST, not a FIN
            self.to_reset.discard(request)
            request.close()
            return
        super().shutdown_request(request)

    def enter(self, key: str) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.hits[key] = self.hits.get(key, 0) + 1
            self.starts.append((time.monotonic(), key))

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def count(self, path: str) -> int:
        """Requests to `path`, HEAD and GET together."""
        return self.hits.get(f"HEAD {path}", 0) + self.hits.get(f"GET {path}", 0)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LinkServer
    in_flight = False

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_GET(self) -> None:
        self._serve("GET")

    def _answer(self, status: int, ctype: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self._done()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._answer(302, "text/html", b"", {"Location": location, **(headers or {})})

    def _done(self) -> None:
        """The request stops counting as in flight when its answer starts (the client may send the next
        request the moment the answer is written, before this thread would run again)."""
        if self.in_flight:
            self.in_flight = False
            self.server.leave()

    def _serve(self, method: str) -> None:
        path = self.path.split("?")[0]
        self.server.enter(f"{method} {path}")
        self.in_flight = True
        try:
            self._route(method, path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self._done()

    def _route(self, method: str, path: str) -> None:
        srv = self.server
        html = "text/html; charset=utf-8"
        if path == "/ok":
            self._answer(200, html, PAGE.encode())
        elif path.startswith("/page/"):
            time.sleep(PAGE_HOLD)  # long enough for concurrent requests to overlap
            self._answer(200, html, PAGE.encode())
        elif path == "/missing":
            self._answer(404, html, b"<title>404</title>")
        elif path == "/error":
            self._answer(500, html, b"<title>500</title>")
        elif path == "/head405":
            self._answer(405, html, b"") if method == "HEAD" else self._answer(200, html, PAGE.encode())
        elif path == "/headlies":
            self._answer(404, html, b"") if method == "HEAD" else self._answer(200, html, PAGE.encode())
        elif path == "/files/gone.pdf":
            self._answer(200, html, GONE.encode())
        elif path == "/files/login.docx":
            self._answer(200, "text/html; charset=gbk", LOGIN.encode("gbk"))
        elif path == "/files/gzip-gone.doc":
            self._answer(200, html, gzip.compress(GONE.encode()), {"Content-Encoding": "gzip"})
        elif path == "/files/real.pdf" or path == "/files/%E9%80%9A%E7%9F%A5.pdf":  # /files/通知.pdf
            self._answer(200, "application/pdf", PDF)
        elif path == "/img/fake.png":
            self._answer(200, "text/html", FAKE_IMAGE.encode())
        elif path == "/img/real.png":
            self._answer(200, "image/png", PNG)
        elif path.startswith("/redir/"):
            n = int(path.rsplit("/", 1)[1])
            self._redirect(f"/redir/{n - 1}") if n > 0 else self._answer(200, html, PAGE.encode())
        elif path == "/loop/a":
            self._redirect("/loop/b")
        elif path == "/loop/b":
            self._redirect(f"{srv.url}/loop/a")
        elif path == "/cookie-gate":
            if "gate=1" in (self.headers.get("Cookie") or ""):
                self._answer(200, html, PAGE.encode())
            else:
                self._redirect("/cookie-gate", {"Set-Cookie": "gate=1; Path=/; HttpOnly"})
        elif path == "/to-internal":
            self._redirect(f"http://localhost:{srv.port}/never-redirected")
        elif path in ("/big.pdf", "/big-head.pdf"):
            if method == "HEAD":
                if path == "/big.pdf":
                    self._answer(405, html, b"")
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pdf")
                    self.send_header("Content-Length", str(BIG))
                    self.end_headers()
                return
            self._stream_big()
        elif path == "/empty.pdf":
            if method == "HEAD":
                self._answer(405, html, b"")
            elif self.headers.get("Range"):
                self._answer(416, html, b"", {"Content-Range": "bytes */0"})
            else:
                self._answer(200, "application/pdf", b"")
        elif path == "/head-reset" and method == "GET":
            self._answer(200, html, PAGE.encode())
        elif path in ("/reset", "/head-reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            srv.to_reset.add(self.connection)
            self.close_connection = True
        elif path == "/hold":
            time.sleep(HOLD)
            self._answer(200, html, PAGE.encode())
        elif path == "/busy":
            if method == "HEAD" or srv.hits["GET /busy"] == 1:
                self._answer(503, html, b"busy", {"Retry-After": "1"})
            else:
                self._answer(200, html, PAGE.encode())
        elif path == "/drip":
            for byte in b"HTTP/1.1 200 OK\r\n" * 1000:
                if srv.stopping.wait(0.2):
                    break
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            self.close_connection = True
        else:
            self._answer(404, html, b"<title>404</title>")

    def _stream_big(self) -> None:
        """200 with a 500 MB body made on the fly (the Range header is ignored, as many servers do)."""
        srv = self.server
        self._done()
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(BIG))
        self.end_headers()
        chunk = b"%PDF-1.7\n" + bytes(CHUNK - 9)
        sent = 0
        while sent < BIG and not srv.stopping.is_set():
            self.wfile.write(chunk)
            sent += len(chunk)
            queued = struct.unpack("i", fcntl.ioctl(self.connection.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
            with srv.lock:
                srv.big_sent += len(chunk)
                srv.big_delivered = max(srv.big_delivered, sent - queued)
            chunk = bytes(CHUNK)
        self.close_connection = True


class HangServer:
    """Accepts every connection and never sends a byte (nor reads one)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port: int = self._listener.getsockname()[1]
        self.netloc = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.netloc}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def __enter__(self) -> HangServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._closed = True
        self._listener.close()
        for conn in self._held:
            conn.close()

