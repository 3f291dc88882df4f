-- The log is append-only for everyone, the table owner and superusers included: UPDATE, DELETE and
-- TRUNCATE raise an error. (A superuser can still disable the trigger; the hash chain shows what changed.)
CREATE FUNCTION ledger.refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.events is append-only: % refused', TG_OP
        USING ERRCODE = 'LD002', HINT = 'Record a correcting event instead.';
END;
$$;

CREATE TRIGGER events_refuse_update_delete
    BEFORE UPDATE OR DELETE ON ledger.events
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_event_change();

CREATE TRIGGER events_refuse_truncate
    BEFORE TRUNCATE ON ledger.events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_event_change();
