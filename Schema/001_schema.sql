-- Everything the ledger keeps lives in the "ledger" schema.
-- The service connects and then runs as ledger_service, which holds only the privileges granted below and in
-- later migrations: on the event log itself, SELECT and INSERT and nothing else.
CREATE SCHEMA IF NOT EXISTS ledger;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledger_service') THEN
        CREATE ROLE ledger_service NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- another database of this cluster created it at the same moment
END $$;

DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'ledger_service', 'MEMBER') THEN
        EXECUTE format('GRANT ledger_service TO %I', current_user);
    END IF;
END $$;

GRANT USAGE ON SCHEMA ledger TO ledger_service;
GRANT SELECT ON ledger.schema_migrations TO ledger_service;
