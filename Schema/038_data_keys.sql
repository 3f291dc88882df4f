-- Each entity's data key (per organization and mode: a test key never erases live data), wrapped by the key-encryption key (LedgerCrypto's WrappedDataKey, 69 bytes): the
-- personal part of the entity's events, read rows and queued webhook payloads is sealed under it. Erasure
-- destroys the wrapped key (wrapped_key NULL, erased_at set); the row stays, so readers know the data is erased
-- rather than never encrypted, and writes after the erasure keep no personal data.
CREATE TABLE ledger.data_keys (
    organization_id uuid NOT NULL,
    livemode boolean NOT NULL,
    entity_id text NOT NULL,
    wrapped_key bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at timestamptz,
    PRIMARY KEY (organization_id, livemode, entity_id),
    CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL))
);

ALTER TABLE ledger.data_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON ledger.data_keys TO ledger_service
    USING ((organization_id = (SELECT ledger.scope_organization_id()) AND livemode = coalesce((SELECT ledger.scope_livemode()), livemode))
           OR (SELECT ledger.scope_is_system()));

GRANT SELECT, INSERT, UPDATE ON ledger.data_keys TO ledger_service;
