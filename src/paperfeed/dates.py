"""Calendar days as people type them: the one parser for YYYY-MM-DD input."""

from __future__ import annotations

import re
from datetime import date

from paperfeed.errors import BadRequest

# Days a user may name: wide enough for any paper, narrow enough that a period, its
# neighbours and the times computed from it never overflow Python's date range.
MIN_DAY = date(1900, 1, 1)
MAX_DAY = date(9998, 12, 31)

# Exactly YYYY-MM-DD, as Hugging Face's API and huggingface_hub take it: Python's
# date.fromisoformat also takes 20260709 and 2026-W28-4, which no other client would.
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_day(text: str) -> date:
    """`text` (exactly YYYY-MM-DD) as a date; ValueError for anything else."""
    if not _ISO_DAY.fullmatch(text):
        raise ValueError(f"not YYYY-MM-DD: {text!r}")
    return date.fromisoformat(text)


def parse_day(text: str, what: str = "date") -> date:
    """`text` as a day, or BadRequest naming `what` was wrong (e.g. "--since date")."""
    try:
        day = iso_day(text)
    except ValueError:
        raise BadRequest(f"invalid {what} {text!r}: expected YYYY-MM-DD") from None
    return check_day(day, what)


def check_day(day: date, what: str = "date") -> date:
    """`day`, or a BadRequest when it is outside MIN_DAY..MAX_DAY."""
    if not MIN_DAY <= day <= MAX_DAY:
        raise BadRequest(
            f"{what} {day.isoformat()} is out of range: use a day between "
            f"{MIN_DAY.isoformat()} and {MAX_DAY.isoformat()}"
        )
    return day
