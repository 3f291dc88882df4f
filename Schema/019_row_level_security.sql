-- Row-level security: a second wall behind the organization and mode filters every query already has.
--
-- The service's transactions say whose they are (ConnectionPool's scope, sent as the transaction's first
-- statement with set_config(…, true), so it ends with the transaction):
--   ledger.organization_id  the organization, as a uuid
--   ledger.livemode         'true' or 'false'; unset for jobs that act on one organization in both modes
--   ledger.scope            'system' only for the few cross-tenant jobs: authentication by key hash, the
--                           expiry scheduler's claim, the webhook dispatcher's claim, the idempotency purge
-- A transaction that says nothing sees no tenant's rows and can write none.
--
-- The policies bind ledger_service, which has no BYPASSRLS. The tables' owner (the role that migrates, and
-- that the `ledger orgs|keys` commands connect as) is not bound: the tables are not FORCE ROW LEVEL SECURITY.

CREATE FUNCTION ledger.scope_organization_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT nullif(current_setting('ledger.organization_id', true), '')::uuid $$;

CREATE FUNCTION ledger.scope_livemode() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT nullif(current_setting('ledger.livemode', true), '')::boolean $$;

CREATE FUNCTION ledger.scope_is_system() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT coalesce(current_setting('ledger.scope', true) = 'system', false) $$;

-- The settings are read once per statement (the sub-selects become init plans), not once per row.
DO $$
DECLARE
    tenant_table record;
    condition text;
BEGIN
    FOR tenant_table IN
        SELECT c.relname,
               EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'livemode' AND NOT a.attisdropped) AS has_mode,
               CASE WHEN c.relname = 'organizations' THEN 'id' ELSE 'organization_id' END AS organization_column
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'ledger' AND c.relkind = 'r'
          AND (c.relname = 'organizations' OR EXISTS (
              SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped))
    LOOP
        condition := format('%I = (SELECT ledger.scope_organization_id())', tenant_table.organization_column);
        IF tenant_table.has_mode THEN
            condition := condition || ' AND livemode = coalesce((SELECT ledger.scope_livemode()), livemode)';
        END IF;
        EXECUTE format('ALTER TABLE ledger.%I ENABLE ROW LEVEL SECURITY', tenant_table.relname);
        EXECUTE format('CREATE POLICY tenant ON ledger.%I TO ledger_service USING ((%s) OR (SELECT ledger.scope_is_system()))',
                       tenant_table.relname, condition);
    END LOOP;
END $$;
