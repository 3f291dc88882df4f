-- Makes a projection's table in ledger_replay as the live one is, to become it when a rebuild swaps it in
-- (Replay.ShadowTable): columns, defaults, constraints and storage (INCLUDING ALL: lz4 for the sealed documents,
-- Schema/058), storage parameters (fillfactor), row-level security and its policies, and grants, all read from the
-- catalog so that a table changed by a later migration is copied as it is then. Logged, since it becomes the live
-- table. No index yet: rows go in faster without, and replay_build_indexes builds them once the bulk pass is done.
CREATE OR REPLACE FUNCTION ledger.replay_create_shadow(p_table text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    live regclass := format('ledger.%I', p_table)::regclass;
    shadow regclass;
    item record;
BEGIN
    EXECUTE format('CREATE TABLE ledger_replay.%I (LIKE %s INCLUDING ALL EXCLUDING INDEXES)', p_table, live);
    shadow := format('ledger_replay.%I', p_table)::regclass;
    FOR item IN SELECT option FROM pg_class, unnest(reloptions) AS option WHERE oid = live LOOP
        EXECUTE format('ALTER TABLE %s SET (%s)', shadow, item.option);
    END LOOP;
    IF (SELECT relrowsecurity FROM pg_class WHERE oid = live) THEN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', shadow);
    END IF;
    IF (SELECT relforcerowsecurity FROM pg_class WHERE oid = live) THEN
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', shadow);
    END IF;
    FOR item IN
        SELECT polname, polpermissive, polcmd, pg_get_expr(polqual, polrelid) AS qual,
               pg_get_expr(polwithcheck, polrelid) AS checked,
               (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE r::regrole::text END, ', ') FROM unnest(polroles) AS r) AS roles
        FROM pg_policy WHERE polrelid = live ORDER BY polname
    LOOP
        EXECUTE format('CREATE POLICY %I ON %s AS %s FOR %s TO %s', item.polname, shadow,
                       CASE WHEN item.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                       CASE item.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                        WHEN 'd' THEN 'DELETE' ELSE 'ALL' END, item.roles)
                || coalesce(' USING (' || item.qual || ')', '') || coalesce(' WITH CHECK (' || item.checked || ')', '');
    END LOOP;
    FOR item IN
        SELECT a.privilege_type, a.grantee, a.is_grantable FROM pg_class c, aclexplode(c.relacl) AS a
        WHERE c.oid = live AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('GRANT %s ON %s TO %s%s', item.privilege_type, shadow,
                       CASE WHEN item.grantee = 0 THEN 'PUBLIC' ELSE item.grantee::regrole::text END,
                       CASE WHEN item.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END $$;
