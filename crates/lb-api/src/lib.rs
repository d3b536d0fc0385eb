//! The HTTP face of load balancing: the Load-balancer API (Octavia v2).
//!
//! Every handler answers from the database: a change is written, with
//! the load balancer's compare-and-set and the flow that will settle it,
//! in one transaction ([`ops`]); the controller's worker does the rest.
//! Shared pieces: the policy engine ([`policy`]), the listing rules
//! ([`listing`]), and the VIP port, created in the load balancer's own
//! transaction (`vip`). Nothing here talks to an amphora.
//!
//! Design: docs/design/load-balancing.md §1.1, §1.3, §2.1, §2.2, §2.4,
//! §2.14, §4.

mod amphorae;
mod auth;
mod availability_zones;
mod common;
mod fault;
mod flavors;
mod graph;
mod health_monitors;
mod hooks;
mod l7policies;
mod l7rules;
mod listeners;
pub mod listing;
mod loadbalancers;
mod members;
pub mod ops;
pub mod policy;
mod pools;
mod profiles;
pub mod providers;
mod quotas;
mod versions;
mod vip;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use neutrino_identity::Identity;
use neutrino_lbaas::Controller;
use neutrino_store::Db;

pub use auth::Caller;
pub use fault::{Fault, only};

/// How load balancers get their VIPs and how member subnets and VIP
/// security groups are checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetworkDriver {
    /// Ports of the Network API on the same database (the default).
    #[default]
    Neutrino,
    /// Upstream's `network_noop_driver`: every network, subnet, port and
    /// security group id is taken as given, no port is made, the VIP
    /// address is the requested one or `198.51.100.1`. What the upstream
    /// API tests with `test_with_noop = true` need (they send random
    /// ids); never for a real cloud.
    Noop,
}

/// Settings of the Load-balancer API an operator may change.
#[derive(Clone, Debug)]
pub struct LbConfig {
    /// Public URL of the identity service, for `WWW-Authenticate`.
    pub identity_url: String,
    /// Whether the deprecated `load-balancer_*` roles still grant access
    /// (design D7: on by default; off is exactly the peer's policy).
    pub legacy_roles: bool,
    /// `[api_settings] pagination_max_limit`: the default and cap of `limit`.
    pub pagination_max_limit: usize,
    /// `[controller_worker] loadbalancer_topology`: for load balancers
    /// whose flavor does not say.
    pub topology: neutrino_lb_types::enums::Topology,
    /// Where VIPs come from (see [`NetworkDriver`]).
    pub network_driver: NetworkDriver,
    /// `[quotas] default_*_quota`: every resource's limit for projects
    /// without their own (-1: unlimited).
    pub default_quota: i64,
    /// Whether amphorae can serve UDP and SCTP listeners (upstream does
    /// with keepalived/LVS). The local backend cannot yet: such listeners
    /// are refused with upstream's 501 instead of accepted and not served.
    pub lvs_listeners: bool,
}

impl Default for LbConfig {
    fn default() -> Self {
        LbConfig {
            identity_url: "http://127.0.0.1:5000/v3".into(),
            legacy_roles: true,
            pagination_max_limit: 1000,
            topology: neutrino_lb_types::enums::Topology::Single,
            default_quota: -1,
            network_driver: NetworkDriver::Neutrino,
            lvs_listeners: true,
        }
    }
}

#[derive(Clone)]
pub struct LbState {
    pub db: Db,
    pub identity: Identity,
    pub config: Arc<LbConfig>,
    /// Starts the flows that settle every change.
    pub controller: Controller,
    /// The Network API's MAC prefix, for VIP ports.
    pub mac_prefix: [u8; 3],
}

impl LbState {
    pub fn new(
        db: Db,
        identity: Identity,
        config: LbConfig,
        controller: Controller,
        mac_prefix: [u8; 3],
    ) -> LbState {
        LbState {
            db,
            identity,
            config: Arc::new(config),
            controller,
            mac_prefix,
        }
    }

    pub fn policy(&self) -> policy::Policy {
        policy::Policy {
            legacy_roles: self.config.legacy_roles,
        }
    }
}

/// The Load-balancer API router. Every path but `/` needs a token, unknown
/// ones included (upstream authenticates before routing).
pub fn router(state: LbState) -> Router {
    // Both prefixes serve the same API, as upstream's root controller
    // mounts one V2Controller under `v2` and `v2.0`.
    let mut r = Router::new().route("/", any(versions::root));
    for prefix in ["/v2", "/v2.0"] {
        r = r
            .route(prefix, only(get(versions::v2), "GET"))
            .route(&format!("{prefix}/"), only(get(versions::v2), "GET"))
            .merge(providers::routes(prefix))
            .merge(loadbalancers::routes(prefix))
            .merge(members::routes(prefix))
            .merge(health_monitors::routes(prefix))
            .merge(amphorae::routes(prefix))
            .merge(profiles::routes(prefix))
            .merge(flavors::routes(prefix))
            .merge(availability_zones::routes(prefix))
            .merge(quotas::routes(prefix))
            .merge(listeners::routes(prefix))
            .merge(pools::routes(prefix))
            .merge(l7policies::routes(prefix))
            .merge(l7rules::routes(prefix));
    }
    r.fallback(fault::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        // Outermost: a URL that decodes to invalid UTF-8 or holds NUL is
        // refused before anything reads it, token check included.
        .layer(axum::middleware::from_fn(fault::check_url))
        .with_state(state)
}
