-- A reader's library: collections, read marks, private notes, follows, "not interested".
CREATE TABLE collections (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    public     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE collection_papers (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    paper_id      TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    added_at      TEXT NOT NULL,
    PRIMARY KEY (collection_id, paper_id)
);
CREATE INDEX collection_papers_added ON collection_papers(collection_id, added_at);
CREATE INDEX collection_papers_paper ON collection_papers(paper_id);

CREATE TABLE read_marks (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    read_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, paper_id)
);

CREATE TABLE notes (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    paper_id   TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, paper_id)
);

CREATE TABLE follows (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('author', 'category')),
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, kind, value)
);

-- "Not interested" on a recommendation: a negative signal, and never shown again.
CREATE TABLE dismissals (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    paper_id   TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, paper_id)
);
