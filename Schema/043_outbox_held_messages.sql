-- The claim walks pending messages in id order and stops at its limit. A disabled endpoint's pending messages
-- are marked held (while it stays disabled) and left out of the index the claim walks, so that a disabled
-- endpoint's backlog no longer costs every claim a look at each of its messages.
ALTER TABLE ledger.outbox ADD COLUMN held boolean NOT NULL DEFAULT false;
UPDATE ledger.outbox o SET held = true
FROM ledger.webhook_endpoints e
WHERE o.endpoint_id = e.id AND o.status = 'pending' AND NOT (e.enabled AND e.deleted_at IS NULL);
DROP INDEX ledger.outbox_pending;
CREATE INDEX outbox_pending ON ledger.outbox (id) WHERE status = 'pending' AND NOT held;
