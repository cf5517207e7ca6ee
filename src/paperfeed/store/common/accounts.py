"""Accounts, sessions, votes, comments and login throttling, on every backend.

Every rule that must hold across app instances is one statement, one constraint or one
lock: the votes primary key (one upvote per user per paper), the unique e-mail (any case),
a lock around "the first account is admin" and one per throttle key (PostgreSQL; SQLite's
single writer needs none).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

from paperfeed.models import ROLES, Comment, PendingSignup, User
from paperfeed.store.base import MAX_PENDING_SIGNUPS, MAX_THROTTLE_ROWS
from paperfeed.store.sql import Conn, HasDb, Row, each_in, found

FIRST_USER_LOCK = 0x70667375  # lock key around "the first account is admin"
_USER_COLUMNS = "id, email, name, role, created_at"
_COMMENT = (
    "SELECT c.id, c.paper_id, c.user_id, u.name AS author, c.body, c.created_at "
    "FROM comments c JOIN users u ON u.id = c.user_id "
)


class _Refused(Exception):
    """A throttle limit is used up: roll the attempt back."""


def _now() -> datetime:
    return datetime.now(UTC)


def _cap_rows(conn: Conn, table: str, key: str, oldest_first: str, max_rows: int) -> None:
    """Keep `table` at most `max_rows` rows, deleting by `oldest_first` order (names are
    this module's constants, never input)."""
    count = conn.value(f"SELECT count(*) FROM {table}")
    if count > max_rows:
        conn.run(
            f"DELETE FROM {table} WHERE {key} IN "
            f"(SELECT {key} FROM {table} ORDER BY {oldest_first} LIMIT ?)",
            (count - max_rows,),
        )


def _user(row: Row) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _comment(row: Row) -> Comment:
    return Comment(
        id=row["id"],
        paper_id=row["paper_id"],
        user_id=row["user_id"],
        author=row["author"],
        body=row["body"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


class Accounts(HasDb):
    """Accounts part of the store."""

    # -- users -------------------------------------------------------------------------

    def create_user(
        self, *, email: str, name: str, password_hash: str, role: str | None = None
    ) -> User | None:
        """A new account (admin when it is the first one); None if the email is taken."""
        with self.db.writing() as conn:
            conn.lock(FIRST_USER_LOCK)
            if role is None:
                role = "admin" if conn.value("SELECT count(*) FROM users") == 0 else "user"
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}")
            row = conn.one(
                "INSERT INTO users (email, name, password_hash, role, created_at) "
                f"VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING {_USER_COLUMNS}",
                (email, name, password_hash, role, _now().isoformat()),
            )
        return _user(row) if row else None

    def add_pending_signup(
        self, *, token_hash: str, signup: PendingSignup, max_rows: int = MAX_PENDING_SIGNUPS
    ) -> None:
        now = _now().isoformat()
        with self.db.writing() as conn:
            conn.run("DELETE FROM pending_signups WHERE expires_at < ?", (now,))
            conn.run(
                f"DELETE FROM pending_signups WHERE {conn.ci('email')} = {conn.ci('?')}",
                (signup.email,),
            )
            conn.run(
                "INSERT INTO pending_signups (token_hash, email, name, password_hash, "
                "next_path, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
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
            _cap_rows(conn, "pending_signups", "token_hash", "created_at", max_rows)

    def take_pending_signup(self, token_hash: str) -> PendingSignup | None:
        with self.db.writing() as conn:
            row = conn.one(
                "DELETE FROM pending_signups WHERE token_hash = ? "
                "RETURNING email, name, password_hash, next_path, expires_at",
                (token_hash,),
            )
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
        with self.db.reading() as conn:
            row = conn.one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    def user_credentials(self, email: str) -> tuple[User, str] | None:
        """The account for `email` and its password hash (for signing in)."""
        with self.db.reading() as conn:
            row = conn.one(
                f"SELECT {_USER_COLUMNS}, password_hash FROM users "
                f"WHERE {conn.ci('email')} = {conn.ci('?')}",
                (email,),
            )
        return (_user(row), row["password_hash"]) if row else None

    def users_by_email(self, emails: Sequence[str]) -> dict[str, User]:
        """The accounts of these addresses, by the address as given (compared as
        `user_credentials` compares them); addresses without an account are left out."""
        if not emails:
            return {}
        columns = ", ".join(f"u.{c}" for c in _USER_COLUMNS.split(", "))
        with self.db.reading() as conn:
            rows = conn.rows(
                f"SELECT j.value AS asked, {columns} "
                f"FROM {conn.json_values('?')} JOIN users u "
                f"ON {conn.ci('u.email')} = {conn.ci('j.value')}",
                (orjson.dumps(list(emails)).decode(),),
            )
        return {row["asked"]: _user(row) for row in rows}

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self.db.writing() as conn:
            conn.run("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))

    def set_role(self, email: str, role: str) -> User | None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with self.db.writing() as conn:
            row = conn.one(
                f"UPDATE users SET role = ? WHERE {conn.ci('email')} = {conn.ci('?')} "
                f"RETURNING {_USER_COLUMNS}",
                (role, email),
            )
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        with self.db.reading() as conn:
            rows = conn.rows(f"SELECT {_USER_COLUMNS} FROM users ORDER BY id")
        return [_user(r) for r in rows]

    # -- sessions ----------------------------------------------------------------------

    def create_session(self, *, token_hash: str, user_id: int, expires_at: datetime) -> None:
        now = _now().isoformat()
        with self.db.writing() as conn:
            conn.run("DELETE FROM sessions WHERE expires_at < ?", (now,))
            conn.run(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (token_hash, user_id, now, expires_at.isoformat()),
            )

    def session_user(self, token_hash: str) -> User | None:
        """The signed-in user of a live session."""
        with self.db.reading() as conn:
            row = conn.one(
                f"SELECT u.{_USER_COLUMNS.replace(', ', ', u.')} FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?",
                (token_hash, _now().isoformat()),
            )
        return _user(row) if row else None

    def delete_session(self, token_hash: str) -> None:
        with self.db.writing() as conn:
            conn.run("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    # -- votes -------------------------------------------------------------------------

    def add_vote(self, *, user_id: int, paper_id: str) -> bool:
        """Upvote once; False if this user had already upvoted. KeyError if no such paper."""
        with self.db.writing() as conn:
            # the paper's existence is checked only when nothing was inserted: one statement
            # fewer for a new vote (a round trip on PostgreSQL)
            added = conn.run(
                "INSERT INTO votes (user_id, paper_id, created_at) "
                "SELECT ?, id, ? FROM papers WHERE id = ? ON CONFLICT DO NOTHING",
                (user_id, _now().isoformat(), paper_id),
            )
            if added:
                conn.run("UPDATE papers SET vote_count = vote_count + 1 WHERE id = ?", (paper_id,))
            elif conn.one("SELECT 1 AS x FROM papers WHERE id = ?", (paper_id,)) is None:
                raise KeyError(paper_id)
        return bool(added)

    def remove_vote(self, *, user_id: int, paper_id: str) -> bool:
        with self.db.writing() as conn:
            removed = conn.run(
                "DELETE FROM votes WHERE user_id = ? AND paper_id = ?", (user_id, paper_id)
            )
            if removed:
                conn.run("UPDATE papers SET vote_count = vote_count - 1 WHERE id = ?", (paper_id,))
        return bool(removed)

    def voted_papers(self, user_id: int, paper_ids: list[str]) -> set[str]:
        """Which of `paper_ids` this user has upvoted."""
        voted: set[str] = set()
        with self.db.reading() as conn:
            for where, params in each_in(conn, "paper_id", paper_ids):
                rows = conn.rows(
                    f"SELECT paper_id FROM votes WHERE user_id = ? AND {where}", (user_id, *params)
                )
                voted.update(r["paper_id"] for r in rows)
        return voted

    # -- comments ----------------------------------------------------------------------

    def add_comment(self, *, user_id: int, paper_id: str, body: str) -> Comment:
        """A new comment; KeyError if no such paper."""
        with self.db.writing() as conn:
            if conn.one("SELECT 1 AS x FROM papers WHERE id = ?", (paper_id,)) is None:
                raise KeyError(paper_id)
            comment_id = conn.value(
                "INSERT INTO comments (paper_id, user_id, body, created_at) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                (paper_id, user_id, body, _now().isoformat()),
            )
            conn.run(
                "UPDATE papers SET comment_count = comment_count + 1 WHERE id = ?", (paper_id,)
            )
            row = conn.one(_COMMENT + "WHERE c.id = ?", (comment_id,))
        return _comment(found(row, "comment"))

    def get_comment(self, comment_id: int) -> Comment | None:
        with self.db.reading() as conn:
            row = conn.one(_COMMENT + "WHERE c.id = ?", (comment_id,))
        return _comment(row) if row else None

    def list_comments(self, paper_id: str, *, limit: int = 200) -> list[Comment]:
        with self.db.reading() as conn:
            rows = conn.rows(
                _COMMENT + "WHERE c.paper_id = ? ORDER BY c.id LIMIT ?", (paper_id, limit)
            )
        return [_comment(r) for r in rows]

    def delete_comment(self, comment_id: int) -> bool:
        with self.db.writing() as conn:
            paper_id = conn.value(
                "DELETE FROM comments WHERE id = ? RETURNING paper_id", (comment_id,)
            )
            if paper_id is not None:
                conn.run(
                    "UPDATE papers SET comment_count = comment_count - 1 WHERE id = ?",
                    (paper_id,),
                )
        return paper_id is not None

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

        One statement counts the attempt on every key (an upsert: the rows it touches stay
        locked until the transaction ends, taken in sorted key order, so concurrent takes
        of one key queue and no two deadlock) and returns the new counts; a count past its
        limit rolls the whole transaction back. Three round trips on PostgreSQL (BEGIN, the
        upsert, COMMIT) where a check and then a write per key took nine.
        """
        strictest: dict[str, int] = {}
        for key, limit in limits:
            strictest[key] = min(limit, strictest.get(key, limit))
        keys = sorted(strictest)
        if not keys:
            return True
        try:
            with self.db.writing() as conn:
                rows = conn.tuples(
                    "INSERT INTO throttle (key, window_start, hits) VALUES "
                    + ", ".join(["(?, ?, 1)"] * len(keys))
                    + " ON CONFLICT (key) DO UPDATE SET "
                    "hits = CASE WHEN excluded.window_start - throttle.window_start < ? "
                    "THEN throttle.hits + 1 ELSE 1 END, "
                    "window_start = CASE WHEN excluded.window_start - throttle.window_start < ? "
                    "THEN throttle.window_start ELSE excluded.window_start END "
                    "RETURNING key, hits",
                    (*[v for key in keys for v in (key, now)], window_s, window_s),
                )
                # a key already in its window with `limit` attempts is now past it (hits
                # restart at 1 in a new window, which a limit of 0 also lets through)
                if any(hits > max(strictest[key], 1) for key, hits in rows):
                    raise _Refused
                if any(hits == 1 for _, hits in rows):  # a new key or a new window
                    conn.run("DELETE FROM throttle WHERE window_start < ?", (now - 86400,))
                    _cap_rows(conn, "throttle", "key", "window_start", max_rows)
        except _Refused:  # rolled back: refused attempts neither count nor add rows
            return False
        return True

    def throttle_hit(self, key: str, *, limit: int, window_s: float, now: float) -> bool:
        """Count one attempt for `key`; False (nothing counted) once it has used `limit`."""
        return self.throttle_take([(key, limit)], window_s=window_s, now=now)

    def throttle_wait(
        self, limits: Sequence[tuple[str, int]], *, window_s: float, now: float
    ) -> float:
        """Seconds until every `(key, limit)` has room again: the latest end among the
        current windows of keys that have used their limit (0.0 when none has)."""
        wait = 0.0
        with self.db.reading() as conn:
            for key, limit in limits:
                row = conn.one("SELECT window_start, hits FROM throttle WHERE key = ?", (key,))
                if row is not None and row["hits"] >= limit:
                    wait = max(wait, row["window_start"] + window_s - now)
        return wait

    def throttle_clear(self, key: str) -> None:
        """Forget `key`'s attempts (e.g. after a successful sign-in)."""
        with self.db.writing() as conn:
            conn.run("DELETE FROM throttle WHERE key = ?", (key,))
