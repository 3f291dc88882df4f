-- The trigger function behind 030's triggers: a ruleset version is immutable for everyone, the table owner and
-- superusers included; a changed ruleset is the next version of its name.
CREATE OR REPLACE FUNCTION ledger.refuse_ruleset_version_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.ruleset_versions is append-only: % refused', TG_OP
        USING ERRCODE = 'LD002', HINT = 'Create the next version instead.';
END;
$$;
