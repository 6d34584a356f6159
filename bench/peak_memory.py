"""Peak memory of `monitor crawl` against hostile pages and feeds, each against a normal page in the same run.

    python bench/peak_memory.py [--cases ok huge gzipbomb feed feed-bomb feed-endless] [--max-page-mb 5]

One `fixtures.hostile.HostileServer` on loopback (every hostile body generated while it is sent). For each case
a fresh settings.toml (fixtures.hostile.write_settings: one column, or one feed account; SQLite in a temp dir)
and `monitor --config X crawl` as a child process; its peak RSS is the child's own `ru_maxrss` from
`os.wait4` (not RUSAGE_CHILDREN, which keeps the largest child of the whole run). Cases:

  ok            a normal list column (baseline for pages)
  huge          a 120 MB list page, chunked, no Content-Length
  gzipbomb      a list page whose 1 MB of gzip inflates to 1 GiB
  feed          a normal RSS feed, read as an account (baseline for feeds)
  feed-bomb     an RSS feed whose 1 MB of gzip inflates to 1 GiB
  feed-endless  an RSS feed that never ends

Lines: `memory: <case>` peak MB, ratio to its baseline, exit code, wall time, and the child's failure line
(`reason:`); then `target` (issue: every case under 400 MB, each reported as a failure with its reason).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.hostile import CASES, HostileServer, crawl_child, write_settings

TARGET_MB = 400
BASELINES = {"ok": "ok", "huge": "ok", "gzipbomb": "ok", "feed": "feed", "feed-bomb": "feed", "feed-endless": "feed"}
REASON_WORDS = ("失败：", "无法读取（")  # a column's problem line, an account's progress line


@dataclass
class Run:
    case: str
    peak_mb: float
    exit_code: int
    seconds: float
    stderr: str

    @property
    def failure(self) -> str:
        """The failure line naming the limit or the timeout, '' if there is none (`monitor crawl` exits 1 for a
        failed column; an unreadable account is reported on its line and in the summary, exit 0)."""
        return next((line.strip() for line in self.reasons if "超过" in line or "超时" in line), "")

    @property
    def reasons(self) -> list[str]:
        """The child's lines that say what failed (the crawl's problem lines, an account's reason)."""
        return [line for line in self.stderr.splitlines() if any(w in line for w in REASON_WORDS)]


def run_case(case: str, base: str, work: Path, max_page_mb: float | None = None, timeout: float = 30.0) -> Run:
    """`monitor crawl` on `case` in a child (fixtures.hostile.crawl_child)."""
    home = work / case
    home.mkdir(parents=True, exist_ok=True)
    conf = write_settings(home / "settings.toml", base, case, f"sqlite:///{(home / 'monitor.db').as_posix()}",
                          timeout=timeout)
    if max_page_mb is not None:
        conf.write_text(conf.read_text(encoding="utf-8") + f"max_page_mb = {max_page_mb}\n", encoding="utf-8")
    child = crawl_child(conf)
    return Run(case, child.peak_mb, child.exit_code, child.seconds, child.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--max-page-mb", type=float, default=None, help="[crawl] max_page_mb (default: the settings')")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    cases = list(dict.fromkeys([BASELINES[c] for c in a.cases] + a.cases))  # baselines first
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory() as tmp, HostileServer() as server:
        for case in cases:
            run = runs[case] = run_case(case, server.base_url, Path(tmp), a.max_page_mb)
            base = runs[BASELINES[case]]
            print(f"memory: {case} ({CASES[case][0]}): peak {run.peak_mb:.0f} MB, ratio "
                  f"{run.peak_mb / base.peak_mb:.2f} to {base.case}; exit {run.exit_code}; {run.seconds:.1f} s")
            for line in run.reasons:
                print(f"reason: {case}: {line.strip()}")
    hostile = [r for r in runs.values() if BASELINES[r.case] != r.case]
    under = all(r.peak_mb < TARGET_MB for r in hostile)
    failed = all(r.failure for r in hostile)
    print(f"target every hostile case < {TARGET_MB} MB: {'PASS' if under else 'FAIL'} "
          f"(max {max((r.peak_mb for r in hostile), default=0):.0f} MB); "
          f"each reported as a failure with its reason: {'PASS' if failed else 'FAIL'}")


if __name__ == "__main__":
    main()
