-- Raises LD004 when the entity's data key (Schema/038) has been destroyed: sent in the transaction of every command
-- that seals under a data key kept in memory (PersonalDataVault.keyForWriting), so that an instance that kept the
-- key never writes under it once another instance erased the entity. The entity id is not in the message: errors
-- are logged.
CREATE OR REPLACE FUNCTION ledger.require_data_key(p_organization_id uuid, p_livemode boolean, p_entity_id text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM ledger.data_keys WHERE organization_id = p_organization_id AND livemode = p_livemode
                   AND entity_id = p_entity_id AND wrapped_key IS NOT NULL) THEN
        RAISE EXCEPTION 'the data key this command kept was destroyed meanwhile (the entity was erased)' USING ERRCODE = 'LD004';
    END IF;
END $$;
