-- When each amphora last sent a heartbeat whose listener count matched
-- (upstream's amphora_health). `busy` marks an amphora the health manager
-- is failing over. The row goes with its amphora.
CREATE TABLE lb_amphora_health (
    amphora_id TEXT PRIMARY KEY REFERENCES lb_amphorae (id) ON DELETE CASCADE,
    last_update TEXT NOT NULL,
    busy BOOLEAN NOT NULL DEFAULT FALSE
);
