-- Email digests and saved-search alerts.
CREATE TABLE subscribers (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,        -- normalised: trimmed, domain lower-cased
    frequency      TEXT NOT NULL DEFAULT 'daily' CHECK (frequency IN ('daily', 'weekly')),
    trending       INTEGER NOT NULL DEFAULT 1,  -- include the trending papers
    user_id        INTEGER,                     -- the account that owns it, if any
    created_at     TEXT NOT NULL,               -- ISO-8601 UTC
    confirmed_at   TEXT,                        -- NULL until the double opt-in link is opened
    status         TEXT NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'unsubscribed', 'bounced')),
    status_reason  TEXT,                        -- e.g. the SMTP 5xx reply of a bounce
    last_digest_at TEXT                         -- when the last digest went out
);
CREATE INDEX subscribers_due ON subscribers(status, frequency);

CREATE TABLE saved_searches (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    user_id       INTEGER,
    query         TEXT NOT NULL,
    filters       TEXT NOT NULL DEFAULT '{}',   -- JSON object passed to search
    created_at    TEXT NOT NULL,
    UNIQUE (subscriber_id, query, filters)
);

-- Every paper mailed to a subscriber: the primary key makes "no paper twice" a constraint.
CREATE TABLE sent_papers (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    paper_id      TEXT NOT NULL,
    period        TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, paper_id)
) WITHOUT ROWID;

-- One row per subscriber and period ('d:2026-07-09', 'w:2026-W28'): the exactly-once ledger.
CREATE TABLE digest_outbox (
    id             INTEGER PRIMARY KEY,
    subscriber_id  INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    period         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    message_id     TEXT NOT NULL,
    paper_ids      TEXT NOT NULL DEFAULT '[]',  -- JSON list, what the message contains
    prev_digest_at TEXT,                        -- restored if the send fails
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (subscriber_id, period)
);
CREATE INDEX digest_outbox_state ON digest_outbox(period, state);
