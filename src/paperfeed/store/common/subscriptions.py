"""Subscribers, saved searches, mailed papers and the digest outbox, on every backend.

The exactly-once ledger: `begin_send` claims (subscriber, period) with one upsert that only
succeeds on a missing or 'pending' row, so concurrent senders (threads here, processes on
PostgreSQL) can never both claim one digest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from paperfeed.models import (
    Frequency,
    OutboxEntry,
    OutboxState,
    SavedSearch,
    Subscriber,
    SubscriberStatus,
)
from paperfeed.store.sql import Conn, HasDb, Row, each_in, found

_SUBSCRIBER_COLUMNS = (
    "id, email, frequency, trending, user_id, created_at, confirmed_at, status, "
    "status_reason, last_digest_at"
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _subscriber(row: Row) -> Subscriber:
    return Subscriber(
        id=row["id"],
        email=row["email"],
        frequency=row["frequency"],
        trending=bool(row["trending"]),
        user_id=row["user_id"],
        created_at=_ts(row["created_at"]),
        confirmed_at=_ts(row["confirmed_at"]),
        status=row["status"],
        status_reason=row["status_reason"],
        last_digest_at=_ts(row["last_digest_at"]),
    )


def _search(row: Row) -> SavedSearch:
    return SavedSearch(
        id=row["id"],
        subscriber_id=row["subscriber_id"],
        query=row["query"],
        filters=orjson.loads(row["filters"]),
        user_id=row["user_id"],
    )


def _filters_json(filters: dict[str, Any] | None) -> str:
    return orjson.dumps(filters or {}, option=orjson.OPT_SORT_KEYS).decode()


def _with_searches(conn: Conn, subscribers: list[Subscriber]) -> list[Subscriber]:
    by_id: dict[int, list[SavedSearch]] = defaultdict(list)
    for where, params in each_in(conn, "subscriber_id", [s.id for s in subscribers]):
        for row in conn.rows(f"SELECT * FROM saved_searches WHERE {where} ORDER BY id", params):
            by_id[row["subscriber_id"]].append(_search(row))
    for s in subscribers:
        s.searches = by_id.get(s.id, [])
    return subscribers


class Subscriptions(HasDb):
    """Digest part of the store."""

    # -- subscribers ---------------------------------------------------------------------

    def add_subscriber(
        self,
        *,
        email: str,
        frequency: Frequency = "daily",
        trending: bool = True,
        user_id: int | None = None,
        confirmed_at: datetime | None = None,
    ) -> tuple[Subscriber, bool]:
        with self.db.writing() as conn:
            row = conn.one(
                "INSERT INTO subscribers (email, frequency, trending, user_id, created_at, "
                "confirmed_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING "
                f"RETURNING {_SUBSCRIBER_COLUMNS}",
                (
                    email,
                    frequency,
                    int(trending),
                    user_id,
                    _now(),
                    confirmed_at.isoformat() if confirmed_at else None,
                ),
            )
            if row is not None:
                return _subscriber(row), True
            row = conn.one(
                f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers WHERE email = ?", (email,)
            )
            return _with_searches(conn, [_subscriber(found(row, "subscriber"))])[0], False

    def _one_subscriber(self, column: str, value: Any) -> Subscriber | None:
        with self.db.reading() as conn:
            row = conn.one(
                f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers WHERE {column} = ?", (value,)
            )
            return _with_searches(conn, [_subscriber(row)])[0] if row else None

    def get_subscriber(self, subscriber_id: int) -> Subscriber | None:
        return self._one_subscriber("id", subscriber_id)

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        return self._one_subscriber("email", email)

    def list_subscribers(self, *, after_id: int = 0, limit: int = 1000) -> list[Subscriber]:
        with self.db.reading() as conn:
            rows = conn.rows(
                f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            )
            return _with_searches(conn, [_subscriber(r) for r in rows])

    def subscriber_counts(self) -> dict[str, int]:
        with self.db.reading() as conn:
            rows = conn.rows(
                "SELECT CASE WHEN status = 'active' AND confirmed_at IS NULL "
                "THEN 'unconfirmed' ELSE status END AS s, count(*) AS n FROM subscribers "
                "GROUP BY 1"
            )
        return {row["s"]: int(row["n"]) for row in rows}

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
        changes: dict[str, Any] = {}
        if frequency is not None:
            changes["frequency"] = frequency
        if trending is not None:
            changes["trending"] = int(trending)
        if status is not None:
            changes["status"] = status
            changes["status_reason"] = status_reason
        if confirmed_at is not None:
            changes["confirmed_at"] = confirmed_at.isoformat()
        if changes:
            changes["confirm_nonce"] = None  # a later change voids any pending confirmation
            assignments = ", ".join(f"{column} = ?" for column in changes)
            with self.db.writing() as conn:
                conn.run(
                    f"UPDATE subscribers SET {assignments} WHERE id = ?",
                    (*changes.values(), subscriber_id),
                )
        return self.get_subscriber(subscriber_id)

    def set_confirm_nonce(self, subscriber_id: int, nonce: str) -> None:
        with self.db.writing() as conn:
            conn.run(
                "UPDATE subscribers SET confirm_nonce = ? WHERE id = ?", (nonce, subscriber_id)
            )

    def take_confirm_nonce(self, subscriber_id: int, nonce: str) -> bool:
        with self.db.writing() as conn:
            return (
                conn.run(
                    "UPDATE subscribers SET confirm_nonce = NULL "
                    "WHERE id = ? AND confirm_nonce = ?",
                    (subscriber_id, nonce),
                )
                > 0
            )

    def remove_subscriber(self, subscriber_id: int) -> bool:
        with self.db.writing() as conn:
            return conn.run("DELETE FROM subscribers WHERE id = ?", (subscriber_id,)) > 0

    # -- saved searches ------------------------------------------------------------------

    def add_saved_search(
        self,
        *,
        subscriber_id: int,
        query: str,
        filters: dict[str, Any] | None = None,
        user_id: int | None = None,
        limit: int | None = None,
    ) -> SavedSearch | None:
        key = (subscriber_id, query, _filters_json(filters))
        with self.db.writing() as conn:
            if limit is not None:
                # the subscriber row is locked (on SQLite the writer is alone), so
                # concurrent saves cannot pass the limit
                conn.rows(f"SELECT 1 FROM subscribers WHERE id = ?{conn.for_update}", key[:1])
                count = conn.value(
                    "SELECT count(*) FROM saved_searches WHERE subscriber_id = ? "
                    "AND NOT (query = ? AND filters = ?)",
                    key,
                )
                if count >= limit:
                    return None
            conn.run(
                "INSERT INTO saved_searches (subscriber_id, user_id, query, filters, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (subscriber_id, user_id, query, key[2], _now()),
            )
            row = conn.one(
                "SELECT * FROM saved_searches WHERE subscriber_id = ? AND query = ? "
                "AND filters = ?",
                key,
            )
        return _search(found(row, "saved search"))

    def remove_saved_search(self, *, subscriber_id: int, search_id: int) -> bool:
        with self.db.writing() as conn:
            return (
                conn.run(
                    "DELETE FROM saved_searches WHERE id = ? AND subscriber_id = ?",
                    (search_id, subscriber_id),
                )
                > 0
            )

    # -- sending -------------------------------------------------------------------------

    def due_subscribers(
        self,
        *,
        frequency: Frequency,
        period: str,
        after_id: int = 0,
        limit: int = 1000,
        max_attempts: int = 5,
    ) -> list[Subscriber]:
        with self.db.reading() as conn:
            rows = conn.rows(
                f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers s "
                "WHERE s.status = 'active' AND s.confirmed_at IS NOT NULL AND s.frequency = ? "
                "AND s.id > ? AND NOT EXISTS (SELECT 1 FROM digest_outbox o "
                "  WHERE o.subscriber_id = s.id AND o.period = ? "
                "  AND NOT (o.state = 'pending' AND o.attempts < ?)) "
                "ORDER BY s.id LIMIT ?",
                (frequency, after_id, period, max_attempts, limit),
            )
            return _with_searches(conn, [_subscriber(r) for r in rows])

    def sent_paper_ids(self, subscriber_id: int, paper_ids: Sequence[str]) -> set[str]:
        sent: set[str] = set()
        with self.db.reading() as conn:
            for where, params in each_in(conn, "paper_id", list(paper_ids)):
                rows = conn.rows(
                    f"SELECT paper_id FROM sent_papers WHERE subscriber_id = ? AND {where}",
                    (subscriber_id, *params),
                )
                sent.update(row["paper_id"] for row in rows)
        return sent

    def begin_send(
        self,
        *,
        subscriber_id: int,
        period: str,
        message_id: str,
        paper_ids: Sequence[str],
        at: datetime,
    ) -> bool:
        now = _now()
        # The commit's reply may be read later: the caller sends the message's final dot
        # right after (see the PostgreSQL Database.deferred_commit).
        with self.db.writing(defer_commit=True) as conn:
            prev = conn.one(
                "SELECT last_digest_at FROM subscribers WHERE id = ? AND status = 'active' "
                f"AND confirmed_at IS NOT NULL{conn.for_update}",
                (subscriber_id,),
            )
            if prev is None:  # gone, unsubscribed or bounced since the run started
                return False
            claimed = conn.one(
                "INSERT INTO digest_outbox AS o (subscriber_id, period, state, message_id, "
                "paper_ids, prev_digest_at, attempts, created_at, updated_at) "
                "VALUES (?, ?, 'sending', ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (subscriber_id, period) DO UPDATE SET state = 'sending', "
                "message_id = excluded.message_id, paper_ids = excluded.paper_ids, "
                "prev_digest_at = excluded.prev_digest_at, attempts = o.attempts + 1, "
                "updated_at = excluded.updated_at WHERE o.state = 'pending' "
                "RETURNING id",
                (
                    subscriber_id,
                    period,
                    message_id,
                    orjson.dumps(list(paper_ids)).decode(),
                    prev["last_digest_at"],
                    now,
                    now,
                ),
            )
            if claimed is None:
                return False
            conn.run_many(
                "INSERT INTO sent_papers (subscriber_id, paper_id, period) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(subscriber_id, pid, period) for pid in paper_ids],
            )
            conn.run(
                "UPDATE subscribers SET last_digest_at = ? WHERE id = ?",
                (at.isoformat(), subscriber_id),
            )
        return True

    def finish_sends(self, keys: Sequence[tuple[int, str]]) -> None:
        if not keys:
            return
        now = _now()
        with self.db.writing() as conn:
            conn.run_many(
                "UPDATE digest_outbox SET state = 'sent', last_error = NULL, updated_at = ? "
                "WHERE subscriber_id = ? AND period = ? AND state = 'sending'",
                [(now, sid, period) for sid, period in keys],
            )

    def fail_send(
        self,
        *,
        subscriber_id: int,
        period: str,
        error: str,
        permanent: bool,
        max_attempts: int = 5,
    ) -> OutboxState:
        key = (subscriber_id, period)
        with self.db.writing() as conn:
            row = conn.one(
                "SELECT state, attempts, prev_digest_at FROM digest_outbox "
                f"WHERE subscriber_id = ? AND period = ?{conn.for_update}",
                key,
            )
            state: OutboxState = (
                "failed" if permanent or (row and row["attempts"] >= max_attempts) else "pending"
            )
            if row is None:
                # Refused before anything was recorded (e.g. at RCPT): keep a trace anyway.
                conn.run(
                    "INSERT INTO digest_outbox (subscriber_id, period, state, message_id, "
                    "attempts, last_error, created_at, updated_at) "
                    "VALUES (?, ?, ?, '', 1, ?, ?, ?) "
                    "ON CONFLICT (subscriber_id, period) DO NOTHING",
                    (*key, state, error, _now(), _now()),
                )
            else:
                if row["state"] == "sending":
                    # The message was not accepted: its papers are unsent again.
                    conn.run("DELETE FROM sent_papers WHERE subscriber_id = ? AND period = ?", key)
                    conn.run(
                        "UPDATE subscribers SET last_digest_at = ? WHERE id = ?",
                        (row["prev_digest_at"], subscriber_id),
                    )
                conn.run(
                    "UPDATE digest_outbox SET state = ?, last_error = ?, updated_at = ? "
                    "WHERE subscriber_id = ? AND period = ?",
                    (state, error, _now(), *key),
                )
            if permanent:
                conn.run(
                    "UPDATE subscribers SET status = 'bounced', status_reason = ? WHERE id = ?",
                    (error, subscriber_id),
                )
        return state

    def outbox_entries(self, period: str, *, state: OutboxState | None = None) -> list[OutboxEntry]:
        sql = "SELECT * FROM digest_outbox WHERE period = ?"
        args: list[Any] = [period]
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        with self.db.reading() as conn:
            rows = conn.rows(sql + " ORDER BY subscriber_id", args)
        return [
            OutboxEntry(
                subscriber_id=row["subscriber_id"],
                period=row["period"],
                state=row["state"],
                message_id=row["message_id"],
                paper_ids=orjson.loads(row["paper_ids"]),
                attempts=row["attempts"],
                last_error=row["last_error"],
            )
            for row in rows
        ]
