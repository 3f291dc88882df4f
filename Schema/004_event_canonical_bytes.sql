-- The bytes an event's hash covers: hash = SHA-256(previous hash || canonical bytes).
--
-- Ten fields, in this order, each written as its UTF-8 byte length in decimal, a colon, then its UTF-8 text
-- (so no field can bleed into the next):
--    1. the literal 'ledger-event-v1'
--    2. event id, lowercase hyphenated UUID
--    3. organization id, lowercase hyphenated UUID
--    4. stream id
--    5. stream version, decimal
--    6. event type
--    7. schema version, decimal
--    8. occurred at, UTC, 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (microseconds)
--    9. data, as PostgreSQL prints jsonb (keys sorted by length then bytewise, ', ' and ': ' separators)
--   10. metadata, printed the same way
-- The first stream event's previous hash is 32 zero bytes. This definition must never change: a new one
-- gets a new tag in field 1 and a new function.
CREATE FUNCTION ledger.event_canonical_bytes(
    p_event_id uuid, p_organization_id uuid, p_stream_id text, p_version bigint, p_type text,
    p_schema_version integer, p_data jsonb, p_metadata jsonb, p_occurred_at timestamptz
) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT convert_to(string_agg(octet_length(field)::text || ':' || field, '' ORDER BY ordinal), 'UTF8')
    FROM unnest(ARRAY[
        'ledger-event-v1',
        p_event_id::text,
        p_organization_id::text,
        p_stream_id,
        p_version::text,
        p_type,
        p_schema_version::text,
        to_char(p_occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        p_data::text,
        p_metadata::text
    ]) WITH ORDINALITY AS fields(field, ordinal)
$$;

CREATE FUNCTION ledger.genesis_hash() RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT decode(repeat('00', 32), 'hex') $$;

GRANT EXECUTE ON FUNCTION ledger.event_canonical_bytes(uuid, uuid, text, bigint, text, integer, jsonb, jsonb, timestamptz)
    TO ledger_service;
