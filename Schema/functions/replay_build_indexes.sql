-- Builds a live projection table's indexes (all of them, or its primary key alone) on its ledger_replay shadow, each
-- as its definition says, named <live name>_rebuilt until replay_swap; the primary key and unique constraints are
-- made over theirs. Those already built are left, so a continued replay builds only the rest. Raises when a
-- definition can't be carried over (a name too long for the suffix, a constraint of another kind) rather than build
-- a table unlike the live one.
CREATE OR REPLACE FUNCTION ledger.replay_build_indexes(p_table text, p_all boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    item record;
    definition text;
BEGIN
    FOR item IN
        SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition, c.contype
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
        WHERE x.indrelid = format('ledger.%I', p_table)::regclass AND (p_all OR x.indisprimary)
        ORDER BY x.indisprimary DESC, i.relname
    LOOP
        CONTINUE WHEN to_regclass(format('ledger_replay.%I', item.name || '_rebuilt')) IS NOT NULL;
        definition := replace(item.definition, format(' INDEX %I ON ledger.%I ', item.name, p_table),
                              format(' INDEX %I ON ledger_replay.%I ', item.name || '_rebuilt', p_table));
        IF definition = item.definition OR length(item.name) > 55 THEN
            RAISE EXCEPTION 'ledger replay cannot rebuild the index %', item.definition;
        END IF;
        EXECUTE definition;
        IF item.contype IN ('p', 'u') THEN
            EXECUTE format('ALTER TABLE ledger_replay.%I ADD CONSTRAINT %I %s USING INDEX %I', p_table, item.name || '_rebuilt',
                           CASE item.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, item.name || '_rebuilt');
        ELSIF item.contype IS NOT NULL THEN
            RAISE EXCEPTION 'ledger replay cannot rebuild the constraint over %', item.name;
        END IF;
    END LOOP;
END $$;
