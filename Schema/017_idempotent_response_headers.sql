-- The headers a replayed response must repeat (ETag, Location, Content-Type), so that a client retrying
-- after a crash gets the stream version back as well as the body. Records kept before this have none and
-- replay as JSON without them. The purge walks 008's index on created_at in bounded batches.
ALTER TABLE ledger.idempotency_keys ADD COLUMN response_headers jsonb NOT NULL DEFAULT '{}';
