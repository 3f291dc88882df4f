-- Outbox rows get room on their page, so that a claim's lease (leased_until, lease_token: no indexed column)
-- is written in place (HOT): no new entry in each of the outbox's five indexes for every claimed message, and
-- no second entry per pending message in the partial index the claim walks. Only pages written from now on
-- keep the room; older ones gain it as they are rewritten.
ALTER TABLE ledger.outbox SET (fillfactor = 50);
