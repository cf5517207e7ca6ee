"""Background jobs with leases, on every backend.

Any number of workers claim at once: each takes the oldest claimable job (on PostgreSQL
with SKIP LOCKED, so they never wait on each other; on SQLite the single writer makes each
claim atomic). A running job whose lease has expired (its worker was killed) is claimable
again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from paperfeed.models import Job, JobState
from paperfeed.store.sql import HasDb, Row

JOB_COLUMNS = "id, kind, key, payload, state, owner, lease_until, attempts, last_error, updated_at"


def row_job(row: Row) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        key=row["key"],
        payload=orjson.loads(row["payload"]),
        state=row["state"],
        owner=row["owner"],
        lease_until=row["lease_until"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        updated_at=row["updated_at"],
    )


class Jobs(HasDb):
    """Jobs part of the store."""

    def enqueue_job(
        self,
        kind: str,
        key: str,
        payload: dict[str, Any] | None = None,
        *,
        now: float,
        requeue_after: float | None = None,
    ) -> bool:
        cutoff = now - requeue_after if requeue_after is not None else float("-inf")
        with self.db.writing() as conn:
            row = conn.one(
                "INSERT INTO jobs AS j (kind, key, payload, state, created_at, updated_at) "
                "VALUES (?, ?, ?, 'queued', ?, ?) ON CONFLICT (kind, key) DO UPDATE SET "
                "state = 'queued', payload = excluded.payload, attempts = 0, owner = NULL, "
                "lease_until = NULL, last_error = NULL, updated_at = excluded.updated_at "
                "WHERE j.state IN ('done', 'failed') AND j.updated_at < ? RETURNING id",
                (kind, key, orjson.dumps(payload or {}).decode(), now, now, cutoff),
            )
        return row is not None

    def claim_job(
        self,
        kinds: Sequence[str],
        *,
        owner: str,
        lease_s: float,
        now: float,
        max_attempts: int = 5,
    ) -> Job | None:
        if not kinds:
            return None
        with self.db.writing() as conn:
            of_kind, kind_params = conn.in_list("kind", list(kinds))
            row = conn.one(
                "UPDATE jobs SET state = 'running', owner = ?, lease_until = ?, "
                "attempts = attempts + 1, updated_at = ? WHERE id = ("
                f"  SELECT id FROM jobs WHERE {of_kind} AND attempts < ? AND "
                "  (state = 'queued' OR (state = 'running' AND lease_until < ?)) "
                f"  ORDER BY id LIMIT 1{conn.skip_locked}) RETURNING {JOB_COLUMNS}",
                (owner, now + lease_s, now, *kind_params, max_attempts, now),
            )
        return row_job(row) if row else None

    def renew_jobs(self, owner: str, *, lease_s: float, now: float) -> int:
        with self.db.writing() as conn:
            return conn.run(
                "UPDATE jobs SET lease_until = ? WHERE owner = ? AND state = 'running'",
                (now + lease_s, owner),
            )

    def finish_job(
        self,
        job_id: int,
        *,
        owner: str,
        now: float,
        error: str | None = None,
        max_attempts: int = 5,
    ) -> bool:
        with self.db.writing() as conn:
            return (
                conn.run(
                    "UPDATE jobs SET state = CASE WHEN CAST(? AS TEXT) IS NULL THEN 'done' "
                    "WHEN attempts >= ? THEN 'failed' ELSE 'queued' END, "
                    "last_error = ?, owner = NULL, lease_until = NULL, updated_at = ? "
                    "WHERE id = ? AND owner = ? AND state = 'running'",
                    (error, max_attempts, error, now, job_id, owner),
                )
                > 0
            )

    def list_jobs(
        self, *, kind: str | None = None, state: JobState | None = None, limit: int = 1000
    ) -> list[Job]:
        sql, args = f"SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1", []
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        with self.db.reading() as conn:
            rows = conn.rows(sql + " ORDER BY id LIMIT ?", (*args, limit))
        return [row_job(r) for r in rows]
