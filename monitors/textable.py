"""Plain-text tables for terminals, aligned by display width (a CJK character takes two columns)."""
from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    lines = ["  ".join(_pad(h, w) for h, w in zip(header, widths)), rule]
    lines += ["  ".join(_pad(c, w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join("  " + line.rstrip() for line in lines)
