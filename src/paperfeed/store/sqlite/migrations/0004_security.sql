-- Single-use confirmation links: the nonce of the one confirmation link still valid for a
-- subscriber. Opening it clears it; so does any later change (manage page, unsubscribe).
ALTER TABLE subscribers ADD COLUMN confirm_nonce TEXT;

-- Throttle rows are bounded: the oldest windows are dropped first.
CREATE INDEX throttle_window ON throttle(window_start);
