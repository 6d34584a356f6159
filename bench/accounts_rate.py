"""Account-read benchmark: accounts read per minute with one shared Chromium against a Chromium per account.

    python bench/accounts_rate.py [--accounts 60] [--per-account 10] [--max-pages 3] [--concurrency 8]

Everything runs in one process against one `FixtureServer(site="accounts")` on loopback, so the ratios
compare like with like. The batch is the 21 fixture accounts (19 seed + 2 unseen: Weibo, WeChat article /
Sogou / WeWe RSS / RSSHub, a portal RSS feed; readable ones and refusals) repeated in order, each with its own
key, up to --accounts. Every read's outcome is checked against the fixture's ground truth (readable or not,
and the newest non-pinned post time), so a fast path that reads nothing would show.

  (a) product path: `crawler.readers.read_accounts(batch, now=ACCOUNTS_NOW)` as the monitor calls it
      (plain HTTP first, --concurrency accounts at once, the one shared Chromium only when a Weibo account
      is behind the visitor wall, --max-pages pages at once). `crawler.readers.BrowserPool` is replaced by a
      subclass that only counts launches and contexts (instrumentation; no behaviour changes).
  (b) browser for every account, ONE shared Chromium (the product's `BrowserPool`, launched once inside the
      timed region): each account gets a fresh context; its configured URL is loaded in a page (the Weibo
      visitor script runs and sets `SUB`; feeds and JSON load as documents), then the account's own reader
      runs with every HTTP request sent through `context.request` (it shares the context's cookies) instead
      of urllib. The readers' own browser path is Weibo-only and cannot be forced, so this adapter is the
      browser-only equivalent for all three platforms; a reader that would still ask for a second browser
      gets BrowserUnavailable (counted as a mismatch).
  (c) baseline: the same work as (b), but a new Chromium is launched (same executable, flags and context
      options) and closed for every account, at most --max-pages at once, over --per-account accounts spread
      evenly over the batch; the Playwright driver starts once inside the timed region, as in (b).

Targets (issue): at least 60 accounts a minute with one browser on this 2-core machine; at least 5x the
browser-per-account rate.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from unittest.mock import patch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from crawler.readers import AccountPost, ReadError
    from fixtures.accounts import AccountSpec

TARGET_PER_MIN = 60
TARGET_RATIO = 5.0


def quiet_disconnects(server) -> None:
    """Closing a context drops its pending loads (favicon, the profile page's own getIndex call): the
    ThreadingHTTPServer would print each BrokenPipe/ConnectionReset traceback. Silence those two only."""
    httpd = server._httpd
    default = httpd.handle_error

    def handle_error(request, client_address):
        exc = sys.exc_info()[1]
        while exc is not None and not isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            exc = exc.__context__
        if exc is None:
            default(request, client_address)

    httpd.handle_error = handle_error


Batch = list[tuple[tuple[int, str], str, str, "AccountSpec"]]  # (key, platform, url, ground truth)


def build_batch(specs: Sequence[tuple[AccountSpec, str]], n: int) -> Batch:
    """[(key, platform, url, spec)]: the fixture accounts repeated in order up to n, each with its own key."""
    out: Batch = []
    for i in range(n):
        spec, url = specs[i % len(specs)]
        out.append(((i, spec.path), spec.platform, url, spec))
    return out


def check(results: dict, batch: Batch) -> tuple[int, int, list[str]]:
    """(outcomes matching the ground truth, readable accounts read, mismatches) of a {key: posts | ReadError}."""
    from crawler.readers import ReadError, newest_post

    good, read, bad = 0, 0, []
    for key, _, _, spec in batch:
        got = results.get(key)
        if isinstance(got, ReadError) or got is None:
            ok = spec.expected == "无法读取"
            what = f"{type(got).__name__}({getattr(got, 'reason', '')})"
        else:
            read += 1
            newest = newest_post(got)
            ok = spec.expected != "无法读取" and newest is not None and newest.published_at == spec.newest
            what = f"newest {newest.published_at if newest else None}"
        good += ok
        if not ok:
            bad.append(f"#{key[0]} {spec.path}: expected {spec.expected} {spec.newest}, got {what}")
    return good, read, bad


class ContextHttp:
    """`crawler.readers.http.HttpClient.get` over a browser context's `request` (the context's cookies go
    along): same headers, redirects followed by hand and recorded, failures as Unreachable."""

    def __init__(self, bctx, timeout: float):
        self.bctx, self.timeout, self.request_count = bctx, timeout, 0

    async def get(self, url: str, *, headers: dict[str, str] | None = None, max_redirects: int = 5):
        from playwright.async_api import Error as PlaywrightError

        from crawler.readers.exceptions import Unreachable
        from crawler.readers.http import DESKTOP_UA, Response, ascii_url

        hdrs = {"User-Agent": DESKTOP_UA, "Accept-Language": "zh-CN,zh;q=0.9", **(headers or {})}
        seen: list[str] = []
        while True:
            self.request_count += 1
            try:
                r = await self.bctx.request.get(ascii_url(url), headers=hdrs, max_redirects=0,
                                                timeout=self.timeout * 1000)
                resp = Response(ascii_url(url), r.status, {k.lower(): v for k, v in r.headers.items()},
                                await r.body(), seen)
            except PlaywrightError as e:
                raise Unreachable(str(e).splitlines()[0][:80]) from e
            loc = resp.location
            if loc is None or len(seen) >= max_redirects or loc in seen:
                return resp
            seen = [*seen, loc]
            url = loc

    def close(self) -> None:
        pass


class NoSecondBrowser:
    """ReadContext.browser for (b)/(c): the account already is in a browser context; asking for another fails."""

    def context(self):
        from crawler.readers.exceptions import BrowserUnavailable
        raise BrowserUnavailable("browser-only bench: reader asked for a second browser")

    async def close(self) -> None:
        pass


async def read_in_context(open_context, key, platform: str, url: str, timeout: float, now,
                          steps: dict[str, float], slots: asyncio.Semaphore):
    """Open `url` in a fresh context, then run the account's reader with all HTTP through that context.
    At most `slots` accounts at once (taken before the context, so the step times exclude queueing).
    Adds the seconds of each step (context, page, load, read, close) to `steps`."""
    async with slots:
        return await _read_in_context(open_context, key, platform, url, timeout, now, steps)


async def _read_in_context(open_context, key, platform: str, url: str, timeout: float, now,
                           steps: dict[str, float]):
    from playwright.async_api import Error as PlaywrightError

    from crawler.readers import ReadContext, ReadError, Unreachable, read_account, resolve_reader
    from crawler.readers.weibo import _wait_for_cookie, is_visitor_url

    reader = resolve_reader(platform, url)

    def lap(step: str, since: float) -> float:
        now_ = time.perf_counter()
        steps[step] = steps.get(step, 0.0) + now_ - since
        return now_

    t = time.perf_counter()
    try:
        async with open_context() as bctx:
            t = lap("context", t)
            page = await bctx.new_page()
            t = lap("page", t)
            visitor = []
            page.on("request", lambda r: visitor.append(1) if is_visitor_url(r.url) else None)
            try:
                await page.goto(url, wait_until="load")
            except PlaywrightError:
                # The visitor redirect interrupts the first navigation; an empty 4xx is ERR_HTTP_RESPONSE_CODE_
                # FAILURE; a feed may download. None of them ends the account: its reader judges the answer.
                steps["goto_errors"] = steps.get("goto_errors", 0) + 1
            try:
                await page.wait_for_load_state("load")
            except PlaywrightError:
                pass
            if visitor:  # the visitor script sets SUB then navigates back: wait for the cookie as the reader does
                await _wait_for_cookie(bctx, min(timeout / 3, 5.0))
            t = lap("load", t)
            result: tuple[object, list[AccountPost] | ReadError]
            rctx = ReadContext(timeout=timeout, now=now, http=ContextHttp(bctx, timeout), browser=NoSecondBrowser())
            try:
                result = key, await read_account(reader, url, rctx)
            except ReadError as e:
                result = key, e
            t = lap("read", t)
        lap("close", t)
        return result
    except PlaywrightError as e:
        return key, Unreachable(str(e).splitlines()[0][:80])


def step_line(steps: dict[str, float], n: int) -> str:
    names = [k for k in ("launch", "context", "page", "load", "read", "close") if k in steps]
    return ", ".join(f"{k} {steps[k] / n:.3f}" for k in names) + " s per account (summed over concurrent tasks)"


async def run(args) -> None:
    from playwright.async_api import async_playwright

    import crawler.readers as readers
    from crawler.readers import BrowserPool, find_chromium, read_accounts
    from crawler.readers.browser import CHROMIUM_ARGS, _block_heavy
    from crawler.readers.http import MOBILE_UA
    from fixtures.accounts import ACCOUNTS_NOW, seed_accounts, unseen_accounts
    from fixtures.server import FixtureServer

    chromium = args.chromium or find_chromium()
    if not chromium:
        raise SystemExit("no Chromium found (give --chromium PATH)")
    timeout = args.timeout
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, Chromium {chromium}", flush=True)

    with FixtureServer(site="accounts") as server:
        quiet_disconnects(server)
        specs = [(s, server.base_url + s.path) for s in seed_accounts() + unseen_accounts()]
        batch = build_batch(specs, args.accounts)
        mix: dict[str, int] = {}
        for _, platform, _, _ in batch:
            mix[platform] = mix.get(platform, 0) + 1
        readable = sum(1 for *_, s in batch if s.expected != "无法读取")
        visitor = sum(1 for *_, s in batch if s.needs_browser)
        print(f"accounts: fixture at {server.base_url}: batch of {len(batch)} = the {len(specs)} fixture accounts "
              f"repeated with distinct keys; platforms {dict(sorted(mix.items()))}; {readable} readable, "
              f"{len(batch) - readable} refusals; {visitor} behind the Weibo visitor wall", flush=True)

        # (a) product path ------------------------------------------------------------------------------
        pools: list = []

        class CountingPool(BrowserPool):
            def __init__(self, *a, **k):
                super().__init__(*a, **k)
                self.contexts = 0
                pools.append(self)

            @asynccontextmanager
            async def context(self):
                self.contexts += 1
                async with super().context() as c:
                    yield c

        server.clear_requests()
        # Instrumentation only: read_accounts looks BrowserPool up in crawler.readers at call time.
        with patch.object(readers, "BrowserPool", CountingPool):
            t0 = time.perf_counter()
            results = await read_accounts([(k, p, u) for k, p, u, _ in batch], now=ACCOUNTS_NOW,
                                          executable_path=chromium, timeout=timeout, max_pages=args.max_pages,
                                          concurrency=args.concurrency)
            wall_a = time.perf_counter() - t0
        with server._lock:
            reqs = list(server.requests)
        good, read, bad = check(results, batch)
        launches = sum(p.launches for p in pools)
        in_browser = sum(p.contexts for p in pools)
        visitor_hits = sum(1 for _, path in reqs if path.startswith("/visitor/"))
        rate_a = len(batch) / wall_a * 60
        print(f"accounts: product path {len(batch)} accounts in {wall_a:.2f} s = {rate_a:.0f}/min "
              f"(browser needed for {in_browser}, {launches} launch{'es' if launches != 1 else ''})", flush=True)
        print(f"accounts: product path checks: {good}/{len(batch)} outcomes match the fixture ({read} read, "
              f"{len(batch) - read} refused); {len(reqs)} requests to the server ({len(reqs) / len(batch):.1f} "
              f"per account), {visitor_hits} visitor-page loads", flush=True)
        for line in bad[:10]:
            print(f"  mismatch: {line}")

        # (b) browser for every account, one shared Chromium ------------------------------------------------
        pool = BrowserPool(chromium, max_pages=args.max_pages, timeout=timeout)
        steps_b: dict[str, float] = {}
        slots_b = asyncio.Semaphore(max(1, args.max_pages))  # the same bound as the pool's own
        server.clear_requests()
        t0 = time.perf_counter()
        try:
            await pool._ensure()  # the one launch (it would happen inside the first context() anyway)
            launch_b = time.perf_counter() - t0
            out = await asyncio.gather(*(read_in_context(pool.context, k, p, u, timeout, ACCOUNTS_NOW, steps_b, slots_b)
                                         for k, p, u, _ in batch))
        finally:
            await pool.close()
        wall_b = time.perf_counter() - t0
        good_b, read_b, bad_b = check(dict(out), batch)
        rate_b = len(batch) / wall_b * 60
        print(f"accounts: shared browser {len(batch)} accounts in {wall_b:.2f} s = {rate_b:.0f}/min "
              f"({pool.launches} launch, a fresh context and page load per account, {args.max_pages} at once); "
              f"{good_b}/{len(batch)} outcomes match; {server.request_count} requests", flush=True)
        for line in bad_b[:10]:
            print(f"  mismatch: {line}")
        print(f"accounts: shared browser steps: driver+launch {launch_b:.2f} s once; {step_line(steps_b, len(batch))}; "
              f"{int(steps_b.get('goto_errors', 0))} page loads ended in an error page", flush=True)

        # (c) a new Chromium per account -------------------------------------------------------------------
        n = min(args.per_account, len(batch))
        sample = [batch[i * len(batch) // n] for i in range(n)]
        smix: dict[str, int] = {}
        for _, platform, _, _ in sample:
            smix[platform] = smix.get(platform, 0) + 1
        sem = asyncio.Semaphore(max(1, args.max_pages))
        launched = 0
        steps_c: dict[str, float] = {}
        server.clear_requests()
        t0 = time.perf_counter()
        pw = await async_playwright().start()

        @asynccontextmanager
        async def launch_per_account():
            nonlocal launched
            t = time.perf_counter()
            browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            steps_c["launch"] = steps_c.get("launch", 0.0) + time.perf_counter() - t
            launched += 1
            try:  # the context exactly as BrowserPool.context() makes it
                ctx = await browser.new_context(user_agent=MOBILE_UA, locale="zh-CN",
                                                timezone_id="Asia/Shanghai", ignore_https_errors=True)
                ctx.set_default_timeout(timeout * 1000)
                ctx.set_default_navigation_timeout(timeout * 1000)
                await ctx.route("**/*", _block_heavy)
                yield ctx
            finally:
                await browser.close()

        try:
            out_c = await asyncio.gather(*(read_in_context(launch_per_account, k, p, u, timeout, ACCOUNTS_NOW,
                                                           steps_c, sem)
                                           for k, p, u, _ in sample))
        finally:
            await pw.stop()
        wall_c = time.perf_counter() - t0
        good_c, _, bad_c = check(dict(out_c), sample)
        rate_c = n / wall_c * 60
        print(f"accounts: browser per account {n} in {wall_c:.2f} s = {rate_c:.0f}/min ({launched} launches, "
              f"{args.max_pages} at once; sample every {len(batch) // n}th account, platforms "
              f"{dict(sorted(smix.items()))}); {good_c}/{n} outcomes match", flush=True)
        for line in bad_c[:10]:
            print(f"  mismatch: {line}")
        print(f"accounts: browser per account steps: {step_line(steps_c, n)}; close includes the browser's", flush=True)

    ratio_b, ratio_a = rate_b / rate_c, rate_a / rate_c
    print(f"ratio shared/per-account {ratio_b:.1f} (target >= {TARGET_RATIO:g}) "
          f"{'PASS' if ratio_b >= TARGET_RATIO else 'FAIL'}; product/per-account {ratio_a:.1f} "
          f"(target >= {TARGET_RATIO:g}) {'PASS' if ratio_a >= TARGET_RATIO else 'FAIL'}")
    print(f"target >= {TARGET_PER_MIN}/min with one browser: "
          f"{'PASS' if rate_a >= TARGET_PER_MIN else 'FAIL'} (product path {rate_a:.0f}/min); "
          f"browser for every account {'PASS' if rate_b >= TARGET_PER_MIN else 'FAIL'} ({rate_b:.0f}/min)")
    mismatches = (len(batch) - good) + (len(batch) - good_b) + (n - good_c)
    if mismatches:
        print(f"accounts: WARNING {mismatches} outcome(s) differ from the fixture's ground truth (see above)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=60, help="batch size for (a) and (b)")
    ap.add_argument("--per-account", type=int, default=10, help="accounts for the browser-per-account baseline")
    ap.add_argument("--max-pages", type=int, default=3, help="browser pages/contexts at once (read_accounts default)")
    ap.add_argument("--concurrency", type=int, default=8, help="accounts at once over plain HTTP (default as shipped)")
    ap.add_argument("--timeout", type=float, default=15.0)
    ap.add_argument("--chromium", help="Chromium executable (default: crawler.readers.find_chromium())")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
