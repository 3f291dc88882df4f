-- Two vendor views served from rows instead of per-request work (issue 13's benchmark):
-- * seed 001's reports, one row each (projection `verification_reports` version 2) instead of one json row
--   per verification, so that a list page is a keyset scan of one index rather than every report of the
--   organization unnested and sorted;
-- * what an entity's KYC status needs of each validation (projection `validations` version 2), so that the
--   status is computed from the entity's rows and the clock instead of folding each of its streams.
-- The reports' rows are rebuildable from the log, so the table is made again empty. On a database that
-- already has streams, the versions stay where they were and the first migrate after this one rebuilds both
-- (`Replay.rebuildRaised`); an empty database is at the new versions at once.
DROP TABLE ledger.verification_reports;

CREATE TABLE ledger.verification_reports (
    organization_id uuid NOT NULL,
    id text NOT NULL,
    report_id text NOT NULL,
    livemode boolean NOT NULL,
    client_reference_id text,
    type text NOT NULL,
    created bigint NOT NULL,
    document json NOT NULL,
    PRIMARY KEY (organization_id, id, report_id)
);

CREATE INDEX verification_reports_list ON ledger.verification_reports (organization_id, livemode, created DESC, report_id DESC);

GRANT SELECT, INSERT, UPDATE ON ledger.verification_reports TO ledger_service;

-- The same wall as 019's and 026's policies.
ALTER TABLE ledger.verification_reports ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON ledger.verification_reports TO ledger_service
    USING ((organization_id = (SELECT ledger.scope_organization_id())
            AND livemode = coalesce((SELECT ledger.scope_livemode()), livemode)) OR (SELECT ledger.scope_is_system()));

ALTER TABLE ledger.validations
    ADD COLUMN approved_at timestamptz,
    ADD COLUMN valid_for bigint,
    ADD COLUMN approval_cut_short_at timestamptz;

UPDATE ledger.projection_versions SET version = 2, rebuilt_at = now()
WHERE name IN ('verification_reports', 'validations') AND NOT EXISTS (SELECT FROM ledger.streams);
