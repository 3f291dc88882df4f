-- The global feed: events after the cursor (p_after_transaction, p_after_position), optionally of one
-- organization, in the order (writing transaction, position).
--
-- Positions are drawn when a row is inserted but become visible at commit, so a later position can be seen
-- before an earlier one. Handing out only the events of transactions older than the oldest transaction still
-- running (the snapshot's xmin) fixes that: every event a reader may still see later belongs to a transaction
-- at or after that xmin, and so sorts after everything already handed out. Writers never wait for each other.
-- Call it outside an explicit REPEATABLE READ transaction, so that each call sees a fresh snapshot.
CREATE OR REPLACE FUNCTION ledger.read_feed(
    p_after_transaction xid8, p_after_position bigint, p_batch_size integer, p_organization_id uuid DEFAULT NULL
) RETURNS SETOF ledger.events
LANGUAGE sql STABLE AS $$
    SELECT * FROM ledger.events
    WHERE (transaction_id, position) > (p_after_transaction, p_after_position)
      AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      AND (p_organization_id IS NULL OR organization_id = p_organization_id)
    ORDER BY transaction_id, position
    LIMIT p_batch_size
$$;
