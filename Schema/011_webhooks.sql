-- Webhook subscriptions and the transactional outbox.
--
-- Endpoints belong to an organization and a mode. Their signing secret (whsec_…) signs every delivery; after a
-- rotation the previous secret keeps signing too until previous_secret_expires_at (24 hours).
CREATE TABLE ledger.webhook_endpoints (
    id text PRIMARY KEY,
    organization_id uuid NOT NULL,
    livemode boolean NOT NULL,
    url text NOT NULL CHECK (length(url) <= 2048),
    events text[] NOT NULL CHECK (cardinality(events) > 0),
    description text CHECK (length(description) <= 500),
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    secret text NOT NULL,
    previous_secret text,
    previous_secret_expires_at timestamptz,
    failing_since timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE INDEX webhook_endpoints_subscribers ON ledger.webhook_endpoints (organization_id, livemode) WHERE deleted_at IS NULL;

-- The secret that signs the invites' postbacks, one per organization and mode.
CREATE TABLE ledger.postback_secrets (
    organization_id uuid NOT NULL,
    livemode boolean NOT NULL,
    secret text NOT NULL,
    previous_secret text,
    previous_secret_expires_at timestamptz,
    PRIMARY KEY (organization_id, livemode)
);

-- One row per message and destination, written in the transaction of the command that caused it.
-- endpoint_id is NULL for an invite's postback URL.
CREATE TABLE ledger.outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id text NOT NULL UNIQUE,
    organization_id uuid NOT NULL,
    livemode boolean NOT NULL,
    verification_id text NOT NULL,
    endpoint_id text,
    url text NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    -- A dispatcher sending the message holds it until then; if it dies, another takes over afterwards.
    leased_until timestamptz,
    last_attempt_at timestamptz,
    last_response_status integer
);

CREATE INDEX outbox_due ON ledger.outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_destination ON ledger.outbox (organization_id, verification_id, url, id);

-- Every delivery attempt, for the deliveries API.
CREATE TABLE ledger.webhook_delivery_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id bigint NOT NULL REFERENCES ledger.outbox (id),
    organization_id uuid NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    response_status integer,
    latency_ms double precision NOT NULL,
    response_excerpt text,
    error text
);

CREATE INDEX webhook_delivery_attempts_message ON ledger.webhook_delivery_attempts (outbox_id, id);

GRANT SELECT, INSERT, UPDATE ON ledger.webhook_endpoints, ledger.postback_secrets, ledger.outbox TO ledger_service;
GRANT SELECT, INSERT ON ledger.webhook_delivery_attempts TO ledger_service;
