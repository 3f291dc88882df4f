-- One row per stream: its current version. Appenders lock this row, which is what orders them.
CREATE TABLE ledger.streams (
    organization_id uuid NOT NULL,
    stream_id text NOT NULL,
    version bigint NOT NULL CHECK (version >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, stream_id)
);

-- The log. Rows are only ever inserted (see 003). transaction_id is the writing transaction, so readers of
-- the global feed can tell which positions are final (see read_feed).
CREATE TABLE ledger.events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id uuid NOT NULL UNIQUE,
    organization_id uuid NOT NULL,
    stream_id text NOT NULL,
    version bigint NOT NULL CHECK (version >= 1),
    type text NOT NULL,
    schema_version integer NOT NULL,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL,
    occurred_at timestamptz NOT NULL,
    previous_hash bytea NOT NULL,
    hash bytea NOT NULL,
    UNIQUE (organization_id, stream_id, version)
);

CREATE INDEX events_feed ON ledger.events (transaction_id, position);
CREATE INDEX events_organization_feed ON ledger.events (organization_id, transaction_id, position);

GRANT SELECT, INSERT, UPDATE ON ledger.streams TO ledger_service;
GRANT SELECT, INSERT ON ledger.events TO ledger_service;
