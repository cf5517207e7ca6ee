"""Snippets: the part of an abstract that best matches the query, terms marked, HTML-safe.

A pure stage. Words are compared by their index terms (same analyzer as the keyword index),
so "networks" in the text is marked for the query "network". `matched` finds a text's
marked words once, with the text's index terms as the coverage stage needs them
(`paperfeed.search.pipeline`); `window` cuts a snippet around the marked words. A snippet is
a list of (text, matched) spans; `to_html` escapes every span and wraps matches in <mark>.

Formulas (`$...$`, as KaTeX's auto-render finds them: `paperfeed.latex_text.math_regions`)
stay whole: a snippet never cuts one, and a matched word inside one marks the whole formula,
since a <mark> inside it would split the formula and KaTeX would show its source.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence, Set
from functools import lru_cache
from typing import NamedTuple

from paperfeed.latex_text import math_regions
from paperfeed.search.keyword import analyze

_WORD = re.compile(r"\w+", re.UNICODE)


class Span(NamedTuple):
    text: str
    matched: bool


class Matched(NamedTuple):
    """What one text holds of the wanted index terms.

    spans: (start, end) of each word whose index terms meet the wanted ones, in order.
    terms: the text's index terms in order, except that a run of unwanted ones may stand as
    one "": which wanted terms occur, and which are adjacent, as in `analyze(text)`. Two
    texts joined by a newline have the two lists joined as their terms.
    """

    spans: list[tuple[int, int]]
    terms: list[str]


@lru_cache(maxsize=65536)
def _terms_of(word: str) -> frozenset[str]:
    return frozenset(analyze(word))


@lru_cache(maxsize=4096)
def _starting_with(firsts: frozenset[str]) -> re.Pattern[str]:
    """ASCII words starting with one of `firsts`, any case. (The letter is matched first and
    the word start checked behind it: a fifth faster than a leading \\b.)"""
    letters = "".join(re.escape(c) for c in sorted(firsts | {c.upper() for c in firsts}))
    return re.compile(r"[" + letters + r"](?<!\w\w)\w*", re.ASCII)


def _has_terms(text: str, start: int, end: int) -> bool:
    """Whether a word between `start` and `end` has an index term (is not a stop word)."""
    word = _WORD.search(text, start, end)
    while word is not None and not _terms_of(word.group()):
        word = _WORD.search(text, word.end(), end)
    return word is not None


def matched(text: str, wanted: Set[str]) -> Matched:
    """The words of `text` whose index terms meet `wanted`, and its terms (`Matched`).

    The analyzer lower-cases a plain ASCII word whole and the English stemmer only rewrites
    its ending, so such a word is one token and can only yield a term with its own first
    letter: in a text of ASCII words (no underscore, which splits a word in several tokens)
    only the words starting with a wanted term's first letter need the analyzer (a tenth to a
    third of an abstract's words), and between two matched words only whether a word has a
    term.
    Other texts go word by word, and their terms are the analyzer's. Results are identical
    (tested against the word-by-word reference and `analyze`).
    """
    if not (text.isascii() and "_" not in text):
        words = _WORD.finditer(text)
        return Matched([m.span() for m in words if _terms_of(m.group(0)) & wanted], analyze(text))
    firsts = frozenset(t[0] for t in wanted if t)
    spans: list[tuple[int, int]] = []
    terms: list[str] = []
    pos = 0
    for m in _starting_with(firsts).finditer(text) if firsts else ():
        term = _terms_of(m.group(0)) & wanted  # one term at most
        if term:
            if _has_terms(text, pos, m.start()):
                terms.append("")
            terms.extend(term)
            spans.append(m.span())
            pos = m.end()
    if _has_terms(text, pos, len(text)):
        terms.append("")
    return Matched(spans, terms)


def whole_formulas(
    text: str, hits: Sequence[tuple[int, int]]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """`text`'s formulas (`math_regions`), and `hits` with each one inside a formula widened
    to the whole formula (once per formula)."""
    regions = math_regions(text)
    if not regions:
        return regions, list(hits)
    widened: list[tuple[int, int]] = []
    for s, e in hits:
        i = bisect_left(regions, (s + 1,)) - 1  # the last formula starting at or before s
        if i >= 0 and s < regions[i][1]:
            s, e = regions[i]
        if widened and s < widened[-1][1]:
            continue
        widened.append((s, e))
    return regions, widened


def _outside(regions: Sequence[tuple[int, int]], pos: int, *, forward: bool) -> int:
    """`pos`, or where the formula it falls inside begins (ends, `forward`)."""
    i = bisect_left(regions, (pos + 1,)) - 1
    if i >= 0 and regions[i][0] < pos < regions[i][1]:
        return regions[i][1] if forward else regions[i][0]
    return pos


def window(text: str, hits: Sequence[tuple[int, int]], *, width: int = 240) -> list[Span]:
    """A window of about `width` characters of `text` around the densest cluster of `hits`
    (`Matched.spans`), the hits marked; the window holds each formula whole or not at all."""
    regions, hits = whole_formulas(text, hits)
    start, end = 0, min(len(text), width)
    if hits and len(text) > width:
        starts = [s for s, _ in hits]
        best, best_count = starts[0], 0
        for i, s in enumerate(starts):
            count = bisect_left(starts, s + width, i) - i  # hits from here within `width`
            if count > best_count:
                best, best_count = s, count
        start = max(0, best - width // 4)
        space = text.rfind(" ", 0, start)
        start = space + 1 if start and space >= 0 else start
        end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    start = _outside(regions, start, forward=False)
    if end < len(text):
        cut = _outside(regions, end, forward=False)
        end = cut if cut > start else _outside(regions, end, forward=True)
    out: list[Span] = []
    if start > 0:
        out.append(Span("… ", False))
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


def spans(text: str, terms: Iterable[str], *, width: int = 240) -> list[Span]:
    """The snippet of `text` for the index terms `terms` (`window` of its `matched` words)."""
    return window(text, matched(text, frozenset(terms)).spans, width=width)


def marks(text: str, terms: Iterable[str]) -> list[Span]:
    """All of `text`, with the words whose index terms are in `terms` marked.

    Words are put through the engine's analyzer, so exactly what the keyword index matched
    is marked: "bandits" marks "Bandit" (both stem to "bandit") and "bound" does not mark
    "boundaries" (stem "boundari"). A formula with a matched word is marked whole.
    """
    out: list[Span] = []
    pos = 0
    for s, e in whole_formulas(text, matched(text, frozenset(terms)).spans)[1]:
        if s > pos:
            out.append(Span(text[pos:s], False))
        out.append(Span(text[s:e], True))
        pos = e
    if pos < len(text):
        out.append(Span(text[pos:], False))
    return out


def to_html(parts: Iterable[Span]) -> str:
    """Escaped markup: matched words in <mark>, everything else plain text."""
    return "".join(
        f"<mark>{html.escape(p.text)}</mark>" if p.matched else html.escape(p.text) for p in parts
    )
