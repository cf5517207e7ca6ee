"""`paperfeed worker`: background jobs, any number of workers on one store.

A worker loops:

1. **Plan** (every `plan_every` s): once the day's digest time has passed, it queues one
   `digest` job per block of `DIGEST_BLOCK` subscriber ids that has someone due; once the
   harvest time has passed, one `harvest` job for the day (followed sources, then the
   curation queue's auto-listing). Jobs are keyed (periods and block; the day), so every
   worker may plan: the store keeps one row per key.
2. **Claim** one queued job, or a running one whose lease expired (its worker died: kill -9,
   lost machine), with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL (one writer at a
   time on SQLite). While it runs, a heartbeat thread renews the lease every `lease_s / 3`.
3. **Embed** papers the local search indexes have not caught up with, when there is no job
   to run: static vectors (`EMBED_STEP` at a time), then the transformer backfill, newest
   papers first, for `TRANSFORMER_SLICE` seconds at a time. The indexes are files under the
   data directory: workers (and a `serve` on the same directory) take turns under its file
   lock, step by step, so they share the backfill instead of repeating it.

Digest jobs run the ordinary send job (`paperfeed.digest.send`) over their id block: its
outbox claim still guarantees one digest per subscriber and period, whichever worker (or
cron run, or `serve` scheduler) gets there first; a job taken over after a kill simply finds
the subscribers its dead worker served no longer due.

A database that goes away (a restart, a failover) or a full disk stops no long-running worker:
it logs the error, tries again with a growing wait (up to `OUTAGE_MAX_WAIT` s) and goes on once
the store answers; a job it was running when the store went away is retried (its lease runs
out). A worker run `until_idle` (from cron) gives up once an outage has lasted `give_up_after`
seconds (`UNTIL_IDLE_GIVE_UP` by default), raising the store's error, so a cron job never hangs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from paperfeed.models import Job
from paperfeed.progress import Progress
from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)

DIGEST_BLOCK = 100  # subscriber ids per digest job
EMBED_STEP = 2048  # papers embedded between two looks at the job queue
TRANSFORMER_SLICE = 10.0  # seconds of transformer backfill between two looks at the queue
REQUEUE_AFTER = 600.0  # a finished digest block with subscribers still due runs again after
OUTAGE_MAX_WAIT = 30.0  # longest wait between two tries while the store is unavailable
UNTIL_IDLE_GIVE_UP = 300.0  # seconds of outage after which an `until_idle` run gives up


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(slots=True)
class WorkerReport:
    jobs_done: int = 0
    jobs_failed: int = 0
    embedded: int = 0  # papers embedded (static and transformer vectors)
    transformer: int = 0  # of which transformer vectors
    by_kind: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items())) or "none"
        return (
            f"worker: {self.jobs_done} jobs done ({kinds}), {self.jobs_failed} failed, "
            f"{self.embedded} papers embedded ({self.transformer} by the transformer)"
        )


class Heartbeat:
    """Renews this worker's leases in the background while a job runs."""

    def __init__(self, store: Store, owner: str, lease_s: float) -> None:
        self.store, self.owner, self.lease_s = store, owner, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="paperfeed-lease", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                self.store.renew_jobs(self.owner, lease_s=self.lease_s, now=time.time())
            except Exception:  # the job itself will notice a lost database
                log.exception("worker: could not renew the lease")


class Worker:
    """One worker process's loop (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        lease_s: float = 60.0,
        poll_s: float = 2.0,
        plan_every: float = 30.0,
        embed: bool = True,
        name: str | None = None,
    ) -> None:
        self.settings, self.store = settings, store
        self.lease_s, self.poll_s, self.plan_every = lease_s, poll_s, plan_every
        self.name = name or worker_name()
        self.report = WorkerReport()
        self.handlers: dict[str, Callable[[Job], None]] = {
            "digest": self._run_digest,
            "harvest": self._run_harvest,
        }
        self._indexer: Any = None
        self._embed = embed
        self._backfill = Progress(bar=False, every=60.0)  # the transformer's, across slices
        self._last_plan = float("-inf")
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    # -- the loop -------------------------------------------------------------------------

    def run(
        self, *, until_idle: bool = False, give_up_after: float = UNTIL_IDLE_GIVE_UP
    ) -> WorkerReport:
        """Work until `stop()` (or, with `until_idle`, until nothing is left to do).

        An unavailable store is waited out; with `until_idle`, only for `give_up_after`
        seconds, then its error is raised (one `Error:` line and exit 1 in the CLI)."""
        from paperfeed.errors import DatabaseUnavailable, StorageError

        log.warning("worker %s started", self.name)
        outage = 0  # consecutive rounds the store (database, disk) was unavailable
        outage_since = 0.0
        while not self._stop.is_set():
            try:
                planned = self.plan()
                worked = self.run_one()
                embedded = 0 if worked else self.embed_some()
                if until_idle and not worked and not embedded and not planned and self.idle():
                    break
            except (DatabaseUnavailable, StorageError) as exc:  # a database restart, a full disk
                outage += 1
                if outage == 1:
                    outage_since = time.monotonic()
                waited = time.monotonic() - outage_since
                if until_idle and waited >= give_up_after:
                    self.close()
                    exc.message = f"{exc.message} (gave up after {waited:.0f} s: --until-idle)"
                    raise
                wait = min(OUTAGE_MAX_WAIT, self.poll_s * 2 ** min(outage, 8))
                if until_idle:
                    wait = min(wait, max(give_up_after - waited, 0.0))
                log.warning("worker: %s; trying again in %.1f s", exc.message, wait)
                self._last_plan = float("-inf")  # plan again as soon as it is back
                self._stop.wait(wait)
                continue
            if outage:
                log.warning("worker: the store answers again")
                outage = 0
            if not worked and not embedded:
                self._stop.wait(self.poll_s)
        self.close()
        log.warning("%s", self.report.summary())
        return self.report

    def idle(self) -> bool:
        """No job queued or running anywhere (a dead worker's job counts until taken over)."""
        return not self.store.list_jobs(state="queued", limit=1) and not self.store.list_jobs(
            state="running", limit=1
        )

    def run_one(self) -> bool:
        """Claim and run one job; False when none was claimable."""
        job = self.store.claim_job(
            list(self.handlers), owner=self.name, lease_s=self.lease_s, now=time.time()
        )
        if job is None:
            return False
        log.warning("worker %s: %s %s (try %d)", self.name, job.kind, job.key, job.attempts)
        error: str | None = None
        with Heartbeat(self.store, self.name, self.lease_s):
            try:
                self.handlers[job.kind](job)
            except Exception as exc:
                log.exception("worker: job %s %s failed", job.kind, job.key)
                error = f"{type(exc).__name__}: {exc}"
        kept = self.store.finish_job(job.id, owner=self.name, now=time.time(), error=error)
        if not kept:
            log.warning("worker: lease on %s %s was lost to another worker", job.kind, job.key)
        if error:
            self.report.jobs_failed += 1
        else:
            self.report.jobs_done += 1
            self.report.by_kind[job.kind] = self.report.by_kind.get(job.kind, 0) + 1
        return True

    # -- digests --------------------------------------------------------------------------

    def plan(self, now: datetime | None = None) -> int:
        """Queue today's jobs whose time has come (digests, harvest); returns how many."""
        if time.monotonic() - self._last_plan < self.plan_every:
            return 0
        self._last_plan = time.monotonic()
        now = now or datetime.now(UTC)
        return self.plan_harvest(now) + self.plan_digests(now)

    def plan_harvest(self, now: datetime) -> int:
        """One `harvest` job per day once PAPERFEED_HARVEST_TIME has passed, when sources
        are followed (whichever worker plans first; the others find the job there)."""
        settings = self.settings
        at = settings.harvest_at
        if at is None:
            return 0
        from paperfeed.ingest.harvest import followed_sources

        if datetime.combine(now.date(), at) > now:
            return 0
        if not followed_sources(self.store, settings):
            return 0
        queued = self.store.enqueue_job(
            "harvest", now.date().isoformat(), {"now": now.isoformat()}, now=time.time()
        )
        if queued:
            log.warning("worker: queued the harvest of %s", now.date())
        return int(queued)

    def _run_harvest(self, job: Job) -> None:
        from paperfeed.ingest.harvest_schedule import run_scheduled

        planned = datetime.fromisoformat(job.payload["now"])
        due = datetime.combine(planned.date(), self.settings.harvest_at or planned.timetz())
        run_scheduled(self.store, self.settings, planned, min(due, planned))

    def plan_digests(self, now: datetime) -> int:
        """Queue digest jobs once today's digest time has passed; returns how many."""
        settings = self.settings
        at = settings.digest_at
        if not settings.smtp_url or at is None:
            return 0
        from paperfeed.digest.compose import period_key
        from paperfeed.digest.send import FREQUENCIES, MAX_ATTEMPTS

        if datetime.combine(now.date(), at) > now:
            return 0
        periods = {f: period_key(f, now) for f in FREQUENCIES}
        blocks: set[int] = set()
        for frequency, period in periods.items():
            after_id = 0
            while batch := self.store.due_subscribers(
                frequency=frequency,
                period=period,
                after_id=after_id,
                limit=10_000,
                max_attempts=MAX_ATTEMPTS,
            ):
                blocks.update(s.id // DIGEST_BLOCK for s in batch)
                after_id = batch[-1].id
        tag = "|".join(periods.values())
        queued = 0
        for block in sorted(blocks):
            queued += self.store.enqueue_job(
                "digest",
                f"{tag}|{block}",
                {
                    "first_id": block * DIGEST_BLOCK,
                    "last_id": (block + 1) * DIGEST_BLOCK - 1,
                    "now": now.isoformat(),
                },
                now=time.time(),
                requeue_after=REQUEUE_AFTER,
            )
        if queued:
            log.warning("worker: queued %d digest jobs for %s", queued, tag)
        return queued

    def _run_digest(self, job: Job) -> None:
        from paperfeed.digest.send import DigestJob

        payload = job.payload
        run = DigestJob(self.settings, self.store, now=datetime.fromisoformat(payload["now"]))
        report = run.run(
            first_id=int(payload["first_id"]), last_id=int(payload["last_id"]), progress=False
        )
        log.warning("worker: digest %s: %s", job.key, report.summary().replace("\n", ";"))

    # -- search indexes -------------------------------------------------------------------

    def embed_some(self) -> int:
        """Embed up to EMBED_STEP papers the local indexes lack; returns how many."""
        if not self._embed:
            return 0
        if self._indexer is None:
            try:
                from paperfeed.search.indexer import Indexer
            except ImportError:
                self._embed = False
                return 0
            self._indexer = Indexer(self.store, self.settings)
        ix = self._indexer
        ix.refresh()
        if self.store.count_changes_since(ix.state.keyword_seq):
            ix.sync_keyword()
        if self.store.count_changes_since(ix.state.vector_seq):
            n = int(ix.sync_vectors(max_papers=EMBED_STEP))
        else:
            n = int(
                ix.sync_transformer(progress=self._backfill.phase, max_seconds=TRANSFORMER_SLICE)
            )
            self.report.transformer += n
        self.report.embedded += n
        return n

    def close(self) -> None:
        if self._indexer is not None:
            self._indexer.close()
            self._indexer = None
