"""Background jobs in PostgreSQL: claims with SELECT ... FOR UPDATE SKIP LOCKED.

Any number of workers claim at once without waiting on each other: each takes the oldest
job nobody else is claiming at that instant; a running job whose lease has expired (its
worker was killed) is claimable again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from paperfeed.models import Job, JobState
from paperfeed.store.postgres.db import Database
from paperfeed.store.sqlite.jobs import JOB_COLUMNS, row_job


class PgJobs:
    """Jobs part of the PostgreSQL store."""

    db: Database

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
        with self.db.transaction() as conn:
            row = conn.execute(
                "INSERT INTO jobs AS j (kind, key, payload, state, created_at, updated_at) "
                "VALUES (%s, %s, %s, 'queued', %s, %s) ON CONFLICT (kind, key) DO UPDATE SET "
                "state = 'queued', payload = excluded.payload, attempts = 0, owner = NULL, "
                "lease_until = NULL, last_error = NULL, updated_at = excluded.updated_at "
                "WHERE j.state IN ('done', 'failed') AND j.updated_at < %s RETURNING id",
                (kind, key, orjson.dumps(payload or {}).decode(), now, now, cutoff),
            ).fetchone()
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
        with self.db.transaction() as conn:
            row = conn.execute(
                "UPDATE jobs SET state = 'running', owner = %(owner)s, "
                "lease_until = %(until)s, attempts = attempts + 1, updated_at = %(now)s "
                "WHERE id = ("
                "  SELECT id FROM jobs WHERE kind = ANY(%(kinds)s) AND attempts < %(max)s AND "
                "  (state = 'queued' OR (state = 'running' AND lease_until < %(now)s)) "
                "  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
                f") RETURNING {JOB_COLUMNS}",
                {
                    "owner": owner,
                    "until": now + lease_s,
                    "now": now,
                    "kinds": list(kinds),
                    "max": max_attempts,
                },
            ).fetchone()
        return row_job(row) if row else None

    def renew_jobs(self, owner: str, *, lease_s: float, now: float) -> int:
        with self.db.transaction() as conn:
            return int(
                conn.execute(
                    "UPDATE jobs SET lease_until = %s WHERE owner = %s AND state = 'running'",
                    (now + lease_s, owner),
                ).rowcount
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
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET state = CASE WHEN %(error)s::text IS NULL THEN 'done' "
                "WHEN attempts >= %(max)s THEN 'failed' ELSE 'queued' END, "
                "last_error = %(error)s, owner = NULL, lease_until = NULL, updated_at = %(now)s "
                "WHERE id = %(id)s AND owner = %(owner)s AND state = 'running'",
                {"error": error, "max": max_attempts, "now": now, "id": job_id, "owner": owner},
            )
            return bool(cur.rowcount > 0)

    def list_jobs(
        self, *, kind: str | None = None, state: JobState | None = None, limit: int = 1000
    ) -> list[Job]:
        sql, args = f"SELECT {JOB_COLUMNS} FROM jobs WHERE true", []
        if kind is not None:
            sql += " AND kind = %s"
            args.append(kind)
        if state is not None:
            sql += " AND state = %s"
            args.append(state)
        with self.db.transaction() as conn:
            rows = conn.execute(sql + " ORDER BY id LIMIT %s", (*args, limit)).fetchall()
        return [row_job(r) for r in rows]
