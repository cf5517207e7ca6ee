"""The one check for links that come from outside (importers, stored rows) and end up in an
`href`: only absolute `http(s)` URLs pass.

Browsers strip leading/trailing spaces and control characters and ignore tabs and newlines
inside a URL, and schemes are case-insensitive, so `" JavaScript:alert(1)"` and
`"java\\tscript:..."` are scripts to them. We do not try to repair such values: anything with
whitespace or control characters, any other scheme, no host, or an over-long value is
refused. The importers call it to drop a bad field (and report it), and every renderer calls
it again before writing a link, so a row stored by an older version cannot become a link.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_URL_CHARS = 2048
SCHEMES = ("http", "https")
# whitespace, C0 and C1 controls, DEL, backslash: refused anywhere in a URL (one regex pass:
# every card of every page checks its links)
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


def http_url(value: object) -> str | None:
    """`value` (surrounding spaces removed) if it is an absolute http(s) URL, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > MAX_URL_CHARS:
        return None
    if _UNSAFE_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in SCHEMES or not host:
        return None
    return url


def link_problem(field: str, value: object) -> str | None:
    """Why `value` cannot be kept as the link field `field`, or None when it can."""
    if value is None or value == "" or http_url(value) is not None:
        return None
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{field} dropped: not an http(s) URL: {shown}"
