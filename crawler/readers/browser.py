"""One Chromium for a whole run, started only when a reader first asks for it.

Playwright (async API, one event loop with the rest of the run) drives a Chromium already on the machine:
`[crawl] chromium_path` when set, else the first found of Debian's (`apt-get install chromium`) and the one
`playwright install chromium` downloads (`find_chromium`). Each account gets a fresh context (no cookie
leaks between accounts), images, fonts and media are blocked (we only need the scripts that set cookies and
the JSON), and a semaphore bounds the pages open at once (default 3: one Chromium page costs ~100 MB on the
2-core target machine).
"""
from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.readers.exceptions import BrowserUnavailable
from crawler.readers.http import MOBILE_UA

if TYPE_CHECKING:  # Playwright is imported only when a browser is launched
    from playwright.async_api import Browser, BrowserContext, Playwright, Route

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
_BLOCKED = {"image", "font", "media"}


# Env: the Chromium to use when `[crawl] chromium_path` is empty, instead of searching; a path that does not
# exist hides every Chromium (how the tests and CI try a machine without one: MONITOR_CHROMIUM=/nonexistent).
ENV_CHROMIUM = "MONITOR_CHROMIUM"
SYSTEM_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")  # Debian's and Ubuntu's packages
CHROMIUM_NOT_FOUND = "未找到 Chromium"
# What the operator does about it; shown by `monitor status` and after an account read that needed a browser.
CHROMIUM_HOW_TO = ("请安装 Chromium（apt-get install chromium，或 playwright install chromium），"
                   "或在设置文件 [crawl] chromium_path 指定其路径")


def playwright_chromiums(browsers_dir: Path | None = None) -> list[Path]:
    """The Chromium executables `playwright install chromium` downloaded, newest build first: under
    $PLAYWRIGHT_BROWSERS_PATH or ~/.cache/ms-playwright, `chromium-<build>/chrome-linux*/chrome`."""
    if browsers_dir is None:
        env = os.environ.get("PLAYWRIGHT_BROWSERS_PATH", "")
        browsers_dir = Path(env) if env and env != "0" else Path.home() / ".cache" / "ms-playwright"
    found = [p for p in browsers_dir.glob("chromium-*/chrome-linux*/chrome") if os.access(p, os.X_OK)]

    def build(path: Path) -> int:
        number = path.parent.parent.name.rpartition("-")[2]
        return int(number) if number.isdigit() else -1

    return sorted(found, key=build, reverse=True)


def find_chromium() -> str | None:
    """The Chromium to drive: env MONITOR_CHROMIUM if set (None when that path does not exist), else the
    first of /usr/bin/chromium, /usr/bin/chromium-browser, `chromium` on PATH, Playwright's own download."""
    if override := os.environ.get(ENV_CHROMIUM):
        return override if os.path.exists(override) else None
    for path in (*SYSTEM_CHROMIUMS, shutil.which("chromium")):
        if path and os.path.exists(path):
            return path
    downloaded = playwright_chromiums()
    return str(downloaded[0]) if downloaded else None


def describe_browser(configured: str = "") -> str:
    """One line for `monitor status`: the Chromium the new-media readers will use, or what to do."""
    if configured:
        if os.path.exists(configured):
            return f"{configured}（设置 [crawl] chromium_path）"
        return f"设置的 [crawl] chromium_path {configured} 不存在；{CHROMIUM_HOW_TO}"
    found = find_chromium()
    if found:
        return found
    return f"{CHROMIUM_NOT_FOUND}（需要浏览器的政务新媒体账号将无法读取）；{CHROMIUM_HOW_TO}"


async def _block_heavy(route: Route) -> None:
    if route.request.resource_type in _BLOCKED:
        await route.abort()
    else:
        await route.continue_()


class BrowserPool:
    """A lazily launched shared Chromium; `async with pool.context() as ctx` gives a fresh context."""

    def __init__(self, executable_path: str | None = None, max_pages: int = 3, timeout: float = 15.0,
                 user_agent: str = MOBILE_UA) -> None:
        self.executable_path = executable_path
        self.timeout = timeout
        self.user_agent = user_agent
        self._sem = asyncio.Semaphore(max(1, max_pages))
        self._lock = asyncio.Lock()
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._failed: str | None = None
        self.launches = 0  # how many times Chromium was started (tests: once a run, or never)

    @property
    def launched(self) -> bool:
        return self._browser is not None

    async def _ensure(self) -> Browser:
        async with self._lock:
            if self._browser is not None:
                return self._browser
            if self._failed:
                raise BrowserUnavailable(self._failed)
            path = self.executable_path or find_chromium()
            if not path:
                self._failed = CHROMIUM_NOT_FOUND
                raise BrowserUnavailable(self._failed)
            if not os.path.exists(path):  # a configured path that is not there (Playwright would say it in English)
                self._failed = f"{CHROMIUM_NOT_FOUND}：{path} 不存在"
                raise BrowserUnavailable(self._failed)
            try:
                from playwright.async_api import async_playwright
                self._pw = playwright = await async_playwright().start()
                self._browser = browser = await playwright.chromium.launch(executable_path=path, headless=True,
                                                                           args=CHROMIUM_ARGS)
            except Exception as e:  # any launch failure means "no browser this run"
                self._failed = f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
                await self._stop_driver()
                raise BrowserUnavailable(self._failed) from e
            self.launches += 1
            return browser

    @asynccontextmanager
    async def context(self) -> AsyncIterator[BrowserContext]:
        """A fresh browser context (own cookies), heavy resources blocked, within the page bound."""
        async with self._sem:
            browser = await self._ensure()
            ctx = await browser.new_context(user_agent=self.user_agent, locale="zh-CN",
                                            timezone_id="Asia/Shanghai", ignore_https_errors=True)
            ctx.set_default_timeout(self.timeout * 1000)
            ctx.set_default_navigation_timeout(self.timeout * 1000)
            await ctx.route("**/*", _block_heavy)
            try:
                yield ctx
            finally:
                try:
                    await ctx.close()
                except Exception:  # noqa: BLE001 - a context of a crashed browser cannot be closed
                    pass

    async def _stop_driver(self) -> None:
        if self._pw is not None:
            try:
                await self._pw.stop()
            except Exception:  # noqa: BLE001
                pass
            self._pw = None

    async def close(self) -> None:
        async with self._lock:
            if self._browser is not None:
                try:
                    await self._browser.close()
                except Exception:  # noqa: BLE001
                    pass
                self._browser = None
            await self._stop_driver()
