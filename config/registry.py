"""The one way to build a registry (STYLE.md §2): an explicit dict filled by a decorator keyed by the word
users write (rule ids, platforms, formats, channels). An empty or duplicate name, or an entry without a
docstring (its first line is what users read), fails loudly at import.

It lives in `config` because every stage may import settings and this module imports nothing of ours.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import TypeVar

T = TypeVar("T")


def registrar(table: MutableMapping[str, T], kind: str, *, also: Iterable[Mapping[str, object]] = (),
              ) -> Callable[[str], Callable[[T], T]]:
    """A decorator factory: `@register("name")` adds the decorated object to `table` under "name".

    `also` are other tables sharing the same namespace (e.g. unit rules and site rules).
    """
    def register(name: str) -> Callable[[T], T]:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{kind} name must be a non-empty string, got {name!r}")
        if name in table or any(name in other for other in also):
            raise ValueError(f"{kind} {name!r} registered twice")

        def add(entry: T) -> T:
            if not (getattr(entry, "__doc__", None) or "").strip():
                raise ValueError(f"{kind} {name!r} needs a docstring: its first line is what users read")
            table[name] = entry
            return entry

        return add

    return register
