"""RSS 2.0 and Atom documents for a list of papers (shared by the feed, library and
collection routes)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, time
from typing import Literal

from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from paperfeed.export import arxiv_abs_url
from paperfeed.latex_text import latex_to_text
from paperfeed.models import StoredPaper
from paperfeed.settings import Settings

MEDIA = {"xml": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}
Format = Literal["xml", "atom"]


# Characters XML 1.0 cannot carry (control characters in some abstracts, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry (one regex pass: feeds of 50
    abstracts spent most of their time here character by character)."""
    return _NOT_XML.sub("", text)


def build_feed(
    settings: Settings, *, title: str, path: str, items: list[StoredPaper], fmt: Format
) -> Response:
    base = settings.base_url.rstrip("/")
    fg = FeedGenerator()
    fg.id(base + path)
    fg.title(f"{settings.site_name}: {title}")
    fg.link(href=base + path, rel="self")
    fg.link(href=base + "/", rel="alternate")  # last: feedgen makes it RSS's channel <link>
    fg.description(f"{title} on {settings.site_name}")
    fg.language("en")
    if fmt == "atom":  # RFC 4287: a feed names an author unless every entry does
        fg.author(name=settings.site_name, uri=base + "/")
    newest = None
    for item in reversed(items):  # feedgen prepends entries
        p = item.paper
        entry = fg.add_entry()
        url = f"{base}/papers/{p.id}"
        # the id is the paper's arXiv abstract URL, not this instance's page: it stays the
        # same across restarts, ports and base URLs, so a reader never shows a paper as new
        # twice; the link (and so what a reader opens) is this instance's page
        entry.id(arxiv_abs_url(p.id))
        entry.guid(arxiv_abs_url(p.id), permalink=False)
        # feed readers run no KaTeX: `$\ell_\infty$` is shown as ℓ_∞, as in email digests
        entry.title(_clean(latex_to_text(p.title)))
        entry.link(href=url)
        # RSS readers render <description> as HTML: the abstract goes in as escaped text,
        # so a `<img onerror=...>` in it is shown, not run (Atom's content is typed text)
        abstract = _clean(latex_to_text(p.abstract))
        entry.description(html.escape(abstract, quote=False) if fmt == "xml" else abstract)
        if fmt == "atom":
            for name in filter(None, map(_clean, p.authors[:20])):
                entry.author(name=name)
        when = (
            item.submitted_at
            or (datetime.combine(item.daily_day, time(), tzinfo=UTC) if item.daily_day else None)
            or p.published
            or datetime(1970, 1, 1, tzinfo=UTC)
        )
        entry.published(when)
        # an entry changes when it is listed and when arXiv has a new version, not before
        changed = max(when, p.updated) if p.updated else when
        entry.updated(changed)
        for cat in filter(None, map(_clean, p.categories)):
            entry.category(term=cat)
        newest = max(newest or changed, changed)
    # RFC 4287 4.2.15: the feed's updated is the latest instant it changed, so the latest
    # entry update (a new arXiv version of an older paper counts), not the latest listing
    fg.updated(newest or datetime.now(UTC))
    body = fg.atom_str(pretty=False) if fmt == "atom" else fg.rss_str(pretty=False)
    return Response(body, media_type=MEDIA[fmt])
