"""Housekeeping: rows that only grow unless removed, removed on the schedules that already run.

`purge` runs after every `paperfeed digest send` (cron or the built-in daily schedule of
`paperfeed serve`) and once when the web app starts: never-confirmed anonymous subscriptions
whose confirmation link has expired, expired sessions and pending sign-ups, throttle
counters a day old (the rules: `paperfeed.store.purge`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from paperfeed.digest.tokens import MAX_AGE
from paperfeed.models import PurgeReport
from paperfeed.store import Store

log = logging.getLogger(__name__)


def purge(store: Store, *, now: datetime | None = None) -> PurgeReport:
    """Remove what can no longer be used; returns how many rows of each kind went."""
    now = now or datetime.now(UTC)
    report = store.purge_expired(
        now=now, unconfirmed_before=now - timedelta(seconds=MAX_AGE["confirm"])
    )
    if report.total:
        log.info("housekeeping: %s", report.summary())
    return report
