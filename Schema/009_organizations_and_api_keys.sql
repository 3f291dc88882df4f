-- Organizations and their API keys. A key's secret is never stored: only its SHA-256 and a hint of its last
-- characters for people to recognise it by.
CREATE TABLE ledger.organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger.api_keys (
    id text PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES ledger.organizations (id),
    secret_hash bytea NOT NULL UNIQUE,
    secret_hint text NOT NULL,
    livemode boolean NOT NULL,
    scopes text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']),
    description text CHECK (length(description) <= 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revocation_reason text CHECK (length(revocation_reason) <= 500)
);

CREATE INDEX api_keys_organization ON ledger.api_keys (organization_id, livemode, created_at);

GRANT SELECT ON ledger.organizations TO ledger_service;
GRANT SELECT, INSERT, UPDATE ON ledger.api_keys TO ledger_service;
