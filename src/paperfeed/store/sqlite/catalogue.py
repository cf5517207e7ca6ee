"""Papers and the daily list in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson

from paperfeed.models import (
    CatalogueStats,
    DailyEntry,
    Paper,
    PaperText,
    StoredPaper,
    UpsertCounts,
)
from paperfeed.store.sqlite.db import Database
from paperfeed.urls import http_url


class PaperRow(NamedTuple):
    """A paper's content columns as stored (lists as JSON text, times as ISO text)."""

    id: str
    version: int
    title: str
    abstract: str
    authors: str
    primary_category: str | None
    categories: str
    published: str | None
    updated: str | None
    comment: str | None
    journal_ref: str | None
    doi: str | None
    github_url: str | None
    project_page: str | None
    listing_date: str | None


PAPER_COLUMNS = ", ".join(PaperRow._fields)
_CONTENT_FIELDS = list(PaperRow._fields)
SELECT_PAPER = f"""
SELECT p.{PAPER_COLUMNS.replace(", ", ", p.")}, p.seq,
       p.imported_upvotes + p.vote_count AS upvotes,
       p.imported_comments + p.comment_count AS num_comments,
       p.imported_upvotes AS hf_upvotes, p.imported_comments AS hf_comments,
       d.day AS daily_day, d.submitted_by, d.submitted_at,
       d.submitter_fullname, d.submitter_avatar
FROM papers p LEFT JOIN daily_entries d ON d.paper_id = p.id
"""
SELECT_TEXT = (
    "SELECT seq, id, title, abstract, published, listing_date, categories, github_url FROM papers"
)
_CHUNK = 500  # ids per IN (...) lookup, under SQLite's variable limit


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _parse_ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _parse_day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def paper_row(p: Paper) -> PaperRow:
    """A paper as its content columns, in PAPER_COLUMNS order."""
    return PaperRow(
        p.id,
        p.version,
        p.title,
        p.abstract,
        orjson.dumps(p.authors).decode(),
        p.primary_category,
        orjson.dumps(p.categories).decode(),
        _ts(p.published),
        _ts(p.updated),
        p.comment,
        p.journal_ref,
        p.doi,
        p.github_url,
        p.project_page,
        _day(p.listing_date),
    )


def row_paper(row: sqlite3.Row | tuple[Any, ...]) -> Paper:
    return Paper(
        id=row[0],
        version=row[1],
        title=row[2],
        abstract=row[3],
        authors=orjson.loads(row[4]),
        primary_category=row[5],
        categories=orjson.loads(row[6]),
        published=_parse_ts(row[7]),
        updated=_parse_ts(row[8]),
        comment=row[9],
        journal_ref=row[10],
        doi=row[11],
        github_url=row[12],
        project_page=row[13],
        listing_date=_parse_day(row[14]),
    )


def row_text(row: Sequence[Any]) -> PaperText:
    """A `SELECT_TEXT` row; the day is the date part of the stored ISO time (`Paper.day`)."""
    seq, paper_id, title, abstract, published, listing, categories, github = row
    day = published[:10] if published else listing
    return PaperText(
        seq,
        paper_id,
        title,
        abstract,
        date.fromisoformat(day) if day else None,
        orjson.loads(categories),
        github is not None and http_url(github) is not None,
    )


def row_stored(row: sqlite3.Row) -> StoredPaper:
    return StoredPaper(
        paper=row_paper(row),
        seq=row["seq"],
        upvotes=row["upvotes"],
        num_comments=row["num_comments"],
        daily_day=_parse_day(row["daily_day"]),
        submitted_by=row["submitted_by"],
        submitted_at=_parse_ts(row["submitted_at"]),
        submitter_fullname=row["submitter_fullname"],
        submitter_avatar=row["submitter_avatar"],
        hf_upvotes=row["hf_upvotes"],
        hf_comments=row["hf_comments"],
    )


def merge(old: Sequence[Any], new: Sequence[Any]) -> PaperRow:
    """The row to keep when `new` arrives for a paper stored as `old`.

    A higher version (or, at equal version, a later `updated` time) replaces the text;
    fields the winner lacks are filled from the other record, so one paper seen in several
    sources or categories keeps everything each source knew.
    Rows are read by column name; plain tuples in PAPER_COLUMNS order are accepted too.
    """
    old_row, new_row = PaperRow._make(old), PaperRow._make(new)
    newer = new_row.version > old_row.version or (
        new_row.version == old_row.version and (new_row.updated or "") > (old_row.updated or "")
    )
    winner, other = (new_row, old_row) if newer else (old_row, new_row)
    empty = (None, "[]", "")
    filled = {
        name: getattr(other, name)
        for name in PaperRow._fields
        if getattr(winner, name) in empty and getattr(other, name) not in empty
    }
    merged = winner._replace(**filled)
    # Categories: union, winner's order first (cross-lists from every source).
    cats_w, cats_o = orjson.loads(merged.categories), orjson.loads(other.categories)
    extra = [c for c in cats_o if c not in cats_w]
    if extra:
        merged = merged._replace(categories=orjson.dumps(cats_w + extra).decode())
    # The earliest listing date is when the paper was first announced.
    if old_row.listing_date and new_row.listing_date:
        merged = merged._replace(listing_date=min(old_row.listing_date, new_row.listing_date))
    return merged


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
        incoming: dict[str, PaperRow] = {}
        for paper in papers:
            row = paper_row(paper)
            previous = incoming.get(paper.id)
            incoming[paper.id] = merge(previous, row) if previous else row
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
            inserts, updates = [], []
            for paper_id, row in incoming.items():
                old = existing.get(paper_id)
                if old is None:
                    inserts.append(row)
                    continue
                merged = merge(old, row)
                if merged == old:
                    counts.unchanged += 1
                else:
                    updates.append(merged)
            first = self._next_seq(conn, len(inserts) + len(updates))
            placeholders = ",".join("?" * (len(_CONTENT_FIELDS) + 1))
            conn.executemany(
                f"INSERT INTO papers ({PAPER_COLUMNS}, seq) VALUES ({placeholders})",
                [(*row, first + i) for i, row in enumerate(inserts)],
            )
            first += len(inserts)
            assignments = ", ".join(f"{c} = ?" for c in _CONTENT_FIELDS[1:])
            conn.executemany(
                f"UPDATE papers SET {assignments}, seq = ? WHERE id = ?",
                [(*row[1:], first + i, row[0]) for i, row in enumerate(updates)],
            )
            counts.added, counts.updated = len(inserts), len(updates)
        return counts

    def upsert_daily(self, entries: Iterable[DailyEntry]) -> UpsertCounts:
        """Put papers on the daily list; imported upvotes/comments only ever grow.

        The state of every paper in the batch is read with a few `IN (...)` queries and the
        changes are written with one `executemany` per statement (a 10k-entry HF file is
        three round trips, not thirty thousand).
        """
        items = list(entries)
        counts = UpsertCounts()
        if not items:
            return counts
        with self.db.write() as conn:
            state: dict[str, list[Any]] = {}  # id -> [has_entry, submitted_by, upvotes, comments]
            ids = list(dict.fromkeys(e.paper_id for e in items))
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    "SELECT p.id, d.day, d.submitted_by, p.imported_upvotes, p.imported_comments "
                    "FROM papers p LEFT JOIN daily_entries d ON d.paper_id = p.id "
                    f"WHERE p.id IN ({marks})",
                    chunk,
                ):
                    state[row[0]] = [row[1] is not None, row[2], row[3], row[4]]
            inserts: dict[str, DailyEntry] = {}  # first entry of each new daily paper
            submitters: dict[str, str] = {}
            profiles: dict[str, tuple[str | None, str | None]] = {}  # fullname, avatar
            signals: dict[str, tuple[int, int]] = {}
            for e in items:
                cur = state.get(e.paper_id)
                if cur is None:
                    raise KeyError(e.paper_id)
                has_entry, submitted_by, old_up, old_comments = cur
                if not has_entry:
                    inserts[e.paper_id] = e
                    cur[0], cur[1] = True, e.submitted_by
                    profiles[e.paper_id] = (e.submitter_fullname, e.submitter_avatar)
                    changed = True
                else:
                    changed = False
                    if e.submitted_by and not submitted_by:
                        submitters[e.paper_id] = cur[1] = e.submitted_by
                        profiles[e.paper_id] = (e.submitter_fullname, e.submitter_avatar)
                        changed = True
                upvotes, comments = max(old_up, e.upvotes), max(old_comments, e.num_comments)
                if (upvotes, comments) != (old_up, old_comments):
                    signals[e.paper_id] = (upvotes, comments)
                    cur[2], cur[3] = upvotes, comments
                    changed = True
                if not has_entry:
                    counts.added += 1
                elif changed:
                    counts.updated += 1
                else:
                    counts.unchanged += 1
            conn.executemany(
                "INSERT INTO daily_entries (paper_id, day, submitted_by, submitted_at, pinned, "
                "submitter_fullname, submitter_avatar) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    # submitted_by from the final state: a later entry may have filled it
                    (
                        pid,
                        _day(e.day),
                        state[pid][1],
                        _ts(e.submitted_at),
                        int(e.pinned),
                        *profiles.get(pid, (None, None)),
                    )
                    for pid, e in inserts.items()
                ],
            )
            conn.executemany(
                "UPDATE daily_entries SET submitted_by = ?, submitter_fullname = ?, "
                "submitter_avatar = ? WHERE paper_id = ?",
                [
                    (who, *profiles.get(pid, (None, None)), pid)
                    for pid, who in submitters.items()
                    if pid not in inserts
                ],
            )
            conn.executemany(
                "UPDATE papers SET imported_upvotes = ?, imported_comments = ? WHERE id = ?",
                [(up, com, pid) for pid, (up, com) in signals.items()],
            )
        return counts

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
        return _parse_day(day)

    def adjacent_daily_days(self, day: date) -> tuple[date | None, date | None]:
        text = day.isoformat()
        (prev,) = self.db.read.execute(
            "SELECT max(day) FROM daily_entries WHERE day < ?", (text,)
        ).fetchone()
        (nxt,) = self.db.read.execute(
            "SELECT min(day) FROM daily_entries WHERE day > ?", (text,)
        ).fetchone()
        return _parse_day(prev), _parse_day(nxt)

    def listed_papers(self, day: date, *, limit: int = 5000) -> list[StoredPaper]:
        rows = self.db.read.execute(
            SELECT_PAPER + " WHERE p.listing_date = ? ORDER BY p.id LIMIT ?",
            (day.isoformat(), limit),
        )
        return [row_stored(r) for r in rows]

    def latest_listing_date(self) -> date | None:
        (day,) = self.db.read.execute("SELECT max(listing_date) FROM papers").fetchone()
        return _parse_day(day)

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
            first_daily_day=_parse_day(first),
            last_daily_day=_parse_day(last),
            last_seq=self.last_seq(),
            categories=categories,
        )
