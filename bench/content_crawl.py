"""Content checks' cost benchmark (issue 11), everything measured in one run on the fixture portal (loopback):

    python bench/content_crawl.py [--articles 30]

  (a) baseline: a plain full crawl (`[content] enabled = false`): wall time and requests;
  (b) the same full crawl with the content checks on (`[content]` of fixtures.portal.planted, check_links
      "site", max_articles_per_column as given): wall time and requests, split into list/article pages, home
      page and link checks (HEAD, and GETs of checked links), and the ratio to (a);
  (c) link requests with the shared cache (each URL once a run, none again within link_check_days) against
      without it (every link of every page read checked as it is met): in the first crawl (links on the pages
      read vs distinct URLs checked) and in a second crawl within the cache's age (links on the pages it read,
      the home page's among them, vs link requests it made: the target is 0).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FAST = "\n[crawl]\ndownload_delay = 0.0\nautothrottle = false\nconcurrent_requests = 16\nconcurrent_per_domain = 16\n" \
       "retries = 0\n"


def settings_for(tmp: Path, base_url: str, content: bool, articles: int) -> object:
    from config import load_settings
    from fixtures.portal import write_settings
    from fixtures.portal.planted import content_toml

    path = tmp / "settings.toml"
    write_settings(path, base_url, f"sqlite:///{tmp / 'monitor.db'}")
    with path.open("a", encoding="utf-8") as f:
        f.write(FAST)
        if content:
            f.write("\n" + content_toml() + f"max_articles_per_column = {articles}\n")
    return load_settings(path)


def crawl(server: object, settings: object) -> tuple[float, list[tuple[str, str]]]:
    from crawler.run import run_crawl

    server.clear_requests()  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    run_crawl(settings, full=True)  # type: ignore[arg-type]
    return time.perf_counter() - t0, list(server.requests)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=30, help="[content] max_articles_per_column")
    args = parser.parse_args()
    from sqlalchemy import func, select

    from fixtures.server import FixtureServer
    from storage.db import get_sessionmaker
    from storage.models import LinkCheck, Page, PageLink

    with FixtureServer(site="portal") as server, tempfile.TemporaryDirectory() as a, \
            tempfile.TemporaryDirectory() as b:
        plain_s, plain_req = crawl(server, settings_for(Path(a), server.base_url, False, args.articles))
        settings = settings_for(Path(b), server.base_url, True, args.articles)
        content_s, content_req = crawl(server, settings)
        with get_sessionmaker(settings.monitor.database_url)() as session:  # type: ignore[attr-defined]
            articles = session.scalar(select(func.count()).select_from(Page).where(Page.kind == "article")) or 0
            link_rows = session.scalar(select(func.count()).select_from(PageLink)) or 0
            checked = session.scalar(select(func.count()).select_from(LinkCheck)) or 0
            own_rows = session.scalar(select(func.count()).select_from(PageLink)
                                      .where(PageLink.url.like(server.base_url + "%"))) or 0
        heads = sum(1 for method, _ in content_req if method == "HEAD")
        again_s, again_req = crawl(server, settings)
        again_heads = sum(1 for method, _ in again_req if method == "HEAD")
        with get_sessionmaker(settings.monitor.database_url)() as session:  # type: ignore[attr-defined]
            last_run = session.scalar(select(func.max(Page.run_id)))
            again_links = session.scalar(select(func.count()).select_from(PageLink).join(Page)
                                         .where(Page.run_id == last_run,
                                                PageLink.url.like(server.base_url + "%"))) or 0

    print(f"crawl: plain full crawl {plain_s:.1f} s, {len(plain_req)} requests")
    print(f"crawl: with content checks {content_s:.1f} s, {len(content_req)} requests "
          f"({articles} article pages read for content, {checked} distinct links checked, {heads} HEAD requests)")
    print(f"ratio content/plain time: {content_s / plain_s:.2f}; requests: {len(content_req) / len(plain_req):.2f}")
    # without the cache every on-site link met on a page is checked when met (the "site" scope requests only
    # those): at least one request each; with it, one a distinct URL a run and none within link_check_days
    print(f"links: first crawl {link_rows} links on the pages read ({own_rows} on the site), {checked} distinct "
          f"checked; link requests per article page without/with the cache: {own_rows / max(articles, 1):.3f}/"
          f"{heads / max(articles, 1):.3f}")
    print(f"incremental: a second full crawl within link_check_days {again_s:.1f} s, {len(again_req)} requests; "
          f"{again_links} links on the pages it read; link requests without the cache >= {again_links}, "
          f"with it {again_heads} (target 0)")


if __name__ == "__main__":
    main()
