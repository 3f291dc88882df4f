-- History by actor (GET /v1/events?actor_type=…, ?actor_id=…) through an index, for the service's role too.
--
-- The indexes of Schema/034 on (metadata ->> 'actor_…') were never used by the service (EXPLAIN as
-- ledger_service): under row-level security PostgreSQL applies a condition ahead of a row's policy only when
-- every function in it is leakproof, and ->> is not, so an actor's page walked the organization's feed and
-- filtered (reading about 50 events per event shown for one actor in fifty, more for a rarer one).
-- ledger.event_actor is declared LEAKPROOF (its current definition is functions/event_actor.sql, applied after
-- the migrations) and, being PL/pgSQL, is not inlined back into ->>, so a condition on it is an index condition.
CREATE FUNCTION ledger.event_actor(metadata jsonb, member text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$ BEGIN RETURN metadata ->> member; END $$;

CREATE INDEX events_organization_actor_type ON ledger.events
    (organization_id, ledger.event_actor(metadata, 'actor_type'), transaction_id, position);
CREATE INDEX events_organization_actor_id ON ledger.events
    (organization_id, ledger.event_actor(metadata, 'actor_id'), transaction_id, position);
DROP INDEX ledger.events_organization_actor_type_feed, ledger.events_organization_actor_id_feed;
