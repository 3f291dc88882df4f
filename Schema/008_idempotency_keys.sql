-- The first response to each (organization, mode, Idempotency-Key), stored in the transaction of the command
-- it answers, so a retried command either replays this answer or runs exactly once.
CREATE TABLE ledger.idempotency_keys (
    organization_id uuid NOT NULL,
    livemode boolean NOT NULL,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash bytea NOT NULL,
    response_status integer NOT NULL,
    response_body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, livemode, idempotency_key)
);

CREATE INDEX idempotency_keys_created_at ON ledger.idempotency_keys (created_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON ledger.idempotency_keys TO ledger_service;
