-- The trigger function behind 003's triggers: the log is append-only for everyone, the table owner and
-- superusers included (a superuser can still disable the trigger; the hash chain shows what changed).
CREATE OR REPLACE FUNCTION ledger.refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.events is append-only: % refused', TG_OP
        USING ERRCODE = 'LD002', HINT = 'Record a correcting event instead.';
END;
$$;
