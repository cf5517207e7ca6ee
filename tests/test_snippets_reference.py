"""Highlighting (search/snippets.py) against the word-by-word reference: the analyzer run on
every word of the text, marked when one of its index terms was asked for.

`marks` and `spans` analyze only the words that can yield a wanted term (a plain ASCII word
keeps its first letter through lower-casing and stemming); this checks that they mark exactly
what the reference marks, on real abstracts and on words made to break that rule if it did
not hold (accents, underscores, digits, capitals, stemmer exceptions such as dying -> die).
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import re
from pathlib import Path

from paperfeed.search.keyword import analyze, parse_query
from paperfeed.search.snippets import Span, marks, spans

FIXTURES = Path(__file__).parent / "fixtures"
WORD = re.compile(r"\w+")


def reference_marks(text: str, terms: set[str]) -> list[Span]:
    out: list[Span] = []
    pos = 0
    for m in WORD.finditer(text):
        if terms and set(analyze(m.group(0))) & terms:
            if m.start() > pos:
                out.append(Span(text[pos : m.start()], False))
            out.append(Span(m.group(0), True))
            pos = m.end()
    if pos < len(text):
        out.append(Span(text[pos:], False))
    return out


def abstracts() -> list[str]:
    texts = []
    for path in sorted(FIXTURES.glob("*.jsonl")) + sorted(FIXTURES.glob("*.jsonl.gz")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                paper = record.get("paper", record) if isinstance(record, dict) else {}
                for key in ("title", "abstract", "summary"):
                    if isinstance(paper.get(key), str):
                        texts.append(paper[key])
    return texts


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
        *(" ".join(rng.sample(vocabulary, 3)) for _ in range(120)),
    ]
    checked = 0
    for q, text in itertools.product(queries, texts[:40] + [TRICKY, TRICKY_ASCII]):
        terms = set(parse_query(q).all_terms)
        expected = reference_marks(text, terms)
        assert marks(text, terms) == expected, (q, text[:80])
        matched = [s.text for s in expected if s.matched]
        in_window = [s.text for s in spans(text, terms, width=10_000) if s.matched]
        assert in_window == matched, (q, text[:80])
        checked += len(matched)
    assert checked > 200  # the queries do mark words
