"""Papers and the daily list in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from paperfeed.models import (
    CatalogueStats,
    DailyEntry,
    Paper,
    PaperText,
    StoredPaper,
    UpsertCounts,
)
from paperfeed.store.common.catalogue import (
    CONTENT_FIELDS,
    DAILY_STATE_SQL,
    PAPER_COLUMNS,
    SELECT_TEXT,
    PaperRow,
    incoming_rows,
    parse_day,
    parse_ts,
    plan_daily,
    row_paper,
    row_text,
    split_changes,
)
from paperfeed.store.sqlite.db import Database

SELECT_PAPER = f"""
SELECT p.{PAPER_COLUMNS.replace(", ", ", p.")}, p.seq,
       p.imported_upvotes + p.vote_count AS upvotes,
       p.imported_comments + p.comment_count AS num_comments,
       p.imported_upvotes AS hf_upvotes, p.imported_comments AS hf_comments,
       d.day AS daily_day, d.submitted_by, d.submitted_at,
       d.submitter_fullname, d.submitter_avatar
FROM papers p LEFT JOIN daily_entries d ON d.paper_id = p.id
"""
_CHUNK = 500  # ids per IN (...) lookup, under SQLite's variable limit


def row_stored(row: sqlite3.Row) -> StoredPaper:
    return StoredPaper(
        paper=row_paper(row),
        seq=row["seq"],
        upvotes=row["upvotes"],
        num_comments=row["num_comments"],
        daily_day=parse_day(row["daily_day"]),
        submitted_by=row["submitted_by"],
        submitted_at=parse_ts(row["submitted_at"]),
        submitter_fullname=row["submitter_fullname"],
        submitter_avatar=row["submitter_avatar"],
        hf_upvotes=row["hf_upvotes"],
        hf_comments=row["hf_comments"],
    )


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

    def get_paper(self, paper_id: str) -> StoredPaper | None:
        row = self.db.read.execute(SELECT_PAPER + " WHERE p.id = ?", (paper_id,)).fetchone()
        return row_stored(row) if row else None

    def get_papers(self, paper_ids: Sequence[str]) -> list[StoredPaper]:
        found: dict[str, StoredPaper] = {}
        ids = list(dict.fromkeys(paper_ids))
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.db.read.execute(SELECT_PAPER + f" WHERE p.id IN ({marks})", chunk):
                found[row["id"]] = row_stored(row)
        return [found[i] for i in ids if i in found]

    def list_papers(self, *, after_id: str | None = None, limit: int = 50) -> list[StoredPaper]:
        rows = self.db.read.execute(
            SELECT_PAPER + " WHERE p.id > ? ORDER BY p.id LIMIT ?", (after_id or "", limit)
        )
        return [row_stored(r) for r in rows]

    def newest_papers(self, *, limit: int = 50) -> list[StoredPaper]:
        rows = self.db.read.execute(
            SELECT_PAPER + " ORDER BY p.published IS NULL, p.published DESC, p.id DESC LIMIT ?",
            (limit,),
        )
        return [row_stored(r) for r in rows]

    def daily_list(
        self,
        *,
        start: date,
        end: date,
        limit: int = 100,
        offset: int = 0,
        submitter: str | None = None,
    ) -> list[StoredPaper]:
        rows = self.db.read.execute(
            SELECT_PAPER + " WHERE d.day BETWEEN ? AND ? "
            "AND (? IS NULL OR lower(d.submitted_by) = lower(?)) "
            "ORDER BY d.pinned DESC, upvotes DESC, p.published DESC, p.id LIMIT ? OFFSET ?",
            (start.isoformat(), end.isoformat(), submitter, submitter, limit, offset),
        )
        return [row_stored(r) for r in rows]

    def daily_count(self, *, start: date, end: date, submitter: str | None = None) -> int:
        (n,) = self.db.read.execute(
            "SELECT count(*) FROM daily_entries WHERE day BETWEEN ? AND ? "
            "AND (? IS NULL OR lower(submitted_by) = lower(?))",
            (start.isoformat(), end.isoformat(), submitter, submitter),
        ).fetchone()
        return int(n)

    def latest_daily_day(self) -> date | None:
        (day,) = self.db.read.execute("SELECT max(day) FROM daily_entries").fetchone()
        return parse_day(day)

    def adjacent_daily_days(self, day: date) -> tuple[date | None, date | None]:
        text = day.isoformat()
        (prev,) = self.db.read.execute(
            "SELECT max(day) FROM daily_entries WHERE day < ?", (text,)
        ).fetchone()
        (nxt,) = self.db.read.execute(
            "SELECT min(day) FROM daily_entries WHERE day > ?", (text,)
        ).fetchone()
        return parse_day(prev), parse_day(nxt)

    def listed_papers(self, day: date, *, limit: int = 5000) -> list[StoredPaper]:
        rows = self.db.read.execute(
            SELECT_PAPER + " WHERE p.listing_date = ? ORDER BY p.id LIMIT ?",
            (day.isoformat(), limit),
        )
        return [row_stored(r) for r in rows]

    def latest_listing_date(self) -> date | None:
        (day,) = self.db.read.execute("SELECT max(listing_date) FROM papers").fetchone()
        return parse_day(day)

    def recent_daily(self, *, since: date, limit: int = 1000) -> list[StoredPaper]:
        rows = self.db.read.execute(
            SELECT_PAPER + " WHERE d.day >= ? ORDER BY upvotes DESC LIMIT ?",
            (since.isoformat(), limit),
        )
        return [row_stored(r) for r in rows]

    def remove_daily(self, paper_id: str) -> bool:
        with self.db.write() as conn:
            return (
                conn.execute("DELETE FROM daily_entries WHERE paper_id = ?", (paper_id,)).rowcount
                > 0
            )

    def pin_daily(self, paper_id: str, pinned: bool) -> bool:
        with self.db.write() as conn:
            return (
                conn.execute(
                    "UPDATE daily_entries SET pinned = ? WHERE paper_id = ?",
                    (int(pinned), paper_id),
                ).rowcount
                > 0
            )

    def changes_since(self, seq: int, *, limit: int = 1000) -> list[StoredPaper]:
        rows = self.db.read.execute(
            SELECT_PAPER + " WHERE p.seq > ? ORDER BY p.seq LIMIT ?", (seq, limit)
        )
        return [row_stored(r) for r in rows]

    def paper_texts_since(self, seq: int, *, limit: int = 1000) -> list[PaperText]:
        rows = self.db.read.execute(
            SELECT_TEXT + " WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [row_text(r) for r in rows]

    def count_changes_since(self, seq: int) -> int:
        (value,) = self.db.read.execute(
            "SELECT count(*) FROM papers WHERE seq > ?", (seq,)
        ).fetchone()
        return int(value)

    def last_seq(self) -> int:
        (value,) = self.db.read.execute("SELECT value FROM change_seq").fetchone()
        return int(value)

    def upvoted_ids(self) -> list[tuple[str, int]]:
        rows = self.db.read.execute(
            "SELECT id, imported_upvotes + vote_count AS upvotes FROM papers "
            "WHERE imported_upvotes > 0 OR vote_count > 0 "
            "ORDER BY upvotes DESC, coalesce(published, listing_date) DESC, id"
        )
        return [(r[0], int(r[1])) for r in rows]

    def stats(self) -> CatalogueStats:
        read = self.db.read
        (papers,) = read.execute("SELECT count(*) FROM papers").fetchone()
        daily, first, last = read.execute(
            "SELECT count(*), min(day), max(day) FROM daily_entries"
        ).fetchone()
        categories = dict(
            read.execute(
                "SELECT primary_category, count(*) FROM papers WHERE primary_category IS NOT NULL "
                "GROUP BY primary_category ORDER BY count(*) DESC LIMIT 20"
            ).fetchall()
        )
        return CatalogueStats(
            papers=papers,
            daily_entries=daily,
            first_daily_day=parse_day(first),
            last_daily_day=parse_day(last),
            last_seq=self.last_seq(),
            categories=categories,
        )
