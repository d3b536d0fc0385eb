-- The key manager (Barbican v1 subset): secrets, containers and the
-- secrets a container names. Same as the SQLite migration of the same
-- number but for the payload's type (BYTEA here, BLOB there).
--
-- Timestamps are naive UTC text with six fractional digits
-- ('2026-12-03T10:11:12.123456'), so comparing them as text compares the
-- instants (the API renders them as Python's isoformat does).
-- A secret's payload is NULL until stored (two-step create); content_type
-- is then the normalised type it was stored as.

CREATE TABLE km_secrets (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    creator_id TEXT NOT NULL,
    name TEXT,
    secret_type TEXT NOT NULL,
    algorithm TEXT,
    bit_length BIGINT,
    mode TEXT,
    expiration TEXT,
    payload BYTEA,
    content_type TEXT,
    content_encoding TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX km_secrets_project ON km_secrets (project_id, created_at);

CREATE TABLE km_containers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    creator_id TEXT NOT NULL,
    name TEXT,
    container_type TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX km_containers_project ON km_containers (project_id, created_at);

-- Deleting a secret takes it out of every container (upstream deletes
-- its container_secret rows with it); deleting a container leaves its
-- secrets alone.
CREATE TABLE km_container_secrets (
    container_id TEXT NOT NULL REFERENCES km_containers (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    secret_id TEXT NOT NULL REFERENCES km_secrets (id) ON DELETE CASCADE,
    name TEXT,
    PRIMARY KEY (container_id, position)
);
CREATE UNIQUE INDEX km_container_secrets_secret ON km_container_secrets (container_id, secret_id);
CREATE INDEX km_container_secrets_by_secret ON km_container_secrets (secret_id);
