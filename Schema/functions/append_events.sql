-- Appends events to one stream, in the caller's transaction.
--
-- p_expected_version: NULL for any version, 0 for "the stream must not exist yet", n for "the stream is at n".
-- The event arrays are parallel: one element per event, in stream order. p_metadata is stored with each.
--
-- A stale expected version raises SQLSTATE LD001 naming the stream and both versions; the stream's current
-- version is also the error's DETAIL. Concurrent appenders to one stream queue on its row lock, and the
-- loser then sees the winner's version, so no update is ever lost. Appending event ids that are all already
-- in this stream returns what was stored the first time; a partial overlap raises LD003.
--
-- How it is built: few statements, each of which reaches its rows by primary key:
--  * the stream row keeps the head of its chain (head_hash), so no event has to be looked up to extend it;
--  * the hashes are chained in memory and all events go in with one INSERT, whose row source is
--    generate_subscripts: its estimate does not depend on the argument, so PostgreSQL settles on one generic
--    plan for the statement instead of planning it again on every call (as it does for generate_series);
--    one event (most commands) goes in with INSERT … VALUES instead, which costs PostgreSQL about half as much
--    as the function scan and sort around a single row;
--  * a repeat of an append that already succeeded is looked for only when it can be one: for any-version
--    appends up front, for the others once their version check has failed (the first append moved the
--    stream past the version they expect). Ids already stored elsewhere still fail on events' unique
--    event_id (23505, events_event_id_key), which callers read as LD003.
CREATE OR REPLACE FUNCTION ledger.append_events(
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
    previous_hashes bytea[] := '{}';
    hashes bytea[] := '{}';
BEGIN
    IF event_count = 0 OR array_length(p_types, 1) IS DISTINCT FROM event_count
       OR array_length(p_schema_versions, 1) IS DISTINCT FROM event_count
       OR array_length(p_data, 1) IS DISTINCT FROM event_count
       OR array_length(p_occurred_at, 1) IS DISTINCT FROM event_count THEN
        RAISE EXCEPTION 'append to stream % needs one id, type, schema version, data and time per event', p_stream_id
            USING ERRCODE = '22023';
    END IF;

    IF p_expected_version IS NULL THEN
        RETURN QUERY SELECT * FROM ledger.repeated_append(p_organization_id, p_stream_id, p_event_ids);
        IF FOUND THEN RETURN; END IF;
    END IF;

    IF p_expected_version = 0 THEN
        current_version := 0;
    ELSE
        -- Concurrent appenders queue here; the one that waited then sees the version the other one wrote.
        SELECT s.version, s.head_hash INTO current_version, head FROM ledger.streams s
        WHERE s.organization_id = p_organization_id AND s.stream_id = p_stream_id
        FOR UPDATE;
        current_version := coalesce(current_version, 0);
    END IF;

    IF current_version <> coalesce(p_expected_version, current_version) THEN
        RETURN QUERY SELECT * FROM ledger.repeated_append(p_organization_id, p_stream_id, p_event_ids);
        IF FOUND THEN RETURN; END IF;
        RAISE EXCEPTION 'Wrong expected version: % (stream: %, stream version: %)',
            p_expected_version, p_stream_id, current_version
            USING ERRCODE = 'LD001', DETAIL = current_version::text;
    END IF;

    head := coalesce(head, ledger.genesis_hash());
    FOR i IN 1 .. event_count LOOP
        previous_hashes[i] := head;
        head := sha256(head || ledger.event_canonical_bytes(
            p_event_ids[i], p_organization_id, p_stream_id, current_version + i, p_types[i], p_schema_versions[i],
            p_data[i], p_metadata, p_occurred_at[i]));
        hashes[i] := head;
    END LOOP;

    IF current_version = 0 THEN
        INSERT INTO ledger.streams (organization_id, stream_id, version, head_hash)
        VALUES (p_organization_id, p_stream_id, event_count, head)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            -- Created by a concurrent appender since this one looked: a conflict, or for any-version appends
            -- a retry behind that appender's row lock.
            IF p_expected_version IS NULL THEN
                RETURN QUERY SELECT * FROM ledger.append_events(p_organization_id, p_stream_id, NULL, p_event_ids, p_types,
                                                                p_schema_versions, p_data, p_occurred_at, p_metadata);
                RETURN;
            END IF;
            RETURN QUERY SELECT * FROM ledger.repeated_append(p_organization_id, p_stream_id, p_event_ids);
            IF FOUND THEN RETURN; END IF;
            SELECT s.version INTO current_version FROM ledger.streams s
            WHERE s.organization_id = p_organization_id AND s.stream_id = p_stream_id;
            RAISE EXCEPTION 'Wrong expected version: % (stream: %, stream version: %)',
                p_expected_version, p_stream_id, current_version
                USING ERRCODE = 'LD001', DETAIL = current_version::text;
        END IF;
    ELSE
        UPDATE ledger.streams s SET version = current_version + event_count, head_hash = head, updated_at = now()
        WHERE s.organization_id = p_organization_id AND s.stream_id = p_stream_id;
    END IF;

    IF event_count = 1 THEN
        RETURN QUERY
            INSERT INTO ledger.events AS e (event_id, organization_id, stream_id, version, type, schema_version, data, metadata,
                                            occurred_at, previous_hash, hash)
            VALUES (p_event_ids[1], p_organization_id, p_stream_id, current_version + 1, p_types[1], p_schema_versions[1],
                    p_data[1], p_metadata, p_occurred_at[1], previous_hashes[1], hashes[1])
            RETURNING e.event_id, e.position, e.version, e.hash;
        RETURN;
    END IF;
    RETURN QUERY
        INSERT INTO ledger.events AS e (event_id, organization_id, stream_id, version, type, schema_version, data, metadata,
                                        occurred_at, previous_hash, hash)
        SELECT p_event_ids[i], p_organization_id, p_stream_id, current_version + i, p_types[i], p_schema_versions[i],
               p_data[i], p_metadata, p_occurred_at[i], previous_hashes[i], hashes[i]
        FROM generate_subscripts(p_event_ids, 1) AS i
        ORDER BY i
        RETURNING e.event_id, e.position, e.version, e.hash;
END;
$$;
