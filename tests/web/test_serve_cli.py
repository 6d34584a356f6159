"""`monitor serve`: loopback by default; any other address refused (exit 2, one Chinese line) unless the centre's
login is configured; with it, the server starts on that address and asks for the login; `--hash-password` prints a
hash the login accepts."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from monitors.web.security import password_matches
from tests.helpers import free_port

pytestmark = pytest.mark.slow


def settings(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(f'[monitor]\ndatabase_url = "sqlite:///{tmp_path / "m.db"}"\n'
                    '[[units]]\nname = "审计局"\n' + extra, encoding="utf-8")
    return path


def monitor(path: Path, *args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_SERVE")}
    return subprocess.Popen([sys.executable, "-m", "monitors.cli", "--config", str(path), "serve", *args],
                            env={**clean, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)  # type: ignore[call-overload]



def test_another_address_is_refused_without_a_login(tmp_path: Path) -> None:
    proc = monitor(settings(tmp_path), "--host", "0.0.0.0", "--port", str(free_port()))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "拒绝在 0.0.0.0 上提供看板" in err and "MONITOR_SERVE_PASSWORD" in err and "Traceback" not in err


def test_with_a_password_it_serves_that_address_behind_the_login(tmp_path: Path) -> None:
    port = free_port()
    proc = monitor(settings(tmp_path), "--host", "0.0.0.0", "--port", str(port),
                   env={"MONITOR_SERVE_PASSWORD": "正确的口令"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=False, timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.3)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        assert httpx.get(f"http://127.0.0.1:{port}/api/units", timeout=5).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_hash_password_prints_a_hash_the_login_accepts(tmp_path: Path) -> None:
    proc = monitor(settings(tmp_path), "--hash-password", stdin=subprocess.PIPE)
    out, err = proc.communicate("口令123\n口令123\n", timeout=60)
    assert proc.returncode == 0, err
    stored = out.strip().splitlines()[-1]
    assert stored.startswith("pbkdf2_sha256$") and password_matches("口令123", stored)
    assert not password_matches("口令124", stored)
