-- Accounts, sessions, votes, comments and login throttling.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,               -- argon2id
    role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'curator', 'admin')),
    created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,               -- sha256 of the cookie token, never the token
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- One upvote per user per paper, enforced here; papers.vote_count follows in the same
-- transaction.
CREATE TABLE votes (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    paper_id   TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, paper_id)
);
CREATE INDEX votes_paper ON votes(paper_id);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    paper_id   TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX comments_paper ON comments(paper_id, id);

-- Fixed-window counters for sign-in and sign-up attempts (shared by all workers).
CREATE TABLE throttle (
    key          TEXT PRIMARY KEY,
    window_start REAL NOT NULL,
    hits         INTEGER NOT NULL
);
