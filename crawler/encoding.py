"""Decode a fetched page whatever its server claims.

Order: byte-order mark, the page's own declaration (<meta charset>, http-equiv, <?xml encoding?>), the
HTTP header, then detection with charset-normalizer (DESIGN.md). Each declared candidate is validated by
actually decoding it, because gov servers send `Content-Type: text/html; charset=utf-8` for GBK files and
old templates declare gb2312 on pages long since re-saved as UTF-8. w3lib's html_to_unicode (inside
Scrapy) trusts the header first, which is the wrong way round for these sites.
"""
from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_DECL_RE = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_\-.]+)""",
    re.I,
)
# GB2312 and GBK are subsets of GB18030; decoding with the superset keeps the characters a site
# typed outside the declared set (rare names, 㙍) instead of turning them into U+FFFD.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "x-gbk": "gb18030",
              "gb_2312-80": "gb18030", "euc-cn": "gb18030", "hz-gb-2312": "gb18030",
              "iso-8859-1": "cp1252", "latin-1": "cp1252", "ascii": "utf-8", "us-ascii": "utf-8"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def normalise_charset(name: str | None) -> str | None:
    """A Python codec name for a declared charset, widened to its superset; None if unknown."""
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    if name in _SUPERSETS:   # some aliases (x-gbk) are unknown to Python's codec registry
        return _SUPERSETS[name]
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    return _SUPERSETS.get(name) or _SUPERSETS.get(canonical) or canonical


def declared_charset(body: bytes) -> str | None:
    """The charset the document declares about itself in its first 4 KB."""
    m = _DECL_RE.search(body[:4096])
    if not m:
        return None
    return normalise_charset((m.group(1) or m.group(2)).decode("ascii", "ignore"))


def _is_utf8_multibyte(body: bytes) -> bool:
    # Valid UTF-8 with non-ASCII bytes: GBK text practically never passes this test, so it beats a
    # gb2312 declaration (the page was re-saved as UTF-8 and the template kept its old meta).
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _try(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except UnicodeDecodeError:
        pass
    except LookupError:
        return None
    # Tolerate a handful of broken bytes (a title cut mid-character by the CMS) but not a wrong codec.
    text = body.decode(encoding, errors="replace")
    if text.count("\ufffd") <= max(2, len(text) // 2000):
        return text
    return None


def decode_html(body: bytes, header_charset: str | None) -> str:
    """Text of an HTML/XML page: declaration first, then header, then detection; never raises."""
    if not body:
        return ""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, errors="replace")
    utf8 = _is_utf8_multibyte(body)
    for candidate in (declared_charset(body), normalise_charset(header_charset)):
        if candidate is None:
            continue
        if candidate != "utf-8" and utf8 and candidate not in ("utf-16", "utf-32"):
            return body.decode("utf-8")
        text = _try(body, candidate)
        if text is not None:
            return text
    if utf8 or body.isascii():
        return body.decode("utf-8")
    best = from_bytes(body).best()
    if best is not None and best.encoding:
        detected = normalise_charset(best.encoding) or best.encoding
        text = _try(body, detected)
        if text is not None:
            return text
    # Last resort: Chinese sites are GB18030 far more often than anything else that is not UTF-8.
    text = _try(body, "gb18030")
    return text if text is not None else body.decode("utf-8", errors="replace")
