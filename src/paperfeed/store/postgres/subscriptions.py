"""Subscribers, saved searches, mailed papers and the digest outbox in PostgreSQL.

The exactly-once ledger is the same as on SQLite: `begin_send` claims (subscriber, period)
with one upsert that only succeeds on a missing or 'pending' row, so concurrent senders in
different processes can never both claim one digest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from psycopg.rows import dict_row

from paperfeed.models import (
    Frequency,
    OutboxEntry,
    OutboxState,
    SavedSearch,
    Subscriber,
    SubscriberStatus,
)
from paperfeed.store.postgres.db import Database

_SUBSCRIBER_COLUMNS = (
    "id, email, frequency, trending, user_id, created_at, confirmed_at, status, "
    "status_reason, last_digest_at"
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _subscriber(row: dict[str, Any]) -> Subscriber:
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


def _search(row: dict[str, Any]) -> SavedSearch:
    return SavedSearch(
        id=row["id"],
        subscriber_id=row["subscriber_id"],
        query=row["query"],
        filters=orjson.loads(row["filters"]),
        user_id=row["user_id"],
    )


def _filters_json(filters: dict[str, Any] | None) -> str:
    return orjson.dumps(filters or {}, option=orjson.OPT_SORT_KEYS).decode()


def _dicts(
    conn: Any, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = conn.cursor(row_factory=dict_row).execute(sql, params).fetchall()
    return rows


class PgSubscriptions:
    """Subscriptions part of the PostgreSQL store."""

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
        with self.db.transaction() as conn:
            rows = _dicts(
                conn,
                "INSERT INTO subscribers (email, frequency, trending, user_id, created_at, "
                "confirmed_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (email) DO NOTHING "
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
            if rows:
                return _subscriber(rows[0]), True
            rows = _dicts(
                conn, f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers WHERE email = %s", (email,)
            )
            return self._with_searches(conn, [_subscriber(rows[0])])[0], False

    def _one_subscriber(self, where: str, value: Any) -> Subscriber | None:
        with self.db.transaction() as conn:
            rows = _dicts(conn, f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers {where}", (value,))
            return self._with_searches(conn, [_subscriber(rows[0])])[0] if rows else None

    def get_subscriber(self, subscriber_id: int) -> Subscriber | None:
        return self._one_subscriber("WHERE id = %s", subscriber_id)

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        return self._one_subscriber("WHERE email = %s", email)

    def list_subscribers(self, *, after_id: int = 0, limit: int = 1000) -> list[Subscriber]:
        with self.db.transaction() as conn:
            rows = _dicts(
                conn,
                f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers WHERE id > %s ORDER BY id LIMIT %s",
                (after_id, limit),
            )
            return self._with_searches(conn, [_subscriber(r) for r in rows])

    def subscriber_counts(self) -> dict[str, int]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT CASE WHEN status = 'active' AND confirmed_at IS NULL "
                "THEN 'unconfirmed' ELSE status END AS s, count(*) FROM subscribers GROUP BY 1"
            ).fetchall()
        return {row[0]: int(row[1]) for row in rows}

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
            assignments = ", ".join(f"{column} = %s" for column in changes)
            with self.db.transaction() as conn:
                conn.execute(
                    f"UPDATE subscribers SET {assignments} WHERE id = %s",
                    (*changes.values(), subscriber_id),
                )
        return self.get_subscriber(subscriber_id)

    def set_confirm_nonce(self, subscriber_id: int, nonce: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE subscribers SET confirm_nonce = %s WHERE id = %s", (nonce, subscriber_id)
            )

    def take_confirm_nonce(self, subscriber_id: int, nonce: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE subscribers SET confirm_nonce = NULL WHERE id = %s AND confirm_nonce = %s",
                (subscriber_id, nonce),
            )
            return bool(cur.rowcount > 0)

    def remove_subscriber(self, subscriber_id: int) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM subscribers WHERE id = %s", (subscriber_id,))
            return bool(cur.rowcount > 0)

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
        with self.db.transaction() as conn:
            if limit is not None:
                # the subscriber row is locked, so concurrent saves cannot pass the limit
                conn.execute("SELECT 1 FROM subscribers WHERE id = %s FOR UPDATE", (subscriber_id,))
                (count,) = conn.execute(
                    "SELECT count(*) FROM saved_searches WHERE subscriber_id = %s "
                    "AND NOT (query = %s AND filters = %s)",
                    (subscriber_id, query, _filters_json(filters)),
                ).fetchone()
                if count >= limit:
                    return None
            conn.execute(
                "INSERT INTO saved_searches (subscriber_id, user_id, query, filters, created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (subscriber_id, user_id, query, _filters_json(filters), _now()),
            )
            rows = _dicts(
                conn,
                "SELECT * FROM saved_searches WHERE subscriber_id = %s AND query = %s "
                "AND filters = %s",
                (subscriber_id, query, _filters_json(filters)),
            )
        return _search(rows[0])

    def remove_saved_search(self, *, subscriber_id: int, search_id: int) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM saved_searches WHERE id = %s AND subscriber_id = %s",
                (search_id, subscriber_id),
            )
            return bool(cur.rowcount > 0)

    def _with_searches(self, conn: Any, subscribers: list[Subscriber]) -> list[Subscriber]:
        by_id: dict[int, list[SavedSearch]] = defaultdict(list)
        ids = [s.id for s in subscribers]
        if ids:
            for row in _dicts(
                conn,
                "SELECT * FROM saved_searches WHERE subscriber_id = ANY(%s) ORDER BY id",
                (ids,),
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
        with self.db.transaction() as conn:
            rows = _dicts(
                conn,
                f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers s "
                "WHERE s.status = 'active' AND s.confirmed_at IS NOT NULL AND s.frequency = %s "
                "AND s.id > %s AND NOT EXISTS (SELECT 1 FROM digest_outbox o "
                "  WHERE o.subscriber_id = s.id AND o.period = %s "
                "  AND NOT (o.state = 'pending' AND o.attempts < %s)) "
                "ORDER BY s.id LIMIT %s",
                (frequency, after_id, period, max_attempts, limit),
            )
            return self._with_searches(conn, [_subscriber(r) for r in rows])

    def sent_paper_ids(self, subscriber_id: int, paper_ids: Sequence[str]) -> set[str]:
        if not paper_ids:
            return set()
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT paper_id FROM sent_papers WHERE subscriber_id = %s AND paper_id = ANY(%s)",
                (subscriber_id, list(paper_ids)),
            ).fetchall()
        return {r[0] for r in rows}

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
        # Committed on the way out without waiting for the server's reply: the caller
        # sends the message's final dot right after (see Database.deferred_commit).
        with self.db.deferred_commit() as conn:
            prev = conn.execute(
                "SELECT last_digest_at FROM subscribers WHERE id = %s AND status = 'active' "
                "AND confirmed_at IS NOT NULL FOR UPDATE",
                (subscriber_id,),
            ).fetchone()
            if prev is None:  # gone, unsubscribed or bounced since the run started
                conn.rollback()
                return False
            claimed = conn.execute(
                "INSERT INTO digest_outbox AS o (subscriber_id, period, state, message_id, "
                "paper_ids, prev_digest_at, attempts, created_at, updated_at) "
                "VALUES (%s, %s, 'sending', %s, %s, %s, 1, %s, %s) "
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
                    prev[0],
                    now,
                    now,
                ),
            ).fetchone()
            if claimed is None:
                conn.rollback()
                return False
            if paper_ids:
                conn.cursor().executemany(
                    "INSERT INTO sent_papers (subscriber_id, paper_id, period) "
                    "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    [(subscriber_id, pid, period) for pid in paper_ids],
                )
            conn.execute(
                "UPDATE subscribers SET last_digest_at = %s WHERE id = %s",
                (at.isoformat(), subscriber_id),
            )
        return True

    def finish_sends(self, keys: Sequence[tuple[int, str]]) -> None:
        if not keys:
            return
        now = _now()
        with self.db.transaction() as conn:
            conn.cursor().executemany(
                "UPDATE digest_outbox SET state = 'sent', last_error = NULL, updated_at = %s "
                "WHERE subscriber_id = %s AND period = %s AND state = 'sending'",
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
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT state, attempts, prev_digest_at FROM digest_outbox "
                "WHERE subscriber_id = %s AND period = %s FOR UPDATE",
                (subscriber_id, period),
            ).fetchone()
            state: OutboxState = (
                "failed" if permanent or (row and row[1] >= max_attempts) else "pending"
            )
            if row is None:
                # Refused before anything was recorded (e.g. at RCPT): keep a trace anyway.
                conn.execute(
                    "INSERT INTO digest_outbox (subscriber_id, period, state, message_id, "
                    "attempts, last_error, created_at, updated_at) "
                    "VALUES (%s, %s, %s, '', 1, %s, %s, %s) "
                    "ON CONFLICT (subscriber_id, period) DO NOTHING",
                    (subscriber_id, period, state, error, _now(), _now()),
                )
            else:
                if row[0] == "sending":
                    # The message was not accepted: its papers are unsent again.
                    conn.execute(
                        "DELETE FROM sent_papers WHERE subscriber_id = %s AND period = %s",
                        (subscriber_id, period),
                    )
                    conn.execute(
                        "UPDATE subscribers SET last_digest_at = %s WHERE id = %s",
                        (row[2], subscriber_id),
                    )
                conn.execute(
                    "UPDATE digest_outbox SET state = %s, last_error = %s, updated_at = %s "
                    "WHERE subscriber_id = %s AND period = %s",
                    (state, error, _now(), subscriber_id, period),
                )
            if permanent:
                conn.execute(
                    "UPDATE subscribers SET status = 'bounced', status_reason = %s WHERE id = %s",
                    (error, subscriber_id),
                )
        return state

    def outbox_entries(self, period: str, *, state: OutboxState | None = None) -> list[OutboxEntry]:
        sql = "SELECT * FROM digest_outbox WHERE period = %s"
        args: list[Any] = [period]
        if state is not None:
            sql += " AND state = %s"
            args.append(state)
        with self.db.transaction() as conn:
            rows = _dicts(conn, sql + " ORDER BY subscriber_id", args)
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
