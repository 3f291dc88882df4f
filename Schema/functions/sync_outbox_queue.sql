-- Makes ledger.outbox_queue (Schema/066) hold exactly those of the messages p_ids that are pending and not held:
-- for a statement that changed their status or held flag outside the dispatcher's own statements (a retry, a
-- recovery, an endpoint disabled, enabled or deleted). Run after that statement, in its transaction, whose scope
-- row-level security applies to both tables.
CREATE OR REPLACE FUNCTION ledger.sync_outbox_queue(p_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM ledger.outbox_queue q USING ledger.outbox o
    WHERE q.id = ANY (p_ids) AND o.id = q.id AND NOT (o.status = 'pending' AND NOT o.held);
    INSERT INTO ledger.outbox_queue (id, organization_id, livemode)
    SELECT o.id, o.organization_id, o.livemode FROM ledger.outbox o
    WHERE o.id = ANY (p_ids) AND o.status = 'pending' AND NOT o.held
    ON CONFLICT (id) DO NOTHING;
$$;
