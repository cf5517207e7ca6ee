"""A reader's library on every backend: collections, read marks, notes, follows, dismissals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from paperfeed.models import Collection, Follow, Note, ReaderSignals, StoredPaper
from paperfeed.store.common.catalogue import SELECT_PAPER, row_stored
from paperfeed.store.sql import Conn, HasDb, Row, each_in

DEEP_OFFSET = 1000  # pages past this many papers may be read from the collection's other end
_COLLECTION = """
SELECT c.id, c.user_id, u.name AS owner, c.name, c.public, c.created_at, c.updated_at,
       (SELECT count(*) FROM collection_papers cp WHERE cp.collection_id = c.id) AS n
FROM collections c JOIN users u ON u.id = c.user_id
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _collection(row: Row) -> Collection:
    return Collection(
        id=row["id"],
        user_id=row["user_id"],
        owner=row["owner"],
        name=row["name"],
        public=bool(row["public"]),
        paper_count=int(row["n"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def _paper_exists(conn: Conn, paper_id: str) -> None:
    if conn.one("SELECT 1 AS x FROM papers WHERE id = ?", (paper_id,)) is None:
        raise KeyError(paper_id)


class Library(HasDb):
    """Library part of the store."""

    if TYPE_CHECKING:  # provided by the catalogue part of the same store

        def get_papers(self, paper_ids: Sequence[str]) -> list[StoredPaper]: ...

    # -- collections ---------------------------------------------------------------------

    def create_collection(self, *, user_id: int, name: str, public: bool) -> Collection | None:
        """A new collection; None if this reader already has one with that name."""
        now = _now()
        with self.db.writing() as conn:
            cid = conn.value(
                "INSERT INTO collections (user_id, name, public, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (user_id, name, int(public), now, now),
            )
        return self.get_collection(cid) if cid is not None else None

    def get_collection(self, collection_id: int) -> Collection | None:
        with self.db.reading() as conn:
            row = conn.one(_COLLECTION + " WHERE c.id = ?", (collection_id,))
        return _collection(row) if row else None

    def find_collections(self, name: str, *, user_id: int | None = None) -> list[Collection]:
        """Collections called `name` (of one reader, or of anyone)."""
        with self.db.reading() as conn:
            if user_id is None:
                rows = conn.rows(_COLLECTION + " WHERE c.name = ? ORDER BY c.id", (name,))
            else:
                rows = conn.rows(
                    _COLLECTION + " WHERE c.user_id = ? AND c.name = ?", (user_id, name)
                )
        return [_collection(r) for r in rows]

    def list_collections(self, user_id: int) -> list[Collection]:
        with self.db.reading() as conn:
            rows = conn.rows(
                _COLLECTION + " WHERE c.user_id = ? ORDER BY lower(c.name), c.id", (user_id,)
            )
        return [_collection(r) for r in rows]

    def update_collection(
        self, collection_id: int, *, name: str | None = None, public: bool | None = None
    ) -> Collection | None:
        """Rename and/or change visibility; None if the new name is taken."""
        with self.db.writing() as conn:
            if name is not None:
                taken = conn.one(
                    "SELECT 1 AS x FROM collections WHERE name = ? AND id <> ? AND user_id = "
                    "(SELECT user_id FROM collections WHERE id = ?)",
                    (name, collection_id, collection_id),
                )
                if taken:
                    return None
            conn.run(
                "UPDATE collections SET name = coalesce(?, name), "
                "public = coalesce(?, public), updated_at = ? WHERE id = ?",
                (name, None if public is None else int(public), _now(), collection_id),
            )
        return self.get_collection(collection_id)

    def delete_collection(self, collection_id: int) -> bool:
        with self.db.writing() as conn:
            return conn.run("DELETE FROM collections WHERE id = ?", (collection_id,)) > 0

    def add_to_collection(self, collection_id: int, paper_id: str) -> bool:
        """Save a paper; False if it was already there. KeyError if no such paper."""
        now = _now()
        with self.db.writing() as conn:
            _paper_exists(conn, paper_id)
            added = conn.run(
                "INSERT INTO collection_papers (collection_id, paper_id, added_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (collection_id, paper_id, now),
            )
            conn.run("UPDATE collections SET updated_at = ? WHERE id = ?", (now, collection_id))
        return bool(added)

    def remove_from_collection(self, collection_id: int, paper_id: str) -> bool:
        with self.db.writing() as conn:
            removed = conn.run(
                "DELETE FROM collection_papers WHERE collection_id = ? AND paper_id = ?",
                (collection_id, paper_id),
            )
            if removed:
                conn.run(
                    "UPDATE collections SET updated_at = ? WHERE id = ?", (_now(), collection_id)
                )
        return bool(removed)

    def collection_papers(
        self, collection_id: int, *, limit: int = 50, offset: int = 0
    ) -> list[StoredPaper]:
        """The collection's papers, most recently saved first."""
        with self.db.reading() as conn:  # ids first: only the page's papers are read and sorted
            if offset > DEEP_OFFSET:
                # A page in the older half is read from the oldest end of the index, so no
                # page skips more than half the collection (PostgreSQL would sort it all).
                (total,) = conn.tuples(
                    "SELECT count(*) FROM collection_papers WHERE collection_id = ?",
                    (collection_id,),
                )[0]
                if offset >= total:
                    return []
                if offset > total // 2:
                    back = total - offset - limit
                    page = conn.tuples(
                        "SELECT paper_id FROM collection_papers WHERE collection_id = ? "
                        "ORDER BY added_at, paper_id DESC LIMIT ? OFFSET ?",
                        (collection_id, limit + min(back, 0), max(back, 0)),
                    )
                    return self.get_papers([r[0] for r in reversed(page)])
            page = conn.tuples(
                "SELECT paper_id FROM collection_papers WHERE collection_id = ? "
                "ORDER BY added_at DESC, paper_id LIMIT ? OFFSET ?",
                (collection_id, limit, offset),
            )
        return self.get_papers([r[0] for r in page])

    def collection_paper_ids(self, collection_id: int) -> set[str]:
        """Ids of every paper in the collection."""
        with self.db.reading() as conn:
            rows = conn.tuples(
                "SELECT paper_id FROM collection_papers WHERE collection_id = ?", (collection_id,)
            )
        return {r[0] for r in rows}

    def collections_with_paper(self, user_id: int, paper_id: str) -> list[int]:
        """Ids of this reader's collections that hold `paper_id`."""
        with self.db.reading() as conn:
            rows = conn.tuples(
                "SELECT c.id FROM collections c JOIN collection_papers cp "
                "ON cp.collection_id = c.id WHERE c.user_id = ? AND cp.paper_id = ?",
                (user_id, paper_id),
            )
        return [r[0] for r in rows]

    # -- read marks and notes ------------------------------------------------------------

    def set_read(self, *, user_id: int, paper_id: str, read: bool) -> bool:
        """Mark or unmark; True if anything changed. KeyError if no such paper."""
        with self.db.writing() as conn:
            if not read:
                return (
                    conn.run(
                        "DELETE FROM read_marks WHERE user_id = ? AND paper_id = ?",
                        (user_id, paper_id),
                    )
                    > 0
                )
            _paper_exists(conn, paper_id)
            return (
                conn.run(
                    "INSERT INTO read_marks (user_id, paper_id, read_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (user_id, paper_id, _now()),
                )
                > 0
            )

    def read_papers(self, user_id: int, paper_ids: Sequence[str]) -> set[str]:
        """Which of `paper_ids` this reader has marked read."""
        found: set[str] = set()
        with self.db.reading() as conn:
            for where, params in each_in(conn, "paper_id", list(dict.fromkeys(paper_ids))):
                rows = conn.tuples(
                    f"SELECT paper_id FROM read_marks WHERE user_id = ? AND {where}",
                    (user_id, *params),
                )
                found.update(r[0] for r in rows)
        return found

    def set_note(self, *, user_id: int, paper_id: str, body: str) -> Note | None:
        """Write the reader's note on a paper; an empty body deletes it (returns None)."""
        now = _now()
        with self.db.writing() as conn:
            if not body:
                conn.run(
                    "DELETE FROM notes WHERE user_id = ? AND paper_id = ?", (user_id, paper_id)
                )
                return None
            _paper_exists(conn, paper_id)
            conn.run(
                "INSERT INTO notes (user_id, paper_id, body, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id, paper_id) DO UPDATE SET body = excluded.body, "
                "updated_at = excluded.updated_at",
                (user_id, paper_id, body, now),
            )
        return Note(paper_id, body, datetime.fromisoformat(now))

    def get_note(self, *, user_id: int, paper_id: str) -> Note | None:
        with self.db.reading() as conn:
            rows = conn.tuples(
                "SELECT paper_id, body, updated_at FROM notes WHERE user_id = ? AND paper_id = ?",
                (user_id, paper_id),
            )
        return Note(rows[0][0], rows[0][1], datetime.fromisoformat(rows[0][2])) if rows else None

    def list_notes(self, user_id: int, *, limit: int = 100) -> list[Note]:
        with self.db.reading() as conn:
            rows = conn.tuples(
                "SELECT paper_id, body, updated_at FROM notes WHERE user_id = ? "
                "ORDER BY updated_at DESC LIMIT ?",
                (user_id, limit),
            )
        return [Note(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows]

    # -- follows -------------------------------------------------------------------------

    def add_follow(self, *, user_id: int, kind: str, value: str) -> bool:
        with self.db.writing() as conn:
            return (
                conn.run(
                    "INSERT INTO follows (user_id, kind, value, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (user_id, kind, value, _now()),
                )
                > 0
            )

    def remove_follow(self, *, user_id: int, kind: str, value: str) -> bool:
        with self.db.writing() as conn:
            return (
                conn.run(
                    "DELETE FROM follows WHERE user_id = ? AND kind = ? AND value = ?",
                    (user_id, kind, value),
                )
                > 0
            )

    def list_follows(self, user_id: int) -> list[Follow]:
        with self.db.reading() as conn:
            rows = conn.tuples(
                "SELECT kind, value, created_at FROM follows WHERE user_id = ? "
                "ORDER BY kind, value",
                (user_id,),
            )
        return [Follow(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows]

    def followed_papers(self, user_id: int, *, since: date, limit: int = 200) -> list[StoredPaper]:
        """Papers listed on or after `since` by a followed author or in a followed category."""
        day = since.isoformat()
        with self.db.reading() as conn:
            # The papers of the window first, each through an index (daily day, listing date,
            # publication time; `published >= day` is `substr(published, 1, 10) >= day` for
            # ISO text): only they are matched against the follows, not the whole catalogue.
            rows = conn.tuples(
                SELECT_PAPER + " WHERE p.id IN (SELECT paper_id FROM daily_entries WHERE day >= ?"
                " UNION SELECT id FROM papers WHERE listing_date >= ?"
                " UNION SELECT id FROM papers WHERE published >= ?)"
                " AND coalesce(d.day, p.listing_date, substr(p.published, 1, 10)) >= ?"
                f" AND (EXISTS (SELECT 1 FROM follows f, {conn.json_values('p.categories')}"
                "   WHERE f.user_id = ? AND f.kind = 'category' AND j.value = f.value)"
                f" OR EXISTS (SELECT 1 FROM follows f, {conn.json_values('p.authors')}"
                "   WHERE f.user_id = ? AND f.kind = 'author' AND j.value = f.value))"
                " ORDER BY coalesce(d.day, p.listing_date, p.published) DESC,"
                " p.imported_upvotes + p.vote_count DESC, p.id LIMIT ?",
                (day, day, day, day, user_id, user_id, limit),
            )
        return [row_stored(r) for r in rows]

    # -- signals for recommendations -----------------------------------------------------

    def dismiss(self, *, user_id: int, paper_id: str) -> bool:
        """ "Not interested": KeyError if no such paper."""
        with self.db.writing() as conn:
            _paper_exists(conn, paper_id)
            return (
                conn.run(
                    "INSERT INTO dismissals (user_id, paper_id, created_at) "
                    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (user_id, paper_id, _now()),
                )
                > 0
            )

    def reader_signals(self, user_id: int) -> ReaderSignals:
        """Every paper this reader upvoted, saved, read or dismissed, newest first."""
        with self.db.reading() as conn:

            def ids(sql: str) -> list[str]:
                return [r[0] for r in conn.tuples(sql, (user_id,))]

            return ReaderSignals(
                upvoted=ids(
                    "SELECT paper_id FROM votes WHERE user_id = ? "
                    "ORDER BY created_at DESC, paper_id"
                ),
                saved=ids(
                    "SELECT cp.paper_id FROM collection_papers cp JOIN collections c "
                    "ON c.id = cp.collection_id WHERE c.user_id = ? "
                    "GROUP BY cp.paper_id ORDER BY max(cp.added_at) DESC, cp.paper_id"
                ),
                read=ids(
                    "SELECT paper_id FROM read_marks WHERE user_id = ? "
                    "ORDER BY read_at DESC, paper_id"
                ),
                dismissed=ids(
                    "SELECT paper_id FROM dismissals WHERE user_id = ? "
                    "ORDER BY created_at DESC, paper_id"
                ),
            )

    def reader_stamp(self, user_id: int) -> str:
        """Count and newest time of each signal: changes whenever `reader_signals` would."""
        with self.db.reading() as conn:
            (row,) = conn.tuples(
                "SELECT "
                "(SELECT count(*) || '/' || coalesce(max(created_at), '') FROM votes "
                "WHERE user_id = ?), "
                "(SELECT count(*) || '/' || coalesce(max(cp.added_at), '') "
                "FROM collection_papers cp JOIN collections c ON c.id = cp.collection_id "
                "WHERE c.user_id = ?), "
                "(SELECT count(*) || '/' || coalesce(max(read_at), '') FROM read_marks "
                "WHERE user_id = ?), "
                "(SELECT count(*) || '/' || coalesce(max(created_at), '') FROM dismissals "
                "WHERE user_id = ?)",
                (user_id, user_id, user_id, user_id),
            )
        return "|".join(str(v) for v in row)
