"""The store interface: everything the rest of paperfeed may ask of the system of record.

`SqliteStore` (embedded default) implements it; a PostgreSQL store implements the same
protocol. Nothing outside `store/` writes SQL or touches database files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from paperfeed.models import (
    CatalogueStats,
    Collection,
    Comment,
    DailyEntry,
    Follow,
    FollowedSource,
    Frequency,
    HarvestCheckpoint,
    Job,
    JobState,
    Note,
    OutboxEntry,
    OutboxState,
    Paper,
    PaperText,
    PendingSignup,
    PurgeReport,
    ReaderSignals,
    SavedSearch,
    StoredPaper,
    Subscriber,
    SubscriberStatus,
    UpsertCounts,
    User,
)

MAX_THROTTLE_ROWS = 50_000  # throttle counters kept at most (oldest windows dropped first)
MAX_PENDING_SIGNUPS = 10_000  # sign-ups waiting for their emailed link


class CatalogueStore(Protocol):
    """Papers and the daily list."""

    def upsert_papers(self, papers: Iterable[Paper]) -> UpsertCounts:
        """Add or update papers in one transaction; a newer version replaces an older one."""
        ...

    def upsert_daily(self, entries: Iterable[DailyEntry]) -> UpsertCounts:
        """Put papers (already in the catalogue) on the daily list, keeping the highest counts."""
        ...

    def get_paper(self, paper_id: str) -> StoredPaper | None: ...

    def get_papers(self, paper_ids: Sequence[str]) -> list[StoredPaper]:
        """The papers that exist, in the order of `paper_ids`."""
        ...

    def list_papers(self, *, after_id: str | None = None, limit: int = 50) -> list[StoredPaper]:
        """Papers ordered by id, starting after `after_id` (cursor pagination)."""
        ...

    def newest_papers(self, *, limit: int = 50) -> list[StoredPaper]:
        """The most recently published papers, newest first (undated ones last)."""
        ...

    def daily_list(
        self,
        *,
        start: date,
        end: date,
        limit: int = 100,
        offset: int = 0,
        submitter: str | None = None,
    ) -> list[StoredPaper]:
        """Daily-list entries with start <= day <= end, pinned first, then by upvotes;
        only those put there by the username `submitter` (any case) when given."""
        ...

    def daily_count(self, *, start: date, end: date, submitter: str | None = None) -> int: ...

    def latest_daily_day(self) -> date | None: ...

    def latest_daily_days(self, limit: int) -> list[date]:
        """The newest `limit` days that have papers on the daily list, newest first."""
        ...

    def adjacent_daily_days(self, day: date) -> tuple[date | None, date | None]:
        """The nearest earlier and later days that have papers on the daily list."""
        ...

    def listed_papers(self, day: date, *, limit: int = 5000) -> list[StoredPaper]:
        """Papers first announced on `day` (`listing_date`), by id."""
        ...

    def latest_listing_date(self) -> date | None:
        """The newest announce day in the catalogue."""
        ...

    def recent_daily(self, *, since: date, limit: int = 1000) -> list[StoredPaper]:
        """Daily-list papers listed on or after `since` (trending candidates)."""
        ...

    def remove_daily(self, paper_id: str) -> bool: ...

    def pin_daily(self, paper_id: str, pinned: bool) -> bool: ...

    def changes_since(self, seq: int, *, limit: int = 1000) -> list[StoredPaper]:
        """Papers whose content changed after change sequence `seq`, in sequence order."""
        ...

    def paper_texts_since(self, seq: int, *, limit: int = 1000) -> list[PaperText]:
        """`changes_since` reduced to what the keyword index needs, read without decoding
        the other columns (the index sync reads every paper of an import back)."""
        ...

    def count_changes_since(self, seq: int) -> int:
        """How many papers changed after change sequence `seq` (derived-index lag)."""
        ...

    def last_seq(self) -> int: ...

    def upvoted_ids(self) -> list[tuple[str, int]]:
        """(paper id, upvotes) of every paper with at least one upvote, most upvoted first
        (ties: newest first). Sorting search matches by upvotes reads it."""
        ...

    def stats(self) -> CatalogueStats: ...


class AccountStore(Protocol):
    """Users, sessions, one upvote per user per paper, comments, login throttling."""

    def create_user(
        self, *, email: str, name: str, password_hash: str, role: str | None = None
    ) -> User | None:
        """A new account (admin when it is the first); None if the email is taken."""
        ...

    def get_user(self, user_id: int) -> User | None: ...

    def add_pending_signup(
        self, *, token_hash: str, signup: PendingSignup, max_rows: int = ...
    ) -> None:
        """Keep a sign-up until its emailed link is opened; replaces any earlier one for the
        same address; drops expired ones (and the oldest past `max_rows`)."""
        ...

    def take_pending_signup(self, token_hash: str) -> PendingSignup | None:
        """Remove and return the live (unexpired) sign-up with this token hash."""
        ...

    def user_credentials(self, email: str) -> tuple[User, str] | None: ...

    def users_by_email(self, emails: Sequence[str]) -> dict[str, User]:
        """The accounts of these addresses, keyed by the address as given (matched as
        `user_credentials` matches); addresses without an account are left out."""
        ...

    def set_password_hash(self, user_id: int, password_hash: str) -> None: ...

    def set_role(self, email: str, role: str) -> User | None: ...

    def list_users(self) -> list[User]: ...

    def create_session(self, *, token_hash: str, user_id: int, expires_at: datetime) -> None: ...

    def session_user(self, token_hash: str) -> User | None: ...

    def delete_session(self, token_hash: str) -> None: ...

    def add_vote(self, *, user_id: int, paper_id: str) -> bool:
        """Upvote once (papers.vote_count in step); False if already upvoted."""
        ...

    def remove_vote(self, *, user_id: int, paper_id: str) -> bool: ...

    def voted_papers(self, user_id: int, paper_ids: list[str]) -> set[str]: ...

    def add_comment(self, *, user_id: int, paper_id: str, body: str) -> Comment: ...

    def get_comment(self, comment_id: int) -> Comment | None: ...

    def list_comments(self, paper_id: str, *, limit: int = 200) -> list[Comment]: ...

    def delete_comment(self, comment_id: int) -> bool: ...

    def throttle_take(
        self,
        limits: Sequence[tuple[str, int]],
        *,
        window_s: float,
        now: float,
        max_rows: int = ...,
    ) -> bool:
        """Count one attempt against every `(key, limit)`, all or nothing; False (and nothing
        counted or stored) when any key has used its limit in its window. Bounded rows."""
        ...

    def throttle_hit(self, key: str, *, limit: int, window_s: float, now: float) -> bool:
        """`throttle_take` for one key."""
        ...

    def throttle_wait(
        self, limits: Sequence[tuple[str, int]], *, window_s: float, now: float
    ) -> float:
        """Seconds until every `(key, limit)` has room again (0.0 when all have now)."""
        ...

    def throttle_clear(self, key: str) -> None:
        """Forget `key`'s attempts."""
        ...


class SubscriptionStore(Protocol):
    """Subscribers, their saved searches, the papers already mailed and the digest outbox."""

    def add_subscriber(
        self,
        *,
        email: str,
        frequency: Frequency = "daily",
        trending: bool = True,
        user_id: int | None = None,
        confirmed_at: datetime | None = None,
    ) -> tuple[Subscriber, bool]:
        """The subscriber for `email` (already normalised), and whether it was created now."""
        ...

    def get_subscriber(self, subscriber_id: int) -> Subscriber | None: ...

    def subscriber_by_email(self, email: str) -> Subscriber | None: ...

    def list_subscribers(self, *, after_id: int = 0, limit: int = 1000) -> list[Subscriber]: ...

    def subscriber_counts(self) -> dict[str, int]:
        """Subscribers by status ('unconfirmed' counted apart from 'active')."""
        ...

    def update_subscriber(
        self,
        subscriber_id: int,
        *,
        frequency: Frequency | None = None,
        trending: bool | None = None,
        status: SubscriberStatus | None = None,
        status_reason: str | None = None,
        confirmed_at: datetime | None = None,
    ) -> Subscriber | None:
        """Apply the given changes; any change also voids the pending confirmation link."""
        ...

    def set_confirm_nonce(self, subscriber_id: int, nonce: str) -> None:
        """Remember the nonce of the confirmation link just mailed (voids older links)."""
        ...

    def take_confirm_nonce(self, subscriber_id: int, nonce: str) -> bool:
        """Atomically clear the pending confirmation nonce if it is `nonce`; False if it was
        not (already used, replaced by a newer link, or voided by a later change)."""
        ...

    def remove_subscriber(self, subscriber_id: int) -> bool: ...

    def add_saved_search(
        self,
        *,
        subscriber_id: int,
        query: str,
        filters: dict[str, Any] | None = None,
        user_id: int | None = None,
        limit: int | None = None,
    ) -> SavedSearch | None:
        """Add (or find) a saved search; None when the subscriber already has `limit` others."""
        ...

    def remove_saved_search(self, *, subscriber_id: int, search_id: int) -> bool: ...

    def due_subscribers(
        self,
        *,
        frequency: Frequency,
        period: str,
        after_id: int = 0,
        limit: int = 1000,
        max_attempts: int = 5,
    ) -> list[Subscriber]:
        """Active confirmed subscribers (with their searches) with no digest begun for `period`.

        A subscriber whose earlier try failed temporarily ('pending') is due again until it
        has had `max_attempts` tries.
        """
        ...

    def sent_paper_ids(self, subscriber_id: int, paper_ids: Sequence[str]) -> set[str]:
        """Those of `paper_ids` already mailed to the subscriber."""
        ...

    def begin_send(
        self,
        *,
        subscriber_id: int,
        period: str,
        message_id: str,
        paper_ids: Sequence[str],
        at: datetime,
    ) -> bool:
        """Record 'sending' and the papers as mailed, in one transaction, just before the
        message is committed to the SMTP server; False if the period is already taken or the
        subscriber no longer receives mail."""
        ...

    def finish_sends(self, keys: Sequence[tuple[int, str]]) -> None:
        """Mark (subscriber_id, period) outbox rows 'sent' (after the server accepted them)."""
        ...

    def fail_send(
        self,
        *,
        subscriber_id: int,
        period: str,
        error: str,
        permanent: bool,
        max_attempts: int = 5,
    ) -> OutboxState:
        """Undo `begin_send` after the server refused: the papers count as unsent again.

        Temporary errors leave the row 'pending' (retried) until `max_attempts`, then
        'failed'; permanent ones mark it 'failed' and the subscriber 'bounced'.
        """
        ...

    def outbox_entries(
        self, period: str, *, state: OutboxState | None = None
    ) -> list[OutboxEntry]: ...


class HarvestStore(Protocol):
    """Followed upstream sources and where each feed's harvest stopped."""

    def add_source(self, name: str) -> bool:
        """Follow `name`; False if it was already followed."""
        ...

    def remove_source(self, name: str) -> bool: ...

    def list_sources(self) -> list[FollowedSource]: ...

    def get_checkpoint(self, key: str) -> HarvestCheckpoint | None: ...

    def save_checkpoint(self, key: str, state: dict[str, Any], *, error: str | None = None) -> None:
        """Replace the checkpoint of feed `key` (and its last error, None when it went well)."""
        ...


class JobStore(Protocol):
    """Background jobs for `paperfeed worker`: queued once per (kind, key), claimed under a
    lease that a live worker renews; a job whose lease expired (its worker died) is claimable
    again. Times are unix seconds from the caller."""

    def enqueue_job(
        self,
        kind: str,
        key: str,
        payload: dict[str, Any] | None = None,
        *,
        now: float,
        requeue_after: float | None = None,
    ) -> bool:
        """Queue (kind, key) unless it exists; a done or failed one is queued again if it
        finished more than `requeue_after` seconds ago. True if it was queued now."""
        ...

    def claim_job(
        self,
        kinds: Sequence[str],
        *,
        owner: str,
        lease_s: float,
        now: float,
        max_attempts: int = 5,
    ) -> Job | None:
        """Take the oldest queued job of `kinds` (or a running one whose lease expired) for
        `owner` until now + lease_s; concurrent claimers never get the same job."""
        ...

    def renew_jobs(self, owner: str, *, lease_s: float, now: float) -> int:
        """Extend the leases of `owner`'s running jobs; how many."""
        ...

    def finish_job(
        self,
        job_id: int,
        *,
        owner: str,
        now: float,
        error: str | None = None,
        max_attempts: int = 5,
    ) -> bool:
        """'done', or after an error 'queued' again ('failed' after max_attempts); False if
        `owner` no longer held the job (its lease expired and another worker took it)."""
        ...

    def list_jobs(
        self, *, kind: str | None = None, state: JobState | None = None, limit: int = 1000
    ) -> list[Job]: ...


class LibraryStore(Protocol):
    """A reader's own corner: collections, read marks, notes, follows, "not interested"."""

    def create_collection(self, *, user_id: int, name: str, public: bool) -> Collection | None:
        """A new collection; None if this reader already has one with that name."""
        ...

    def get_collection(self, collection_id: int) -> Collection | None: ...

    def find_collections(self, name: str, *, user_id: int | None = None) -> list[Collection]:
        """Collections called `name` (of one reader, or of anyone)."""
        ...

    def list_collections(self, user_id: int) -> list[Collection]: ...

    def update_collection(
        self, collection_id: int, *, name: str | None = None, public: bool | None = None
    ) -> Collection | None:
        """Rename and/or change visibility; None if the new name is taken."""
        ...

    def delete_collection(self, collection_id: int) -> bool: ...

    def add_to_collection(self, collection_id: int, paper_id: str) -> bool:
        """Save a paper; False if it was already there. KeyError if no such paper."""
        ...

    def remove_from_collection(self, collection_id: int, paper_id: str) -> bool: ...

    def collection_papers(
        self, collection_id: int, *, limit: int = 50, offset: int = 0
    ) -> list[StoredPaper]:
        """The collection's papers, most recently saved first."""
        ...

    def collection_paper_ids(self, collection_id: int) -> set[str]:
        """Ids of every paper in the collection."""
        ...

    def collections_with_paper(self, user_id: int, paper_id: str) -> list[int]: ...

    def set_read(self, *, user_id: int, paper_id: str, read: bool) -> bool:
        """Mark or unmark; True if anything changed. KeyError if no such paper."""
        ...

    def read_papers(self, user_id: int, paper_ids: Sequence[str]) -> set[str]: ...

    def set_note(self, *, user_id: int, paper_id: str, body: str) -> Note | None:
        """Write the reader's note; an empty body deletes it. KeyError if no such paper."""
        ...

    def get_note(self, *, user_id: int, paper_id: str) -> Note | None: ...

    def list_notes(self, user_id: int, *, limit: int = 100) -> list[Note]: ...

    def add_follow(self, *, user_id: int, kind: str, value: str) -> bool: ...

    def remove_follow(self, *, user_id: int, kind: str, value: str) -> bool: ...

    def list_follows(self, user_id: int) -> list[Follow]: ...

    def followed_papers(self, user_id: int, *, since: date, limit: int = 200) -> list[StoredPaper]:
        """Papers listed on or after `since` by a followed author or in a followed category."""
        ...

    def dismiss(self, *, user_id: int, paper_id: str) -> bool:
        """ "Not interested" on a paper. KeyError if no such paper."""
        ...

    def reader_signals(self, user_id: int) -> ReaderSignals:
        """Every paper this reader upvoted, saved, read or dismissed, newest first."""
        ...

    def reader_stamp(self, user_id: int) -> str:
        """A cheap value that changes whenever `reader_signals` would (counts and newest
        times of each signal): read per request, where the signals themselves are not."""
        ...


class HousekeepingStore(Protocol):
    def purge_expired(self, *, now: datetime, unconfirmed_before: datetime) -> PurgeReport:
        """Delete, in one transaction, what can no longer be used: active never-confirmed
        subscriptions without an account created before `unconfirmed_before`, sessions and
        pending sign-ups expired at `now`, throttle counters a day old (store/purge.py)."""
        ...


class HeldLock(Protocol):
    """A lock held across transactions by this process until `release()` (or its death)."""

    def held(self) -> bool:
        """Still held (False once the database connection that held it is lost)."""
        ...

    def release(self) -> None: ...


class Store(
    CatalogueStore,
    AccountStore,
    SubscriptionStore,
    HarvestStore,
    JobStore,
    LibraryStore,
    HousekeepingStore,
    Protocol,
):
    """The whole store: the catalogue plus the feature stores added beside it."""

    def schema_version(self) -> tuple[int, int]:
        """(latest migration applied to the database, latest this code knows)."""
        ...

    def hold_lock(self, name: str) -> HeldLock | None:
        """Take the lock `name`, shared by every process on this database, without waiting;
        None while another process holds it. Elects one instance for a periodic job."""

    def data_version(self) -> object:
        """A value that changes whenever anything is committed to the store, by this process
        or any other (caches of rendered pages are valid while it stays the same)."""
        ...

    def close(self) -> None: ...
