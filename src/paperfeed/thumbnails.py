"""Placeholder thumbnails: a deterministic, readable SVG card per paper.

Hugging Face shows a picture per paper; an offline instance has none, so each paper gets a
card drawn from its own metadata: the primary category on top and the first words of the
title below, on a background colour derived from the category (papers of one field share a
hue, so a page of cards reads at a glance). The same paper always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import textwrap
from xml.sax.saxutils import escape

from paperfeed.latex_text import latex_to_text
from paperfeed.models import Paper

WIDTH, HEIGHT = 240, 180
LINE_CHARS = 18
MAX_LINES = 4


def _hue(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:2], "big") % 360


def title_lines(title: str) -> list[str]:
    """The first words of `title` (its LaTeX as Unicode text), wrapped to the card; an
    ellipsis marks a cut."""
    words = " ".join(latex_to_text(title).split())
    lines = textwrap.wrap(words, LINE_CHARS, break_long_words=True) or [""]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][: LINE_CHARS - 1].rstrip() + "…"
    return lines


def placeholder_svg(paper: Paper) -> str:
    """The SVG placeholder of `paper` (its category and first words of its title)."""
    category = paper.primary_category or "arXiv"
    hue = _hue(category)
    label = escape(latex_to_text(paper.title), {'"': "&quot;"})
    text_lines = "".join(
        f'<tspan x="16" dy="{0 if i == 0 else 26}">{escape(line)}</tspan>'
        for i, line in enumerate(title_lines(paper.title))
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" rx="12" fill="hsl({hue},55%,92%)"/>'
        f'<rect width="{WIDTH}" height="34" rx="12" fill="hsl({hue},45%,38%)"/>'
        f'<rect y="22" width="{WIDTH}" height="12" fill="hsl({hue},45%,38%)"/>'
        f'<text x="16" y="23" font-family="system-ui,sans-serif" font-size="15" '
        f'font-weight="700" fill="#fff">{escape(category)} · {escape(paper.id)}</text>'
        f'<text y="66" font-family="Georgia,serif" font-size="20" fill="hsl({hue},40%,18%)">'
        f"{text_lines}</text></svg>"
    )
