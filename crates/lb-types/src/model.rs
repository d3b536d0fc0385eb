//! Records of the Octavia v2 model as the store returns them. Field names
//! are the API's (`admin_state_up`, `max_retries`, `address`, ...); the
//! store maps them to its columns. Timestamps are the API's text
//! (`YYYY-MM-DDTHH:MM:SS`, UTC); `updated_at` is `None` until the first
//! change.

use crate::enums::{
    AmphoraRole, AmphoraStatus, ClientAuthentication, HealthMonitorType, HttpMethod,
    L7PolicyAction, L7RuleCompareType, L7RuleType, LbAlgorithm, OperatingStatus, Protocol,
    ProvisioningStatus, SessionPersistenceType, Topology, VnicType,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vip {
    pub ip_address: Option<String>,
    pub port_id: Option<String>,
    pub subnet_id: Option<String>,
    pub network_id: Option<String>,
    pub qos_policy_id: Option<String>,
    /// Whether Neutrino created the port (and so deletes it).
    pub octavia_owned: bool,
    pub vnic_type: VnicType,
    pub sg_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdditionalVip {
    pub subnet_id: String,
    pub ip_address: Option<String>,
    pub port_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub id: String,
    pub project_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: bool,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub topology: Topology,
    pub provider: Option<String>,
    pub flavor_id: Option<String>,
    pub availability_zone: Option<String>,
    pub vip: Vip,
    pub additional_vips: Vec<AdditionalVip>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listener {
    pub id: String,
    pub project_id: String,
    pub load_balancer_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: bool,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub protocol: Protocol,
    pub protocol_port: i64,
    pub connection_limit: i64,
    pub default_pool_id: Option<String>,
    pub default_tls_container_ref: Option<String>,
    pub sni_container_refs: Vec<String>,
    pub client_ca_tls_container_ref: Option<String>,
    pub client_authentication: ClientAuthentication,
    pub client_crl_container_ref: Option<String>,
    /// Header name → value, as given.
    pub insert_headers: Map<String, Value>,
    pub timeout_client_data: i64,
    pub timeout_member_connect: i64,
    pub timeout_member_data: i64,
    pub timeout_tcp_inspect: i64,
    /// Normalised CIDRs; empty renders `null`.
    pub allowed_cidrs: Vec<String>,
    pub tls_ciphers: Option<String>,
    pub tls_versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
    pub hsts_max_age: Option<i64>,
    pub hsts_include_subdomains: bool,
    pub hsts_preload: bool,
    pub tags: Vec<String>,
    /// Ids of its L7 policies, in position order.
    pub l7policy_ids: Vec<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionPersistence {
    #[serde(rename = "type")]
    pub sp_type: SessionPersistenceType,
    pub cookie_name: Option<String>,
    pub persistence_timeout: Option<i64>,
    pub persistence_granularity: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub id: String,
    pub project_id: String,
    pub load_balancer_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: bool,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub protocol: Protocol,
    pub lb_algorithm: LbAlgorithm,
    pub session_persistence: Option<SessionPersistence>,
    pub tls_enabled: bool,
    pub tls_container_ref: Option<String>,
    pub ca_tls_container_ref: Option<String>,
    pub crl_container_ref: Option<String>,
    pub tls_ciphers: Option<String>,
    pub tls_versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
    pub tags: Vec<String>,
    /// Listeners using it: as default pool or through an L7 redirect.
    pub listener_ids: Vec<String>,
    pub member_ids: Vec<String>,
    pub healthmonitor_id: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub project_id: String,
    pub pool_id: String,
    pub name: Option<String>,
    pub admin_state_up: bool,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub address: String,
    pub protocol_port: i64,
    pub weight: i64,
    pub backup: bool,
    pub subnet_id: Option<String>,
    pub monitor_address: Option<String>,
    pub monitor_port: Option<i64>,
    pub vnic_type: VnicType,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthMonitor {
    pub id: String,
    pub project_id: String,
    pub pool_id: String,
    pub name: Option<String>,
    pub admin_state_up: bool,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    #[serde(rename = "type")]
    pub hm_type: HealthMonitorType,
    pub delay: i64,
    pub timeout: i64,
    pub max_retries: i64,
    pub max_retries_down: i64,
    pub http_method: Option<HttpMethod>,
    pub url_path: Option<String>,
    pub expected_codes: Option<String>,
    pub http_version: Option<f64>,
    pub domain_name: Option<String>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct L7Policy {
    pub id: String,
    pub project_id: String,
    pub listener_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: bool,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    pub action: L7PolicyAction,
    pub redirect_pool_id: Option<String>,
    pub redirect_url: Option<String>,
    pub redirect_prefix: Option<String>,
    pub redirect_http_code: Option<i64>,
    pub position: i64,
    pub rule_ids: Vec<String>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct L7Rule {
    pub id: String,
    pub project_id: String,
    pub l7policy_id: String,
    pub admin_state_up: bool,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    #[serde(rename = "type")]
    pub rule_type: L7RuleType,
    pub compare_type: L7RuleCompareType,
    pub key: Option<String>,
    pub value: String,
    pub invert: bool,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Amphora {
    pub id: String,
    pub load_balancer_id: Option<String>,
    pub compute_id: Option<String>,
    pub lb_network_ip: Option<String>,
    pub vrrp_ip: Option<String>,
    pub ha_ip: Option<String>,
    pub vrrp_port_id: Option<String>,
    pub ha_port_id: Option<String>,
    pub cert_expiration: Option<String>,
    pub cert_busy: bool,
    pub role: Option<AmphoraRole>,
    pub status: AmphoraStatus,
    pub vrrp_interface: Option<String>,
    pub vrrp_id: Option<i64>,
    pub vrrp_priority: Option<i64>,
    pub cached_zone: Option<String>,
    pub image_id: Option<String>,
    pub compute_flavor: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlavorProfile {
    pub id: String,
    pub name: String,
    pub provider_name: String,
    /// JSON text, as given.
    pub flavor_data: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub flavor_profile_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AzProfile {
    pub id: String,
    pub name: String,
    pub provider_name: String,
    /// JSON text, as given.
    pub availability_zone_data: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityZone {
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub availability_zone_profile_id: String,
}

/// A project's quota row; `None` means "the deployment's default".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub load_balancer: Option<i64>,
    pub listener: Option<i64>,
    pub pool: Option<i64>,
    pub health_monitor: Option<i64>,
    pub member: Option<i64>,
    pub l7policy: Option<i64>,
    pub l7rule: Option<i64>,
}

/// Traffic counters of a listener (summed for a load balancer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub active_connections: i64,
    pub total_connections: i64,
    pub request_errors: i64,
}
