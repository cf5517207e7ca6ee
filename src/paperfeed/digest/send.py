"""The send job: every due subscriber gets at most one digest per period, and none is missed.

Exactly-once protocol, per subscriber and period (daily: the UTC date; weekly: the ISO week):

1. A subscriber is due when no outbox row exists for the period (or only a 'pending' row
   left by a temporary failure, with tries to spare).
2. The digest is composed and rendered, and the SMTP transaction is opened: MAIL, RCPT,
   DATA and the whole message body go to the server, everything except the final dot.
3. `begin_send` commits, in one transaction: the outbox row as 'sending' (claimed with an
   upsert that fails if another run took the period), the papers in `sent_papers`, and
   `last_digest_at`.
4. The final "<CRLF>.<CRLF>" is sent; on 250 the row becomes 'sent' (the replies that one
   round over the connections read are marked in one commit, before that connection's next
   claim, so each connection still has at most one row 'sending'). On a 4xx/5xx reply the
   store undoes step 3 (papers unsent again) and the row becomes 'pending' (retried with
   backoff) or 'failed' (5xx: the address is marked bounced and gets no more mail).

A run killed before step 3 leaves nothing delivered (a connection closed before the dot makes
the server discard the message) and nothing recorded: the rerun sends it. Killed after step 3,
the row stays 'sending' and the rerun never sends it again. The one window where a kill
loses a digest is between the commit of step 3 and the dot leaving the socket (two
syscalls, microseconds); a lost connection after the dot is reported as "in doubt" and
counted as delivered. Rows still 'sending' at the start of a run are reported the same way.
"""

from __future__ import annotations

import logging
import select
import smtplib
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr

from paperfeed.digest.compose import Composer, Digest, period_key
from paperfeed.digest.render import RenderedEmail, Renderer
from paperfeed.digest.smtp import DeliveryInDoubt, SmtpRefused, SmtpSender, parse_smtp_url
from paperfeed.errors import BadRequest
from paperfeed.models import Frequency, Subscriber
from paperfeed.progress import Progress
from paperfeed.settings import Settings
from paperfeed.store import Store

log = logging.getLogger(__name__)

FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly")
MAX_ATTEMPTS = 5
RETRY_DELAYS = (2.0, 10.0, 60.0)  # seconds before each retry round of temporary failures
BATCH = 500


@dataclass(slots=True)
class SendReport:
    """What a run did; `summary()` is what the operator sees."""

    periods: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    sent: int = 0
    skipped_empty: int = 0
    would_send: int = 0
    retried: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # temporary, retried next run
    bounced: list[tuple[str, str]] = field(default_factory=list)  # permanent: mail stopped
    in_doubt: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        periods = ", ".join(f"{k} {v}" for k, v in self.periods.items())
        lines = [
            f"digest run for {periods}"
            + (" (dry run: nothing sent or recorded)" if self.dry_run else ""),
            f"  sent            {self.would_send if self.dry_run else self.sent}"
            + (" (would send)" if self.dry_run else ""),
            f"  skipped empty   {self.skipped_empty}",
            f"  failed (retry)  {len(self.failed)}",
            f"  bounced (5xx)   {len(self.bounced)}",
        ]
        if self.in_doubt:
            lines.append(f"  in doubt        {len(self.in_doubt)} (counted as delivered)")
        lines.append(f"  took            {self.seconds:.1f} s")
        for email, reason in self.bounced:
            lines.append(f"permanently failed, mail stopped: {email}: {reason}")
        for email, reason in self.failed:
            lines.append(f"failed, will retry next run: {email}: {reason}")
        for email, reason in self.in_doubt:
            lines.append(f"in doubt (not resent; --resend-in-doubt to resend): {email}: {reason}")
        return "\n".join(lines)


def sender_address(settings: Settings) -> str:
    address = parseaddr(settings.mail_from)[1]
    if not address or "@" not in address:
        raise BadRequest(f"PAPERFEED_MAIL_FROM has no usable address: {settings.mail_from!r}")
    return address


def open_sender(settings: Settings) -> SmtpSender:
    if not settings.smtp_url:
        raise BadRequest("PAPERFEED_SMTP_URL is not set: cannot send email (try --dry-run)")
    return SmtpSender(parse_smtp_url(settings.smtp_url))


@dataclass(slots=True)
class Outgoing:
    """A rendered digest on its way: the Message-ID the outbox records and, once its
    connection is known (8bit bodies where the server takes them), the MIME bytes."""

    digest: Digest
    message_id: str
    rendered: RenderedEmail
    data: bytes = b""


@dataclass(slots=True)
class Line:
    """One SMTP connection of a run and the message it is carrying, if any."""

    smtp: SmtpSender
    out: Outgoing | None = None
    handed: bool = False  # the dot is out: the server's reply is what is left


class DigestJob:
    """One run of the send job over every due subscriber of the current periods."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        max_attempts: int = MAX_ATTEMPTS,
        resend_in_doubt: bool = False,
    ) -> None:
        self.settings, self.store = settings, store
        self.resend_in_doubt = resend_in_doubt
        self.now = now or datetime.now(UTC)
        self.dry_run = dry_run
        self.retry_delays = tuple(retry_delays)
        self.max_attempts = max_attempts
        self.composer = Composer(settings, store, self.now)
        self.renderer = Renderer(settings)
        self.sender = sender_address(settings)
        self.report = SendReport(dry_run=dry_run)
        self._errors: dict[int, str] = {}  # last temporary error per subscriber
        self._delivered: list[tuple[int, str]] = []  # answered 250, not yet marked 'sent'
        self._ids: tuple[int, int | None] = (0, None)  # the block of subscriber ids to serve

    def run(
        self,
        *,
        limit: int | None = None,
        progress: bool = True,
        first_id: int = 0,
        last_id: int | None = None,
    ) -> SendReport:
        """Send to every due subscriber (with `first_id <= id <= last_id`: one worker job's
        block of ids)."""
        started = time.perf_counter()
        self._ids = (first_id, last_id)
        due = self._count_due()
        bar = Progress(enabled=progress)
        bar.start("digests (subscribers)", min(due, limit) if limit is not None else due)
        lines: list[Line] = []
        if not self.dry_run:
            sender = open_sender(self.settings)  # checks the URL before any work
            lines = [Line(sender)] + [
                Line(open_sender(self.settings)) for _ in range(self.settings.smtp_connections - 1)
            ]
        try:
            retry = self._send(self._due(limit), lines, bar)
            for delay in self.retry_delays:
                if not retry or not lines:
                    break
                log.warning("digest: retrying %d temporary failures in %.0f s", len(retry), delay)
                time.sleep(delay)
                self.report.retried += len(retry)
                retry = self._send(iter(retry), lines, None)
            for sub, _ in retry:
                self.report.failed.append((sub.email, self._errors.get(sub.id, "")))
        finally:
            bar.finish()
            self._wind_down(lines)
            self.composer.close()
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _due(self, limit: int | None) -> Iterator[tuple[Subscriber, str]]:
        """(subscriber, period) of every due digest in this job's block, `limit` at most;
        reports the rows an interrupted run left 'sending' on the way."""
        budget = limit
        first_id, _ = self._ids
        for frequency in FREQUENCIES:
            period = period_key(frequency, self.now)
            self.report.periods[frequency] = period
            for entry in self.store.outbox_entries(period, state="sending"):
                if not self._covers(entry.subscriber_id):
                    continue  # another worker's block
                sub = self.store.get_subscriber(entry.subscriber_id)
                email = sub.email if sub else f"#{entry.subscriber_id}"
                if self.resend_in_doubt and not self.dry_run:
                    self.store.fail_send(
                        subscriber_id=entry.subscriber_id,
                        period=period,
                        error="in doubt: requeued by the operator",
                        permanent=False,
                        max_attempts=self.max_attempts + entry.attempts,
                    )
                    continue
                self.report.in_doubt.append((email, "left 'sending' by an interrupted run"))
            after_id = first_id - 1
            while budget is None or budget > 0:
                batch = self._in_range(
                    self.store.due_subscribers(
                        frequency=frequency,
                        period=period,
                        after_id=after_id,
                        limit=BATCH if budget is None else min(BATCH, budget),
                        max_attempts=self.max_attempts,
                    )
                )
                if not batch:
                    break
                self.composer.know_accounts(batch)
                for sub in batch:
                    after_id = sub.id
                    if budget is not None:
                        budget -= 1
                    yield sub, period

    def _send(
        self, due: Iterator[tuple[Subscriber, str]], lines: list[Line], bar: Progress | None
    ) -> list[tuple[Subscriber, str]]:
        """Compose and deliver every digest of `due`; returns those to retry.

        One thread keeps every connection busy: each line whose server has answered takes
        its next step (send the envelope, one command per turn if the server does not
        pipeline; read its replies, send the message, commit the outbox row, send the dot;
        read the final reply), so the job waits only when no server has answered yet, and
        composing the next digest overlaps the servers' work. The outbox commit and the
        dot follow each other directly, as with one connection.
        """
        retry: list[tuple[Subscriber, str]] = []
        slots: list[Line | None] = [*lines] or [None]  # None: a dry run, nothing to deliver
        exhausted = False
        while True:
            busy = False
            answered = {id(line) for line in _answered(slots)}
            for line in slots:
                if line is not None and line.out is not None and id(line) in answered:
                    self._step(line, retry)
                while not exhausted and (line is None or line.out is None):
                    item = next(due, None)
                    if item is None:
                        exhausted = True
                        break
                    if bar is not None:
                        bar.advance()
                    out = self._compose(*item)
                    if out is not None and line is not None:
                        self._start(line, out, retry)
                busy = busy or (line is not None and line.out is not None)
            # One commit marks this round's deliveries 'sent', before any line's next claim
            # (a claim needs the server's replies of a later round): a connection never has
            # more than one row 'sending', as when each was marked at once.
            self._mark_delivered()
            if exhausted and not busy:
                return retry

    def _covers(self, subscriber_id: int) -> bool:
        first_id, last_id = self._ids
        return first_id <= subscriber_id and (last_id is None or subscriber_id <= last_id)

    def _in_range(self, batch: list[Subscriber]) -> list[Subscriber]:
        last_id = self._ids[1]
        return batch if last_id is None else [s for s in batch if s.id <= last_id]

    def _count_due(self) -> int:
        total = 0
        for frequency in FREQUENCIES:
            period = period_key(frequency, self.now)
            after_id = self._ids[0] - 1
            while batch := self._in_range(
                self.store.due_subscribers(
                    frequency=frequency,
                    period=period,
                    after_id=after_id,
                    limit=10_000,
                    max_attempts=self.max_attempts,
                )
            ):
                total += len(batch)
                after_id = batch[-1].id
        return total

    def _compose(self, sub: Subscriber, period: str) -> Outgoing | None:
        """The rendered digest to send, or None (empty, or a dry run: counted here)."""
        digest = self.composer.compose(sub, period)
        if digest.empty:
            self.report.skipped_empty += 1
            return None
        if self.dry_run:
            self.report.would_send += 1
            return None
        rendered = self.renderer.digest(digest, now=self.now)
        message_id = self.renderer.message_id(f"digest.{period.replace(':', '-')}.{sub.id}")
        return Outgoing(digest, message_id, rendered)

    def _start(self, line: Line, out: Outgoing, retry: list[tuple[Subscriber, str]]) -> None:
        line.out, line.handed = out, False
        try:
            eight_bit = line.smtp.offers_8bitmime()
            out.data = self.renderer.message(
                out.rendered,
                to=out.digest.subscriber.email,
                message_id=out.message_id,
                now=self.now,
                eight_bit=eight_bit,
            )
            line.smtp.begin(
                sender=self.sender, recipient=out.digest.subscriber.email, eight_bit=eight_bit
            )
        except Exception as exc:  # noqa: BLE001 - sorted out by _settle, like every step
            self._settle(line, exc, retry)

    def _step(self, line: Line, retry: list[tuple[Subscriber, str]]) -> None:
        """The next step of the message on `line`: hand it over, or read the final reply."""
        out = line.out
        if out is None:
            return
        digest = out.digest

        def claim() -> bool:
            return self.store.begin_send(
                subscriber_id=digest.subscriber.id,
                period=digest.period,
                message_id=out.message_id,
                paper_ids=digest.paper_ids,
                at=self.now,
            )

        try:
            if not line.handed:
                if not line.smtp.envelope_ready():
                    return  # a server without PIPELINING: one command per turn
                if not line.smtp.hand_over(out.data, claim):
                    line.out = None  # "taken": another run holds this period
                    return
                line.handed = True
                return
            line.smtp.accepted()
        except Exception as exc:  # noqa: BLE001
            self._settle(line, exc, retry)
            return
        line.out = None
        self._delivered.append((digest.subscriber.id, digest.period))
        self.report.sent += 1

    def _mark_delivered(self) -> None:
        if self._delivered:
            self.store.finish_sends(self._delivered)
            self._delivered = []

    def _settle(self, line: Line, exc: Exception, retry: list[tuple[Subscriber, str]]) -> None:
        """Record a failed step of the message on `line` (re-raises what is not SMTP's)."""
        if line.out is None:
            raise exc
        sub, period = line.out.digest.subscriber, line.out.digest.period
        line.out = None
        if isinstance(exc, SmtpRefused):
            state = self.store.fail_send(
                subscriber_id=sub.id,
                period=period,
                error=str(exc),
                permanent=exc.permanent,
                max_attempts=self.max_attempts,
            )
            if exc.permanent:
                log.warning("digest: %s bounced permanently: %s", sub.email, exc)
                self.report.bounced.append((sub.email, str(exc)))
            elif state == "failed":
                self._remember(sub, str(exc))
                self.report.failed.append(
                    (sub.email, f"gave up after {self.max_attempts} tries: {exc}")
                )
            else:
                self._remember(sub, str(exc))
                retry.append((sub, period))
        elif isinstance(exc, DeliveryInDoubt):
            log.warning("digest: connection lost after the message to %s: %s", sub.email, exc)
            self.report.in_doubt.append((sub.email, f"connection lost after the message: {exc}"))
        elif isinstance(exc, smtplib.SMTPException | OSError):
            # Nothing was committed (the failure came before the dot): safe to try again.
            self._remember(sub, f"connection: {exc}")
            retry.append((sub, period))
        else:
            raise exc

    def _wind_down(self, lines: list[Line]) -> None:
        """Close every connection; a message whose dot is out gets its reply read first, so
        a run stopped by an error leaves no more rows 'sending' than it must."""
        for line in lines:
            if line.out is not None and line.handed:
                email = line.out.digest.subscriber.email
                try:
                    self._step(line, [])
                except Exception:  # already failing: the row stays 'sending' (in doubt)
                    log.warning("digest: could not confirm the message to %s", email)
            line.smtp.close()
        self._mark_delivered()

    def _remember(self, sub: Subscriber, error: str) -> None:
        self._errors[sub.id] = error


def _answered(slots: Sequence[Line | None]) -> list[Line]:
    """The lines, of those awaiting a reply, whose server has sent something (waits for the
    first); all of them if none answers within the SMTP timeout (their reads then fail)."""
    waiting = [line for line in slots if line is not None and line.out is not None]
    if len(waiting) <= 1:
        return waiting
    fds: dict[int, Line] = {}
    for line in waiting:
        fd = line.smtp.waiting_socket()
        if fd is None:
            return waiting  # a reply is readable at once, or the read fails at once
        fds[fd] = line
    timeout = waiting[0].smtp.config.timeout
    if hasattr(select, "poll"):
        poll = select.poll()
        for fd in fds:
            poll.register(fd, select.POLLIN | select.POLLPRI)
        ready = [fds[fd] for fd, _ in poll.poll(timeout * 1000)]
    else:  # Windows
        ready = [fds[fd] for fd in select.select(list(fds), [], [], timeout)[0]]
    return ready or waiting


def send_digests(
    settings: Settings,
    store: Store,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    now: datetime | None = None,
    retry_delays: Sequence[float] = RETRY_DELAYS,
    progress: bool = True,
    resend_in_doubt: bool = False,
) -> SendReport:
    """Send every due digest now (the job behind `paperfeed digest send` and the scheduler).

    `resend_in_doubt` requeues this period's rows left 'sending' by a killed run (for a
    server known to drop messages whose client vanished before the final 250).
    """
    job = DigestJob(
        settings,
        store,
        now=now,
        dry_run=dry_run,
        retry_delays=retry_delays,
        resend_in_doubt=resend_in_doubt,
    )
    return job.run(limit=limit, progress=progress)


def preview_digest(
    settings: Settings, store: Store, subscriber: Subscriber, *, now: datetime | None = None
) -> tuple[Digest, RenderedEmail]:
    """The digest `subscriber` would get now, rendered, without recording anything."""
    now = now or datetime.now(UTC)
    with closing(Composer(settings, store, now)) as composer:
        digest = composer.compose(subscriber)
    return digest, Renderer(settings).digest(digest, now=now)
