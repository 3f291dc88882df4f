-- Stores the data key that a stream's first command (an invitation) sealed its entity's personal data under, sent with
-- that command's writes (PersonalDataVault.keyForWriting, offering) instead of in a round trip of its own, so that the
-- command is committed in a batch like the others. Raises LD005 when the entity has a key already (another command
-- stored one, or an erasure destroyed it): what the command sealed is under a key nobody keeps, so it runs again under
-- the stored one. The entity id is not in the message: errors are logged.
CREATE OR REPLACE FUNCTION ledger.offer_data_key(p_organization_id uuid, p_livemode boolean, p_entity_id text, p_wrapped_key bytea)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger.data_keys (organization_id, livemode, entity_id, wrapped_key)
    VALUES (p_organization_id, p_livemode, p_entity_id, p_wrapped_key)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the entity has a data key already' USING ERRCODE = 'LD005';
    END IF;
END $$;
