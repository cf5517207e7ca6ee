"""Accounts, sessions, votes, comments and login throttling in PostgreSQL.

Every rule that must hold across app instances is one statement or one constraint: the
votes primary key (one upvote per user per paper), the unique index on lower(email), an
atomic upsert for throttle counters, an advisory lock for "the first account is admin".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from paperfeed.models import ROLES, Comment, PendingSignup, User
from paperfeed.store.base import MAX_PENDING_SIGNUPS, MAX_THROTTLE_ROWS
from paperfeed.store.postgres.db import Database

FIRST_USER_LOCK = 0x70667375  # pg_advisory_xact_lock key around "first account is admin"
THROTTLE_LOCK = 0x70667374  # first key of the per-throttle-key advisory locks
_USER_COLUMNS = "id, email, name, role, created_at"
_COMMENT = (
    "SELECT c.id, c.paper_id, c.user_id, u.name, c.body, c.created_at "
    "FROM comments c JOIN users u ON u.id = c.user_id "
)


def _now() -> datetime:
    return datetime.now(UTC)


def _user(row: Any) -> User:
    return User(
        id=row[0],
        email=row[1],
        name=row[2],
        role=row[3],
        created_at=datetime.fromisoformat(row[4]),
    )


def _comment(row: Any) -> Comment:
    return Comment(
        id=row[0],
        paper_id=row[1],
        user_id=row[2],
        author=row[3],
        body=row[4],
        created_at=datetime.fromisoformat(row[5]),
    )


class PgAccounts:
    """Accounts part of the PostgreSQL store."""

    db: Database

    # -- users -------------------------------------------------------------------------

    def create_user(
        self, *, email: str, name: str, password_hash: str, role: str | None = None
    ) -> User | None:
        """A new account (admin when it is the first one); None if the email is taken."""
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (FIRST_USER_LOCK,))
            if role is None:
                (count,) = conn.execute("SELECT count(*) FROM users").fetchone()
                role = "admin" if count == 0 else "user"
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}")
            row = conn.execute(
                "INSERT INTO users (email, name, password_hash, role, created_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING "
                f"RETURNING {_USER_COLUMNS}",
                (email, name, password_hash, role, _now().isoformat()),
            ).fetchone()
        return _user(row) if row else None

    def add_pending_signup(
        self, *, token_hash: str, signup: PendingSignup, max_rows: int = MAX_PENDING_SIGNUPS
    ) -> None:
        now = _now().isoformat()
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM pending_signups WHERE expires_at < %s", (now,))
            conn.execute(
                "DELETE FROM pending_signups WHERE lower(email) = lower(%s)", (signup.email,)
            )
            conn.execute(
                "INSERT INTO pending_signups (token_hash, email, name, password_hash, "
                "next_path, created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (
                    token_hash,
                    signup.email,
                    signup.name,
                    signup.password_hash,
                    signup.next_path,
                    now,
                    signup.expires_at.isoformat(),
                ),
            )
            (count,) = conn.execute("SELECT count(*) FROM pending_signups").fetchone()
            if count > max_rows:
                conn.execute(
                    "DELETE FROM pending_signups WHERE token_hash IN (SELECT token_hash "
                    "FROM pending_signups ORDER BY created_at LIMIT %s)",
                    (count - max_rows,),
                )

    def take_pending_signup(self, token_hash: str) -> PendingSignup | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "DELETE FROM pending_signups WHERE token_hash = %s "
                "RETURNING email, name, password_hash, next_path, expires_at",
                (token_hash,),
            ).fetchone()
        if row is None:
            return None
        expires = datetime.fromisoformat(row[4])
        if expires < _now():
            return None
        return PendingSignup(
            email=row[0], name=row[1], password_hash=row[2], next_path=row[3], expires_at=expires
        )

    def get_user(self, user_id: int) -> User | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", (user_id,)
            ).fetchone()
        return _user(row) if row else None

    def user_credentials(self, email: str) -> tuple[User, str] | None:
        """The account for `email` and its password hash (for signing in)."""
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE lower(email) = lower(%s)",
                (email,),
            ).fetchone()
        return (_user(row), row[5]) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
            )

    def set_role(self, email: str, role: str) -> User | None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with self.db.transaction() as conn:
            row = conn.execute(
                f"UPDATE users SET role = %s WHERE lower(email) = lower(%s) "
                f"RETURNING {_USER_COLUMNS}",
                (role, email),
            ).fetchone()
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        with self.db.transaction() as conn:
            rows = conn.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY id").fetchall()
        return [_user(r) for r in rows]

    # -- sessions ----------------------------------------------------------------------

    def create_session(self, *, token_hash: str, user_id: int, expires_at: datetime) -> None:
        now = _now()
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at < %s", (now.isoformat(),))
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) "
                "VALUES (%s, %s, %s, %s)",
                (token_hash, user_id, now.isoformat(), expires_at.isoformat()),
            )

    def session_user(self, token_hash: str) -> User | None:
        """The signed-in user of a live session."""
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT u.{_USER_COLUMNS.replace(', ', ', u.')} FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token_hash = %s AND s.expires_at > %s",
                (token_hash, _now().isoformat()),
            ).fetchone()
        return _user(row) if row else None

    def delete_session(self, token_hash: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))

    # -- votes -------------------------------------------------------------------------

    def add_vote(self, *, user_id: int, paper_id: str) -> bool:
        """Upvote once; False if this user had already upvoted. KeyError if no such paper."""
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM papers WHERE id = %s", (paper_id,)).fetchone() is None:
                raise KeyError(paper_id)
            added = conn.execute(
                "INSERT INTO votes (user_id, paper_id, created_at) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (user_id, paper_id, _now().isoformat()),
            ).rowcount
            if added:
                conn.execute(
                    "UPDATE papers SET vote_count = vote_count + 1 WHERE id = %s", (paper_id,)
                )
        return bool(added)

    def remove_vote(self, *, user_id: int, paper_id: str) -> bool:
        with self.db.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM votes WHERE user_id = %s AND paper_id = %s", (user_id, paper_id)
            ).rowcount
            if removed:
                conn.execute(
                    "UPDATE papers SET vote_count = vote_count - 1 WHERE id = %s", (paper_id,)
                )
        return bool(removed)

    def voted_papers(self, user_id: int, paper_ids: list[str]) -> set[str]:
        """Which of `paper_ids` this user has upvoted."""
        if not paper_ids:
            return set()
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT paper_id FROM votes WHERE user_id = %s AND paper_id = ANY(%s)",
                (user_id, list(paper_ids)),
            ).fetchall()
        return {r[0] for r in rows}

    # -- comments ----------------------------------------------------------------------

    def add_comment(self, *, user_id: int, paper_id: str, body: str) -> Comment:
        """A new comment; KeyError if no such paper."""
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM papers WHERE id = %s", (paper_id,)).fetchone() is None:
                raise KeyError(paper_id)
            (comment_id,) = conn.execute(
                "INSERT INTO comments (paper_id, user_id, body, created_at) "
                "VALUES (%s, %s, %s, %s) RETURNING id",
                (paper_id, user_id, body, _now().isoformat()),
            ).fetchone()
            conn.execute(
                "UPDATE papers SET comment_count = comment_count + 1 WHERE id = %s", (paper_id,)
            )
            row = conn.execute(_COMMENT + "WHERE c.id = %s", (comment_id,)).fetchone()
        return _comment(row)

    def get_comment(self, comment_id: int) -> Comment | None:
        with self.db.transaction() as conn:
            row = conn.execute(_COMMENT + "WHERE c.id = %s", (comment_id,)).fetchone()
        return _comment(row) if row else None

    def list_comments(self, paper_id: str, *, limit: int = 200) -> list[Comment]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                _COMMENT + "WHERE c.paper_id = %s ORDER BY c.id LIMIT %s", (paper_id, limit)
            ).fetchall()
        return [_comment(r) for r in rows]

    def delete_comment(self, comment_id: int) -> bool:
        with self.db.transaction() as conn:
            row = conn.execute(
                "DELETE FROM comments WHERE id = %s RETURNING paper_id", (comment_id,)
            ).fetchone()
            if row:
                conn.execute(
                    "UPDATE papers SET comment_count = comment_count - 1 WHERE id = %s", (row[0],)
                )
        return row is not None

    # -- throttling --------------------------------------------------------------------

    def throttle_take(
        self,
        limits: Sequence[tuple[str, int]],
        *,
        window_s: float,
        now: float,
        max_rows: int = MAX_THROTTLE_ROWS,
    ) -> bool:
        """Count one attempt against every `(key, limit)`, all or nothing; refused attempts
        neither count nor add rows. Each key is serialised across instances by a
        transaction-level advisory lock (taken in sorted order, so no deadlock)."""
        with self.db.transaction() as conn:
            for key in sorted({key for key, _ in limits}):
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s::int, hashtext(%s))", (THROTTLE_LOCK, key)
                )
            current: set[str] = set()
            for key, limit in limits:
                row = conn.execute(
                    "SELECT window_start, hits FROM throttle WHERE key = %s", (key,)
                ).fetchone()
                if row is not None and now - row[0] < window_s:
                    if row[1] >= limit:
                        return False
                    current.add(key)
            added = 0
            for key, _ in limits:
                if key in current:
                    conn.execute("UPDATE throttle SET hits = hits + 1 WHERE key = %s", (key,))
                else:
                    conn.execute(
                        "INSERT INTO throttle (key, window_start, hits) VALUES (%s, %s, 1) "
                        "ON CONFLICT (key) DO UPDATE SET window_start = EXCLUDED.window_start, "
                        "hits = 1",
                        (key, now),
                    )
                    added += 1
            if added:
                conn.execute("DELETE FROM throttle WHERE window_start < %s", (now - 86400,))
                (count,) = conn.execute("SELECT count(*) FROM throttle").fetchone()
                if count > max_rows:
                    conn.execute(
                        "DELETE FROM throttle WHERE key IN (SELECT key FROM throttle "
                        "ORDER BY window_start LIMIT %s)",
                        (count - max_rows,),
                    )
        return True

    def throttle_hit(self, key: str, *, limit: int, window_s: float, now: float) -> bool:
        """Count one attempt for `key`; False (nothing counted) once it has used `limit`."""
        return self.throttle_take([(key, limit)], window_s=window_s, now=now)

    def throttle_clear(self, key: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM throttle WHERE key = %s", (key,))
