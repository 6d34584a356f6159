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


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value, as written (None if absent)."""
    for part in (content_type or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


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


def _fits(body: bytes, encoding: str) -> bool:
    """Whether `encoding` reads the body: strictly, or with a handful of broken bytes (a title cut
    mid-character by the CMS) but not with a wrong codec."""
    if encoding.startswith(("utf-16", "utf-32")) and b"\x00" not in body[:1024]:
        return False   # markup in UTF-16/32 has a zero byte in every ASCII character: the declaration is false
    try:
        body.decode(encoding)
        return True
    except UnicodeDecodeError:
        pass
    except LookupError:
        return False
    text = body.decode(encoding, errors="replace")
    return text.count("\ufffd") <= max(2, len(text) // 2000)


def html_encoding(body: bytes, header_charset: str | None) -> str:
    """The codec a page is read with: declaration first, then header, then detection; never raises.
    The crawl's CharsetMiddleware sets it on the response; `decode_html` decodes with it."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding
    utf8 = _is_utf8_multibyte(body)
    for candidate in (declared_charset(body), normalise_charset(header_charset)):
        if candidate is None:
            continue
        if candidate != "utf-8" and utf8 and candidate not in ("utf-16", "utf-32"):
            return "utf-8"
        if _fits(body, candidate):
            return candidate
    if utf8 or body.isascii():
        return "utf-8"
    best = from_bytes(body).best()
    if best is not None and best.encoding:
        detected = normalise_charset(best.encoding) or best.encoding
        if _fits(body, detected):
            return detected
    # Last resort: Chinese sites are GB18030 far more often than anything else that is not UTF-8.
    return "gb18030" if _fits(body, "gb18030") else "utf-8"


def decode_html(body: bytes, header_charset: str | None) -> str:
    """Text of an HTML/XML page in the codec `html_encoding` chooses (broken bytes replaced)."""
    if not body:
        return ""
    return body.decode(html_encoding(body, header_charset), errors="replace")
