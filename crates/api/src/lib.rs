//! The HTTP face of Neutrino: the OpenStack Networking v2.0 API.
//!
//! Each resource has a module with its handlers; [`body`] and [`listing`]
//! hold the rules every resource shares. Handlers validate, then do all
//! their writes in one store transaction, then answer from what was
//! committed. They never talk to the data plane.

mod auth;
pub mod body;
mod extensions;
mod fixed_ips;
mod floatingips;
mod listing;
mod middleware;
mod networks;
mod ownership;
mod ports;
mod quotas;
mod rbac;
mod reject;
mod routers;
mod security_groups;
pub mod service_groups;
pub mod service_ports;
mod subnets;
mod tags;
mod view_cache;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use neutrino_identity::Identity;
use neutrino_store::Db;

pub use fixed_ips::Requested;
pub use middleware::with_request_ids;

/// Settings of the Network API an operator may change.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Public URL of the identity service, for `WWW-Authenticate`.
    pub identity_url: String,
    /// Type given to networks created without provider attributes.
    pub tenant_network_type: String,
    /// Segmentation ids handed out to tenant networks (inclusive).
    pub tunnel_id_range: (i64, i64),
    /// VLAN ranges per physical network for VLAN networks created without an id.
    pub vlan_ranges: Vec<(String, i64, i64)>,
    /// Physical networks provider networks may use; empty allows any.
    pub physical_networks: Vec<String>,
    /// MTU of the physical fabric; overlay networks subtract their overhead.
    pub global_physnet_mtu: i64,
    /// Domain appended to hostnames in `dns_assignment`.
    pub dns_domain: String,
    pub availability_zones: Vec<String>,
    /// `enable_snat` of a router gateway when the request leaves it out.
    pub enable_snat_by_default: bool,
    /// Default quota limits by resource (-1 = unlimited).
    pub quotas: std::collections::BTreeMap<String, i64>,
    /// First three bytes of generated MAC addresses.
    pub mac_prefix: [u8; 3],
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            identity_url: "http://127.0.0.1:5000/v3".into(),
            tenant_network_type: "geneve".into(),
            tunnel_id_range: (1, 65536),
            vlan_ranges: Vec::new(),
            physical_networks: Vec::new(),
            global_physnet_mtu: 1500,
            dns_domain: "openstacklocal".into(),
            availability_zones: vec!["nova".into()],
            enable_snat_by_default: true,
            quotas: quotas::default_limits(),
            mac_prefix: [0xfa, 0x16, 0x3e],
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub identity: Identity,
    pub config: Arc<NetworkConfig>,
    port_views: Arc<view_cache::PortViews>,
}

impl AppState {
    pub fn new(db: Db, identity: Identity, config: NetworkConfig) -> AppState {
        AppState {
            db,
            identity,
            config: Arc::new(config),
            port_views: Arc::default(),
        }
    }
}

/// The Network API router (`/`, `/v2.0/...`), authentication included.
pub fn network_router(state: AppState) -> Router {
    let authed = Router::new()
        .merge(networks::routes())
        .merge(subnets::routes())
        .merge(ports::routes())
        .merge(routers::routes())
        .merge(rbac::routes())
        .merge(floatingips::routes())
        .merge(quotas::routes())
        .merge(security_groups::routes())
        .merge(tags::routes())
        .merge(extensions::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/", get(extensions::versions))
        .route("/v2.0", get(extensions::version_v2))
        .route("/v2.0/", get(extensions::version_v2))
        .merge(authed)
        .fallback(middleware::not_found)
        .layer(axum::middleware::from_fn(middleware::check_url))
        .with_state(state)
}
