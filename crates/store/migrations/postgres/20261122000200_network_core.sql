-- Networks, subnets, ports and their allocations (PostgreSQL twin of the SQLite migration).

CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    admin_state_up BOOLEAN NOT NULL,
    shared BOOLEAN NOT NULL,
    router_external BOOLEAN NOT NULL,
    mtu BIGINT NOT NULL,
    status TEXT NOT NULL,
    network_type TEXT NOT NULL,
    physical_network TEXT,
    segmentation_id BIGINT,
    availability_zone_hints TEXT NOT NULL DEFAULT '[]',
    port_security_enabled BOOLEAN NOT NULL,
    dns_domain TEXT NOT NULL DEFAULT '',
    revision_number BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX networks_project ON networks (project_id);
-- One VLAN/VNI per (type, physnet); one flat network per physnet.
CREATE UNIQUE INDEX networks_segment ON networks (network_type, COALESCE(physical_network, ''), segmentation_id)
    WHERE segmentation_id IS NOT NULL;
CREATE UNIQUE INDEX networks_flat ON networks (physical_network) WHERE network_type = 'flat';

CREATE TABLE subnets (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    network_id TEXT NOT NULL REFERENCES networks (id),
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    ip_version BIGINT NOT NULL,
    cidr TEXT NOT NULL,
    gateway_ip TEXT,
    dns_nameservers TEXT NOT NULL DEFAULT '[]',
    host_routes TEXT NOT NULL DEFAULT '[]',
    enable_dhcp BOOLEAN NOT NULL,
    ipv6_ra_mode TEXT,
    ipv6_address_mode TEXT,
    dns_publish_fixed_ip BOOLEAN NOT NULL DEFAULT FALSE,
    revision_number BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX subnets_network ON subnets (network_id);

-- Pools carry integer offsets from the subnet's network address so the
-- allocation query can do arithmetic on them.
CREATE TABLE subnet_allocation_pools (
    subnet_id TEXT NOT NULL REFERENCES subnets (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    first_ip TEXT NOT NULL,
    last_ip TEXT NOT NULL,
    first_offset BIGINT NOT NULL,
    last_offset BIGINT NOT NULL,
    PRIMARY KEY (subnet_id, position)
);

CREATE TABLE ports (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    network_id TEXT NOT NULL REFERENCES networks (id),
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    admin_state_up BOOLEAN NOT NULL,
    mac_address TEXT NOT NULL,
    device_id TEXT NOT NULL DEFAULT '',
    device_owner TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    binding_host_id TEXT NOT NULL DEFAULT '',
    binding_vif_type TEXT NOT NULL,
    binding_vnic_type TEXT NOT NULL,
    binding_profile TEXT NOT NULL DEFAULT '{}',
    binding_vif_details TEXT NOT NULL DEFAULT '{}',
    port_security_enabled BOOLEAN NOT NULL,
    allowed_address_pairs TEXT NOT NULL DEFAULT '[]',
    dns_name TEXT NOT NULL DEFAULT '',
    revision_number BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX ports_mac ON ports (network_id, mac_address);
CREATE INDEX ports_project ON ports (project_id);
CREATE INDEX ports_device ON ports (device_id);

-- The primary key is what makes a duplicate address impossible, whichever
-- API server allocates it.
CREATE TABLE ip_allocations (
    subnet_id TEXT NOT NULL REFERENCES subnets (id),
    ip_address TEXT NOT NULL,
    ip_offset BIGINT,
    port_id TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    network_id TEXT NOT NULL,
    PRIMARY KEY (subnet_id, ip_address)
);
CREATE UNIQUE INDEX ip_allocations_offset ON ip_allocations (subnet_id, ip_offset);
CREATE INDEX ip_allocations_port ON ip_allocations (port_id);

CREATE TABLE port_security_groups (
    port_id TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    security_group_id TEXT NOT NULL,
    PRIMARY KEY (port_id, security_group_id)
);

CREATE TABLE tags (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, tag)
);
