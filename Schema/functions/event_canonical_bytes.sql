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
-- The first event of a stream chains from 32 zero bytes. This definition must never change: a new one gets
-- a new tag in field 1 and a new function.
--
-- Both functions are single expressions, so the planner inlines them into the statements that call them.
CREATE OR REPLACE FUNCTION ledger.event_canonical_bytes(
    p_event_id uuid, p_organization_id uuid, p_stream_id text, p_version bigint, p_type text,
    p_schema_version integer, p_data jsonb, p_metadata jsonb, p_occurred_at timestamptz
) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT convert_to(
        ledger.length_prefixed('ledger-event-v1')
        || ledger.length_prefixed(p_event_id::text)
        || ledger.length_prefixed(p_organization_id::text)
        || ledger.length_prefixed(p_stream_id)
        || ledger.length_prefixed(p_version::text)
        || ledger.length_prefixed(p_type)
        || ledger.length_prefixed(p_schema_version::text)
        || ledger.length_prefixed(to_char(p_occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || ledger.length_prefixed(p_data::text)
        || ledger.length_prefixed(p_metadata::text),
        'UTF8')
$$;
