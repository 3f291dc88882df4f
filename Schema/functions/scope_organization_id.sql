-- Whose rows a transaction may see (019_row_level_security.sql): set by ConnectionPool's scope with set_config(…, true).
-- This one: the organization, as a uuid (ledger.organization_id).
CREATE OR REPLACE FUNCTION ledger.scope_organization_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT nullif(current_setting('ledger.organization_id', true), '')::uuid $$;
