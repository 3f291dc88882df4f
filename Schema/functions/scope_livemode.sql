-- Whose rows a transaction may see (019_row_level_security.sql): set by ConnectionPool's scope with set_config(…, true).
-- This one: the mode, 'true' or 'false'; unset (NULL) for jobs acting on one organization in both modes (ledger.livemode).
CREATE OR REPLACE FUNCTION ledger.scope_livemode() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT nullif(current_setting('ledger.livemode', true), '')::boolean $$;
