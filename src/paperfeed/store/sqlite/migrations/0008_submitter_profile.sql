-- Who put a paper on the daily list, as Hugging Face shows it: `submitted_by` is the username,
-- these are the display name and avatar (imported from HF; local users have none).
ALTER TABLE daily_entries ADD COLUMN submitter_fullname TEXT;
ALTER TABLE daily_entries ADD COLUMN submitter_avatar TEXT;
