"""The records and store interface of email digests: subscribers, saved searches, the outbox.

The outbox holds one row per subscriber and period; its states are the exactly-once ledger
of `paperfeed.digest.send` (see that module for the protocol).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Frequency = Literal["daily", "weekly"]
SubscriberStatus = Literal["active", "unsubscribed", "bounced"]
OutboxState = Literal["pending", "sending", "sent", "failed"]


@dataclass(slots=True)
class SavedSearch:
    id: int
    subscriber_id: int
    query: str
    filters: dict[str, Any] = field(default_factory=dict)
    user_id: int | None = None


@dataclass(slots=True)
class Subscriber:
    id: int
    email: str
    frequency: Frequency = "daily"
    trending: bool = True
    user_id: int | None = None
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    status: SubscriberStatus = "active"
    status_reason: str | None = None
    last_digest_at: datetime | None = None
    searches: list[SavedSearch] = field(default_factory=list)

    @property
    def receives_mail(self) -> bool:
        return self.status == "active" and self.confirmed_at is not None


@dataclass(slots=True)
class OutboxEntry:
    subscriber_id: int
    period: str
    state: OutboxState
    message_id: str
    paper_ids: list[str]
    attempts: int = 0
    last_error: str | None = None


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
    ) -> Subscriber | None: ...

    def remove_subscriber(self, subscriber_id: int) -> bool: ...

    def add_saved_search(
        self,
        *,
        subscriber_id: int,
        query: str,
        filters: dict[str, Any] | None = None,
        user_id: int | None = None,
    ) -> SavedSearch: ...

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
