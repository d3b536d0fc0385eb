-- Security groups and their rules. Kept textually identical to the
-- PostgreSQL migration of the same number wherever the dialects allow.

CREATE TABLE security_groups (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    stateful BOOLEAN NOT NULL,
    is_default BOOLEAN NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX security_groups_project ON security_groups (project_id);
-- One default group per project, whichever API server creates it first.
CREATE UNIQUE INDEX security_groups_default ON security_groups (project_id) WHERE is_default;

-- rule_key is the rule in Neutron's comparison form (protocol names and
-- numbers unified, "any" prefixes dropped); the unique index is what makes
-- a duplicate rule impossible, even from two servers at once.
CREATE TABLE security_group_rules (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    security_group_id TEXT NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
    direction TEXT NOT NULL,
    ethertype TEXT NOT NULL,
    protocol TEXT,
    port_range_min BIGINT,
    port_range_max BIGINT,
    remote_ip_prefix TEXT,
    remote_group_id TEXT REFERENCES security_groups (id) ON DELETE CASCADE,
    description TEXT,
    rule_key TEXT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX security_group_rules_key ON security_group_rules (security_group_id, rule_key);
CREATE INDEX security_group_rules_remote ON security_group_rules (remote_group_id);

CREATE INDEX port_security_groups_group ON port_security_groups (security_group_id);
