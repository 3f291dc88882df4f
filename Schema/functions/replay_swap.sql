-- A rebuilt projection table becomes the live one and the live one is moved aside, as ledger_replay.<name>_replaced
-- (the replay drops it once done): three renames, so the rows are written once. The rebuilt indexes take the live
-- ones' names. Called under the swap's lock, in the transaction that checked the versions.
CREATE OR REPLACE FUNCTION ledger.replay_swap(p_table text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    item record;
BEGIN
    EXECUTE format('ALTER TABLE ledger.%I RENAME TO %I', p_table, p_table || '_replaced');
    EXECUTE format('ALTER TABLE ledger.%I SET SCHEMA ledger_replay', p_table || '_replaced');
    EXECUTE format('ALTER TABLE ledger_replay.%I SET SCHEMA ledger', p_table);
    FOR item IN
        SELECT i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = format('ledger.%I', p_table)::regclass AND i.relname LIKE '%\_rebuilt'
    LOOP
        EXECUTE format('ALTER INDEX ledger.%I RENAME TO %I', item.name, left(item.name, length(item.name) - length('_rebuilt')));
    END LOOP;
END $$;
