"""A reader's library in PostgreSQL (twin of `store/sqlite/library.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Sequence as _Seq
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from paperfeed.models import Collection, Follow, Note, ReaderSignals, StoredPaper
from paperfeed.store.common.catalogue import SELECT_PAPER, row_stored
from paperfeed.store.postgres.db import Database

_COLLECTION = """
SELECT c.id, c.user_id, u.name, c.name, c.public, c.created_at, c.updated_at,
       (SELECT count(*) FROM collection_papers cp WHERE cp.collection_id = c.id)
FROM collections c JOIN users u ON u.id = c.user_id
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _collection(row: Any) -> Collection:
    return Collection(
        id=row[0],
        user_id=row[1],
        owner=row[2],
        name=row[3],
        public=bool(row[4]),
        paper_count=int(row[7]),
        created_at=datetime.fromisoformat(row[5]),
        updated_at=datetime.fromisoformat(row[6]),
    )


def _paper_exists(conn: Any, paper_id: str) -> None:
    if conn.execute("SELECT 1 FROM papers WHERE id = %s", (paper_id,)).fetchone() is None:
        raise KeyError(paper_id)


class PgLibrary:
    """Library part of the PostgreSQL store."""

    if TYPE_CHECKING:  # provided by the catalogue part of the same store

        def get_papers(self, paper_ids: _Seq[str]) -> list[StoredPaper]: ...

    db: Database

    # -- collections ---------------------------------------------------------------------

    def create_collection(self, *, user_id: int, name: str, public: bool) -> Collection | None:
        now = _now()
        with self.db.transaction() as conn:
            row = conn.execute(
                "INSERT INTO collections (user_id, name, public, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
                (user_id, name, int(public), now, now),
            ).fetchone()
        return self.get_collection(row[0]) if row else None

    def get_collection(self, collection_id: int) -> Collection | None:
        with self.db.transaction() as conn:
            row = conn.execute(_COLLECTION + " WHERE c.id = %s", (collection_id,)).fetchone()
        return _collection(row) if row else None

    def find_collections(self, name: str, *, user_id: int | None = None) -> list[Collection]:
        with self.db.transaction() as conn:
            if user_id is None:
                rows = conn.execute(_COLLECTION + " WHERE c.name = %s ORDER BY c.id", (name,))
            else:
                rows = conn.execute(
                    _COLLECTION + " WHERE c.user_id = %s AND c.name = %s", (user_id, name)
                )
            return [_collection(r) for r in rows]

    def list_collections(self, user_id: int) -> list[Collection]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                _COLLECTION + " WHERE c.user_id = %s ORDER BY lower(c.name), c.id", (user_id,)
            )
            return [_collection(r) for r in rows]

    def update_collection(
        self, collection_id: int, *, name: str | None = None, public: bool | None = None
    ) -> Collection | None:
        with self.db.transaction() as conn:
            if name is not None:
                taken = conn.execute(
                    "SELECT 1 FROM collections WHERE name = %s AND id <> %s AND user_id = "
                    "(SELECT user_id FROM collections WHERE id = %s)",
                    (name, collection_id, collection_id),
                ).fetchone()
                if taken:
                    return None
            conn.execute(
                "UPDATE collections SET name = coalesce(%s, name), "
                "public = coalesce(%s, public), updated_at = %s WHERE id = %s",
                (name, None if public is None else int(public), _now(), collection_id),
            )
        return self.get_collection(collection_id)

    def delete_collection(self, collection_id: int) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM collections WHERE id = %s", (collection_id,))
            return bool(cur.rowcount > 0)

    def add_to_collection(self, collection_id: int, paper_id: str) -> bool:
        now = _now()
        with self.db.transaction() as conn:
            _paper_exists(conn, paper_id)
            added = conn.execute(
                "INSERT INTO collection_papers (collection_id, paper_id, added_at) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (collection_id, paper_id, now),
            ).rowcount
            conn.execute(
                "UPDATE collections SET updated_at = %s WHERE id = %s", (now, collection_id)
            )
        return bool(added)

    def remove_from_collection(self, collection_id: int, paper_id: str) -> bool:
        with self.db.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM collection_papers WHERE collection_id = %s AND paper_id = %s",
                (collection_id, paper_id),
            ).rowcount
            if removed:
                conn.execute(
                    "UPDATE collections SET updated_at = %s WHERE id = %s", (_now(), collection_id)
                )
        return bool(removed)

    def collection_papers(
        self, collection_id: int, *, limit: int = 50, offset: int = 0
    ) -> list[StoredPaper]:
        with self.db.transaction() as conn:  # ids first: only the page's papers are read
            page = conn.execute(
                "SELECT paper_id FROM collection_papers WHERE collection_id = %s "
                "ORDER BY added_at DESC, paper_id LIMIT %s OFFSET %s",
                (collection_id, limit, offset),
            )
            ids = [r[0] for r in page]
        return self.get_papers(ids)

    def collections_with_paper(self, user_id: int, paper_id: str) -> list[int]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT c.id FROM collections c JOIN collection_papers cp "
                "ON cp.collection_id = c.id WHERE c.user_id = %s AND cp.paper_id = %s",
                (user_id, paper_id),
            )
            return [r[0] for r in rows]

    # -- read marks and notes ------------------------------------------------------------

    def set_read(self, *, user_id: int, paper_id: str, read: bool) -> bool:
        with self.db.transaction() as conn:
            if not read:
                return bool(
                    conn.execute(
                        "DELETE FROM read_marks WHERE user_id = %s AND paper_id = %s",
                        (user_id, paper_id),
                    ).rowcount
                    > 0
                )
            _paper_exists(conn, paper_id)
            return bool(
                conn.execute(
                    "INSERT INTO read_marks (user_id, paper_id, read_at) VALUES (%s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (user_id, paper_id, _now()),
                ).rowcount
                > 0
            )

    def read_papers(self, user_id: int, paper_ids: Sequence[str]) -> set[str]:
        if not paper_ids:
            return set()
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT paper_id FROM read_marks WHERE user_id = %s AND paper_id = ANY(%s)",
                (user_id, list(paper_ids)),
            )
            return {r[0] for r in rows}

    def set_note(self, *, user_id: int, paper_id: str, body: str) -> Note | None:
        now = _now()
        with self.db.transaction() as conn:
            if not body:
                conn.execute(
                    "DELETE FROM notes WHERE user_id = %s AND paper_id = %s", (user_id, paper_id)
                )
                return None
            _paper_exists(conn, paper_id)
            conn.execute(
                "INSERT INTO notes (user_id, paper_id, body, updated_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (user_id, paper_id) DO UPDATE SET body = excluded.body, "
                "updated_at = excluded.updated_at",
                (user_id, paper_id, body, now),
            )
        return Note(paper_id, body, datetime.fromisoformat(now))

    def get_note(self, *, user_id: int, paper_id: str) -> Note | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT paper_id, body, updated_at FROM notes WHERE user_id = %s AND paper_id = %s",
                (user_id, paper_id),
            ).fetchone()
        return Note(row[0], row[1], datetime.fromisoformat(row[2])) if row else None

    def list_notes(self, user_id: int, *, limit: int = 100) -> list[Note]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT paper_id, body, updated_at FROM notes WHERE user_id = %s "
                "ORDER BY updated_at DESC LIMIT %s",
                (user_id, limit),
            )
            return [Note(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows]

    # -- follows -------------------------------------------------------------------------

    def add_follow(self, *, user_id: int, kind: str, value: str) -> bool:
        with self.db.transaction() as conn:
            return bool(
                conn.execute(
                    "INSERT INTO follows (user_id, kind, value, created_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (user_id, kind, value, _now()),
                ).rowcount
                > 0
            )

    def remove_follow(self, *, user_id: int, kind: str, value: str) -> bool:
        with self.db.transaction() as conn:
            return bool(
                conn.execute(
                    "DELETE FROM follows WHERE user_id = %s AND kind = %s AND value = %s",
                    (user_id, kind, value),
                ).rowcount
                > 0
            )

    def list_follows(self, user_id: int) -> list[Follow]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT kind, value, created_at FROM follows WHERE user_id = %s "
                "ORDER BY kind, value",
                (user_id,),
            )
            return [Follow(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows]

    def followed_papers(self, user_id: int, *, since: date, limit: int = 200) -> list[StoredPaper]:
        day = since.isoformat()
        with self.db.transaction() as conn:
            rows = conn.execute(
                SELECT_PAPER
                + " WHERE coalesce(d.day, p.listing_date, substr(p.published, 1, 10)) >= %s"
                " AND (EXISTS (SELECT 1 FROM follows f,"
                "   jsonb_array_elements_text(p.categories::jsonb) j(v)"
                "   WHERE f.user_id = %s AND f.kind = 'category' AND j.v = f.value)"
                " OR EXISTS (SELECT 1 FROM follows f,"
                "   jsonb_array_elements_text(p.authors::jsonb) j(v)"
                "   WHERE f.user_id = %s AND f.kind = 'author' AND j.v = f.value))"
                " ORDER BY coalesce(d.day, p.listing_date, p.published) DESC,"
                " p.imported_upvotes + p.vote_count DESC, p.id LIMIT %s",
                (day, user_id, user_id, limit),
            )
            return [row_stored(r) for r in rows]

    # -- signals for recommendations -----------------------------------------------------

    def dismiss(self, *, user_id: int, paper_id: str) -> bool:
        with self.db.transaction() as conn:
            _paper_exists(conn, paper_id)
            return bool(
                conn.execute(
                    "INSERT INTO dismissals (user_id, paper_id, created_at) "
                    "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (user_id, paper_id, _now()),
                ).rowcount
                > 0
            )

    def reader_signals(self, user_id: int) -> ReaderSignals:
        with self.db.transaction() as conn:

            def ids(sql: str) -> list[str]:
                return [r[0] for r in conn.execute(sql, (user_id,))]

            return ReaderSignals(
                upvoted=ids(
                    "SELECT paper_id FROM votes WHERE user_id = %s "
                    "ORDER BY created_at DESC, paper_id"
                ),
                saved=ids(
                    "SELECT cp.paper_id FROM collection_papers cp JOIN collections c "
                    "ON c.id = cp.collection_id WHERE c.user_id = %s "
                    "GROUP BY cp.paper_id ORDER BY max(cp.added_at) DESC, cp.paper_id"
                ),
                read=ids(
                    "SELECT paper_id FROM read_marks WHERE user_id = %s "
                    "ORDER BY read_at DESC, paper_id"
                ),
                dismissed=ids(
                    "SELECT paper_id FROM dismissals WHERE user_id = %s "
                    "ORDER BY created_at DESC, paper_id"
                ),
            )

    def reader_stamp(self, user_id: int) -> str:
        """Count and newest time of each signal: changes whenever `reader_signals` would."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT "
                "(SELECT count(*) || '/' || coalesce(max(created_at), '') FROM votes "
                "WHERE user_id = %s), "
                "(SELECT count(*) || '/' || coalesce(max(cp.added_at), '') "
                "FROM collection_papers cp JOIN collections c ON c.id = cp.collection_id "
                "WHERE c.user_id = %s), "
                "(SELECT count(*) || '/' || coalesce(max(read_at), '') FROM read_marks "
                "WHERE user_id = %s), "
                "(SELECT count(*) || '/' || coalesce(max(created_at), '') FROM dismissals "
                "WHERE user_id = %s)",
                (user_id, user_id, user_id, user_id),
            ).fetchone()
        return "|".join(str(v) for v in row)
