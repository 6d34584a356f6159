"""A loopback TCP proxy a test can cut and restore: a database that goes away under a running program.

`TcpProxy(target_port)` listens on a free loopback port and pipes every connection to 127.0.0.1:target_port.
`cut()` closes every open connection at once and refuses new ones (the port stays bound, so nothing else
takes it); `restore()` accepts again. A real outage as the client sees it: reset sockets, refused connects.
"""
from __future__ import annotations

import socket
import threading
from types import TracebackType


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._up = threading.Event()
        self._up.set()
        self._closed = False
        self.connections = 0  # accepted and piped, over the proxy's life
        threading.Thread(target=self._accept, name="tcp-proxy-accept", daemon=True).start()

    def url(self, database_url: str) -> str:
        """`database_url` with its port replaced by the proxy's (e.g. a PostgreSQL URL on 5432)."""
        from sqlalchemy.engine import make_url

        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def cut(self) -> None:
        """Drop every open connection now and refuse new ones until `restore()`."""
        self._up.clear()
        with self._lock:
            sockets, self._open = list(self._open), set()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()  # SO_LINGER 0: a reset, as a closed port or a dead server gives
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
                self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
