-- The read models whose documents hold personal data keep it sealed under the entity's data key since personal
-- data is encrypted (Schema/038): their projections' versions were raised for it, so that a database whose rows
-- were written before (in plain text) has them rebuilt sealed by the next migrate with the key-encryption key
-- (Replay.rebuildRaised). A new database has no rows to rebuild.
UPDATE ledger.projection_versions AS p SET version = raised.version, rebuilt_at = now()
FROM (VALUES ('verifications', 2), ('orders', 2), ('customer_verifications', 2), ('validations', 3),
             ('verification_reports', 3), ('stream_snapshots', 2)) AS raised (name, version)
WHERE p.name = raised.name AND NOT EXISTS (SELECT FROM ledger.streams);
