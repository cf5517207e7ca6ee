"""The built-in daily schedule of `paperfeed serve`: the send job at `settings.digest_time`.

A background thread sleeps until the next HH:MM (UTC) and runs `send_digests`. Started after
that time of day, it runs once at start-up to catch up; the outbox makes extra runs harmless
(a subscriber already served this period is simply not due), so a cron job and the
scheduler may coexist.

Many instances on one database elect one scheduler: the instance holding the store's
`digest-schedule` lock (`Store.hold_lock`: an advisory lock on PostgreSQL, a file lock
beside the SQLite file) runs the schedule; the others look again every `follow_s` seconds
and the first to find the lock free takes over (with the catch-up run), e.g. after the
leader was stopped or killed.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, time, timedelta

from paperfeed.settings import Settings
from paperfeed.store import Store
from paperfeed.store.base import HeldLock

log = logging.getLogger(__name__)


def next_run(at: time, now: datetime) -> datetime:
    today = datetime.combine(now.date(), at)
    return today if today > now else today + timedelta(days=1)


LOCK_NAME = "digest-schedule"
FOLLOW_S = 30.0  # how often an instance that is not the scheduler looks for the lock


class Scheduler:
    """Runs the digest job daily in a daemon thread until `stop()`, on the one instance
    that holds the schedule's lock."""

    def __init__(
        self, settings: Settings, store: Store, at: time, *, follow_s: float = FOLLOW_S
    ) -> None:
        self.settings, self.store, self.at = settings, store, at
        self.follow_s = follow_s
        self.leading = False
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
        while not self._stop.is_set():
            lock = self._take_lock()
            if lock is None:
                self._stop.wait(self.follow_s)
                continue
            log.warning("digest: this instance runs the schedule")
            self.leading = True
            try:
                self._lead(lock)
            finally:
                self.leading = False
                lock.release()

    def _take_lock(self) -> HeldLock | None:
        try:
            return self.store.hold_lock(LOCK_NAME)
        except Exception:  # database away: look again later
            log.warning("digest: cannot reach the store for the schedule lock", exc_info=True)
            return None

    def _lead(self, lock: HeldLock) -> None:
        """The schedule, for as long as this instance holds the lock."""
        now = datetime.now(UTC)
        if datetime.combine(now.date(), self.at) <= now:
            self._run()  # catch up on today's digests
        due = next_run(self.at, datetime.now(UTC))
        log.info("digest: next run at %s", due.isoformat())
        while not self._stop.is_set():
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait <= 0:
                self._run()
                due = next_run(self.at, datetime.now(UTC))
                log.info("digest: next run at %s", due.isoformat())
                continue
            if self._stop.wait(min(wait, self.follow_s)):
                break
            if not lock.held():  # e.g. the database restarted: elect again
                log.warning("digest: lost the schedule lock; looking for it again")
                return

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
