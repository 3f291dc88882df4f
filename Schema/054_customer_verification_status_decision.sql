-- Seed 003's actor_id is the actor of the event that last decided the customer verification's status (the invite,
-- the provider's result, the scheduler's expiry, an admin's override), not of the latest event: a metadata update
-- decides nothing. The state names that event by its version (`VerificationState.statusDecisionVersion`), which
-- the row keeps beside its document so that a read finds the actor with one index lookup of `ledger.events`.
-- Projection `customer_verifications` version 2 fills it; `stream_snapshots` version 2 keeps the state's new members.
-- On a database that already has streams the versions stay where they were and the first migrate after this one
-- rebuilds both (`Replay.rebuildRaised`); an empty database is at the new versions at once.
ALTER TABLE ledger.customer_verifications ADD COLUMN status_version bigint;

UPDATE ledger.projection_versions SET version = 2, rebuilt_at = now()
WHERE name IN ('customer_verifications', 'stream_snapshots') AND NOT EXISTS (SELECT FROM ledger.streams);
