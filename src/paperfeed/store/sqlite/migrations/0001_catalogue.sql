-- The paper catalogue and the daily list.
CREATE TABLE papers (
    id               TEXT PRIMARY KEY,          -- arXiv id without version
    version          INTEGER NOT NULL DEFAULT 1,
    title            TEXT NOT NULL,
    abstract         TEXT NOT NULL,
    authors          TEXT NOT NULL DEFAULT '[]', -- JSON list of names, in order
    primary_category TEXT,
    categories       TEXT NOT NULL DEFAULT '[]', -- JSON list, primary first
    published        TEXT,                      -- ISO-8601 UTC
    updated          TEXT,
    comment          TEXT,
    journal_ref      TEXT,
    doi              TEXT,
    github_url       TEXT,
    project_page     TEXT,
    listing_date     TEXT,                      -- YYYY-MM-DD
    imported_upvotes INTEGER NOT NULL DEFAULT 0, -- upvotes carried over from an import (HF)
    imported_comments INTEGER NOT NULL DEFAULT 0,
    vote_count       INTEGER NOT NULL DEFAULT 0, -- upvotes cast on this instance
    comment_count    INTEGER NOT NULL DEFAULT 0, -- comments written on this instance
    seq              INTEGER NOT NULL           -- change sequence of the last content write
);
CREATE INDEX papers_seq ON papers(seq);
CREATE INDEX papers_published ON papers(published);
CREATE INDEX papers_listing_date ON papers(listing_date);

CREATE TABLE daily_entries (
    paper_id     TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
    day          TEXT NOT NULL,                 -- YYYY-MM-DD
    submitted_by TEXT,
    submitted_at TEXT,
    pinned       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX daily_entries_day ON daily_entries(day);

-- Single-row counter behind papers.seq: derived indexes follow it.
CREATE TABLE change_seq (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO change_seq VALUES (1, 0);
