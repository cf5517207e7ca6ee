"""Email address validation and normalisation (stdlib only): accounts and subscribers alike.

Only plain `local@domain` addresses are accepted: a dot-atom local part and a hostname
domain (IDN domains are stored in their ASCII form). Quoted local parts, comments, display
names, CR/LF and other control characters are refused, so no address can smuggle a header.
Addresses are lower-cased as a whole: "Ada@Example.org" and "ada@example.org" are one
subscription (no mainstream provider treats local parts case-sensitively).
"""

from __future__ import annotations

import re

from paperfeed.errors import BadRequest

_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
MAX_LENGTH = 254


def normalize_email(text: str) -> str:
    """The canonical form of an address, or BadRequest saying what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("an email address is required")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise BadRequest("the email address must not contain line breaks or control characters")
    text = text.strip()
    shown = text if len(text) <= 80 else text[:77] + "..."
    if len(text) > MAX_LENGTH:
        raise BadRequest(f"{shown!r} is too long to be an email address")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise BadRequest(f"{shown!r} is not a valid email address (expected name@example.org)")
    if len(local) > 64 or not _LOCAL.fullmatch(local):
        raise BadRequest(f"{shown!r} is not a valid email address: bad part before the @")
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise BadRequest(f"{shown!r} is not a valid email address: bad domain") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise BadRequest(f"{shown!r} is not a valid email address: bad domain")
    return f"{local.lower()}@{ascii_domain}"
