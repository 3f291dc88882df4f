-- The version of each projection's code whose rows are in its table. Every command that migrates (`ledger
-- migrate`, `ledger serve`, ...) rebuilds, after the migrations, each projection whose code is at a newer
-- version than recorded here (`Replay.rebuildRaised`), and `ledger replay` records the versions it repaired with.
-- The three projections of 010 start at version 1.
CREATE TABLE ledger.projection_versions (
    name text PRIMARY KEY,
    version integer NOT NULL,
    rebuilt_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO ledger.projection_versions (name, version)
VALUES ('verifications', 1), ('orders', 1), ('verification_deadlines', 1);

GRANT SELECT ON ledger.projection_versions TO ledger_service;
