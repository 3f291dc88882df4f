-- Each report row names its verification's entity, whose key opens its sealed document: a read then finds the key
-- from the report row itself instead of joining every row of a page to `ledger.verifications` for its entity
-- (issue 13's benchmark: a list page of 10 was 11 lookups into verifications on top of the 11 into data_keys).
-- Rows already written take it from their verification (both are written in the same command's transaction, so
-- every report has one); the projection writes it from now on, so its version and rows stay as rebuilt from the log.
ALTER TABLE ledger.verification_reports ADD COLUMN entity_id text;

UPDATE ledger.verification_reports r SET entity_id = w.entity_id
FROM ledger.verifications w WHERE w.organization_id = r.organization_id AND w.id = r.id;

ALTER TABLE ledger.verification_reports ALTER COLUMN entity_id SET NOT NULL;

-- An unfinished replay's shadow copy was made without the column: without it, the next replay starts clean.
DROP TABLE IF EXISTS ledger_replay.verification_reports;
