-- One field of the canonical bytes (event_canonical_bytes.sql): its UTF-8 byte length in decimal, a colon, its text.
CREATE OR REPLACE FUNCTION ledger.length_prefixed(p_field text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT octet_length(p_field)::text || ':' || p_field $$;
