-- The vendor-compatible views of each verification, as their REST reads serve them: seed 003's customer
-- verification, seed 004's validation, and seed 001's Stripe verification reports (all of one verification's
-- reports in one row, oldest first, since a projection row belongs to one stream), kept as json as written
-- (014). Written inline with every
-- command and rebuilt from the log like the others. On a database that already has streams, no version is
-- recorded here, so the first migrate after this one builds them (`Replay.rebuildRaised`); an empty database
-- is at their version at once. The same for `verification_deadlines` version 2, which adds the end of an
-- approval's validity.
CREATE TABLE ledger.customer_verifications (
    organization_id uuid NOT NULL,
    id text NOT NULL,
    livemode boolean NOT NULL,
    customer_id text NOT NULL,
    status text NOT NULL,
    verification_type text NOT NULL,
    created_at timestamptz NOT NULL,
    document json NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (organization_id, id)
);

CREATE INDEX customer_verifications_list ON ledger.customer_verifications (organization_id, livemode, created_at DESC, id DESC);
CREATE INDEX customer_verifications_customer ON ledger.customer_verifications (organization_id, livemode, customer_id, created_at DESC, id DESC);

CREATE TABLE ledger.validations (
    organization_id uuid NOT NULL,
    id text NOT NULL,
    livemode boolean NOT NULL,
    entity_id text NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    document json NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (organization_id, id)
);

CREATE INDEX validations_entity ON ledger.validations (organization_id, livemode, entity_id, created_at DESC, id DESC);

CREATE TABLE ledger.verification_reports (
    organization_id uuid NOT NULL,
    id text NOT NULL,
    livemode boolean NOT NULL,
    client_reference_id text,
    created_at timestamptz NOT NULL,
    reports json NOT NULL,
    PRIMARY KEY (organization_id, id)
);

CREATE INDEX verification_reports_list ON ledger.verification_reports (organization_id, livemode, created_at DESC, id DESC);

GRANT SELECT, INSERT, UPDATE ON ledger.customer_verifications, ledger.validations, ledger.verification_reports TO ledger_service;

-- The same wall as 019's policies.
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['customer_verifications', 'validations', 'verification_reports'] LOOP
        EXECUTE format('ALTER TABLE ledger.%I ENABLE ROW LEVEL SECURITY', name);
        EXECUTE format('CREATE POLICY tenant ON ledger.%I TO ledger_service USING ((organization_id = (SELECT ledger.scope_organization_id()) '
                       || 'AND livemode = coalesce((SELECT ledger.scope_livemode()), livemode)) OR (SELECT ledger.scope_is_system()))', name);
    END LOOP;
END $$;

INSERT INTO ledger.projection_versions (name, version)
SELECT name, 1 FROM unnest(ARRAY['customer_verifications', 'validations', 'verification_reports']) AS name
WHERE NOT EXISTS (SELECT FROM ledger.streams);

UPDATE ledger.projection_versions SET version = 2, rebuilt_at = now()
WHERE name = 'verification_deadlines' AND NOT EXISTS (SELECT FROM ledger.streams);
