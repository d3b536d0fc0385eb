-- The Octavia v2 model (design: docs/design/load-balancing.md §1.2).
-- Kept textually identical to the PostgreSQL migration of the same number.
--
-- Everything below a load balancer goes with it (ON DELETE CASCADE).
-- References that must refuse a delete while in use (an L7 redirect's
-- pool, a flavor's profile, an LB's flavor or zone) are NO ACTION rather
-- than RESTRICT: both refuse, but NO ACTION waits for the cascades of the
-- same statement. (PostgreSQL may still check a pool before the cascade
-- reaches the policy, so the store deletes an LB's listeners first.)
-- Lists are JSON text; timestamps are the API's text, whole seconds.

CREATE TABLE lb_flavor_profiles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    flavor_data TEXT NOT NULL
);

CREATE TABLE lb_flavors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    enabled BOOLEAN NOT NULL,
    flavor_profile_id TEXT NOT NULL REFERENCES lb_flavor_profiles (id)
);
CREATE UNIQUE INDEX lb_flavors_name ON lb_flavors (name);
CREATE INDEX lb_flavors_profile ON lb_flavors (flavor_profile_id);

CREATE TABLE lb_az_profiles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    availability_zone_data TEXT NOT NULL
);

CREATE TABLE lb_availability_zones (
    name TEXT PRIMARY KEY,
    description TEXT,
    enabled BOOLEAN NOT NULL,
    availability_zone_profile_id TEXT NOT NULL REFERENCES lb_az_profiles (id)
);
CREATE INDEX lb_availability_zones_profile ON lb_availability_zones (availability_zone_profile_id);

CREATE TABLE lb_load_balancers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    enabled BOOLEAN NOT NULL,
    provisioning_status TEXT NOT NULL,
    operating_status TEXT NOT NULL,
    topology TEXT NOT NULL,
    provider TEXT,
    flavor_id TEXT REFERENCES lb_flavors (id),
    availability_zone TEXT REFERENCES lb_availability_zones (name),
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX lb_load_balancers_project ON lb_load_balancers (project_id);
CREATE INDEX lb_load_balancers_flavor ON lb_load_balancers (flavor_id);
CREATE INDEX lb_load_balancers_az ON lb_load_balancers (availability_zone);

CREATE TABLE lb_vips (
    load_balancer_id TEXT PRIMARY KEY REFERENCES lb_load_balancers (id) ON DELETE CASCADE,
    ip_address TEXT,
    port_id TEXT,
    subnet_id TEXT,
    network_id TEXT,
    qos_policy_id TEXT,
    octavia_owned BOOLEAN NOT NULL,
    vnic_type TEXT NOT NULL,
    -- JSON list of security group ids.
    sg_ids TEXT NOT NULL
);

CREATE TABLE lb_additional_vips (
    load_balancer_id TEXT NOT NULL REFERENCES lb_load_balancers (id) ON DELETE CASCADE,
    subnet_id TEXT NOT NULL,
    ip_address TEXT,
    port_id TEXT,
    -- Request order, so the list reads back as given.
    position BIGINT NOT NULL,
    PRIMARY KEY (load_balancer_id, subnet_id)
);

CREATE TABLE lb_pools (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    load_balancer_id TEXT NOT NULL REFERENCES lb_load_balancers (id) ON DELETE CASCADE,
    name TEXT,
    description TEXT,
    enabled BOOLEAN NOT NULL,
    provisioning_status TEXT NOT NULL,
    operating_status TEXT NOT NULL,
    protocol TEXT NOT NULL,
    lb_algorithm TEXT NOT NULL,
    -- Session persistence, inline: all NULL when the pool has none.
    sp_type TEXT,
    sp_cookie_name TEXT,
    sp_timeout BIGINT,
    sp_granularity TEXT,
    tls_enabled BOOLEAN NOT NULL,
    tls_certificate_id TEXT,
    ca_tls_certificate_id TEXT,
    crl_container_id TEXT,
    tls_ciphers TEXT,
    -- JSON lists, NULL when unset.
    tls_versions TEXT,
    alpn_protocols TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX lb_pools_project ON lb_pools (project_id);
CREATE INDEX lb_pools_lb ON lb_pools (load_balancer_id);

CREATE TABLE lb_listeners (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    load_balancer_id TEXT NOT NULL REFERENCES lb_load_balancers (id) ON DELETE CASCADE,
    name TEXT,
    description TEXT,
    enabled BOOLEAN NOT NULL,
    provisioning_status TEXT NOT NULL,
    operating_status TEXT NOT NULL,
    protocol TEXT NOT NULL,
    protocol_port BIGINT NOT NULL,
    connection_limit BIGINT NOT NULL,
    default_pool_id TEXT REFERENCES lb_pools (id) ON DELETE SET NULL,
    tls_certificate_id TEXT,
    client_ca_tls_certificate_id TEXT,
    client_authentication TEXT NOT NULL,
    client_crl_container_id TEXT,
    -- JSON object: header name -> value.
    insert_headers TEXT NOT NULL,
    timeout_client_data BIGINT NOT NULL,
    timeout_member_connect BIGINT NOT NULL,
    timeout_member_data BIGINT NOT NULL,
    timeout_tcp_inspect BIGINT NOT NULL,
    -- JSON lists; allowed_cidrs '[]' when none, the TLS ones NULL when unset.
    allowed_cidrs TEXT NOT NULL,
    tls_ciphers TEXT,
    tls_versions TEXT,
    alpn_protocols TEXT,
    hsts_max_age BIGINT,
    hsts_include_subdomains BOOLEAN NOT NULL,
    hsts_preload BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX lb_listeners_project ON lb_listeners (project_id);
CREATE INDEX lb_listeners_default_pool ON lb_listeners (default_pool_id);
-- The API refuses a duplicate within one L4 family (TCP vs HTTP on one
-- port) before writing; this index is the race-proof backstop for the
-- exact (protocol, port) pair.
CREATE UNIQUE INDEX lb_listeners_port ON lb_listeners (load_balancer_id, protocol, protocol_port);

CREATE TABLE lb_listener_sni (
    listener_id TEXT NOT NULL REFERENCES lb_listeners (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    tls_container_id TEXT NOT NULL,
    PRIMARY KEY (listener_id, position)
);

CREATE TABLE lb_members (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    pool_id TEXT NOT NULL REFERENCES lb_pools (id) ON DELETE CASCADE,
    name TEXT,
    enabled BOOLEAN NOT NULL,
    provisioning_status TEXT NOT NULL,
    operating_status TEXT NOT NULL,
    ip_address TEXT NOT NULL,
    protocol_port BIGINT NOT NULL,
    weight BIGINT NOT NULL,
    backup BOOLEAN NOT NULL,
    subnet_id TEXT,
    monitor_address TEXT,
    monitor_port BIGINT,
    vnic_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX lb_members_project ON lb_members (project_id);
CREATE UNIQUE INDEX lb_members_address ON lb_members (pool_id, ip_address, protocol_port);

CREATE TABLE lb_health_monitors (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    pool_id TEXT NOT NULL REFERENCES lb_pools (id) ON DELETE CASCADE,
    name TEXT,
    enabled BOOLEAN NOT NULL,
    provisioning_status TEXT NOT NULL,
    operating_status TEXT NOT NULL,
    type TEXT NOT NULL,
    delay BIGINT NOT NULL,
    timeout BIGINT NOT NULL,
    rise_threshold BIGINT NOT NULL,
    fall_threshold BIGINT NOT NULL,
    http_method TEXT,
    url_path TEXT,
    expected_codes TEXT,
    http_version DOUBLE PRECISION,
    domain_name TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX lb_health_monitors_project ON lb_health_monitors (project_id);
CREATE UNIQUE INDEX lb_health_monitors_pool ON lb_health_monitors (pool_id);

CREATE TABLE lb_l7policies (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    listener_id TEXT NOT NULL REFERENCES lb_listeners (id) ON DELETE CASCADE,
    name TEXT,
    description TEXT,
    enabled BOOLEAN NOT NULL,
    provisioning_status TEXT NOT NULL,
    operating_status TEXT NOT NULL,
    action TEXT NOT NULL,
    redirect_pool_id TEXT REFERENCES lb_pools (id),
    redirect_url TEXT,
    redirect_prefix TEXT,
    redirect_http_code BIGINT,
    -- 1..n per listener, compacted by the API in the writing transaction.
    position BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX lb_l7policies_project ON lb_l7policies (project_id);
CREATE INDEX lb_l7policies_listener ON lb_l7policies (listener_id, position);
CREATE INDEX lb_l7policies_redirect_pool ON lb_l7policies (redirect_pool_id);

CREATE TABLE lb_l7rules (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    l7policy_id TEXT NOT NULL REFERENCES lb_l7policies (id) ON DELETE CASCADE,
    enabled BOOLEAN NOT NULL,
    provisioning_status TEXT NOT NULL,
    operating_status TEXT NOT NULL,
    type TEXT NOT NULL,
    compare_type TEXT NOT NULL,
    key TEXT,
    value TEXT NOT NULL,
    invert BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX lb_l7rules_project ON lb_l7rules (project_id);
CREATE INDEX lb_l7rules_policy ON lb_l7rules (l7policy_id);

-- Tags of load balancers, listeners, pools, members, health monitors, L7
-- policies and rules. Not the Network API's `tags` table: a cascade delete
-- must leave nothing behind in `lb_` tables, and the two APIs' resource
-- types stay apart.
CREATE TABLE lb_tags (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, tag)
);

-- NULL: the deployment's default.
CREATE TABLE lb_quotas (
    project_id TEXT PRIMARY KEY,
    load_balancer BIGINT,
    listener BIGINT,
    pool BIGINT,
    health_monitor BIGINT,
    member BIGINT,
    l7policy BIGINT,
    l7rule BIGINT
);

CREATE TABLE lb_amphorae (
    id TEXT PRIMARY KEY,
    load_balancer_id TEXT REFERENCES lb_load_balancers (id) ON DELETE SET NULL,
    compute_id TEXT,
    lb_network_ip TEXT,
    vrrp_ip TEXT,
    ha_ip TEXT,
    vrrp_port_id TEXT,
    ha_port_id TEXT,
    cert_expiration TEXT,
    cert_busy BOOLEAN NOT NULL,
    role TEXT,
    status TEXT NOT NULL,
    vrrp_interface TEXT,
    vrrp_id BIGINT,
    vrrp_priority BIGINT,
    cached_zone TEXT,
    image_id TEXT,
    compute_flavor TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX lb_amphorae_lb ON lb_amphorae (load_balancer_id);
