-- Legal holds: while an entity (in one organization and mode) is held, its personal data cannot be erased.
-- legal_hold_changes keeps every placing and lifting with who did it and why (admin actions are recorded).
CREATE TABLE ledger.legal_holds (
    organization_id uuid NOT NULL,
    livemode boolean NOT NULL,
    entity_id text NOT NULL,
    reason text NOT NULL,
    placed_by text NOT NULL,
    placed_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, livemode, entity_id)
);

CREATE TABLE ledger.legal_hold_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id uuid NOT NULL,
    livemode boolean NOT NULL,
    entity_id text NOT NULL,
    action text NOT NULL CHECK (action IN ('placed', 'lifted')),
    reason text NOT NULL,
    actor_id text NOT NULL,
    at timestamptz NOT NULL
);

CREATE INDEX legal_hold_changes_entity ON ledger.legal_hold_changes (organization_id, livemode, entity_id, id);

ALTER TABLE ledger.legal_holds ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.legal_hold_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON ledger.legal_holds TO ledger_service
    USING ((organization_id = (SELECT ledger.scope_organization_id()) AND livemode = coalesce((SELECT ledger.scope_livemode()), livemode))
           OR (SELECT ledger.scope_is_system()));
CREATE POLICY tenant ON ledger.legal_hold_changes TO ledger_service
    USING ((organization_id = (SELECT ledger.scope_organization_id()) AND livemode = coalesce((SELECT ledger.scope_livemode()), livemode))
           OR (SELECT ledger.scope_is_system()));

GRANT SELECT, INSERT, DELETE ON ledger.legal_holds TO ledger_service;
GRANT SELECT, INSERT ON ledger.legal_hold_changes TO ledger_service;
