-- Background jobs for `paperfeed worker`: claimed with a lease, taken over when it expires.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,                  -- 'digest', ...
    key         TEXT NOT NULL,                  -- what it covers, e.g. 'd:2026-11-30|w:2026-W49|3'
    payload     TEXT NOT NULL DEFAULT '{}',     -- JSON object for the handler
    state       TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
    owner       TEXT,                           -- worker holding the lease
    lease_until REAL,                           -- unix time; past it, another worker may take over
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX jobs_claim ON jobs(state, kind, id);
