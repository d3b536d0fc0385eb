-- Persisted, resumable load-balancer flows (design: docs/design/load-balancing.md
-- §7). A flow is an ordered list of steps, each with an undo, driven by
-- whichever server holds its lease. A finished flow's row is deleted in the
-- same transaction as its final writes, so the table holds only work in
-- progress. Kept textually identical to the SQLite migration of the
-- same number.

CREATE TABLE lb_flows (
    id TEXT PRIMARY KEY,
    -- Which flow definition runs it (`lb_create`, `member_batch`, ...).
    kind TEXT NOT NULL,
    -- The load balancer it works on; NULL for amphora-only flows.
    lb_id TEXT,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    -- 'forward' or 'revert'.
    direction TEXT NOT NULL,
    -- Forward: index of the next step to execute. Revert: index of the next
    -- step to undo (-1 once every undo is done).
    cursor BIGINT NOT NULL,
    -- JSON: the step names, fixed when the flow is created.
    steps TEXT NOT NULL,
    -- JSON: what the steps need that the database will not answer later.
    input TEXT NOT NULL,
    -- Transient failures of the current step so far.
    attempt BIGINT NOT NULL,
    last_error TEXT,
    -- '' when nobody holds it. `lease_expires` is in unix milliseconds:
    -- 0 for a new flow (any worker may claim it at once), in the future
    -- while held or while a retry waits out its backoff.
    lease_holder TEXT NOT NULL,
    lease_expires BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- At most one flow per load balancer. The API's compare-and-set already
-- guarantees it; the index turns a bug into an error. NULLs do not collide.
CREATE UNIQUE INDEX lb_flows_one_per_lb ON lb_flows (lb_id);
CREATE INDEX lb_flows_due ON lb_flows (lease_expires);

-- What each completed step produced (JSON), for later steps and its undo.
-- Written in the same transaction that advances the flow's cursor.
CREATE TABLE lb_flow_steps (
    flow_id TEXT NOT NULL REFERENCES lb_flows (id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    output TEXT NOT NULL,
    done_at TEXT NOT NULL,
    PRIMARY KEY (flow_id, idx)
);
