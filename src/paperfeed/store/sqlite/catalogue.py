"""Papers and the daily list in SQLite: the bulk writes (the reads are shared:
`store.common.catalogue.CatalogueReads`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from paperfeed.models import DailyEntry, Paper, UpsertCounts
from paperfeed.store.common.catalogue import (
    CONTENT_FIELDS,
    DAILY_STATE_SQL,
    PAPER_COLUMNS,
    PaperRow,
    incoming_rows,
    plan_daily,
    split_changes,
)
from paperfeed.store.sqlite.db import Database

_CHUNK = 500  # ids per IN (...) lookup, under SQLite's variable limit


class SqliteCatalogue:
    """Catalogue part of the SQLite store."""

    db: Database

    def _next_seq(self, conn: sqlite3.Connection, count: int) -> int:
        """Reserve `count` change sequence numbers; returns the first."""
        (value,) = conn.execute(
            "UPDATE change_seq SET value = value + ? WHERE id = 1 RETURNING value", (count,)
        ).fetchone()
        return int(value) - count + 1

    def upsert_papers(self, papers: Iterable[Paper]) -> UpsertCounts:
        incoming = incoming_rows(papers)
        counts = UpsertCounts()
        if not incoming:
            return counts
        with self.db.write() as conn:
            existing: dict[str, PaperRow] = {}
            ids = list(incoming)
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT {PAPER_COLUMNS} FROM papers WHERE id IN ({marks})", chunk
                ):
                    existing[row[0]] = PaperRow._make(row)
            inserts, updates = split_changes(incoming, existing, counts)
            first = self._next_seq(conn, len(inserts) + len(updates))
            placeholders = ",".join("?" * (len(CONTENT_FIELDS) + 1))
            conn.executemany(
                f"INSERT INTO papers ({PAPER_COLUMNS}, seq) VALUES ({placeholders})",
                [(*row, first + i) for i, row in enumerate(inserts)],
            )
            first += len(inserts)
            assignments = ", ".join(f"{c} = ?" for c in CONTENT_FIELDS[1:])
            conn.executemany(
                f"UPDATE papers SET {assignments}, seq = ? WHERE id = ?",
                [(*row[1:], first + i, row[0]) for i, row in enumerate(updates)],
            )
        return counts

    def upsert_daily(self, entries: Iterable[DailyEntry]) -> UpsertCounts:
        """Put papers on the daily list; imported upvotes/comments only ever grow.

        The state of every paper in the batch is read with a few `IN (...)` queries and the
        changes are written with one `executemany` per statement (a 10k-entry HF file is
        three round trips, not thirty thousand).
        """
        items = list(entries)
        if not items:
            return UpsertCounts()
        with self.db.write() as conn:
            state: dict[str, list[Any]] = {}  # id -> [has_entry, submitted_by, upvotes, comments]
            ids = list(dict.fromkeys(e.paper_id for e in items))
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(DAILY_STATE_SQL + f"p.id IN ({marks})", chunk):
                    state[row[0]] = [row[1] is not None, row[2], row[3], row[4]]
            plan = plan_daily(items, state)
            conn.executemany(
                "INSERT INTO daily_entries (paper_id, day, submitted_by, submitted_at, pinned, "
                "submitter_fullname, submitter_avatar) VALUES (?, ?, ?, ?, ?, ?, ?)",
                plan.inserts,
            )
            conn.executemany(
                "UPDATE daily_entries SET submitted_by = ?, submitter_fullname = ?, "
                "submitter_avatar = ? WHERE paper_id = ?",
                plan.submitters,
            )
            conn.executemany(
                "UPDATE papers SET imported_upvotes = ?, imported_comments = ? WHERE id = ?",
                plan.signals,
            )
        return plan.counts
