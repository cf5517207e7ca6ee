"""Papers and the daily list in PostgreSQL.

Catalogue writes take the `change_seq` row lock first and hold it to commit: writers are
serialised as on SQLite, and change sequence numbers become visible in increasing order, so
an index that follows `changes_since(seq)` from any process never skips a change.
New papers are loaded with COPY (thousands per second), changed ones through a temporary
table and one UPDATE ... FROM.
"""

from __future__ import annotations

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
from paperfeed.store.postgres.db import Database

SELECT_PAPER = f"""
SELECT p.{PAPER_COLUMNS.replace(", ", ", p.")}, p.seq,
       p.imported_upvotes + p.vote_count AS upvotes,
       p.imported_comments + p.comment_count AS num_comments,
       d.day AS daily_day, d.submitted_by, d.submitted_at,
       p.imported_upvotes AS hf_upvotes, p.imported_comments AS hf_comments,
       d.submitter_fullname, d.submitter_avatar
FROM papers p LEFT JOIN daily_entries d ON d.paper_id = p.id
"""
_N = len(CONTENT_FIELDS)
_UPDATE_VIA_TABLE = 200  # more changed papers than this go through a temp table


def row_stored(row: tuple[Any, ...]) -> StoredPaper:
    return StoredPaper(
        paper=row_paper(row),
        seq=row[_N],
        upvotes=row[_N + 1],
        num_comments=row[_N + 2],
        daily_day=parse_day(row[_N + 3]),
        submitted_by=row[_N + 4],
        submitted_at=parse_ts(row[_N + 5]),
        hf_upvotes=row[_N + 6],
        hf_comments=row[_N + 7],
        submitter_fullname=row[_N + 8],
        submitter_avatar=row[_N + 9],
    )


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

    def _papers(self, where: str, params: Sequence[Any]) -> list[StoredPaper]:
        with self.db.read() as conn:
            return [row_stored(r) for r in conn.execute(SELECT_PAPER + where, params)]

    def get_paper(self, paper_id: str) -> StoredPaper | None:
        found = self._papers(" WHERE p.id = %s", (paper_id,))
        return found[0] if found else None

    def get_papers(self, paper_ids: Sequence[str]) -> list[StoredPaper]:
        ids = list(dict.fromkeys(paper_ids))
        if not ids:
            return []
        found = {p.paper.id: p for p in self._papers(" WHERE p.id = ANY(%s)", (ids,))}
        return [found[i] for i in ids if i in found]

    def list_papers(self, *, after_id: str | None = None, limit: int = 50) -> list[StoredPaper]:
        return self._papers(" WHERE p.id > %s ORDER BY p.id LIMIT %s", (after_id or "", limit))

    def newest_papers(self, *, limit: int = 50) -> list[StoredPaper]:
        return self._papers(" ORDER BY p.published DESC NULLS LAST, p.id DESC LIMIT %s", (limit,))

    def daily_list(
        self,
        *,
        start: date,
        end: date,
        limit: int = 100,
        offset: int = 0,
        submitter: str | None = None,
    ) -> list[StoredPaper]:
        return self._papers(
            " WHERE d.day BETWEEN %s AND %s "
            "AND (%s::text IS NULL OR lower(d.submitted_by) = lower(%s::text)) "
            "ORDER BY d.pinned DESC, upvotes DESC, "
            "p.published DESC NULLS LAST, p.id LIMIT %s OFFSET %s",
            (start.isoformat(), end.isoformat(), submitter, submitter, limit, offset),
        )

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        with self.db.read() as conn:
            return tuple(conn.execute(sql, params).fetchone())

    def daily_count(self, *, start: date, end: date, submitter: str | None = None) -> int:
        (n,) = self._one(
            "SELECT count(*) FROM daily_entries WHERE day BETWEEN %s AND %s "
            "AND (%s::text IS NULL OR lower(submitted_by) = lower(%s::text))",
            (start.isoformat(), end.isoformat(), submitter, submitter),
        )
        return int(n)

    def latest_daily_day(self) -> date | None:
        (day,) = self._one("SELECT max(day) FROM daily_entries")
        return parse_day(day)

    def adjacent_daily_days(self, day: date) -> tuple[date | None, date | None]:
        text = day.isoformat()
        prev, nxt = self._one(
            "SELECT (SELECT max(day) FROM daily_entries WHERE day < %s), "
            "(SELECT min(day) FROM daily_entries WHERE day > %s)",
            (text, text),
        )
        return parse_day(prev), parse_day(nxt)

    def listed_papers(self, day: date, *, limit: int = 5000) -> list[StoredPaper]:
        return self._papers(
            " WHERE p.listing_date = %s ORDER BY p.id LIMIT %s", (day.isoformat(), limit)
        )

    def latest_listing_date(self) -> date | None:
        (day,) = self._one("SELECT max(listing_date) FROM papers")
        return parse_day(day)

    def recent_daily(self, *, since: date, limit: int = 1000) -> list[StoredPaper]:
        return self._papers(
            " WHERE d.day >= %s ORDER BY upvotes DESC LIMIT %s", (since.isoformat(), limit)
        )

    def remove_daily(self, paper_id: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM daily_entries WHERE paper_id = %s", (paper_id,))
            return bool(cur.rowcount > 0)

    def pin_daily(self, paper_id: str, pinned: bool) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE daily_entries SET pinned = %s WHERE paper_id = %s", (int(pinned), paper_id)
            )
            return bool(cur.rowcount > 0)

    def changes_since(self, seq: int, *, limit: int = 1000) -> list[StoredPaper]:
        return self._papers(" WHERE p.seq > %s ORDER BY p.seq LIMIT %s", (seq, limit))

    def paper_texts_since(self, seq: int, *, limit: int = 1000) -> list[PaperText]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                SELECT_TEXT + " WHERE seq > %s ORDER BY seq LIMIT %s", (seq, limit)
            ).fetchall()
        return [row_text(r) for r in rows]

    def count_changes_since(self, seq: int) -> int:
        (value,) = self._one("SELECT count(*) FROM papers WHERE seq > %s", (seq,))
        return int(value)

    def last_seq(self) -> int:
        (value,) = self._one("SELECT value FROM change_seq")
        return int(value)

    def upvoted_ids(self) -> list[tuple[str, int]]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, imported_upvotes + vote_count AS upvotes FROM papers "
                "WHERE imported_upvotes > 0 OR vote_count > 0 "
                "ORDER BY upvotes DESC, coalesce(published, listing_date) DESC NULLS LAST, id"
            ).fetchall()
        return [(r[0], int(r[1])) for r in rows]

    def stats(self) -> CatalogueStats:
        with self.db.read() as conn:
            (papers,) = conn.execute("SELECT count(*) FROM papers").fetchone()
            daily, first, last = conn.execute(
                "SELECT count(*), min(day), max(day) FROM daily_entries"
            ).fetchone()
            categories = {
                cat: int(n)
                for cat, n in conn.execute(
                    "SELECT primary_category, count(*) FROM papers "
                    "WHERE primary_category IS NOT NULL "
                    "GROUP BY primary_category ORDER BY count(*) DESC, primary_category LIMIT 20"
                )
            }
            (seq,) = conn.execute("SELECT value FROM change_seq").fetchone()
        return CatalogueStats(
            papers=int(papers),
            daily_entries=int(daily),
            first_daily_day=parse_day(first),
            last_daily_day=parse_day(last),
            last_seq=int(seq),
            categories=categories,
        )
