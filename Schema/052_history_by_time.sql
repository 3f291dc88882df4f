-- History by time (GET /v1/events?occurred_after=T) in feed order at a cost independent of the log's size.
--
-- An event's occurred_at is not ordered with the feed (a late commit, another instance's clock, an event
-- recorded with an earlier time), so "after T" cannot be read as "after the feed cursor of T". But the
-- tree's leaves are the feed in order, and each now keeps the latest occurred_at of its event and of every
-- leaf before it: no event up to the last leaf whose latest time is at or before T occurred after T, so a
-- query for "after T" starts its walk of the feed index after that leaf (with its feed cursor, here because
-- the event itself may be another tenant's) instead of at the log's beginning. Events the tree has not taken
-- yet all sort after its last leaf, so none is skipped; a clock far ahead only makes the bound less useful.
ALTER TABLE ledger.merkle_leaves ADD COLUMN transaction_id xid8, ADD COLUMN latest_occurred_at timestamptz;

UPDATE ledger.merkle_leaves l SET transaction_id = f.transaction_id, latest_occurred_at = f.latest_occurred_at
FROM (SELECT l.leaf_index, e.transaction_id, max(e.occurred_at) OVER (ORDER BY l.leaf_index) AS latest_occurred_at
      FROM ledger.merkle_leaves l LEFT JOIN ledger.events e ON e.position = l.position) f
WHERE f.leaf_index = l.leaf_index;

-- The latest time never decreases along the leaves, so this index finds the last leaf at or before T.
CREATE INDEX merkle_leaves_latest_occurred ON ledger.merkle_leaves (latest_occurred_at, leaf_index);
