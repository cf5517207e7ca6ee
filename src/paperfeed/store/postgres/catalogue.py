"""Papers and the daily list in PostgreSQL: the bulk writes (the reads are shared:
`store.common.catalogue.CatalogueReads`).

Catalogue writes take the `change_seq` row lock first and hold it to commit: writers are
serialised as on SQLite, and change sequence numbers become visible in increasing order, so
an index that follows `changes_since(seq)` from any process never skips a change.
New papers are loaded with COPY (thousands per second), changed ones through a temporary
table and one UPDATE ... FROM.
"""

from __future__ import annotations

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
from paperfeed.store.postgres.db import Database

_UPDATE_VIA_TABLE = 200  # more changed papers than this go through a temp table


def lock_catalogue(conn: Any) -> int:
    """Take the catalogue writer lock (the change_seq row); returns the current value."""
    (value,) = conn.execute("SELECT value FROM change_seq WHERE id = 1 FOR UPDATE").fetchone()
    return int(value)


class PgCatalogue:
    """Catalogue part of the PostgreSQL store."""

    db: Database

    def upsert_papers(self, papers: Iterable[Paper]) -> UpsertCounts:
        incoming = incoming_rows(papers)
        counts = UpsertCounts()
        if not incoming:
            return counts
        with self.db.transaction() as conn:
            seq = lock_catalogue(conn)
            existing = {
                row[0]: PaperRow._make(row)
                for row in conn.execute(
                    f"SELECT {PAPER_COLUMNS} FROM papers WHERE id = ANY(%s)", (list(incoming),)
                )
            }
            inserts, updates = split_changes(incoming, existing, counts)
            changed = len(inserts) + len(updates)
            if changed:
                conn.execute("UPDATE change_seq SET value = %s WHERE id = 1", (seq + changed,))
            cur = conn.cursor()
            if inserts:
                with cur.copy(f"COPY papers ({PAPER_COLUMNS}, seq) FROM STDIN") as copy:
                    for i, row in enumerate(inserts):
                        copy.write_row((*row, seq + 1 + i))
            seq += len(inserts)
            self._update_papers(conn, [(*row, seq + 1 + i) for i, row in enumerate(updates)])
        return counts

    def _update_papers(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        """Rewrite the content columns (and seq) of existing papers."""
        if not rows:
            return
        assignments = ", ".join(f"{c} = u.{c}" for c in CONTENT_FIELDS[1:])
        if len(rows) <= _UPDATE_VIA_TABLE:
            marks = ", ".join(f"{c} = %s" for c in CONTENT_FIELDS[1:])
            conn.cursor().executemany(
                f"UPDATE papers SET {marks}, seq = %s WHERE id = %s",
                [(*row[1:], row[0]) for row in rows],
            )
            return
        conn.execute(
            "CREATE TEMP TABLE pf_paper_updates (LIKE papers INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        with conn.cursor().copy(f"COPY pf_paper_updates ({PAPER_COLUMNS}, seq) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute(
            f"UPDATE papers p SET {assignments}, seq = u.seq "
            "FROM pf_paper_updates u WHERE p.id = u.id"
        )

    def upsert_daily(self, entries: Iterable[DailyEntry]) -> UpsertCounts:
        """Put papers on the daily list; imported upvotes/comments only ever grow."""
        items = list(entries)
        if not items:
            return UpsertCounts()
        with self.db.transaction() as conn:
            lock_catalogue(conn)
            state: dict[str, list[Any]] = {}  # id -> [has_entry, submitted_by, upvotes, comments]
            ids = list(dict.fromkeys(e.paper_id for e in items))
            for row in conn.execute(DAILY_STATE_SQL + "p.id = ANY(%s)", (ids,)):
                state[row[0]] = [row[1] is not None, row[2], row[3], row[4]]
            plan = plan_daily(items, state)
            cur = conn.cursor()
            if plan.inserts:
                with cur.copy(
                    "COPY daily_entries (paper_id, day, submitted_by, submitted_at, pinned, "
                    "submitter_fullname, submitter_avatar) FROM STDIN"
                ) as copy:
                    for row in plan.inserts:
                        copy.write_row(row)
            if plan.submitters:
                cur.executemany(
                    "UPDATE daily_entries SET submitted_by = %s, submitter_fullname = %s, "
                    "submitter_avatar = %s WHERE paper_id = %s",
                    plan.submitters,
                )
            if plan.signals:
                cur.executemany(
                    "UPDATE papers SET imported_upvotes = %s, imported_comments = %s WHERE id = %s",
                    plan.signals,
                )
        return plan.counts
