"""Writing TOML text: the one string escaper product code uses when it appends to `settings.toml`.

tomllib only reads; tomli-w would re-serialise the whole file and drop the user's comments, so settings are
appended as text blocks built with these helpers (and parsed back before being written).
"""
from __future__ import annotations

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_str(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped; lone surrogates dropped."""
    out = ['"']
    for ch in str(value):
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            continue  # not encodable in UTF-8 nor as a TOML escape
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_value(value: object) -> str:
    """A scalar or a list of strings as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return toml_str(str(value))
