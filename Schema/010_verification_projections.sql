-- Current state of each verification and its order, as the REST reads serve it. Rebuilt from the log by
-- folding each stream; written in the same transaction as the events, so a client reads its own writes.
CREATE TABLE ledger.verifications (
    organization_id uuid NOT NULL,
    id text NOT NULL,
    livemode boolean NOT NULL,
    version bigint NOT NULL,
    status text NOT NULL,
    entity_id text NOT NULL,
    client_reference_id text,
    package_id text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    document jsonb NOT NULL,
    PRIMARY KEY (organization_id, id)
);

CREATE INDEX verifications_list ON ledger.verifications (organization_id, livemode, created_at DESC, id DESC);
CREATE INDEX verifications_entity ON ledger.verifications (organization_id, livemode, entity_id);

CREATE TABLE ledger.orders (
    organization_id uuid NOT NULL,
    id text NOT NULL,
    livemode boolean NOT NULL,
    status text NOT NULL,
    score text NOT NULL,
    package_id text,
    entity_id text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    document jsonb NOT NULL,
    PRIMARY KEY (organization_id, id)
);

CREATE INDEX orders_list ON ledger.orders (organization_id, livemode, created_at DESC, id DESC);

-- Deadlines the expiry scheduler watches: the verification's, and its open attempt's.
CREATE TABLE ledger.verification_deadlines (
    organization_id uuid NOT NULL,
    id text NOT NULL,
    due_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, id)
);

CREATE INDEX verification_deadlines_due ON ledger.verification_deadlines (due_at);

GRANT SELECT, INSERT, UPDATE ON ledger.verifications, ledger.orders TO ledger_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ledger.verification_deadlines TO ledger_service;
