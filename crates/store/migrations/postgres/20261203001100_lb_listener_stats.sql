-- Traffic counters per listener and amphora, as the amphorae report them
-- in heartbeats (part three's stats receiver writes here; the API sums).
CREATE TABLE lb_listener_stats (
    listener_id TEXT NOT NULL REFERENCES lb_listeners (id) ON DELETE CASCADE,
    amphora_id TEXT NOT NULL,
    bytes_in BIGINT NOT NULL DEFAULT 0,
    bytes_out BIGINT NOT NULL DEFAULT 0,
    active_connections BIGINT NOT NULL DEFAULT 0,
    total_connections BIGINT NOT NULL DEFAULT 0,
    request_errors BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (listener_id, amphora_id)
);
