-- When these event ids were appended before: the events stored then, if every id is in this stream (LD003
-- when only some are, or they are in another stream). Nothing when none of the ids is stored.
CREATE OR REPLACE FUNCTION ledger.repeated_append(p_organization_id uuid, p_stream_id text, p_event_ids uuid[])
RETURNS TABLE (appended_event_id uuid, appended_position bigint, appended_version bigint, appended_hash bytea)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM ledger.events e WHERE e.event_id = ANY (p_event_ids)) THEN
        RETURN;
    END IF;
    IF (SELECT count(*) FROM ledger.events e
        WHERE e.event_id = ANY (p_event_ids)
          AND e.organization_id = p_organization_id AND e.stream_id = p_stream_id) = cardinality(p_event_ids) THEN
        RETURN QUERY
            SELECT e.event_id, e.position, e.version, e.hash FROM ledger.events e
            WHERE e.event_id = ANY (p_event_ids) ORDER BY e.version;
        RETURN;
    END IF;
    RAISE EXCEPTION 'some of these events are already in the log (stream: %)', p_stream_id USING ERRCODE = 'LD003';
END;
$$;
