-- Events of one stream with a version above p_after_version, oldest first.
CREATE OR REPLACE FUNCTION ledger.read_stream(
    p_organization_id uuid, p_stream_id text, p_after_version bigint, p_batch_size integer
) RETURNS SETOF ledger.events
LANGUAGE sql STABLE AS $$
    SELECT * FROM ledger.events
    WHERE organization_id = p_organization_id AND stream_id = p_stream_id AND version > p_after_version
    ORDER BY version
    LIMIT p_batch_size
$$;
