"""Subscribers, saved searches, mailed papers and the digest outbox in SQLite."""

from __future__ import annotations

import sqlite3
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
from paperfeed.store.sqlite.db import Database

_SUBSCRIBER_COLUMNS = (
    "id, email, frequency, trending, user_id, created_at, confirmed_at, status, "
    "status_reason, last_digest_at"
)
_CHUNK = 500


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _subscriber(row: sqlite3.Row) -> Subscriber:
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


def _search(row: sqlite3.Row) -> SavedSearch:
    return SavedSearch(
        id=row["id"],
        subscriber_id=row["subscriber_id"],
        query=row["query"],
        filters=orjson.loads(row["filters"]),
        user_id=row["user_id"],
    )


def _filters_json(filters: dict[str, Any] | None) -> str:
    return orjson.dumps(filters or {}, option=orjson.OPT_SORT_KEYS).decode()


class SqliteSubscriptions:
    """Digest part of the SQLite store."""

    db: Database

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
        with self.db.write() as conn:
            row = conn.execute(
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
            ).fetchone()
            if row is not None:
                return _subscriber(row), True
            row = conn.execute(
                f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers WHERE email = ?", (email,)
            ).fetchone()
            return self._with_searches(conn, [_subscriber(row)])[0], False

    def get_subscriber(self, subscriber_id: int) -> Subscriber | None:
        conn = self.db.read
        row = conn.execute(
            f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = ?", (subscriber_id,)
        ).fetchone()
        return self._with_searches(conn, [_subscriber(row)])[0] if row else None

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        conn = self.db.read
        row = conn.execute(
            f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers WHERE email = ?", (email,)
        ).fetchone()
        return self._with_searches(conn, [_subscriber(row)])[0] if row else None

    def list_subscribers(self, *, after_id: int = 0, limit: int = 1000) -> list[Subscriber]:
        conn = self.db.read
        rows = conn.execute(
            f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        return self._with_searches(conn, [_subscriber(r) for r in rows])

    def subscriber_counts(self) -> dict[str, int]:
        rows = self.db.read.execute(
            "SELECT CASE WHEN status = 'active' AND confirmed_at IS NULL THEN 'unconfirmed' "
            "ELSE status END AS s, count(*) FROM subscribers GROUP BY s"
        ).fetchall()
        return {row[0]: row[1] for row in rows}

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
            with self.db.write() as conn:
                conn.execute(
                    f"UPDATE subscribers SET {assignments} WHERE id = ?",
                    (*changes.values(), subscriber_id),
                )
        return self.get_subscriber(subscriber_id)

    def set_confirm_nonce(self, subscriber_id: int, nonce: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE subscribers SET confirm_nonce = ? WHERE id = ?", (nonce, subscriber_id)
            )

    def take_confirm_nonce(self, subscriber_id: int, nonce: str) -> bool:
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE subscribers SET confirm_nonce = NULL WHERE id = ? AND confirm_nonce = ?",
                (subscriber_id, nonce),
            )
        return cur.rowcount > 0

    def remove_subscriber(self, subscriber_id: int) -> bool:
        with self.db.write() as conn:
            cur = conn.execute("DELETE FROM subscribers WHERE id = ?", (subscriber_id,))
        return cur.rowcount > 0

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
        with self.db.write() as conn:
            if limit is not None:
                # checked in the same write transaction, so concurrent saves cannot pass it
                (count,) = conn.execute(
                    "SELECT count(*) FROM saved_searches WHERE subscriber_id = ? "
                    "AND NOT (query = ? AND filters = ?)",
                    (subscriber_id, query, _filters_json(filters)),
                ).fetchone()
                if count >= limit:
                    return None
            conn.execute(
                "INSERT INTO saved_searches (subscriber_id, user_id, query, filters, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (subscriber_id, user_id, query, _filters_json(filters), _now()),
            )
            row = conn.execute(
                "SELECT * FROM saved_searches WHERE subscriber_id = ? AND query = ? "
                "AND filters = ?",
                (subscriber_id, query, _filters_json(filters)),
            ).fetchone()
        return _search(row)

    def remove_saved_search(self, *, subscriber_id: int, search_id: int) -> bool:
        with self.db.write() as conn:
            cur = conn.execute(
                "DELETE FROM saved_searches WHERE id = ? AND subscriber_id = ?",
                (search_id, subscriber_id),
            )
        return cur.rowcount > 0

    def _with_searches(
        self, conn: sqlite3.Connection, subscribers: list[Subscriber]
    ) -> list[Subscriber]:
        by_id: dict[int, list[SavedSearch]] = defaultdict(list)
        ids = [s.id for s in subscribers]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT * FROM saved_searches WHERE subscriber_id IN ({marks}) ORDER BY id",
                chunk,
            ):
                by_id[row["subscriber_id"]].append(_search(row))
        for s in subscribers:
            s.searches = by_id.get(s.id, [])
        return subscribers

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
        conn = self.db.read
        rows = conn.execute(
            f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers s "
            "WHERE s.status = 'active' AND s.confirmed_at IS NOT NULL AND s.frequency = ? "
            "AND s.id > ? AND NOT EXISTS (SELECT 1 FROM digest_outbox o "
            "  WHERE o.subscriber_id = s.id AND o.period = ? "
            "  AND NOT (o.state = 'pending' AND o.attempts < ?)) "
            "ORDER BY s.id LIMIT ?",
            (frequency, after_id, period, max_attempts, limit),
        ).fetchall()
        return self._with_searches(conn, [_subscriber(r) for r in rows])

    def sent_paper_ids(self, subscriber_id: int, paper_ids: Sequence[str]) -> set[str]:
        if not paper_ids:
            return set()
        sent: set[str] = set()
        conn = self.db.read
        for start in range(0, len(paper_ids), _CHUNK):
            chunk = list(paper_ids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            sent.update(
                row[0]
                for row in conn.execute(
                    f"SELECT paper_id FROM sent_papers WHERE subscriber_id = ? "
                    f"AND paper_id IN ({marks})",
                    (subscriber_id, *chunk),
                )
            )
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
        with self.db.write() as conn:
            prev = conn.execute(
                "SELECT last_digest_at FROM subscribers WHERE id = ? AND status = 'active' "
                "AND confirmed_at IS NOT NULL",
                (subscriber_id,),
            ).fetchone()
            if prev is None:  # gone, unsubscribed or bounced since the run started
                return False
            claimed = conn.execute(
                "INSERT INTO digest_outbox (subscriber_id, period, state, message_id, paper_ids,"
                " prev_digest_at, attempts, created_at, updated_at) "
                "VALUES (?, ?, 'sending', ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (subscriber_id, period) DO UPDATE SET state = 'sending', "
                "message_id = excluded.message_id, paper_ids = excluded.paper_ids, "
                "prev_digest_at = excluded.prev_digest_at, attempts = attempts + 1, "
                "updated_at = excluded.updated_at WHERE state = 'pending' "
                "RETURNING id",
                (
                    subscriber_id,
                    period,
                    message_id,
                    orjson.dumps(list(paper_ids)).decode(),
                    prev[0],
                    now,
                    now,
                ),
            ).fetchone()
            if claimed is None:
                return False
            conn.executemany(
                "INSERT OR IGNORE INTO sent_papers (subscriber_id, paper_id, period) "
                "VALUES (?, ?, ?)",
                [(subscriber_id, pid, period) for pid in paper_ids],
            )
            conn.execute(
                "UPDATE subscribers SET last_digest_at = ? WHERE id = ?",
                (at.isoformat(), subscriber_id),
            )
        return True

    def finish_sends(self, keys: Sequence[tuple[int, str]]) -> None:
        if not keys:
            return
        now = _now()
        with self.db.write() as conn:
            conn.executemany(
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
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT state, attempts, prev_digest_at FROM digest_outbox "
                "WHERE subscriber_id = ? AND period = ?",
                (subscriber_id, period),
            ).fetchone()
            state: OutboxState = (
                "failed" if permanent or (row and row["attempts"] >= max_attempts) else "pending"
            )
            if row is None:
                # Refused before anything was recorded (e.g. at RCPT): keep a trace anyway.
                conn.execute(
                    "INSERT INTO digest_outbox (subscriber_id, period, state, message_id, "
                    "attempts, last_error, created_at, updated_at) "
                    "VALUES (?, ?, ?, '', 1, ?, ?, ?)",
                    (subscriber_id, period, state, error, _now(), _now()),
                )
            else:
                if row["state"] == "sending":
                    # The message was not accepted: its papers are unsent again.
                    conn.execute(
                        "DELETE FROM sent_papers WHERE subscriber_id = ? AND period = ?",
                        (subscriber_id, period),
                    )
                    conn.execute(
                        "UPDATE subscribers SET last_digest_at = ? WHERE id = ?",
                        (row["prev_digest_at"], subscriber_id),
                    )
                conn.execute(
                    "UPDATE digest_outbox SET state = ?, last_error = ?, updated_at = ? "
                    "WHERE subscriber_id = ? AND period = ?",
                    (state, error, _now(), subscriber_id, period),
                )
            if permanent:
                conn.execute(
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
            for row in self.db.read.execute(sql + " ORDER BY subscriber_id", args)
        ]
