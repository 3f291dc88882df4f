-- The state of each long stream at its latest version (SnapshotsProjection): a command folds only the events
-- after it. Written inline with the other read models, rebuilt and checked by `ledger replay` like them; a
-- state that does not decode is ignored and the stream folded whole. Rows are only ever replaced by a newer
-- version, so a reader that took a snapshot and then reads the events after it misses none.
CREATE TABLE ledger.stream_snapshots (
    organization_id uuid NOT NULL,
    id text NOT NULL,
    version bigint NOT NULL,
    state text NOT NULL,
    PRIMARY KEY (organization_id, id)
);

-- Row-level security as 019 gives every tenant table (this one has no mode column: the stream's is in the state).
ALTER TABLE ledger.stream_snapshots ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON ledger.stream_snapshots TO ledger_service
    USING ((organization_id = (SELECT ledger.scope_organization_id())) OR (SELECT ledger.scope_is_system()));

GRANT SELECT, INSERT, UPDATE ON ledger.stream_snapshots TO ledger_service;

INSERT INTO ledger.projection_versions (name, version) VALUES ('stream_snapshots', 1);
