-- The log's Merkle tree (RFC 9162) and its signed checkpoints.
--
-- Every committed event is a leaf, in the order of the gap-safe feed (read_feed): leaf 0 is the first event
-- the feed handed out, and so on. A leaf's bytes are defined once, in Swift (LedgerDomain/Audit/LedgerLeaf):
-- the event's position as 8 bytes big-endian, then its 32-byte chain hash; its hash is SHA-256(0x00 ‖ bytes).
-- The tree covers every organization: it is one log, and a checkpoint vouches for all of it. Its tables hold
-- positions and hashes only, no tenant's data, so they have no organization column and no row-level policy;
-- who may see which event is decided on ledger.events.

-- Leaf index → the event it stands for.
CREATE TABLE ledger.merkle_leaves (
    leaf_index bigint PRIMARY KEY CHECK (leaf_index >= 0),
    position bigint NOT NULL UNIQUE
);

-- The hash of every perfect subtree: the 2^level leaves from leaf index << level on (level 0: the leaf hashes).
-- A perfect subtree never changes once its last leaf is in, and every root and proof combines O(log n) of them.
CREATE TABLE ledger.merkle_subtrees (
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
    index bigint NOT NULL CHECK (index >= 0),
    hash bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, index)
);

-- One row: how many leaves the tree has and where in the feed the appender stands. Appenders lock it, so
-- several instances of the service append each event exactly once, in order.
CREATE TABLE ledger.merkle_log (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    leaf_count bigint NOT NULL DEFAULT 0 CHECK (leaf_count >= 0),
    feed_transaction xid8 NOT NULL DEFAULT '0',
    feed_position bigint NOT NULL DEFAULT 0
);
INSERT INTO ledger.merkle_log DEFAULT VALUES;

-- Signed tree heads: the C2SP checkpoint of a tree size, as a signed note.
CREATE TABLE ledger.checkpoints (
    tree_size bigint PRIMARY KEY CHECK (tree_size >= 0),
    root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
    note text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON ledger.merkle_leaves, ledger.merkle_subtrees, ledger.checkpoints TO ledger_service;
GRANT SELECT, UPDATE ON ledger.merkle_log TO ledger_service;

-- History queries (GET /v1/events) walk one organization's feed order with one filter; each filter has an
-- index that starts with the organization and the filtered column, and ends in the feed order.
CREATE INDEX events_organization_type_feed ON ledger.events (organization_id, type, transaction_id, position);
CREATE INDEX events_organization_actor_type_feed ON ledger.events (organization_id, (metadata ->> 'actor_type'), transaction_id, position);
CREATE INDEX events_organization_actor_id_feed ON ledger.events (organization_id, (metadata ->> 'actor_id'), transaction_id, position);
CREATE INDEX events_organization_occurred ON ledger.events (organization_id, occurred_at);
