"""Snippets: the part of an abstract that best matches the query, terms marked, HTML-safe.

A pure stage. Words are compared by their index terms (same analyzer as the keyword index),
so "networks" in the text is marked for the query "network". The result is a list of
(text, matched) spans; `to_html` escapes every span and wraps matches in <mark>.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from paperfeed.search.keyword import analyze

_WORD = re.compile(r"\w+", re.UNICODE)


class Span(NamedTuple):
    text: str
    matched: bool


@lru_cache(maxsize=65536)
def _terms_of(word: str) -> frozenset[str]:
    return frozenset(analyze(word))


@lru_cache(maxsize=4096)
def _starting_with(firsts: frozenset[str]) -> re.Pattern[str]:
    return re.compile(r"\b[" + "".join(re.escape(c) for c in sorted(firsts)) + r"]\w*", re.I)


def _matches(text: str, wanted: set[str]) -> list[re.Match[str]]:
    """The words of `text` whose index terms meet `wanted`, in order.

    The analyzer lower-cases a plain ASCII word whole and the English stemmer only rewrites
    its ending, so such a word can only yield terms with its own first letter: in a text of
    ASCII words (no underscore, which splits a word in several tokens) only the words
    starting with a wanted term's first letter need the analyzer, a tenth of an abstract's
    words. Other texts go word by word. Results are identical (tested against the
    word-by-word reference).
    """
    if not wanted:
        return []
    if text.isascii() and "_" not in text:
        firsts = frozenset(t[0] for t in wanted if t)
        words = _starting_with(firsts).finditer(text) if firsts else iter(())
    else:
        words = _WORD.finditer(text)
    return [m for m in words if _terms_of(m.group(0)) & wanted]


def spans(text: str, terms: Iterable[str], *, width: int = 240) -> list[Span]:
    """A window of about `width` characters around the densest cluster of matched words."""
    hits = _matches(text, set(terms))
    start, end = 0, min(len(text), width)
    if hits and len(text) > width:
        best, best_count = hits[0].start(), 0
        for i, h in enumerate(hits):
            count = sum(1 for g in hits[i:] if g.start() < h.start() + width)
            if count > best_count:
                best, best_count = h.start(), count
        start = max(0, best - width // 4)
        space = text.rfind(" ", 0, start)
        start = space + 1 if start and space >= 0 else start
        end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    out: list[Span] = []
    if start > 0:
        out.append(Span("… ", False))
    pos = start
    for h in hits:
        if h.start() < start or h.end() > end:
            continue
        if h.start() > pos:
            out.append(Span(text[pos : h.start()], False))
        out.append(Span(h.group(0), True))
        pos = h.end()
    if pos < end:
        out.append(Span(text[pos:end], False))
    if end < len(text):
        out.append(Span(" …", False))
    return out


def marks(text: str, terms: Iterable[str]) -> list[Span]:
    """All of `text`, with the words whose index terms are in `terms` marked.

    Words are put through the engine's analyzer, so exactly what the keyword index matched
    is marked: "bandits" marks "Bandit" (both stem to "bandit") and "bound" does not mark
    "boundaries" (stem "boundari").
    """
    out: list[Span] = []
    pos = 0
    for m in _matches(text, set(terms)):
        if m.start() > pos:
            out.append(Span(text[pos : m.start()], False))
        out.append(Span(m.group(0), True))
        pos = m.end()
    if pos < len(text):
        out.append(Span(text[pos:], False))
    return out


def to_html(parts: Iterable[Span]) -> str:
    """Escaped markup: matched words in <mark>, everything else plain text."""
    return "".join(
        f"<mark>{html.escape(p.text)}</mark>" if p.matched else html.escape(p.text) for p in parts
    )
