-- Whose rows a transaction may see (019_row_level_security.sql): set by ConnectionPool's scope with set_config(…, true).
-- This one: whether this is one of the few cross-tenant jobs (ledger.scope = 'system').
CREATE OR REPLACE FUNCTION ledger.scope_is_system() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT coalesce(current_setting('ledger.scope', true) = 'system', false) $$;
