-- Orders carry the version of the stream they were projected from, as verifications already do, so that a
-- projection upsert can refuse to replace a newer document with an older one (a command re-sent after a
-- commit whose outcome was unknown writes the version it decided on, which may be behind by then).
ALTER TABLE ledger.orders ADD COLUMN version bigint NOT NULL DEFAULT 0;
UPDATE ledger.orders o SET version = v.version
FROM ledger.verifications v
WHERE v.organization_id = o.organization_id AND v.id = o.id;
ALTER TABLE ledger.orders ALTER COLUMN version DROP DEFAULT;
