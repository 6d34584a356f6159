"""Unit names as people write them: the one resolver behind `--unit`, the accounts register and the 分工表.

A name is the settings unit when it is that unit's name or one of its `aliases` ([[units]] aliases = [...]), or
when it is the same name written loosely and only one unit fits: 三叉街街道办事处 for 三叉街街道 (suffixes 办事处,
人民政府 dropped), 仓山区审计局 for 审计局 (a known name ending it, the place before it dropped). Anything else is
unknown, and the message names the closest known units (您是否要找：审计局？) instead of listing them all: a typo
(审记局, 螺州镇), an abbreviation (市监局 for 市场监管局). Nothing here creates a unit.

Light on purpose (no openpyxl): the CLI resolves `--unit` through it before anything else is loaded.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

from config.model import UnitSettings

_SPACES = re.compile(r"\s+")
_UNIT_SUFFIXES = ("办事处", "人民政府")
SUGGEST_CUTOFF = 0.5  # similarity (difflib ratio of the loose keys) a suggestion needs
SUGGEST_LIMIT = 100  # distinct unknown names answered with suggestions (each compares with every known name)
MIN_TAIL = 3  # a known name (or alias) at least this long may end a longer name: 仓山区审计局 -> 审计局
_PLACE = re.compile(r".+[区县]")  # what may come before it: a district or county (福州市仓山区, 闽侯县)


def norm(text: str) -> str:
    """A header or name compared loosely: NFKC, no whitespace, lower case, no trailing colon."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower().rstrip(":：")


def unit_key(unit: str) -> str:
    """A unit name compared loosely: 三叉街街道 = 三叉街街道办事处 (suffixes 办事处, 人民政府 dropped)."""
    key = norm(unit)
    for suffix in _UNIT_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
    return key


def _abbreviates(short: str, long: str) -> bool:
    """市监局 for 市场监管局: the short name's characters in order in the long one, first and last the same."""
    if len(short) < 2 or len(short) >= len(long) or short[0] != long[0] or short[-1] != long[-1]:
        return False
    rest = iter(long)
    return all(ch in rest for ch in short)


class UnitNames:
    """Known unit names and their aliases, keyed: `resolve` is a dict look-up (a scan of the names only for a
    name none of them equals), `suggest` the closest known names of an unknown one."""

    def __init__(self, names: Iterable[str] = (), aliases: Iterable[tuple[str, str]] = ()) -> None:
        self.names: dict[str, None] = {}  # in order
        self._by_key: dict[str, list[str]] = {}  # loose key of a name or alias -> the units it names
        self._resolved: dict[str, str | None] = {}
        self._suggested: dict[str, list[str]] = {}
        for name in names:
            self.add(name)
        for alias, name in aliases:
            self.add_alias(alias, name)

    @classmethod
    def of(cls, units: Iterable[UnitSettings]) -> UnitNames:
        """The settings' units with their aliases."""
        units = list(units)
        return cls([u.name for u in units], [(a, u.name) for u in units for a in u.aliases])

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def _index(self, written: str, name: str) -> None:
        units = self._by_key.setdefault(unit_key(written), [])
        if name not in units:
            units.append(name)
        self._resolved.clear()
        self._suggested.clear()

    def add(self, name: str) -> None:
        if name not in self.names:
            self.names[name] = None
            self._index(name, name)

    def add_alias(self, alias: str, name: str) -> None:
        self._index(alias, name)

    def find(self, unit: str) -> str | None:
        """The settings unit `unit` names (its name, an alias, or loosely one unit only), else None."""
        if unit in self.names:
            return unit
        if unit not in self._resolved:
            self._resolved[unit] = self._find(unit_key(unit))
        return self._resolved[unit]

    def _find(self, key: str) -> str | None:
        matches = self._by_key.get(key, [])
        if len(matches) == 1:
            return matches[0]
        if matches:
            return None  # two units written alike: the user must say which
        # The longest known name ending this one after a place: a look-up per suffix, not a scan of the names.
        tail = next((key[i:] for i in range(1, len(key) - MIN_TAIL + 1)
                     if key[i:] in self._by_key and _PLACE.fullmatch(key[:i])), None)
        units = self._by_key.get(tail, []) if tail else []
        return units[0] if len(units) == 1 else None

    def resolve(self, unit: str) -> str:
        """The settings unit `unit` names, else `unit` itself (test with `in`)."""
        return self.find(unit) or unit

    def suggest(self, unit: str, n: int = 3) -> list[str]:
        """Up to `n` known units most like an unknown name, closest first ([] past SUGGEST_LIMIT names)."""
        if unit not in self._suggested:
            if len(self._suggested) >= SUGGEST_LIMIT:
                return []
            key = unit_key(unit)
            scores: dict[str, float] = {}
            for known, units in self._by_key.items():
                score = difflib.SequenceMatcher(None, key, known).ratio()
                if _abbreviates(key, known) or _abbreviates(known, key):
                    score = max(score, 0.75)
                for name in units:
                    scores[name] = max(scores.get(name, 0.0), score)
            order = {name: i for i, name in enumerate(self.names)}
            close = sorted((s for s in scores.items() if s[1] >= SUGGEST_CUTOFF),
                           key=lambda s: (-s[1], order.get(s[0], 0)))
            self._suggested[unit] = [name for name, _ in close[:n]]
        return self._suggested[unit]

    def unknown(self, unit: str, hint: str = "", what: str = "单位") -> str:
        """The Chinese sentence for an unknown unit: the closest known ones, or `hint` when none is close."""
        near = self.suggest(unit)
        if near:
            return f"{what}“{unit}”不在设置的单位中，您是否要找：{'、'.join(near)}？"
        return f"{what}“{unit}”不在设置的单位中" + (f"，{hint}" if hint else "")


__all__ = ["UnitNames", "norm", "unit_key"]
