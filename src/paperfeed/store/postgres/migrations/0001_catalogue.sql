-- The paper catalogue and the daily list (PostgreSQL twin of sqlite/migrations/0001).
-- Texts that are compared or ordered use COLLATE "C" (byte order, as SQLite compares), so
-- cursors and sorts give the same answers on both backends. Times are ISO-8601 UTC text.
CREATE TABLE papers (
    id               TEXT COLLATE "C" PRIMARY KEY,
    version          INTEGER NOT NULL DEFAULT 1,
    title            TEXT NOT NULL,
    abstract         TEXT NOT NULL,
    authors          TEXT NOT NULL DEFAULT '[]',
    primary_category TEXT COLLATE "C",
    categories       TEXT NOT NULL DEFAULT '[]',
    published        TEXT COLLATE "C",
    updated          TEXT COLLATE "C",
    comment          TEXT,
    journal_ref      TEXT,
    doi              TEXT,
    github_url       TEXT,
    project_page     TEXT,
    listing_date     TEXT COLLATE "C",
    imported_upvotes INTEGER NOT NULL DEFAULT 0,
    imported_comments INTEGER NOT NULL DEFAULT 0,
    vote_count       INTEGER NOT NULL DEFAULT 0,
    comment_count    INTEGER NOT NULL DEFAULT 0,
    seq              BIGINT NOT NULL
);
CREATE INDEX papers_seq ON papers(seq);
CREATE INDEX papers_published ON papers(published);
CREATE INDEX papers_listing_date ON papers(listing_date);

CREATE TABLE daily_entries (
    paper_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
    day          TEXT COLLATE "C" NOT NULL,
    submitted_by TEXT,
    submitted_at TEXT COLLATE "C",
    pinned       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX daily_entries_day ON daily_entries(day);

-- Single-row counter behind papers.seq. Catalogue writers lock this row for their whole
-- transaction, so sequence numbers become visible in order (followers never skip one).
CREATE TABLE change_seq (id INTEGER PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL);
INSERT INTO change_seq VALUES (1, 0);
