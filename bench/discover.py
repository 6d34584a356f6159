"""Column discovery on the fixture portal: recall, precision, category and unit accuracy, time and requests.

    python bench/discover.py [--delay 0] [--concurrency 4] [--repeat 3]

One process, one `FixtureServer(site="portal")` on loopback; settings are the portal's (37 units, no url_prefixes)
with the [[columns]] removed, so every column must be found through the navigation. The truth is
`fixtures.portal.portal_columns()` (134 columns), matched by URL.

Baseline, in the same run: fetching the 134 known column URLs once each with the same client and concurrency
(what a user who already typed every column would spend). Printed ratios: requests per column found, and
discovery time / baseline time.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import load_settings
from crawler.readers.http import HttpClient
from fixtures.portal import portal_columns, write_settings
from fixtures.server import FixtureServer
from monitors.discover import discover, url_key


async def _fetch_all(urls: list[str], concurrency: int) -> float:
    client = HttpClient(timeout=15, max_workers=concurrency)
    sem = asyncio.Semaphore(concurrency)

    async def one(url: str) -> None:
        async with sem:
            await client.get(url)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(one(u) for u in urls))
    finally:
        client.close()
    return time.perf_counter() - began


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=0.0, help="seconds after each request (product default 0.25)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; medians are printed")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    truth_cols = portal_columns()
    with FixtureServer(site="portal") as server, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settings.toml"
        write_settings(path, server.base_url, f"sqlite:///{Path(tmp, 'x.db').as_posix()}")
        path.write_text(path.read_text(encoding="utf-8").split("[[columns]]")[0], encoding="utf-8")
        settings = load_settings(path)
        truth = {url_key(server.base_url + c.path): c for c in truth_cols}
        urls = [server.base_url + c.path for c in truth_cols]
        asyncio.run(_fetch_all(urls[:5], args.concurrency))  # warm the server and the page cache
        base_times, times, results = [], [], []
        for _ in range(args.repeat):
            server.clear_requests()
            base_times.append(asyncio.run(_fetch_all(urls, args.concurrency)))
            base_requests = server.request_count
            server.clear_requests()
            began = time.perf_counter()
            result = discover(server.base_url + "/", settings, delay=args.delay, concurrency=args.concurrency)
            times.append(time.perf_counter() - began)
            results.append((result, server.request_count))
        result, served = results[-1]
    found = {url_key(p.url): p for p in result.proposals}
    hits = [k for k in found if k in truth]
    recall, precision = len(hits) / len(truth), (len(hits) / len(found) if found else 0.0)
    category = sum(found[k].category == truth[k].category for k in hits) / max(1, len(hits))
    known = {u.name for u in settings.units}
    unit_hits = [k for k in hits if truth[k].unit in known]
    unit = sum(found[k].unit.name == truth[k].unit for k in unit_hits) / max(1, len(unit_hits))
    wrong = sorted(f"{truth[k].unit}·{truth[k].name} {found[k].category}≠{truth[k].category}"
                   for k in hits if found[k].category != truth[k].category)
    pages = sum(1 for p in result.pages.values() if p.facts is not None)
    t, tb = statistics.median(times), statistics.median(base_times)
    print(f"discover: fixture portal at {server.base_url}: {len(truth)} columns in truth, {len(known)} units in "
          f"settings, no [[columns]]; delay {args.delay} s, concurrency {args.concurrency}, {args.repeat} runs")
    print(f"discover: recall {recall:.3f} ({len(hits)}/{len(truth)}), precision {precision:.3f} "
          f"({len(hits)}/{len(found)}), category accuracy {category:.3f}, unit accuracy {unit:.3f} "
          f"({len(unit_hits)} columns whose unit is in settings)")
    print(f"discover: categories wrong: {'; '.join(wrong) or 'none'}")
    print(f"discover: {pages} pages read + {result.requests - pages} first articles opened = {result.requests} "
          f"requests (server saw {served}); time median {t:.2f} s ({' '.join(f'{x:.2f}' for x in times)})")
    print(f"discover: baseline: fetching the {len(urls)} known column URLs once: {base_requests} requests, "
          f"median {tb:.2f} s")
    print(f"ratio requests per column found {result.requests / max(1, len(hits)):.2f} (baseline 1.00); "
          f"time discover/baseline {t / tb:.1f}")
    if args.delay == 0:
        polite = result.requests * settings.crawl.download_delay / args.concurrency
        print(f"discover: with the product's politeness (download_delay {settings.crawl.download_delay} s, "
              f"{args.concurrency} at once) add about {polite:.0f} s of waiting")


if __name__ == "__main__":
    main()
