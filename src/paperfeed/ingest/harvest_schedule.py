"""The harvest schedule of `paperfeed serve`: followed sources after arXiv's daily announce.

A daemon thread, started and stopped with the web app's lifespan, sleeps until the next
`settings.harvest_time` (UTC) and runs `harvest` (then the optional auto-listing of the
curation queue). Started after that time of day, it catches up once if today's run has not
happened yet (the time of the last scheduled run is kept in the store); a failed feed is
logged and retried on the next run, never stopping the schedule. Extra runs are harmless:
harvests are idempotent.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, time, timedelta

from paperfeed.errors import DatabaseUnavailable
from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)

SCHEDULE_KEY = "schedule:harvest"
RETRY_S = 10.0  # wait before looking again while the database is unreachable
LOCK_NAME = "harvest-schedule"


def run_scheduled(store: Store, settings: Settings, started: datetime, due: datetime) -> bool:
    """The scheduled harvest due at `due` (followed sources, then the curation auto-list),
    run once across the instances and workers sharing `store`: under its `harvest-schedule`
    lock, and only when no run since `due` is recorded. False when another one has it."""
    from paperfeed import curation
    from paperfeed.ingest.harvest import harvest

    lock = store.hold_lock(LOCK_NAME)
    if lock is None:
        log.warning("harvest: another instance or worker is running the scheduled harvest")
        return False
    try:
        saved = store.get_checkpoint(SCHEDULE_KEY)
        if saved and datetime.fromisoformat(saved.state["last_run"]) >= due:
            return False  # done since it was due, by another instance or a worker
        report = harvest(store, settings)
        log.warning("harvest: %s", report.summary().replace("\n", "; "))
        listed = curation.auto_list(store, settings)
        if listed:
            log.warning("curation: auto-listed %s", ", ".join(listed))
        store.save_checkpoint(SCHEDULE_KEY, {"last_run": started.isoformat()})
        return True
    finally:
        lock.release()


class HarvestScheduler:
    """Runs `harvest` daily at `at` in a daemon thread until `stop()`."""

    def __init__(self, settings: Settings, store: Store, at: time) -> None:
        self.settings, self.store, self.at = settings, store, at
        self._stop = threading.Event()
        self.runs = 0
        self._last_run: datetime | None = None  # this process's last run
        self._thread = threading.Thread(target=self._loop, name="paperfeed-harvest", daemon=True)

    def start(self) -> HarvestScheduler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def due_at(self, now: datetime) -> datetime:
        """Today's run time if it has not run since, else tomorrow's."""
        today = datetime.combine(now.date(), self.at)
        saved = self.store.get_checkpoint(SCHEDULE_KEY)
        runs = [datetime.fromisoformat(saved.state["last_run"])] if saved else []
        last = max([*runs, *([self._last_run] if self._last_run else [])], default=None)
        if today <= now and (last is None or last < today):
            return now  # catch up
        return today if today > now else today + timedelta(days=1)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = datetime.now(UTC)
            try:
                wait = (self.due_at(now) - now).total_seconds()
            except DatabaseUnavailable as exc:  # the database restarting: look again soon
                log.warning("harvest: %s; looking again in %.0f s", exc.message, RETRY_S)
                self._stop.wait(RETRY_S)
                continue
            if wait > 0:
                log.info("harvest: next run in %.0f s", wait)
                if self._stop.wait(wait):
                    break
            if not self._run():
                self._stop.wait(RETRY_S)

    def _run(self) -> bool:
        """Today's run; False when the store was unreachable (it is tried again soon)."""
        from paperfeed.ingest.harvest import followed_sources

        previous = self._last_run
        started = self._last_run = datetime.now(UTC)
        due = datetime.combine(started.date(), self.at)
        due = due if due <= started else due - timedelta(days=1)
        self.runs += 1
        try:
            if not followed_sources(self.store, self.settings):
                return True  # nothing to do (and nothing to write) until a source is followed
            run_scheduled(self.store, self.settings, started, due)
        except DatabaseUnavailable as exc:  # not run: again once the database is back
            self._last_run = previous
            log.warning("harvest: scheduled run stopped: %s; again in %.0f s", exc.message, RETRY_S)
            return False
        except Exception:  # keep the schedule alive through a bad night
            log.exception("harvest: scheduled run failed")
        return True


def start_harvest_scheduler(settings: Settings, store: Store) -> HarvestScheduler | None:
    """Start the daily harvest thread; None when `harvest_time` is empty."""
    at = settings.harvest_at
    if at is None:
        return None
    return HarvestScheduler(settings, store, at).start()
