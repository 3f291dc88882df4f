-- Appends events to one stream, in the caller's transaction.
--
-- p_expected_version: NULL for any version, 0 for "the stream must not exist yet", n for "the stream is at n".
-- p_events: a JSON array of {"event_id", "type", "schema_version", "data", "occurred_at"}.
-- p_metadata: stored with every event of the append.
--
-- A stale expected version raises SQLSTATE LD001 naming the stream and both versions; the stream's current
-- version is also the error's DETAIL. Concurrent appenders to one stream queue on its row lock, and the
-- loser then sees the winner's version, so no update is ever lost. Appending event ids that are all already
-- in this stream returns what was stored the first time; a partial overlap raises LD003.
CREATE FUNCTION ledger.append_events(
    p_organization_id uuid,
    p_stream_id text,
    p_expected_version bigint,
    p_events jsonb,
    p_metadata jsonb
) RETURNS TABLE (appended_event_id uuid, appended_position bigint, appended_version bigint, appended_hash bytea)
LANGUAGE plpgsql AS $$
DECLARE
    event_count integer;
    already_stored integer;
    current_version bigint;
    head bytea;
    item jsonb;
    new_id uuid;
    new_type text;
    new_schema_version integer;
    new_occurred_at timestamptz;
BEGIN
    IF jsonb_typeof(p_events) IS DISTINCT FROM 'array' OR jsonb_array_length(p_events) = 0 THEN
        RAISE EXCEPTION 'append to stream % needs a non-empty array of events', p_stream_id USING ERRCODE = '22023';
    END IF;
    event_count := jsonb_array_length(p_events);

    SELECT count(*) INTO already_stored
    FROM ledger.events e
    WHERE e.event_id IN (SELECT (x->>'event_id')::uuid FROM jsonb_array_elements(p_events) x);
    IF already_stored > 0 THEN
        IF already_stored = event_count AND NOT EXISTS (
            SELECT FROM ledger.events e
            WHERE e.event_id IN (SELECT (x->>'event_id')::uuid FROM jsonb_array_elements(p_events) x)
              AND (e.organization_id <> p_organization_id OR e.stream_id <> p_stream_id))
        THEN
            RETURN QUERY
                SELECT e.event_id, e.position, e.version, e.hash FROM ledger.events e
                WHERE e.event_id IN (SELECT (x->>'event_id')::uuid FROM jsonb_array_elements(p_events) x)
                ORDER BY e.version;
            RETURN;
        END IF;
        RAISE EXCEPTION 'some of these events are already in the log (stream: %)', p_stream_id USING ERRCODE = 'LD003';
    END IF;

    IF p_expected_version IS NULL OR p_expected_version = 0 THEN
        INSERT INTO ledger.streams (organization_id, stream_id, version, head_hash)
        VALUES (p_organization_id, p_stream_id, 0, ledger.genesis_hash())
        ON CONFLICT DO NOTHING;
    END IF;

    SELECT s.version, s.head_hash INTO current_version, head
    FROM ledger.streams s
    WHERE s.organization_id = p_organization_id AND s.stream_id = p_stream_id
    FOR UPDATE;
    IF NOT FOUND THEN
        current_version := 0;
    END IF;

    IF p_expected_version IS NOT NULL AND p_expected_version <> current_version THEN
        RAISE EXCEPTION 'Wrong expected version: % (stream: %, stream version: %)',
            p_expected_version, p_stream_id, current_version
            USING ERRCODE = 'LD001', DETAIL = current_version::text;
    END IF;

    FOR item IN SELECT x FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(x, n) ORDER BY n LOOP
        current_version := current_version + 1;
        new_id := (item->>'event_id')::uuid;
        new_type := item->>'type';
        new_schema_version := coalesce((item->>'schema_version')::integer, 1);
        new_occurred_at := (item->>'occurred_at')::timestamptz;
        appended_hash := sha256(head || ledger.event_canonical_bytes(
            new_id, p_organization_id, p_stream_id, current_version, new_type, new_schema_version,
            item->'data', p_metadata, new_occurred_at));
        INSERT INTO ledger.events (event_id, organization_id, stream_id, version, type, schema_version, data,
                                   metadata, occurred_at, previous_hash, hash)
        VALUES (new_id, p_organization_id, p_stream_id, current_version, new_type, new_schema_version,
                item->'data', p_metadata, new_occurred_at, head, appended_hash)
        RETURNING position INTO appended_position;
        appended_event_id := new_id;
        appended_version := current_version;
        head := appended_hash;
        RETURN NEXT;
    END LOOP;

    UPDATE ledger.streams s
    SET version = current_version, head_hash = head, updated_at = now()
    WHERE s.organization_id = p_organization_id AND s.stream_id = p_stream_id;
END;
$$;
