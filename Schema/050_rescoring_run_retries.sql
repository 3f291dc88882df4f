-- A run whose batch fails (the database refusing a statement, a data key that cannot be read) is tried again a
-- bounded number of times, each after a longer pause (retry_at), from its checkpoint; its last error stays on the
-- run for its owner to see. Past the last attempt the run is failed (status, or apply_status while applying) with
-- that error, and can be resumed from its checkpoint on request.
ALTER TABLE ledger.rescoring_runs
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text,
    ADD COLUMN retry_at timestamptz,
    DROP CONSTRAINT rescoring_runs_apply_status_check,
    ADD CONSTRAINT rescoring_runs_apply_status_check CHECK (apply_status IN ('pending', 'applied', 'failed'));
