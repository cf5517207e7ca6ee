"""The built-in daily schedule of `paperfeed serve`: the send job at `settings.digest_time`.

A background thread sleeps until the next HH:MM (UTC) and runs `send_digests`. Started after
that time of day, it runs once at start-up to catch up; the outbox makes extra runs harmless
(a subscriber already served this period is simply not due), so a cron job and the
scheduler may coexist.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, time, timedelta

from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)


def next_run(at: time, now: datetime) -> datetime:
    today = datetime.combine(now.date(), at)
    return today if today > now else today + timedelta(days=1)


class Scheduler:
    """Runs the digest job daily in a daemon thread until `stop()`."""

    def __init__(self, settings: Settings, store: Store, at: time) -> None:
        self.settings, self.store, self.at = settings, store, at
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="paperfeed-digest", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        now = datetime.now(UTC)
        if datetime.combine(now.date(), self.at) <= now:
            self._run()  # catch up on today's digests
        while not self._stop.is_set():
            wait = (next_run(self.at, datetime.now(UTC)) - datetime.now(UTC)).total_seconds()
            log.info("digest: next run in %.0f s", wait)
            if self._stop.wait(max(wait, 1.0)):
                break
            self._run()

    def _run(self) -> None:
        from paperfeed.digest.send import send_digests
        from paperfeed.housekeeping import purge

        try:
            report = send_digests(self.settings, self.store, progress=False)
            log.warning("%s", report.summary())
        except Exception:  # keep the schedule alive through a bad night
            log.exception("digest: scheduled run failed")
        try:
            purge(self.store)
        except Exception:
            log.exception("housekeeping: scheduled purge failed")


def start_scheduler(settings: Settings, store: Store) -> Scheduler | None:
    """Start the daily digest thread; None when digest_time or smtp_url is empty."""
    at = settings.digest_at
    if at is None:
        return None
    if not settings.smtp_url:
        log.warning("digest: PAPERFEED_SMTP_URL is empty; the digest scheduler is off")
        return None
    return Scheduler(settings, store, at).start()
