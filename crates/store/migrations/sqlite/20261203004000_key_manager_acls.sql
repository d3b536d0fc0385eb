-- Key manager ACLs (Barbican's secret_acls / container_acls and their
-- users). Same on SQLite and PostgreSQL.
--
-- One row per object and operation (upstream's API only takes 'read');
-- no row means the default ACL (project access, no users). An ACL and
-- its users go with their secret or container (upstream deletes them
-- with it). Users keep the order first given (`position`).

CREATE TABLE km_secret_acls (
    secret_id TEXT NOT NULL REFERENCES km_secrets (id) ON DELETE CASCADE,
    operation TEXT NOT NULL,
    project_access BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (secret_id, operation)
);

CREATE TABLE km_secret_acl_users (
    secret_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    user_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (secret_id, operation, user_id),
    FOREIGN KEY (secret_id, operation)
        REFERENCES km_secret_acls (secret_id, operation) ON DELETE CASCADE
);
-- Listing the secrets shared with a user (`acl_only`).
CREATE INDEX km_secret_acl_users_user ON km_secret_acl_users (user_id);

CREATE TABLE km_container_acls (
    container_id TEXT NOT NULL REFERENCES km_containers (id) ON DELETE CASCADE,
    operation TEXT NOT NULL,
    project_access BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (container_id, operation)
);

CREATE TABLE km_container_acl_users (
    container_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    user_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (container_id, operation, user_id),
    FOREIGN KEY (container_id, operation)
        REFERENCES km_container_acls (container_id, operation) ON DELETE CASCADE
);
