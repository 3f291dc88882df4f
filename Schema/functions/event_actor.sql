-- A member of an event's metadata as text (metadata ->> member), for the actor indexes of Schema/065: LEAKPROOF
-- (it never raises and shows nothing but its result), so a history query's condition on it runs as an index
-- condition under row-level security; PL/pgSQL, so that the planner does not inline it back into ->>, which is
-- not leakproof. Only a superuser may declare a function leakproof: migrated by another role, it is declared
-- without, and the actor filters still work, by walking the feed.
DO $do$
BEGIN
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION ledger.event_actor(metadata jsonb, member text) RETURNS text
        LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE %s AS $$ BEGIN RETURN metadata ->> member; END $$
        $f$, CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN 'LEAKPROOF' ELSE '' END);
END
$do$;
