"""Article dates: our fallback against htmldate on every article page of the fixtures.

    python bench/article_dates.py [--every N] [--baseline-rev REV] [--repeat 2] [--show 3]

Pages: every article of the fixture portal (`load_site("portal")`, truth `portal_posts()`), of the unseen
portal (`load_site("unseen")`, truth `unseen_posts()`), matched by path, decoded as the spider decodes them
(`crawler.encoding.decode_html`: meta charset first, then charset-normalizer), and the static pages of
`tests/crawler/test_dates.ARTICLE_PAGES` (hand-written real-style failures, used as written, plus
article_meta.html without its PubDate: truth None). `--every N` keeps every N-th article of the main
portal, sorted by path (default 2: 3500 of 6999, to stay under 2 minutes; `--every 1` takes all).

Methods, all measured in this run:
  (a) `crawler.dates.article_date(html)` as the spider calls it, meta tags in place;
  (b) the same on the page with every date meta tag removed (`META_DATE_NAMES`), so the fallback is
      exercised: the baseline of every ratio;
  (b+url) (b) given the article URL as well;
  (c1)/(c2) htmldate `find_date(stripped, url=url, original_date=True, extensive_search=True/False,
      outputformat="%Y-%m-%d %H:%M")`;
  (d) the combination: ours (with the URL), and htmldate without extensive search only where ours finds
      nothing;
  (b0) with `--baseline-rev REV`: crawler/dates.py as committed at REV, on the stripped page.

Right = same calendar day as the truth (a page whose truth is None is right when no date is returned);
wrong = another date; none = no date where there is one. `time-ok` counts full matches to the minute.
Time per page is the fastest of `--repeat` passes (default 2) over the set, each method in its own loop,
htmldate's caches cleared before each pass (within a pass they work as in a crawl).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import types
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

try:
    from htmldate import find_date
    from htmldate.meta import reset_caches
except ImportError:  # a bench-only package: the product does not use it (see crawler/dates.py)
    sys.exit("bench/article_dates.py needs htmldate: pip install htmldate")

from crawler import dates  # noqa: E402
from crawler.encoding import decode_html  # noqa: E402
from fixtures.portal.data import portal_posts  # noqa: E402
from fixtures.server import load_static_site  # noqa: E402
from fixtures.unseen import unseen_posts  # noqa: E402
from tests.crawler.test_dates import ARTICLE_PAGES, PAGES  # noqa: E402

BASE = "http://www.example.gov.cn"
HD_FORMAT = "%Y-%m-%d %H:%M"
_META_RE = re.compile(
    r"<meta\b[^>]*\b(?:name|property|itemprop)\s*=\s*[\"']?(?:%s)[\"'\s/>][^>]*>"
    % "|".join(re.escape(n) for n in dates.META_DATE_NAMES), re.I)


@dataclass(frozen=True)
class Page:
    site: str
    name: str  # path of a portal article, file name of a static page
    url: str | None
    html: str
    stripped: str
    truth: datetime | None


@dataclass
class Score:
    right: int = 0
    wrong: int = 0
    none: int = 0
    time_ok: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)


def strip_meta(html: str) -> str:
    return _META_RE.sub("", html)


def _charset(content_type: str) -> str | None:
    return content_type.split("charset=")[-1].strip() if "charset=" in content_type else None


def portal_pages(site: str, truths: dict[str, datetime], every: int) -> list[Page]:
    pages = load_static_site(site).pages
    out = []
    for path in sorted(truths)[::every]:
        res = pages[path]
        html = decode_html(res.body, _charset(res.content_type))
        out.append(Page(site, path, BASE + path, html, strip_meta(html), truths[path]))
    return out


def static_pages() -> list[Page]:
    """The test table's pages as written (only article_meta.html has a date meta tag: every method must
    keep it first), plus article_meta.html stripped, whose visible text holds no publication date."""
    out = []
    for name, url, truth in ARTICLE_PAGES:
        html = (PAGES / name).read_text(encoding="utf-8")
        out.append(Page("pages", name, BASE + url if url else None, html, html, truth))
        if html != strip_meta(html):
            out.append(Page("pages", name + " stripped", None, strip_meta(html), strip_meta(html), None))
    return out


def _htmldate(html: str, url: str | None, extensive: bool) -> datetime | None:
    found = find_date(html, url=url, original_date=True, extensive_search=extensive, outputformat=HD_FORMAT)
    return datetime.strptime(found, HD_FORMAT) if found else None


def methods(old: types.ModuleType | None) -> dict[str, Callable[[Page], datetime | None]]:
    m: dict[str, Callable[[Page], datetime | None]] = {
        "(a) ours, meta in place": lambda p: dates.article_date(p.html),
        "(b) ours, meta stripped": lambda p: dates.article_date(p.stripped),
        "(b+url) ours + URL": lambda p: dates.article_date(p.stripped, url=p.url),
        "(c1) htmldate extensive": lambda p: _htmldate(p.stripped, p.url, True),
        "(c2) htmldate plain": lambda p: _htmldate(p.stripped, p.url, False),
        "(d) ours+URL, else htmldate plain": lambda p: (dates.article_date(p.stripped, url=p.url)
                                                       or _htmldate(p.stripped, p.url, False)),
    }
    if old is not None:
        m["(b0) previous ours, stripped"] = lambda p: old.article_date(p.stripped)
    return m


def score(fn: Callable[[Page], datetime | None], pages: list[Page], repeat: int) -> Score:
    """Scores from the first pass; time = the fastest of `repeat` passes (the machine is shared)."""
    s = Score()
    passes, got = [], []
    for _ in range(max(1, repeat)):
        reset_caches()  # htmldate's LRU caches would make a second pass over the same pages free
        t0 = time.perf_counter()
        got = [fn(p) for p in pages]
        passes.append(time.perf_counter() - t0)
    s.seconds = min(passes)
    for p, found in zip(pages, got):
        if found is None and p.truth is None or found and p.truth and found.date() == p.truth.date():
            s.right += 1
            s.time_ok += found is None or found == p.truth
        elif found is None:
            s.none += 1
            s.misses.append(f"{p.name} none (truth {p.truth:%Y-%m-%d})")
        else:
            s.wrong += 1
            truth = f"{p.truth:%Y-%m-%d}" if p.truth else "none"
            s.misses.append(f"{p.name} {found:%Y-%m-%d} (truth {truth})")
    return s


def load_old(rev: str) -> types.ModuleType:
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:crawler/dates.py"],
                         capture_output=True, text=True, check=True).stdout
    mod = types.ModuleType("dates_at_" + rev)
    exec(compile(src, f"{rev}:crawler/dates.py", "exec"), mod.__dict__)
    return mod


def _ratio(x: float, base: float) -> str:
    return f"{x / base:.2f}" if base else ("1.00" if not x else "inf")


def report(site: str, pages: list[Page], fns: dict[str, Callable[[Page], datetime | None]], show: int,
           repeat: int) -> None:
    scores = {name: score(fn, pages, repeat) for name, fn in fns.items()}
    base = scores["(b) ours, meta stripped"]
    n = len(pages)
    for name, s in scores.items():
        per = s.seconds / n * 1e3
        print(f"dates: {site:6} {name:36} right {s.right:5}/{n} ({s.right / n:6.1%}) wrong {s.wrong:4} "
              f"none {s.none:4} time-ok {s.time_ok:5} {per:6.3f} ms/page | ratio vs (b): right "
              f"{_ratio(s.right, base.right)} wrong {_ratio(s.wrong, base.wrong)} none "
              f"{_ratio(s.none, base.none)} time {_ratio(s.seconds, base.seconds)}")
        for miss in s.misses[:show]:
            print(f"dates:   miss {miss}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=int, default=2, help="keep every N-th article of the main portal")
    ap.add_argument("--baseline-rev", help="also measure crawler/dates.py as committed at this revision")
    ap.add_argument("--show", type=int, default=3, help="misses to print per method and site")
    ap.add_argument("--repeat", type=int, default=2, help="timed passes per method (the fastest counts)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    sets = {
        "portal": portal_pages("portal", {p.path: p.published for p in portal_posts()}, args.every),
        "unseen": portal_pages("unseen", {p.path: p.published for p in unseen_posts()}, 1),
        "pages": static_pages(),
    }
    stripped = sum(p.html != p.stripped for s in sets.values() for p in s)
    print(f"dates: pages portal {len(sets['portal'])} (1 in {args.every} of the distinct article paths, sorted), "
          f"unseen {len(sets['unseen'])} (all), static {len(sets['pages'])}; date meta tags removed from "
          f"{stripped}; loaded in {time.perf_counter() - t0:.1f} s")
    fns = methods(load_old(args.baseline_rev) if args.baseline_rev else None)
    for site, pages in sets.items():
        report(site, pages, fns, args.show, args.repeat)
    print(f"dates: total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
