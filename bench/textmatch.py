"""Typos and sensitive words: the Aho-Corasick matcher against a plain loop of `term in text` over the dictionary.

    python bench/textmatch.py [--articles 10000] [--terms 10000] [--plain-articles 0] [--seed 11]

Texts: `--articles` articles of the fixture portal's kind (a title and its body paragraphs from
fixtures/portal/text.py, about 300 characters each); one in 10 gets a planted term in a sentence of its own:
a shipped typo (不径而走 …), a generated term or a sensitive word.
Dictionary: `--terms` terms: the shipped typos.tsv (wrong forms), the neutral sensitive sample, and generated
wrong → right pairs of 3 to 5 characters drawn from the articles' own characters (so a plain `in` meets its
first character often, as it would with real words), each absent from the unplanted texts.

Methods, timed in this run over the same texts:
  (a) `TextMatcher.find` (crawler.content.textmatch): one automaton, normalisation, guards, context: what the
      crawl runs; the automaton's build time is printed apart;
  (b) the baseline: for each text, `[t for t in terms if t in text]` over the dictionary's terms.
(b) is timed on all texts by default (30 to 60 s, most of the run: about a minute on 2 shared cores);
`--plain-articles N` times it on the first N only and scales linearly to all (it is linear in texts × terms),
and the line says so. Both must find the same (article, term) pairs on the texts both ran on.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

import ahocorasick

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.content.textmatch import TextMatcher, read_word_file, shipped_dictionary  # noqa: E402
from fixtures.portal import text as portal_text  # noqa: E402

SAMPLE = ROOT / "crawler" / "content" / "data" / "sensitive-sample.txt"


def articles(count: int, rng: random.Random) -> list[str]:
    units = [*portal_text.DEPT_TOPICS, "建新镇", "盖山镇", "下渡街道"]
    out = []
    for _ in range(count):
        unit = rng.choice(units)
        kind = "township" if unit.endswith(("镇", "街道")) else "department"
        title = rng.choice([portal_text.dynamic_title(rng, unit, kind), portal_text.notice_title(rng, unit),
                            portal_text.disclosure_title(rng, unit, rng.randint(1, 12)),
                            portal_text.district_title(rng)])
        out.append(title + "\n" + "\n".join(portal_text.body_paragraphs(rng, unit, title, "9月15日")))
    return out


def generated_pairs(count: int, texts: list[str], taken: set[str], rng: random.Random) -> list[tuple[str, str]]:
    """`count` wrong → right pairs of the texts' own characters, no wrong form in the texts (candidates are
    screened with one automaton pass over the texts: preparation, not timed)."""
    chars = Counter(ch for t in texts[:500] for ch in t if "\u4e00" <= ch <= "\u9fff")
    pool, weights = list(chars), list(chars.values())
    pairs: list[tuple[str, str]] = []
    while len(pairs) < count:
        candidates = {"".join(rng.choices(pool, weights, k=rng.randint(3, 5))) for _ in range(count)} - taken
        screen = ahocorasick.Automaton()
        for word in candidates:
            screen.add_word(word, word)
        screen.make_automaton()
        in_texts = {word for text in texts for _, word in screen.iter(text)}
        for wrong in sorted(candidates - in_texts):
            right = wrong[:-1] + rng.choice(pool)
            if len(pairs) == count or right == wrong or right in taken or wrong in taken:
                continue
            taken.update((wrong, right))
            pairs.append((wrong, right))
    return pairs


def plant(texts: list[str], terms: list[str], rng: random.Random) -> int:
    planted = 0
    for i in range(0, len(texts), 10):
        term = rng.choice(terms)
        cut = texts[i].index("。") + 1
        texts[i] = texts[i][:cut] + "据反映，" + term + "。" + texts[i][cut:]
        planted += 1
    return planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--terms", type=int, default=10_000)
    ap.add_argument("--plain-articles", type=int, default=0, help="texts the plain loop is timed on (0: all)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    texts = articles(args.articles, rng)
    shipped = shipped_dictionary()
    sensitive = read_word_file(SAMPLE)
    taken = {w for pair in shipped.typos for w in pair} | set(sensitive) | set(shipped.guards)
    generated = generated_pairs(args.terms - len(shipped.typos) - len(sensitive), texts, taken, rng)
    typos = [*shipped.typos, *generated]
    terms = [w for w, _ in typos] + sensitive
    plantable = [w for w, _ in shipped.typos[:150]] + [w for w, _ in generated[:150]] + sensitive
    planted = plant(texts, plantable, rng)
    chars = sum(len(t) for t in texts)
    print(f"textmatch: {len(texts)} articles, {chars / 1e6:.2f} M characters ({chars // len(texts)} a text), "
          f"{planted} planted terms; dictionary {len(terms)} terms ({len(shipped.typos)} shipped typos, "
          f"{len(sensitive)} sensitive sample, {len(generated)} generated), {len(shipped.guards)} guard words; "
          f"prepared in {time.perf_counter() - t0:.1f} s")

    t = time.perf_counter()
    matcher = TextMatcher(typos, (), sensitive, shipped.guards)
    build = time.perf_counter() - t
    t = time.perf_counter()
    found = [matcher.find(text) for text in texts]
    ac = time.perf_counter() - t
    hits = sum(map(len, found))
    print(f"textmatch: aho-corasick {ac:.2f} s for {len(texts)} texts = {ac / len(texts) * 1e6:.0f} µs a text "
          f"(automaton built once in {build:.2f} s); {hits} hits")

    n = min(args.plain_articles or len(texts), len(texts))
    t = time.perf_counter()
    plain = [[term for term in terms if term in text] for text in texts[:n]]
    measured = time.perf_counter() - t
    scaled = measured * len(texts) / n
    how = "measured on all" if n == len(texts) else f"measured on the first {n} and scaled x{len(texts) / n:g}"
    print(f"textmatch: plain loop {scaled:.2f} s for {len(texts)} texts = {scaled / len(texts) * 1e6:.0f} µs a text "
          f"({how}: {measured:.2f} s)")
    print(f"ratio plain loop / aho-corasick: {scaled / ac:.1f} (build included: {scaled / (ac + build):.1f})")

    ours = {(i, h.term) for i, hs in enumerate(found[:n]) for h in hs}
    theirs = {(i, term) for i, ts in enumerate(plain) for term in ts}
    same = "yes" if ours == theirs else f"NO: only aho-corasick {sorted(ours - theirs)[:5]}, only plain " \
                                        f"{sorted(theirs - ours)[:5]}"
    print(f"textmatch: same hits on the {n} texts both ran on: {same} ({len(ours)} (article, term) pairs; "
          f"{sum(1 for i in range(0, n, 10))} planted there)")


if __name__ == "__main__":
    main()
