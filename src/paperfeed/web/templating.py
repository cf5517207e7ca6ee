"""Jinja2 rendering with autoescape on, plus the few filters the pages need."""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from paperfeed.clock import CatalogueClock
from paperfeed.export import arxiv_abs_url, arxiv_pdf_url
from paperfeed.latex_text import latex_to_text, text_outside_math
from paperfeed.library import can_follow
from paperfeed.models import StoredPaper
from paperfeed.search.snippets import marks, to_html
from paperfeed.web import pagecache
from paperfeed.web.security import csrf_token, set_csrf_cookie

TEMPLATES = Path(__file__).parent / "templates"
_URL = re.compile(r"https?://[^\s<>\"'(){}\[\]]+[^\s<>\"'(){}\[\].,;:!?]")


def linkify(text: str) -> Markup:
    """Escape `text`, then turn bare URLs into links (rel=nofollow, new tab)."""
    out, last = [], 0
    for m in _URL.finditer(text):
        out.append(escape(text[last : m.start()]))
        url = m.group(0)
        out.append(
            Markup('<a href="{0}" rel="nofollow noopener" target="_blank">{0}</a>').format(url)
        )
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def paragraphs(text: str) -> list[str]:
    """The paragraphs of an abstract (stored separated by a blank line)."""
    return [p for p in text.split("\n\n") if p.strip()]


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """Escape `text` and wrap the words the search engine matched in <mark>.

    `terms` are index terms (`paperfeed.search.parse_query(q).all_terms`): a word is marked
    when the engine's analyzer turns it into one of them (same stemming, stop words). LaTeX
    outside formulas is made plain text; formulas stay whole for KaTeX (`math` class).
    """
    return Markup(to_html(marks(text_outside_math(text), terms)))


def short_date(day: date | datetime | None, today: date | None = None) -> str:
    """ "Dec 9" this year, "Dec 9, 2024" any other year ('' for no date)."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = day.date()
    this_year = (today or datetime.now(UTC).date()).year
    text = f"{day:%b} {day.day}"
    return text if day.year == this_year else f"{text}, {day.year}"


def short_authors(authors: list[str], n: int = 4) -> str:
    if len(authors) <= n:
        return ", ".join(authors)
    return ", ".join(authors[:n]) + f" +{len(authors) - n}"


def ago(ts: datetime | None) -> str:
    if ts is None:
        return ""
    seconds = (datetime.now(UTC) - ts).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return "just now"


_rendering: ContextVar[Request] = ContextVar("paperfeed_rendering")


def here(request: Request) -> str:
    """This page's path with its query string: where a form sent from it comes back to."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def is_new(item: StoredPaper) -> bool:
    """The "new" badge, on the catalogue's clock (loaded once per request)."""
    request = _rendering.get()
    clock = getattr(request.state, "clock", None)
    if clock is None:
        clock = request.state.clock = CatalogueClock.load(request.app.state.store)
    return clock.is_new(item)


def day(value: date | datetime | None) -> str:
    """`Aug 20, 2026`."""
    return value.strftime("%b %-d, %Y") if value else ""


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(
        linkify=linkify,
        highlight=highlight,
        tex=text_outside_math,
        plain=latex_to_text,
        paragraphs=paragraphs,
        short_authors=short_authors,
        ago=ago,
        day=day,
        short_date=short_date,
    )
    env.globals.update(
        abs_url=arxiv_abs_url,
        pdf_url=arxiv_pdf_url,
        is_new=is_new,
        can_follow=can_follow,
        here=here,
    )
    return env


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    *,
    public: bool = False,
) -> HTMLResponse:
    """Render a page; adds the user, CSRF token and site name every template needs.

    `public`: the page is the same for every visitor without a session, so the anonymous
    page cache (`paperfeed.web.pagecache`) may keep it. Under that cache the CSRF token is
    a placeholder that the cache replaces with each visitor's own.
    """
    env: jinja2.Environment = request.app.state.jinja
    state = request.state._state
    user = state.get("user")
    cached = user is None and state.get(pagecache.RENDERING, False)
    ctx = {
        "request": request,
        "user": user,
        "csrf": pagecache.PLACEHOLDER if cached else csrf_token(request),
        "site_name": request.app.state.settings.site_name,
        **(context or {}),
    }
    token = _rendering.set(request)
    try:
        html = env.get_template(name).render(ctx)
    finally:
        _rendering.reset(token)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    if cached:
        state[pagecache.KEEP] = public
    else:
        set_csrf_cookie(request, response)
    return response
