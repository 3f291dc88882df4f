-- Appends events to one stream, in the caller's transaction.
--
-- p_expected_version: NULL for any version, 0 for "the stream must not exist yet", n for "the stream is at n".
-- The event arrays are parallel: one element per event, in stream order. p_metadata is stored with each.
--
-- A stale expected version raises SQLSTATE LD001 naming the stream and both versions; the stream's current
-- version is also the error's DETAIL. Concurrent appenders to one stream queue on its row lock, and the
-- loser then sees the winner's version, so no update is ever lost. Appending event ids that are all already
-- in this stream returns what was stored the first time; a partial overlap raises LD003.
CREATE FUNCTION ledger.append_events(
    p_organization_id uuid,
    p_stream_id text,
    p_expected_version bigint,
    p_event_ids uuid[],
    p_types text[],
    p_schema_versions integer[],
    p_data jsonb[],
    p_occurred_at timestamptz[],
    p_metadata jsonb
) RETURNS TABLE (appended_event_id uuid, appended_position bigint, appended_version bigint, appended_hash bytea)
LANGUAGE plpgsql AS $$
DECLARE
    event_count constant integer := coalesce(array_length(p_event_ids, 1), 0);
    current_version bigint;
    head bytea;
BEGIN
    IF event_count = 0 OR array_length(p_types, 1) IS DISTINCT FROM event_count
       OR array_length(p_schema_versions, 1) IS DISTINCT FROM event_count
       OR array_length(p_data, 1) IS DISTINCT FROM event_count
       OR array_length(p_occurred_at, 1) IS DISTINCT FROM event_count THEN
        RAISE EXCEPTION 'append to stream % needs one id, type, schema version, data and time per event', p_stream_id
            USING ERRCODE = '22023';
    END IF;

    IF EXISTS (SELECT FROM ledger.events e WHERE e.event_id = ANY (p_event_ids)) THEN
        IF (SELECT count(*) FROM ledger.events e
            WHERE e.event_id = ANY (p_event_ids)
              AND e.organization_id = p_organization_id AND e.stream_id = p_stream_id) = event_count THEN
            RETURN QUERY
                SELECT e.event_id, e.position, e.version, e.hash FROM ledger.events e
                WHERE e.event_id = ANY (p_event_ids) ORDER BY e.version;
            RETURN;
        END IF;
        RAISE EXCEPTION 'some of these events are already in the log (stream: %)', p_stream_id USING ERRCODE = 'LD003';
    END IF;

    IF p_expected_version IS NULL THEN
        INSERT INTO ledger.streams AS s (organization_id, stream_id, version)
        VALUES (p_organization_id, p_stream_id, event_count)
        ON CONFLICT (organization_id, stream_id)
        DO UPDATE SET version = s.version + event_count, updated_at = now()
        RETURNING s.version - event_count INTO current_version;
    ELSIF p_expected_version = 0 THEN
        INSERT INTO ledger.streams (organization_id, stream_id, version)
        VALUES (p_organization_id, p_stream_id, event_count)
        ON CONFLICT DO NOTHING
        RETURNING 0 INTO current_version;
    ELSE
        UPDATE ledger.streams s SET version = s.version + event_count, updated_at = now()
        WHERE s.organization_id = p_organization_id AND s.stream_id = p_stream_id AND s.version = p_expected_version
        RETURNING p_expected_version INTO current_version;
    END IF;

    IF current_version IS NULL THEN
        SELECT s.version INTO current_version FROM ledger.streams s
        WHERE s.organization_id = p_organization_id AND s.stream_id = p_stream_id;
        RAISE EXCEPTION 'Wrong expected version: % (stream: %, stream version: %)',
            p_expected_version, p_stream_id, coalesce(current_version, 0)
            USING ERRCODE = 'LD001', DETAIL = coalesce(current_version, 0)::text;
    END IF;

    IF current_version = 0 THEN
        head := ledger.genesis_hash();
    ELSE
        SELECT e.hash INTO head FROM ledger.events e
        WHERE e.organization_id = p_organization_id AND e.stream_id = p_stream_id AND e.version = current_version;
    END IF;

    FOR i IN 1 .. event_count LOOP
        appended_version := current_version + i;
        appended_hash := sha256(head || ledger.event_canonical_bytes(
            p_event_ids[i], p_organization_id, p_stream_id, appended_version, p_types[i], p_schema_versions[i],
            p_data[i], p_metadata, p_occurred_at[i]));
        INSERT INTO ledger.events (event_id, organization_id, stream_id, version, type, schema_version, data,
                                   metadata, occurred_at, previous_hash, hash)
        VALUES (p_event_ids[i], p_organization_id, p_stream_id, appended_version, p_types[i], p_schema_versions[i],
                p_data[i], p_metadata, p_occurred_at[i], head, appended_hash)
        RETURNING position INTO appended_position;
        appended_event_id := p_event_ids[i];
        head := appended_hash;
        RETURN NEXT;
    END LOOP;
END;
$$;
