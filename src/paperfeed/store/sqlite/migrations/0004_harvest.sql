-- Followed sources (arXiv categories, HF daily) and where each upstream feed's harvest stopped.
CREATE TABLE followed_sources (
    name     TEXT PRIMARY KEY,               -- 'arxiv:cs.CL' | 'hf-daily'
    added_at TEXT NOT NULL
);

CREATE TABLE harvest_checkpoints (
    key        TEXT PRIMARY KEY,             -- 'oai:cs' | 'rss:cs.CL' | 'hf-daily'
    state      TEXT NOT NULL DEFAULT '{}',   -- JSON: {"from": "YYYY-MM-DD", "token": ...}
    updated_at TEXT NOT NULL,
    last_error TEXT
);
