"""Background jobs in SQLite: one writer at a time makes each claim atomic."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from paperfeed.models import Job, JobState
from paperfeed.store.sqlite.db import Database

JOB_COLUMNS = "id, kind, key, payload, state, owner, lease_until, attempts, last_error, updated_at"


def row_job(row: sqlite3.Row | tuple[Any, ...]) -> Job:
    return Job(
        id=row[0],
        kind=row[1],
        key=row[2],
        payload=orjson.loads(row[3]),
        state=row[4],
        owner=row[5],
        lease_until=row[6],
        attempts=row[7],
        last_error=row[8],
        updated_at=row[9],
    )


class SqliteJobs:
    """Jobs part of the SQLite store."""

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
        with self.db.write() as conn:
            row = conn.execute(
                "INSERT INTO jobs (kind, key, payload, state, created_at, updated_at) "
                "VALUES (?, ?, ?, 'queued', ?, ?) ON CONFLICT (kind, key) DO UPDATE SET "
                "state = 'queued', payload = excluded.payload, attempts = 0, owner = NULL, "
                "lease_until = NULL, last_error = NULL, updated_at = excluded.updated_at "
                "WHERE jobs.state IN ('done', 'failed') AND jobs.updated_at < ? RETURNING id",
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
        marks = ",".join("?" * len(kinds))
        with self.db.write() as conn:
            row = conn.execute(
                "UPDATE jobs SET state = 'running', owner = ?, lease_until = ?, "
                "attempts = attempts + 1, updated_at = ? WHERE id = ("
                f"  SELECT id FROM jobs WHERE kind IN ({marks}) AND attempts < ? AND "
                "  (state = 'queued' OR (state = 'running' AND lease_until < ?)) "
                f"  ORDER BY id LIMIT 1) RETURNING {JOB_COLUMNS}",
                (owner, now + lease_s, now, *kinds, max_attempts, now),
            ).fetchone()
        return row_job(row) if row else None

    def renew_jobs(self, owner: str, *, lease_s: float, now: float) -> int:
        with self.db.write() as conn:
            return conn.execute(
                "UPDATE jobs SET lease_until = ? WHERE owner = ? AND state = 'running'",
                (now + lease_s, owner),
            ).rowcount

    def finish_job(
        self,
        job_id: int,
        *,
        owner: str,
        now: float,
        error: str | None = None,
        max_attempts: int = 5,
    ) -> bool:
        with self.db.write() as conn:
            return (
                conn.execute(
                    "UPDATE jobs SET state = CASE WHEN ? IS NULL THEN 'done' "
                    "WHEN attempts >= ? THEN 'failed' ELSE 'queued' END, "
                    "last_error = ?, owner = NULL, lease_until = NULL, updated_at = ? "
                    "WHERE id = ? AND owner = ? AND state = 'running'",
                    (error, max_attempts, error, now, job_id, owner),
                ).rowcount
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
        rows = self.db.read.execute(sql + " ORDER BY id LIMIT ?", (*args, limit))
        return [row_job(r) for r in rows]
