-- `ledger replay` builds its tables apart and swaps them in at the end (Sources/LedgerEngine/Projections/Replay.swift).
--
-- ledger_replay holds the shadow tables, one per projection being rebuilt, made by the replay itself like the
-- live ones (LIKE ledger.<table>) and dropped when it ends. Only the owner reaches the schema: the service
-- never reads a half-built table.
--
-- replay_checkpoint says how far the one replay in progress got, so that a run killed mid-way is continued by
-- the next: the projections (and versions) its shadow tables are for, the last stream the bulk pass folded
-- (streams are folded in key order), and the feed cursor of the catch-up. It commits with the shadow rows it
-- describes. Both are UNLOGGED (a rebuild writes its tables once, fast): a crash of the server empties both
-- together, and the next run starts clean. /metrics reads the row for the rebuild's progress.
CREATE SCHEMA ledger_replay;

CREATE UNLOGGED TABLE ledger.replay_checkpoint (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    projections text NOT NULL,
    phase text NOT NULL CHECK (phase IN ('bulk', 'catch_up')),
    -- Every event at or after this cursor is folded again by the catch-up: the bulk pass read the streams
    -- after its first snapshot, whose xmin it is (position 0).
    feed_transaction xid8 NOT NULL,
    feed_position bigint NOT NULL,
    bulk_after_organization uuid,
    bulk_after_stream text,
    events_folded bigint NOT NULL DEFAULT 0,
    events_total bigint NOT NULL,
    streams_folded bigint NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT ON ledger.replay_checkpoint TO ledger_service;
