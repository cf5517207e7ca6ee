"""The catalogue's decisions, shared by both backends' write paths.

Which incoming papers are new, changed or unchanged (`split_changes`, with `merge` deciding
what a changed paper keeps) and what a batch of daily-list entries changes (`plan_daily`):
pure functions over rows already read, so each backend keeps only its SQL (SQLite's
executemany, PostgreSQL's COPY).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson

from paperfeed.models import DailyEntry, Paper, PaperText, UpsertCounts
from paperfeed.store.sql import HasDb
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


class CatalogueDays(HasDb):
    """Catalogue reads with the same SQL on every backend."""

    def latest_daily_days(self, limit: int) -> list[date]:
        with self.db.reading() as conn:
            rows = conn.rows(
                "SELECT DISTINCT day FROM daily_entries ORDER BY day DESC LIMIT ?", (limit,)
            )
        return [date.fromisoformat(r["day"]) for r in rows]
