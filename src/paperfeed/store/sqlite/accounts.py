"""Accounts, sessions, votes, comments and login throttling in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from paperfeed.models import ROLES, Comment, PendingSignup, User
from paperfeed.store.base import MAX_PENDING_SIGNUPS, MAX_THROTTLE_ROWS
from paperfeed.store.sqlite.db import Database


def _now() -> datetime:
    return datetime.now(UTC)


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _comment(row: sqlite3.Row) -> Comment:
    return Comment(
        id=row["id"],
        paper_id=row["paper_id"],
        user_id=row["user_id"],
        author=row["name"],
        body=row["body"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


_USER_COLUMNS = "id, email, name, role, created_at"


class SqliteAccounts:
    """Accounts part of the SQLite store."""

    db: Database

    # -- users -------------------------------------------------------------------------

    def create_user(
        self, *, email: str, name: str, password_hash: str, role: str | None = None
    ) -> User | None:
        """A new account (admin when it is the first one); None if the email is taken."""
        with self.db.write() as conn:
            if role is None:
                (count,) = conn.execute("SELECT count(*) FROM users").fetchone()
                role = "admin" if count == 0 else "user"
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}")
            try:
                row = conn.execute(
                    "INSERT INTO users (email, name, password_hash, role, created_at) "
                    f"VALUES (?, ?, ?, ?, ?) RETURNING {_USER_COLUMNS}",
                    (email, name, password_hash, role, _now().isoformat()),
                ).fetchone()
            except sqlite3.IntegrityError:
                return None
        return _user(row)

    def add_pending_signup(
        self, *, token_hash: str, signup: PendingSignup, max_rows: int = MAX_PENDING_SIGNUPS
    ) -> None:
        now = _now().isoformat()
        with self.db.write() as conn:
            conn.execute("DELETE FROM pending_signups WHERE expires_at < ?", (now,))
            conn.execute("DELETE FROM pending_signups WHERE email = ?", (signup.email,))
            conn.execute(
                "INSERT INTO pending_signups (token_hash, email, name, password_hash, "
                "next_path, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
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
                    "FROM pending_signups ORDER BY created_at LIMIT ?)",
                    (count - max_rows,),
                )

    def take_pending_signup(self, token_hash: str) -> PendingSignup | None:
        with self.db.write() as conn:
            row = conn.execute(
                "DELETE FROM pending_signups WHERE token_hash = ? RETURNING *", (token_hash,)
            ).fetchone()
        if row is None:
            return None
        expires = datetime.fromisoformat(row["expires_at"])
        if expires < _now():
            return None
        return PendingSignup(
            email=row["email"],
            name=row["name"],
            password_hash=row["password_hash"],
            next_path=row["next_path"],
            expires_at=expires,
        )

    def get_user(self, user_id: int) -> User | None:
        row = self.db.read.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        return _user(row) if row else None

    def user_credentials(self, email: str) -> tuple[User, str] | None:
        """The account for `email` and its password hash (for signing in)."""
        row = self.db.read.execute(
            f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE email = ?", (email,)
        ).fetchone()
        return (_user(row), row["password_hash"]) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
            )

    def set_role(self, email: str, role: str) -> User | None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with self.db.write() as conn:
            row = conn.execute(
                f"UPDATE users SET role = ? WHERE email = ? RETURNING {_USER_COLUMNS}",
                (role, email),
            ).fetchone()
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        rows = self.db.read.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY id")
        return [_user(r) for r in rows]

    # -- sessions ----------------------------------------------------------------------

    def create_session(self, *, token_hash: str, user_id: int, expires_at: datetime) -> None:
        now = _now()
        with self.db.write() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (token_hash, user_id, now.isoformat(), expires_at.isoformat()),
            )

    def session_user(self, token_hash: str) -> User | None:
        """The signed-in user of a live session."""
        row = self.db.read.execute(
            f"SELECT u.{_USER_COLUMNS.replace(', ', ', u.')} FROM sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?",
            (token_hash, _now().isoformat()),
        ).fetchone()
        return _user(row) if row else None

    def delete_session(self, token_hash: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    # -- votes -------------------------------------------------------------------------

    def add_vote(self, *, user_id: int, paper_id: str) -> bool:
        """Upvote once; False if this user had already upvoted. KeyError if no such paper."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM papers WHERE id = ?", (paper_id,)).fetchone() is None:
                raise KeyError(paper_id)
            added = conn.execute(
                "INSERT OR IGNORE INTO votes (user_id, paper_id, created_at) VALUES (?, ?, ?)",
                (user_id, paper_id, _now().isoformat()),
            ).rowcount
            if added:
                conn.execute(
                    "UPDATE papers SET vote_count = vote_count + 1 WHERE id = ?", (paper_id,)
                )
        return bool(added)

    def remove_vote(self, *, user_id: int, paper_id: str) -> bool:
        with self.db.write() as conn:
            removed = conn.execute(
                "DELETE FROM votes WHERE user_id = ? AND paper_id = ?", (user_id, paper_id)
            ).rowcount
            if removed:
                conn.execute(
                    "UPDATE papers SET vote_count = vote_count - 1 WHERE id = ?", (paper_id,)
                )
        return bool(removed)

    def voted_papers(self, user_id: int, paper_ids: list[str]) -> set[str]:
        """Which of `paper_ids` this user has upvoted."""
        if not paper_ids:
            return set()
        marks = ",".join("?" * len(paper_ids))
        rows = self.db.read.execute(
            f"SELECT paper_id FROM votes WHERE user_id = ? AND paper_id IN ({marks})",
            (user_id, *paper_ids),
        )
        return {r[0] for r in rows}

    # -- comments ----------------------------------------------------------------------

    def add_comment(self, *, user_id: int, paper_id: str, body: str) -> Comment:
        """A new comment; KeyError if no such paper."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM papers WHERE id = ?", (paper_id,)).fetchone() is None:
                raise KeyError(paper_id)
            (comment_id,) = conn.execute(
                "INSERT INTO comments (paper_id, user_id, body, created_at) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                (paper_id, user_id, body, _now().isoformat()),
            ).fetchone()
            conn.execute(
                "UPDATE papers SET comment_count = comment_count + 1 WHERE id = ?", (paper_id,)
            )
            row = conn.execute(
                "SELECT c.*, u.name FROM comments c JOIN users u ON u.id = c.user_id "
                "WHERE c.id = ?",
                (comment_id,),
            ).fetchone()
        return _comment(row)

    def get_comment(self, comment_id: int) -> Comment | None:
        row = self.db.read.execute(
            "SELECT c.*, u.name FROM comments c JOIN users u ON u.id = c.user_id WHERE c.id = ?",
            (comment_id,),
        ).fetchone()
        return _comment(row) if row else None

    def list_comments(self, paper_id: str, *, limit: int = 200) -> list[Comment]:
        rows = self.db.read.execute(
            "SELECT c.*, u.name FROM comments c JOIN users u ON u.id = c.user_id "
            "WHERE c.paper_id = ? ORDER BY c.id LIMIT ?",
            (paper_id, limit),
        )
        return [_comment(r) for r in rows]

    def delete_comment(self, comment_id: int) -> bool:
        with self.db.write() as conn:
            row = conn.execute(
                "DELETE FROM comments WHERE id = ? RETURNING paper_id", (comment_id,)
            ).fetchone()
            if row:
                conn.execute(
                    "UPDATE papers SET comment_count = comment_count - 1 WHERE id = ?", (row[0],)
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
        """Count one attempt against every `(key, limit)`, all or nothing.

        False, and nothing written, when any key has already used its `limit` in its
        current window: refused requests neither count nor add rows. Keys whose window has
        passed start again at 1. The table holds at most `max_rows` rows: past that the
        rows with the oldest windows go first (expired ones long before).
        """
        with self.db.write() as conn:
            current: dict[str, float] = {}
            for key, limit in limits:
                row = conn.execute(
                    "SELECT window_start, hits FROM throttle WHERE key = ?", (key,)
                ).fetchone()
                if row is not None and now - row["window_start"] < window_s:
                    if row["hits"] >= limit:
                        return False
                    current[key] = row["window_start"]
            added = 0
            for key, _ in limits:
                if key in current:
                    conn.execute("UPDATE throttle SET hits = hits + 1 WHERE key = ?", (key,))
                else:
                    conn.execute(
                        "INSERT OR REPLACE INTO throttle (key, window_start, hits) "
                        "VALUES (?, ?, 1)",
                        (key, now),
                    )
                    added += 1
            if added:
                conn.execute("DELETE FROM throttle WHERE window_start < ?", (now - 86400,))
                (count,) = conn.execute("SELECT count(*) FROM throttle").fetchone()
                if count > max_rows:
                    conn.execute(
                        "DELETE FROM throttle WHERE key IN (SELECT key FROM throttle "
                        "ORDER BY window_start LIMIT ?)",
                        (count - max_rows,),
                    )
        return True

    def throttle_hit(self, key: str, *, limit: int, window_s: float, now: float) -> bool:
        """Count one attempt for `key`; False (nothing counted) once it has used `limit`."""
        return self.throttle_take([(key, limit)], window_s=window_s, now=now)

    def throttle_clear(self, key: str) -> None:
        """Forget `key`'s attempts (e.g. after a successful sign-in)."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM throttle WHERE key = ?", (key,))
