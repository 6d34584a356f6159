"""Helpers for the dashboard's real-browser tests: `monitor serve` as a subprocess on a free loopback port, a page
that records console errors, the centre's login through the form, full-page screenshots kept for people to see."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from config.loader import ENV_SERVE_PASSWORD
from monitors.web.security import ENV_SERVE_SECRET
from tests.helpers import free_port, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page

SHARED_SCREENSHOTS = Path("/tmp/dashboard-screenshots")  # where the integrator looks at them after a run


def copy_demo(demo: Path, root: Path) -> Path:
    """A copy of the demo directory at `root` whose settings point at the copied database; its settings path."""
    shutil.copytree(demo, root)
    settings = root / "settings.toml"
    url = f"sqlite:///{root / 'monitor.db'}"
    text = "\n".join(f'database_url = "{url}"' if line.startswith("database_url") else line
                     for line in settings.read_text(encoding="utf-8").splitlines())
    settings.write_text(text + "\n", encoding="utf-8")
    return settings



def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def serve(settings: Path, password: str, timeout: float = 30.0) -> Iterator[str]:
    """`monitor serve` (a real subprocess, uvicorn) with the centre's password; yields its base URL once /login
    answers. The dashboard's secret is the one kept in the database (no MONITOR_SERVE_SECRET)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != ENV_SERVE_SECRET}
    env[ENV_SERVE_PASSWORD] = password
    log = settings.parent / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "monitors.cli", "--config", str(settings), "serve",
                                    "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until(lambda: answers(base + "/login"), timeout, "monitor serve to answer",
                       give_up=lambda: process.poll() is not None, interval=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {log.read_text(encoding='utf-8', errors='replace')[-2000:]}") from None
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class WatchedPage:
    """A page and every console error and uncaught script error it had. Chromium's own request for
    /favicon.ico (the dashboard has none: a 404 logged as a console error) is kept apart, in `favicon_misses`."""

    page: Page
    errors: list[str] = field(default_factory=list)
    favicon_misses: int = 0


def watched_page(context: BrowserContext) -> WatchedPage:
    page = context.new_page()
    watched = WatchedPage(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        source = message.location.get("url", "")
        if urlsplit(source).path == "/favicon.ico":
            watched.favicon_misses += 1
        else:
            watched.errors.append(f"console: {message.text} (source {source or '?'}, page {page.url})")

    def on_page_error(error: Error) -> None:
        watched.errors.append(f"pageerror: {error} ({page.url})")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return watched


def log_in(page: Page, base: str, password: str, next_path: str = "/") -> None:
    """The centre's login through the form, as a person does it."""
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#login-submit")


def screenshot(page: Page, directory: Path, name: str) -> Path:
    """A full-page PNG in `directory` and a copy in /tmp/dashboard-screenshots/; prints both paths."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SHARED_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shared = SHARED_SCREENSHOTS / path.name
    shutil.copy(path, shared)
    print(f"screenshot {name}: {path} (copy: {shared})")
    return path
