"""Calendar days as people type them: the one parser for YYYY-MM-DD input."""

from __future__ import annotations

from datetime import date

from paperfeed.errors import BadRequest


def parse_day(text: str, what: str = "date") -> date:
    """`text` as a day, or BadRequest naming `what` was wrong (e.g. "--since date")."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"invalid {what} {text!r}: expected YYYY-MM-DD") from None
