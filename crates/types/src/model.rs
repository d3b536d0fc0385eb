//! Records of the network model as the store returns them. The API crate
//! renders them into Neutron's JSON shapes.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub shared: bool,
    pub router_external: bool,
    pub mtu: i64,
    pub status: String,
    pub network_type: String,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<i64>,
    pub availability_zone_hints: Vec<String>,
    pub port_security_enabled: bool,
    pub dns_domain: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
    pub subnets: Vec<String>,
    /// RBAC grants on this network: who may see or use it, and how.
    pub access: Vec<NetworkAccess>,
}

pub const ACCESS_AS_SHARED: &str = "access_as_shared";
pub const ACCESS_AS_EXTERNAL: &str = "access_as_external";

/// One RBAC grant: `action` for `target` (a project id or `*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAccess {
    pub action: String,
    pub target: String,
}

impl Network {
    /// Whether `project` may see this network: it owns it or a grant
    /// names it (or everyone).
    pub fn visible_to(&self, project: &str) -> bool {
        self.project_id == project
            || self
                .access
                .iter()
                .any(|a| a.target == "*" || a.target == project)
    }

    /// Neutron's per-caller `shared`: shared with everyone or with `project`.
    pub fn shared_for(&self, project: &str) -> bool {
        self.access
            .iter()
            .any(|a| a.action == ACCESS_AS_SHARED && (a.target == "*" || a.target == project))
    }

    /// Whether `project` may attach routers and floating IPs to it.
    pub fn external_for(&self, project: &str) -> bool {
        self.router_external
            && (self.project_id == project
                || self.access.iter().any(|a| {
                    a.action == ACCESS_AS_EXTERNAL && (a.target == "*" || a.target == project)
                }))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationPool {
    pub start: String,
    pub end: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRoute {
    pub destination: String,
    pub nexthop: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub ip_version: i64,
    pub cidr: String,
    pub gateway_ip: Option<String>,
    pub allocation_pools: Vec<AllocationPool>,
    pub dns_nameservers: Vec<String>,
    pub host_routes: Vec<HostRoute>,
    pub enable_dhcp: bool,
    pub ipv6_ra_mode: Option<String>,
    pub ipv6_address_mode: Option<String>,
    pub dns_publish_fixed_ip: bool,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPair {
    pub ip_address: String,
    pub mac_address: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Port {
    pub id: String,
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub mac_address: String,
    pub fixed_ips: Vec<FixedIp>,
    pub device_id: String,
    pub device_owner: String,
    pub status: String,
    pub binding_host_id: String,
    pub binding_vif_type: String,
    pub binding_vnic_type: String,
    pub binding_profile: serde_json::Value,
    pub binding_vif_details: serde_json::Value,
    pub port_security_enabled: bool,
    pub security_groups: Vec<String>,
    pub allowed_address_pairs: Vec<AddressPair>,
    pub dns_name: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RbacPolicy {
    pub id: String,
    pub project_id: String,
    pub object_id: String,
    pub action: String,
    pub target_project: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub destination: String,
    pub nexthop: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Router {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub status: String,
    pub gw_network_id: Option<String>,
    pub gw_port_id: Option<String>,
    pub enable_snat: bool,
    pub routes: Vec<Route>,
    pub availability_zone_hints: Vec<String>,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
    /// Addresses of the gateway port (filled in by the store).
    pub gw_fixed_ips: Vec<FixedIp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatingIp {
    pub id: String,
    pub project_id: String,
    pub description: String,
    pub floating_network_id: String,
    pub floating_ip_address: String,
    pub floating_port_id: String,
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<String>,
    pub router_id: Option<String>,
    pub status: String,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
}

/// A security group with its rules, as the store returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub stateful: bool,
    /// The project's `default` group (at most one per project).
    pub is_default: bool,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
    pub rules: Vec<SecurityGroupRule>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    pub id: String,
    pub project_id: String,
    pub security_group_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    /// As given (host bits kept), always with a prefix length.
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    /// `None` for the rules Neutron itself puts in new groups.
    pub description: Option<String>,
    /// Whether the rule's group is its project's default group.
    pub belongs_to_default_sg: bool,
    pub revision_number: i64,
    pub created_at: String,
    pub updated_at: String,
}
