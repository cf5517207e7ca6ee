"""The catalogue on every backend: its reads (`CatalogueReads`) and the decisions of its
bulk writes.

Which incoming papers are new, changed or unchanged (`split_changes`, with `merge` deciding
what a changed paper keeps) and what a batch of daily-list entries changes (`plan_daily`)
are pure functions over rows already read, so each backend's `upsert_papers` and
`upsert_daily` keep only their SQL (SQLite's executemany, PostgreSQL's COPY).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
from paperfeed.store.sql import HasDb, each_in
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
CONTENT_FIELDS = list(PaperRow._fields)
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


def iso_ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def iso_day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def parse_ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def parse_day(text: str | None) -> date | None:
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
        iso_ts(p.published),
        iso_ts(p.updated),
        p.comment,
        p.journal_ref,
        p.doi,
        p.github_url,
        p.project_page,
        iso_day(p.listing_date),
    )


def row_paper(row: Any) -> Paper:
    """The paper in a row whose first columns are PAPER_COLUMNS (read by position)."""
    return Paper(
        id=row[0],
        version=row[1],
        title=row[2],
        abstract=row[3],
        authors=orjson.loads(row[4]),
        primary_category=row[5],
        categories=orjson.loads(row[6]),
        published=parse_ts(row[7]),
        updated=parse_ts(row[8]),
        comment=row[9],
        journal_ref=row[10],
        doi=row[11],
        github_url=row[12],
        project_page=row[13],
        listing_date=parse_day(row[14]),
    )


def row_stored(row: Any) -> StoredPaper:
    """A `SELECT_PAPER` row (read by position: a sqlite3.Row or a tuple)."""
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


SELECT_TEXT = (
    "SELECT seq, id, title, abstract, published, listing_date, categories, github_url FROM papers"
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


def incoming_rows(papers: Iterable[Paper]) -> dict[str, PaperRow]:
    """The batch as rows by id; a paper given twice is merged with itself first."""
    incoming: dict[str, PaperRow] = {}
    for paper in papers:
        row = paper_row(paper)
        previous = incoming.get(paper.id)
        incoming[paper.id] = merge(previous, row) if previous else row
    return incoming


def split_changes(
    incoming: dict[str, PaperRow], existing: dict[str, PaperRow], counts: UpsertCounts
) -> tuple[list[PaperRow], list[PaperRow]]:
    """(rows to insert, merged rows to update); unchanged papers are counted in `counts`."""
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
    counts.added, counts.updated = len(inserts), len(updates)
    return inserts, updates


DAILY_STATE_SQL = (
    "SELECT p.id, d.day, d.submitted_by, p.imported_upvotes, p.imported_comments "
    "FROM papers p LEFT JOIN daily_entries d ON d.paper_id = p.id WHERE "
)


@dataclass(slots=True)
class DailyPlan:
    """What a batch of daily entries writes, as parameter rows for the backend's SQL."""

    inserts: list[tuple[Any, ...]] = field(default_factory=list)
    """(paper_id, day, submitted_by, submitted_at, pinned, fullname, avatar)"""
    submitters: list[tuple[Any, ...]] = field(default_factory=list)
    """(submitted_by, fullname, avatar, paper_id): a submitter learnt late"""
    signals: list[tuple[int, int, str]] = field(default_factory=list)
    """(imported_upvotes, imported_comments, paper_id)"""
    counts: UpsertCounts = field(default_factory=UpsertCounts)


def plan_daily(items: Sequence[DailyEntry], state: dict[str, list[Any]]) -> DailyPlan:
    """The changes `items` make to the daily list; imported upvotes/comments only grow.

    `state` maps each paper id to [has_entry, submitted_by, upvotes, comments] as stored
    (one row of DAILY_STATE_SQL); KeyError for an entry whose paper is not stored.
    """
    plan = DailyPlan()
    counts = plan.counts
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
    plan.inserts = [
        # submitted_by from the final state: a later entry may have filled it
        (
            pid,
            iso_day(e.day),
            state[pid][1],
            iso_ts(e.submitted_at),
            int(e.pinned),
            *profiles.get(pid, (None, None)),
        )
        for pid, e in inserts.items()
    ]
    plan.submitters = [
        (who, *profiles.get(pid, (None, None)), pid)
        for pid, who in submitters.items()
        if pid not in inserts
    ]
    plan.signals = [(up, com, pid) for pid, (up, com) in signals.items()]
    return plan


class CatalogueReads(HasDb):
    """The catalogue's reads and small writes: the same SQL on every backend (the bulk
    writes, `upsert_papers` and `upsert_daily`, are each backend's own)."""

    def _papers(self, where: str, params: Sequence[Any] = ()) -> list[StoredPaper]:
        with self.db.reading() as conn:
            return [row_stored(r) for r in conn.tuples(SELECT_PAPER + where, params)]

    def _value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.db.reading() as conn:
            return conn.value(sql, params)

    def get_paper(self, paper_id: str) -> StoredPaper | None:
        found = self._papers(" WHERE p.id = ?", (paper_id,))
        return found[0] if found else None

    def get_papers(self, paper_ids: Sequence[str]) -> list[StoredPaper]:
        ids = list(dict.fromkeys(paper_ids))
        found: dict[str, StoredPaper] = {}
        with self.db.reading() as conn:
            for where, params in each_in(conn, "p.id", ids):
                for row in conn.tuples(SELECT_PAPER + " WHERE " + where, params):
                    item = row_stored(row)
                    found[item.paper.id] = item
        return [found[i] for i in ids if i in found]

    def list_papers(self, *, after_id: str | None = None, limit: int = 50) -> list[StoredPaper]:
        return self._papers(" WHERE p.id > ? ORDER BY p.id LIMIT ?", (after_id or "", limit))

    def newest_papers(self, *, limit: int = 50) -> list[StoredPaper]:
        return self._papers(" ORDER BY p.published DESC NULLS LAST, p.id DESC LIMIT ?", (limit,))

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
            " WHERE d.day BETWEEN ? AND ? "
            "AND (CAST(? AS TEXT) IS NULL OR lower(d.submitted_by) = lower(CAST(? AS TEXT))) "
            "ORDER BY d.pinned DESC, upvotes DESC, p.published DESC NULLS LAST, p.id "
            "LIMIT ? OFFSET ?",
            (start.isoformat(), end.isoformat(), submitter, submitter, limit, offset),
        )

    def daily_count(self, *, start: date, end: date, submitter: str | None = None) -> int:
        return int(
            self._value(
                "SELECT count(*) FROM daily_entries WHERE day BETWEEN ? AND ? AND "
                "(CAST(? AS TEXT) IS NULL OR lower(submitted_by) = lower(CAST(? AS TEXT)))",
                (start.isoformat(), end.isoformat(), submitter, submitter),
            )
        )

    def latest_daily_day(self) -> date | None:
        return parse_day(self._value("SELECT max(day) FROM daily_entries"))

    def latest_daily_days(self, limit: int) -> list[date]:
        with self.db.reading() as conn:
            rows = conn.tuples(
                "SELECT DISTINCT day FROM daily_entries ORDER BY day DESC LIMIT ?", (limit,)
            )
        return [date.fromisoformat(r[0]) for r in rows]

    def adjacent_daily_days(self, day: date) -> tuple[date | None, date | None]:
        text = day.isoformat()
        with self.db.reading() as conn:
            (prev, nxt), *_ = conn.tuples(
                "SELECT (SELECT max(day) FROM daily_entries WHERE day < ?), "
                "(SELECT min(day) FROM daily_entries WHERE day > ?)",
                (text, text),
            )
        return parse_day(prev), parse_day(nxt)

    def listed_papers(self, day: date, *, limit: int = 5000) -> list[StoredPaper]:
        return self._papers(
            " WHERE p.listing_date = ? ORDER BY p.id LIMIT ?", (day.isoformat(), limit)
        )

    def latest_listing_date(self) -> date | None:
        return parse_day(self._value("SELECT max(listing_date) FROM papers"))

    def recent_daily(self, *, since: date, limit: int = 1000) -> list[StoredPaper]:
        return self._papers(
            " WHERE d.day >= ? ORDER BY upvotes DESC LIMIT ?", (since.isoformat(), limit)
        )

    def remove_daily(self, paper_id: str) -> bool:
        with self.db.writing() as conn:
            return conn.run("DELETE FROM daily_entries WHERE paper_id = ?", (paper_id,)) > 0

    def pin_daily(self, paper_id: str, pinned: bool) -> bool:
        with self.db.writing() as conn:
            return (
                conn.run(
                    "UPDATE daily_entries SET pinned = ? WHERE paper_id = ?",
                    (int(pinned), paper_id),
                )
                > 0
            )

    def changes_since(self, seq: int, *, limit: int = 1000) -> list[StoredPaper]:
        return self._papers(" WHERE p.seq > ? ORDER BY p.seq LIMIT ?", (seq, limit))

    def paper_texts_since(self, seq: int, *, limit: int = 1000) -> list[PaperText]:
        with self.db.reading() as conn:
            rows = conn.tuples(SELECT_TEXT + " WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))
        return [row_text(r) for r in rows]

    def count_changes_since(self, seq: int) -> int:
        return int(self._value("SELECT count(*) FROM papers WHERE seq > ?", (seq,)))

    def last_seq(self) -> int:
        return int(self._value("SELECT value FROM change_seq"))

    def upvoted_ids(self) -> list[tuple[str, int]]:
        with self.db.reading() as conn:
            rows = conn.tuples(
                "SELECT id, imported_upvotes + vote_count AS upvotes FROM papers "
                "WHERE imported_upvotes > 0 OR vote_count > 0 "
                "ORDER BY upvotes DESC, coalesce(published, listing_date) DESC NULLS LAST, id"
            )
        return [(r[0], int(r[1])) for r in rows]

    def stats(self) -> CatalogueStats:
        with self.db.reading() as conn:
            papers = conn.value("SELECT count(*) FROM papers")
            (daily, first, last), *_ = conn.tuples(
                "SELECT count(*), min(day), max(day) FROM daily_entries"
            )
            categories = {
                r[0]: int(r[1])
                for r in conn.tuples(
                    "SELECT primary_category, count(*) FROM papers "
                    "WHERE primary_category IS NOT NULL GROUP BY primary_category "
                    "ORDER BY count(*) DESC, primary_category LIMIT 20"
                )
            }
            seq = conn.value("SELECT value FROM change_seq")
        return CatalogueStats(
            papers=int(papers),
            daily_entries=int(daily),
            first_daily_day=parse_day(first),
            last_daily_day=parse_day(last),
            last_seq=int(seq),
            categories=categories,
        )
