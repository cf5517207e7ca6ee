-- Followed sources and harvest checkpoints (twin of sqlite/0004).
CREATE TABLE followed_sources (
    name     TEXT COLLATE "C" PRIMARY KEY,   -- 'arxiv:cs.CL' | 'hf-daily'
    added_at TEXT NOT NULL
);

CREATE TABLE harvest_checkpoints (
    key        TEXT COLLATE "C" PRIMARY KEY, -- 'oai:cs' | 'rss:cs.CL' | 'hf-daily'
    state      TEXT NOT NULL DEFAULT '{}',   -- JSON: {"from": "YYYY-MM-DD", "token": ...}
    updated_at TEXT NOT NULL,
    last_error TEXT
);
