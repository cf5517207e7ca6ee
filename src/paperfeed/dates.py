"""Calendar days as people type them: the one parser for YYYY-MM-DD input."""

from __future__ import annotations

from datetime import date

from paperfeed.errors import BadRequest

# Days a user may name: wide enough for any paper, narrow enough that a period, its
# neighbours and the times computed from it never overflow Python's date range.
MIN_DAY = date(1900, 1, 1)
MAX_DAY = date(9998, 12, 31)


def parse_day(text: str, what: str = "date") -> date:
    """`text` as a day, or BadRequest naming `what` was wrong (e.g. "--since date")."""
    try:
        day = date.fromisoformat(text)
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
