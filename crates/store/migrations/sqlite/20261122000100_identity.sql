-- Identity (Keystone v3 subset). Ids are 32-hex UUIDs except the built-in
-- domain "default"; timestamps are RFC 3339 text; tags/extra are JSON text.

CREATE TABLE identity_domains (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    tags        TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL
);

CREATE TABLE identity_projects (
    id          TEXT PRIMARY KEY,
    domain_id   TEXT NOT NULL REFERENCES identity_domains (id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    -- NULL for a top-level project (Keystone then reports the domain id).
    parent_id   TEXT,
    tags        TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE identity_users (
    id                 TEXT PRIMARY KEY,
    domain_id          TEXT NOT NULL REFERENCES identity_domains (id),
    name               TEXT NOT NULL,
    enabled            BOOLEAN NOT NULL DEFAULT TRUE,
    -- argon2 PHC string; NULL means password authentication is impossible.
    password_hash      TEXT,
    default_project_id TEXT,
    -- Free-form attributes Keystone keeps (email, description, ...).
    extra              TEXT NOT NULL DEFAULT '{}',
    -- Tokens issued before this unix time are invalid (password changes).
    revoked_before     BIGINT NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE identity_roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    -- '' for global roles so that UNIQUE applies to them too.
    domain_id   TEXT NOT NULL DEFAULT '',
    description TEXT,
    created_at  TEXT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE identity_implied_roles (
    prior_role_id   TEXT NOT NULL REFERENCES identity_roles (id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES identity_roles (id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);

-- target_kind is 'project', 'domain' or 'system' (target_id 'all').
CREATE TABLE identity_assignments (
    user_id     TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    role_id     TEXT NOT NULL REFERENCES identity_roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, target_kind, target_id, role_id)
);
CREATE INDEX identity_assignments_target ON identity_assignments (target_kind, target_id);

-- Revoked tokens by audit id; rows may be pruned once expires_at has passed.
CREATE TABLE identity_revoked_tokens (
    audit_id   TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX identity_revoked_tokens_expiry ON identity_revoked_tokens (expires_at);

CREATE TABLE identity_regions (
    id          TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT ''
);
