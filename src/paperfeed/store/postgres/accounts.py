"""Upvotes on PostgreSQL as one statement (the rest of the accounts store is shared:
`store.common.accounts.Accounts`).

An upvote is the most frequent write of a busy site. The shared code adds it in a transaction
of two statements (insert the vote, then count it on the paper): four round trips to the
server with BEGIN and COMMIT. Here one statement with data-modifying CTEs does both, in
autocommit mode (a statement is its own transaction, all or nothing): one round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime

from paperfeed.store.postgres.db import Database

_ADD_VOTE = """
WITH paper AS (SELECT id FROM papers WHERE id = %(paper)s),
added AS (
    INSERT INTO votes (user_id, paper_id, created_at)
    SELECT %(user)s, id, %(at)s FROM paper
    ON CONFLICT DO NOTHING
    RETURNING paper_id
),
counted AS (
    UPDATE papers SET vote_count = vote_count + 1
    WHERE id IN (SELECT paper_id FROM added)
    RETURNING id
)
SELECT (SELECT count(*) FROM paper), (SELECT count(*) FROM counted)
"""


class PgVotes:
    """`add_vote` of the PostgreSQL store in one round trip."""

    db: Database

    def add_vote(self, *, user_id: int, paper_id: str) -> bool:
        """Upvote once; False if this user had already upvoted. KeyError if no such paper."""
        with self.db.autocommit() as conn:
            found, added = conn.execute(
                _ADD_VOTE,
                {"paper": paper_id, "user": user_id, "at": datetime.now(UTC).isoformat()},
            ).fetchone()
        if not found:
            raise KeyError(paper_id)
        return bool(added)
