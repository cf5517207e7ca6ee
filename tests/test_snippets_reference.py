"""Highlighting (search/snippets.py) against the word-by-word reference: the analyzer run on
every word of the text, marked when one of its index terms was asked for.

`marks` and `spans` analyze only the words that can yield a wanted term (a plain ASCII word
keeps its first letter through lower-casing and stemming); this checks that they mark exactly
what the reference marks, on real abstracts and on words made to break that rule if it did
not hold (accents, underscores, digits, capitals, stemmer exceptions such as dying -> die).
A formula (`$...$`) holding a matched word is marked whole, and a window never cuts one.
The coverage stage reads the same match (`Matched.terms`): checked against `analyze` of the
whole title and abstract, and the snippet window against the window code it replaced.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import re
from pathlib import Path

from paperfeed.latex_text import math_regions
from paperfeed.search.fusion import coverage_features
from paperfeed.search.keyword import analyze, parse_query
from paperfeed.search.snippets import Span, marks, matched, spans

FIXTURES = Path(__file__).parent / "fixtures"
WORD = re.compile(r"\w+")


def reference_marks(text: str, terms: set[str]) -> list[Span]:
    """Every matched word marked, a formula with a matched word marked whole."""
    formulas = math_regions(text)
    out: list[Span] = []
    pos = 0
    for m in WORD.finditer(text):
        if terms and set(analyze(m.group(0))) & terms:
            s, e = next(((s, e) for s, e in formulas if s < m.start() < e), m.span())
            if s < pos:
                continue  # in the formula just marked
            if s > pos:
                out.append(Span(text[pos:s], False))
            out.append(Span(text[s:e], True))
            pos = e
    if pos < len(text):
        out.append(Span(text[pos:], False))
    return out


def reference_spans(text: str, terms: set[str], width: int = 240) -> list[Span]:
    """The snippet window as written before `window` (counting hits pairwise), on the
    word-by-word matches, with formulas whole: a hit inside one is the whole formula (once),
    and a cut that falls inside one moves to its start (its end when that leaves nothing)."""
    formulas = math_regions(text)

    def formula_at(pos: int) -> tuple[int, int] | None:
        return next(((s, e) for s, e in formulas if s < pos < e), None)

    hits: list[tuple[int, int]] = []
    for m in WORD.finditer(text):
        if terms and set(analyze(m.group(0))) & terms:
            hit = formula_at(m.start() + 1) or m.span()
            if hit not in hits:
                hits.append(hit)
    start, end = 0, min(len(text), width)
    if hits and len(text) > width:
        best, best_count = hits[0][0], 0
        for i, h in enumerate(hits):
            count = sum(1 for g in hits[i:] if g[0] < h[0] + width)
            if count > best_count:
                best, best_count = h[0], count
        start = max(0, best - width // 4)
        space = text.rfind(" ", 0, start)
        start = space + 1 if start and space >= 0 else start
        end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    if (around := formula_at(start)) is not None:
        start = around[0]
    if end < len(text) and (around := formula_at(end)) is not None:
        end = around[0] if around[0] > start else around[1]
    out = [Span("… ", False)] if start > 0 else []
    pos = start
    for s, e in hits:
        if s < start or e > end:
            continue
        if s > pos:
            out.append(Span(text[pos:s], False))
        out.append(Span(text[s:e], True))
        pos = e
    if pos < end:
        out.append(Span(text[pos:end], False))
    if end < len(text):
        out.append(Span(" …", False))
    return out


def papers() -> list[tuple[str, str]]:
    """(title, abstract) of every paper in the fixtures."""
    found = []
    for path in sorted(FIXTURES.glob("*.jsonl")) + sorted(FIXTURES.glob("*.jsonl.gz")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                paper = record.get("paper", record) if isinstance(record, dict) else {}
                title = paper.get("title")
                abstract = paper.get("abstract", paper.get("summary"))
                if isinstance(title, str) and isinstance(abstract, str):
                    found.append((title, abstract))
    return found


def abstracts() -> list[str]:
    return [text for paper in papers() for text in paper]


TRICKY_ASCII = (  # takes the fast path: only words with a wanted first letter are analyzed
    "Dying and lying, tying knots; skies, skis, early only idly gently ugly singly. "
    "3D-printing 2024 Bandits BOUNDS Boundaries upper-bound UPPER Y-axis yes Yield Ideas "
    "KELVIN K-means a I 's O'Brien don't e.g. i.e. x2 X-ray"
)
TRICKY = (  # goes word by word
    TRICKY_ASCII + " Café naïve Ærø Straße ÉCOLE résumé — x_bandits foo_Bound __init__ "
    "Öl ∂∫≈ 日本語 Kelvin ﬁnite ﬂow"
)


def test_marks_and_spans_equal_the_word_by_word_reference() -> None:
    texts = [*abstracts(), TRICKY, TRICKY_ASCII]
    assert len(texts) > 50
    vocabulary = sorted({w for t in texts for w in WORD.findall(t)})
    rng = random.Random(3)
    queries = [
        "upper bound",
        "bandits",
        "dying lie",
        "cafe naive aero strasse ecole",
        "x bandits init",
        "dying lying tying yes",
        "brien don x2 x ray",
        "3d printing 2024",
        "kelvin k means finite flow",
        "y axis yield idea",
        "skies sky ski early onli",
        "ldots mathcal sqrt frac log",  # words inside formulas: the formula is marked
        "right left leq model",
        *(" ".join(rng.sample(vocabulary, 3)) for _ in range(120)),
    ]
    checked = formulas_marked = 0
    with_math = [t for t in texts if "$" in t][:20]
    for q, text in itertools.product(queries, texts[:40] + with_math + [TRICKY, TRICKY_ASCII]):
        terms = set(parse_query(q).all_terms)
        expected = reference_marks(text, terms)
        assert marks(text, terms) == expected, (q, text[:80])
        matched = [s.text for s in expected if s.matched]
        formulas_marked += sum(1 for m in matched if m.startswith("$"))
        in_window = [s.text for s in spans(text, terms, width=10_000) if s.matched]
        assert in_window == matched, (q, text[:80])
        checked += len(matched)
    assert checked > 200  # the queries do mark words
    assert formulas_marked > 5


def test_snippet_windows_equal_the_reference_on_real_abstracts() -> None:
    texts = [a for _, a in papers()][::5] + [TRICKY, TRICKY_ASCII, TRICKY * 3]
    rng = random.Random(5)
    checked = 0
    for text in texts:
        words = WORD.findall(text)
        for q in [" ".join(rng.sample(words, min(3, len(words)))), "model learning data"]:
            terms = set(parse_query(q).all_terms)
            for width in (240, 60):
                expected = reference_spans(text, terms, width)
                assert spans(text, terms, width=width) == expected, (q, width, text[:80])
                checked += any(s.matched for s in expected) and len(text) > width
    assert checked > 500  # windows chosen among several hits


def _wanted_sequence(terms: list[str], wanted: set[str]) -> list[str]:
    """`terms` with every run of unwanted terms (or "") as one "" (what coverage reads)."""
    out: list[str] = []
    for t in terms:
        t = t if t in wanted else ""
        if t or not out or out[-1]:
            out.append(t)
    return out


TRICKY_GAPS = (  # stop words, over-long words and underscores between wanted words
    "upper the bound of an upper and and bound; upper "
    + "x" * 45
    + " bound upper_bound upper 2024 bound. The the of bound"
)


def test_coverage_reads_the_same_terms_from_the_match_as_from_the_analyzer() -> None:
    """`Matched.terms` of title and abstract, joined, give the coverage features (and the
    wanted terms, in order and adjacency) of `analyze` on the whole title and abstract, as
    the coverage stage used to read them."""
    rng = random.Random(11)
    every = papers()
    plain = [p for p in every if all(t.isascii() and "_" not in t for t in p)]
    pairs = [p for p in every if p not in plain] + plain[::3]  # each not-plain one (~400)
    pairs += [(TRICKY, TRICKY_ASCII), (TRICKY_ASCII, TRICKY_GAPS), ("", TRICKY_GAPS)]
    checked = bigrams = 0
    for title, abstract in pairs:
        words = WORD.findall(f"{title} {abstract}")
        at = rng.randrange(max(len(words) - 3, 1))
        queries = [
            " ".join(words[at : at + 3]),  # adjacent words of the paper: pairs that occur
            " ".join(rng.sample(words, min(4, len(words)))),
            "upper bound",
            '"upper bound" of x',
        ]
        for q in queries:
            parsed = parse_query(q)
            wanted = set(parsed.all_terms)
            full = analyze(f"{title}\n{abstract}")
            joined = [*matched(title, wanted).terms, *matched(abstract, wanted).terms]
            assert _wanted_sequence(joined, wanted) == _wanted_sequence(full, wanted), q
            idf = {t: 1.0 + rng.random() for t in parsed.terms}
            features = coverage_features(parsed.terms, idf, joined)
            assert features == coverage_features(parsed.terms, idf, full), (q, title)
            checked += 1
            bigrams += features[1] > 0
    assert checked > 5_000 and bigrams > 1_000
