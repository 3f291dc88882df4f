-- Scoring rulesets and re-scoring runs (SPEC §8).
--
-- A ruleset version is immutable: once written it is never updated or deleted (a changed ruleset is the next
-- version of its name). `rules` is the JSON text as submitted, so the hash can be checked against the bytes kept.
CREATE TABLE ledger.ruleset_versions (
    organization_id uuid NOT NULL,
    livemode boolean NOT NULL,
    name text NOT NULL,
    version integer NOT NULL CHECK (version >= 1),
    description text,
    rules text NOT NULL,
    hash text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, livemode, name, version)
);

CREATE FUNCTION ledger.refuse_ruleset_version_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.ruleset_versions is append-only: % refused', TG_OP
        USING ERRCODE = 'LD002', HINT = 'Create the next version instead.';
END;
$$;

CREATE TRIGGER ruleset_versions_refuse_update_delete
    BEFORE UPDATE OR DELETE ON ledger.ruleset_versions
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_ruleset_version_change();

CREATE TRIGGER ruleset_versions_refuse_truncate
    BEFORE TRUNCATE ON ledger.ruleset_versions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_ruleset_version_change();

-- A run evaluates a ruleset version over the orders a filter selects, a batch per transaction: the cursor
-- (the last order's created_at and id) moves in the transaction that writes the batch's changes, so a run
-- killed mid-way goes on from its last batch. A worker holds a run by its row lock (FOR UPDATE SKIP LOCKED)
-- while it works on a batch; a worker that dies releases it with its connection.
-- apply_status: NULL (not asked), 'pending' (being applied), 'applied'.
CREATE TABLE ledger.rescoring_runs (
    organization_id uuid NOT NULL,
    livemode boolean NOT NULL,
    id text NOT NULL,
    ruleset_name text NOT NULL,
    ruleset_version integer NOT NULL,
    ruleset_hash text NOT NULL,
    evaluator_version text NOT NULL,
    filter jsonb NOT NULL,
    as_of timestamptz,
    -- The time the rules see as `now`: the run's creation, or as_of.
    evaluated_at timestamptz NOT NULL,
    dry_run boolean NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'canceled')),
    apply_status text CHECK (apply_status IN ('pending', 'applied')),
    orders_total bigint,
    orders_evaluated bigint NOT NULL DEFAULT 0,
    orders_changed bigint NOT NULL DEFAULT 0,
    errors bigint NOT NULL DEFAULT 0,
    orders_applied bigint NOT NULL DEFAULT 0,
    conflicts bigint NOT NULL DEFAULT 0,
    cursor_created_at timestamptz,
    cursor_id text,
    -- Document fields the rules read that orders lacked: {"path": orders}.
    missing_fields jsonb NOT NULL DEFAULT '{}',
    failure text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    completed_at timestamptz,
    applied_at timestamptz,
    PRIMARY KEY (organization_id, id)
);

CREATE INDEX rescoring_runs_list ON ledger.rescoring_runs (organization_id, livemode, created_at DESC, id DESC);
CREATE INDEX rescoring_runs_due ON ledger.rescoring_runs (created_at)
    WHERE status IN ('queued', 'running') OR apply_status = 'pending';

-- One row per order and score the run would change, or whose rule failed (error_type set). stream_version is
-- the order's version when it was evaluated: apply refuses an order that has moved on since.
CREATE TABLE ledger.rescoring_changes (
    organization_id uuid NOT NULL,
    livemode boolean NOT NULL,
    run_id text NOT NULL,
    verification_id text NOT NULL,
    score_name text NOT NULL,
    stream_version bigint NOT NULL,
    old_value jsonb,
    new_value jsonb,
    error_type text,
    error text,
    -- Whether the order's postback would receive ORDER_CUSTOM_SCORE_CHANGE, for the webhook preview.
    postback boolean NOT NULL,
    applied_at timestamptz,
    conflict boolean NOT NULL DEFAULT false,
    PRIMARY KEY (organization_id, run_id, verification_id, score_name)
);

GRANT SELECT, INSERT ON ledger.ruleset_versions TO ledger_service;
GRANT SELECT, INSERT, UPDATE ON ledger.rescoring_runs, ledger.rescoring_changes TO ledger_service;

DO $$
DECLARE
    tenant_table text;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY['ruleset_versions', 'rescoring_runs', 'rescoring_changes'] LOOP
        EXECUTE format('ALTER TABLE ledger.%I ENABLE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format('CREATE POLICY tenant ON ledger.%I TO ledger_service USING ('
            || 'organization_id = (SELECT ledger.scope_organization_id()) '
            || 'AND livemode = coalesce((SELECT ledger.scope_livemode()), livemode) OR (SELECT ledger.scope_is_system()))', tenant_table);
    END LOOP;
END $$;
