-- Routers, floating IPs and network RBAC policies.

CREATE TABLE routers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    admin_state_up BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    gw_network_id TEXT,
    gw_port_id TEXT,
    enable_snat BOOLEAN NOT NULL,
    routes TEXT NOT NULL DEFAULT '[]',
    availability_zone_hints TEXT NOT NULL DEFAULT '[]',
    revision_number BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX routers_project ON routers (project_id);

CREATE TABLE floatingips (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    floating_network_id TEXT NOT NULL REFERENCES networks (id),
    floating_ip_address TEXT NOT NULL,
    floating_port_id TEXT NOT NULL,
    port_id TEXT,
    fixed_ip_address TEXT,
    router_id TEXT,
    status TEXT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- A fixed address carries at most one floating IP.
CREATE UNIQUE INDEX floatingips_fixed ON floatingips (port_id, fixed_ip_address) WHERE port_id IS NOT NULL;
CREATE INDEX floatingips_router ON floatingips (router_id);

CREATE TABLE network_rbacs (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    object_id TEXT NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    target_project TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX network_rbacs_unique ON network_rbacs (object_id, action, target_project);
