-- Twin of sqlite/0007_security.sql.
-- Single-use confirmation links: the nonce of the one confirmation link still valid for a
-- subscriber. Opening it clears it; so does any later change (manage page, unsubscribe).
ALTER TABLE subscribers ADD COLUMN confirm_nonce TEXT;

-- Throttle rows are bounded: the oldest windows are dropped first.
CREATE INDEX throttle_window ON throttle(window_start);

-- Sign-ups waiting for the link mailed to their address (the account is created only when
-- it is opened). One per address; expired rows are deleted whenever a new one is added.
CREATE TABLE pending_signups (
    token_hash    TEXT COLLATE "C" PRIMARY KEY, -- sha256 of the emailed token, never the token
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,                -- argon2id
    next_path     TEXT NOT NULL DEFAULT '/',
    created_at    TEXT COLLATE "C" NOT NULL,
    expires_at    TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX pending_signups_email ON pending_signups (lower(email));
