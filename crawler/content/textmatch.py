"""Typos, protected terms and sensitive words in an article's text: one Aho-Corasick automaton (pyahocorasick)
over every term of every kind, built once per run, one pass over each text (never a loop of `in`).

Kinds of term:
- typo: a common wrong form → its right form, from the shipped `data/typos.tsv` plus `[content] typos`
  (a settings pair replaces a shipped pair with the same wrong form);
- protected: a term the district protects (a leader's name and title, a unit's full name, a fixed formulation)
  → its wrong forms; a wrong form found is a typo hit with `serious=True`;
- sensitive: `[content] sensitive_words` plus the words of `[content] sensitive_file`.

A hit inside a longer correct word is not a hit: guard words are every right form, every protected term and
the guard column of typos.tsv (既使用 holds the wrong form 既使); a hit whose span lies inside an occurrence of a
strictly longer guard word is dropped, and so is a hit inside a longer hit of the same rule (the longest at a
position wins). Every other occurrence is reported: the caller groups them.

Text and terms are normalised alike before matching (full-width ASCII → half-width, ASCII lower case,
whitespace next to a CJK character removed so that a typo split by a line break still matches, whitespace
between Latin characters → one space); positions and context refer to the original text.
"""
from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import ahocorasick

if TYPE_CHECKING:
    from config.model import ContentSettings

TYPO_RULE = "content.typo"
SENSITIVE_RULE = "content.sensitive"
CONTEXT_CHARS = 20  # characters of context on each side of a hit

# Full-width ASCII (U+FF01..U+FF5E) → half-width; the ideographic space is whitespace and handled below.
_FOLD = {0xFF01 + i: 0x21 + i for i in range(94)}
_FOLD.update({ord(c): ord(c.lower()) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
_FOLD.update({0xFF21 + i: ord("a") + i for i in range(26)})
_SPACE_RE = re.compile(r"[\s\u200b\u200c\u200d\ufeff]+")


def _is_cjk(ch: str) -> bool:
    """An ideograph or CJK punctuation (after folding: full-width letters count as Latin)."""
    o = ord(ch)
    return (0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF
            or 0x20000 <= o <= 0x2FFFF)


def normalise(text: str) -> tuple[str, list[int], list[int]]:
    """The text as matched, with the segments mapping it back: (normalised, segment starts in it, the same
    segments' starts in the original). A segment is a stretch copied character for character."""
    folded = text.translate(_FOLD)
    pieces: list[str] = []
    norm_starts: list[int] = []
    orig_starts: list[int] = []
    kept = last = 0
    for m in _SPACE_RE.finditer(folded):
        start, end = m.span()
        if start > last:
            pieces.append(folded[last:start])
            norm_starts.append(kept)
            orig_starts.append(last)
            kept += start - last
        # layout inside Chinese text (also next to Latin: "VPN 翻墙"); between Latin words it separates them
        layout = 0 < start and end < len(folded) and (_is_cjk(folded[start - 1]) or _is_cjk(folded[end]))
        if not layout:
            pieces.append(" ")
            norm_starts.append(kept)
            orig_starts.append(start)
            kept += 1
        last = end
    if last < len(folded):
        pieces.append(folded[last:])
        norm_starts.append(kept)
        orig_starts.append(last)
    return "".join(pieces), norm_starts, orig_starts


def _key(term: str) -> str:
    return normalise(term.strip())[0].strip()


@dataclass(frozen=True)
class TextHit:
    rule: str  # TYPO_RULE | SENSITIVE_RULE
    term: str  # the dictionary's form of what was found (the wrong form; the sensitive word as listed)
    suggestion: str  # the right form; "" for a sensitive word
    context: str  # ≈CONTEXT_CHARS characters each side from the original text, the hit marked 【…】
    position: int  # where the hit starts in the original text
    serious: bool = False  # a protected term's wrong form


@dataclass(frozen=True)
class _Entry:
    rule: str
    term: str
    suggestion: str
    serious: bool


@dataclass(frozen=True)
class _Key:
    length: int  # of the normalised key
    guard: bool  # a correct word containing a shorter term
    entries: tuple[_Entry, ...]  # what a hit of this key reports (none for a pure guard word)


class TextMatcher:
    """One automaton over the typos' wrong forms, the protected terms' wrong forms, the sensitive words and the
    guard words. Build it once per run (`from_settings`) and call `find` on each text."""

    def __init__(self, typos: Iterable[tuple[str, str]], protected: Iterable[tuple[str, Iterable[str]]],
                 sensitive: Iterable[str], guards: Iterable[str] = ()) -> None:
        hits: dict[str, dict[str, _Entry]] = {}  # key → rule → entry
        guard_words: set[str] = {_key(g) for g in guards} - {""}
        for wrong, right in typos:
            key = self._term_key(wrong, "错别字")
            if key == _key(right):
                raise ValueError(f"错别字“{wrong}”与正确写法“{right}”相同")
            hits.setdefault(key, {})[TYPO_RULE] = _Entry(TYPO_RULE, wrong.strip(), right.strip(), False)
            guard_words.add(self._term_key(right, "正确写法"))
        for term, wrong_forms in protected:
            guard_words.add(self._term_key(term, "保护词"))
            for wrong in wrong_forms:
                key = self._term_key(wrong, f"保护词“{term}”的错误写法")
                if key == _key(term):
                    raise ValueError(f"保护词“{term}”的错误写法与其本身相同")
                hits.setdefault(key, {})[TYPO_RULE] = _Entry(TYPO_RULE, wrong.strip(), term.strip(), True)
        for word in sensitive:
            key = self._term_key(word, "敏感词")
            hits.setdefault(key, {})[SENSITIVE_RULE] = _Entry(SENSITIVE_RULE, word.strip(), "", False)
        self._hits = hits
        self._automaton = ahocorasick.Automaton()
        for key in hits.keys() | self._useful_guards(guard_words, hits):
            entries = tuple(hits.get(key, {}).values())
            self._automaton.add_word(key, _Key(len(key), key in guard_words, entries))
        if len(self._automaton):
            self._automaton.make_automaton()

    @staticmethod
    def _term_key(term: str, what: str) -> str:
        key = _key(term)
        if not key:
            raise ValueError(f"{what}不能为空")
        return key

    @staticmethod
    def _useful_guards(guards: set[str], hits: dict[str, dict[str, _Entry]]) -> set[str]:
        """The guard words that hold a shorter term (the others can never drop a hit): found with a scratch
        automaton of the terms, so a large dictionary costs one pass over the guard words."""
        if not hits:
            return set()
        terms = ahocorasick.Automaton()
        for key in hits:
            terms.add_word(key, len(key))
        terms.make_automaton()
        return {g for g in guards if any(n < len(g) for _, n in terms.iter(g))}

    @classmethod
    def from_settings(cls, content: ContentSettings, base_dir: Path) -> TextMatcher:
        """The shipped dictionary with `[content] typos`, `protected`, `sensitive_words` and the words of
        `sensitive_file` (relative to `base_dir`, the settings file's directory)."""
        shipped = shipped_dictionary()
        sensitive = list(content.sensitive_words)
        if content.sensitive_file:
            sensitive += read_word_file(base_dir / Path(content.sensitive_file).expanduser())
        return cls([*shipped.typos, *content.typos], content.protected, sensitive, shipped.guards)

    def find(self, text: str) -> list[TextHit]:
        """Every occurrence of a term in `text`, in order of position."""
        if not text or not len(self._automaton):
            return []
        norm, norm_starts, orig_starts = normalise(text)
        guards: list[tuple[int, int]] = []
        found: list[tuple[int, int, _Entry]] = []
        for last, key in self._automaton.iter(norm):
            start = last - key.length + 1
            if key.guard:
                guards.append((start, last + 1))
            found.extend((start, last + 1, entry) for entry in key.entries)
        if not found:
            return []
        kept = [(s, e, entry) for s, e, entry in found
                if not any(gs <= s and e <= ge and ge - gs > e - s for gs, ge in guards)
                and not any(other.rule == entry.rule and hs <= s and e <= he and he - hs > e - s
                            for hs, he, other in found)]

        def original(i: int) -> int:
            k = bisect.bisect_right(norm_starts, i) - 1
            return orig_starts[k] + i - norm_starts[k]

        out = []
        for s, e, entry in kept:
            start, end = original(s), original(e - 1) + 1
            out.append(TextHit(entry.rule, entry.term, entry.suggestion, context(text, start, end), start,
                               entry.serious))
        out.sort(key=lambda h: (h.position, h.rule))
        return out

    def knows(self, rule: str, term: str) -> bool:
        """Whether today's dictionaries still hold `term` for `rule` (a stored hit whose word was since removed
        from the settings is not reported again)."""
        return rule in self._hits.get(_key(term), {})


def context(text: str, start: int, end: int) -> str:
    """The hit marked 【…】 with CONTEXT_CHARS characters each side, whitespace runs (newlines) as one space."""
    around = (text[max(0, start - CONTEXT_CHARS):start] + "【" + text[start:end] + "】"
              + text[end:end + CONTEXT_CHARS])
    return _SPACE_RE.sub(" ", around).strip()


@dataclass(frozen=True)
class Dictionary:
    typos: tuple[tuple[str, str], ...]
    guards: tuple[str, ...]


def parse_typos(lines: Iterable[str], source: str) -> Dictionary:
    """typos.tsv: `wrong<TAB>right[<TAB>guard,guard…]` a line; `#` comments and blank lines ignored."""
    typos: list[tuple[str, str]] = []
    guards: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.rstrip("\r\n").split("\t")
        if len(cols) not in (2, 3) or not cols[0].strip() or not cols[1].strip():
            raise ValueError(f"{source} 第 {number} 行格式错误：应为“错误写法<TAB>正确写法[<TAB>保护词,…]”")
        typos.append((cols[0].strip(), cols[1].strip()))
        if len(cols) == 3:
            guards += [g.strip() for g in cols[2].split(",") if g.strip()]
    return Dictionary(tuple(typos), tuple(guards))


@functools.cache
def shipped_dictionary() -> Dictionary:
    """The typos dictionary shipped with the product (crawler/content/data/typos.tsv)."""
    text = resources.files("crawler.content").joinpath("data/typos.tsv").read_text(encoding="utf-8")
    return parse_typos(text.splitlines(), "typos.tsv")


def read_word_file(path: Path) -> list[str]:
    """A word list: UTF-8, one word a line, `#` comments and blank lines ignored."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"找不到敏感词文件 {path}") from None
    except UnicodeDecodeError:
        raise ValueError(f"无法读取敏感词文件 {path}：不是 UTF-8 编码的文本") from None
    except OSError as exc:
        raise ValueError(f"无法读取敏感词文件 {path}：{exc.strerror or exc}") from None
    words = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [w for w in words if w]
