"""The housekeeping rules, written once; `purge_expired` (store/common/housekeeping.py) runs
them in one write transaction on either backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from paperfeed.models import PurgeReport

THROTTLE_KEEP_S = 86_400.0  # longer than any throttle window

# (what, statement with `?` placeholders, parameters from (now, unconfirmed_before))
_RULES: list[tuple[str, str, Callable[[datetime, datetime], Sequence[Any]]]] = [
    (
        # anonymous and never confirmed: an account's own row holds its saved searches, and a
        # bounced or unsubscribed one keeps that address from being mailed again
        "unconfirmed_subscribers",
        "DELETE FROM subscribers WHERE confirmed_at IS NULL AND status = 'active' "
        "AND user_id IS NULL AND created_at < ?",
        lambda now, before: (before.isoformat(),),
    ),
    ("sessions", "DELETE FROM sessions WHERE expires_at < ?", lambda now, _: (now.isoformat(),)),
    (
        "pending_signups",
        "DELETE FROM pending_signups WHERE expires_at < ?",
        lambda now, _: (now.isoformat(),),
    ),
    (
        "throttle_rows",
        "DELETE FROM throttle WHERE window_start < ?",
        lambda now, _: (now.timestamp() - THROTTLE_KEEP_S,),
    ),
]


def purge_rows(
    run: Callable[[str, Sequence[Any]], int],
    *,
    placeholder: str,
    now: datetime,
    unconfirmed_before: datetime,
) -> PurgeReport:
    """Apply every rule through `run(sql, params) -> rows deleted` (one transaction)."""
    report = PurgeReport()
    for field, sql, params in _RULES:
        setattr(report, field, run(sql.replace("?", placeholder), params(now, unconfirmed_before)))
    return report
