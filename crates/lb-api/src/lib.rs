//! The HTTP face of load balancing: the Load-balancer API (Octavia v2).
//!
//! This first slice serves version discovery, the providers and their
//! flavor/availability-zone capabilities, Octavia's fault bodies, and the
//! two pieces every resource will share: the policy engine ([`policy`])
//! and the listing rules ([`listing`]). Handlers answer from the database
//! only; nothing here talks to an amphora.
//!
//! Design: docs/design/load-balancing.md §1.1, §1.3, §2.1, §2.2, §2.4,
//! §2.14, §4.

mod auth;
mod fault;
pub mod listing;
pub mod policy;
mod providers;
mod versions;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use neutrino_identity::Identity;
use neutrino_store::Db;

pub use auth::Caller;
pub use fault::{Fault, only};

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
}

impl Default for LbConfig {
    fn default() -> Self {
        LbConfig {
            identity_url: "http://127.0.0.1:5000/v3".into(),
            legacy_roles: true,
            pagination_max_limit: 1000,
        }
    }
}

#[derive(Clone)]
pub struct LbState {
    /// Unused by the providers slice; every resource handler after it
    /// reads and writes through it.
    pub db: Db,
    pub identity: Identity,
    pub config: Arc<LbConfig>,
}

impl LbState {
    pub fn new(db: Db, identity: Identity, config: LbConfig) -> LbState {
        LbState {
            db,
            identity,
            config: Arc::new(config),
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
            .merge(providers::routes(prefix));
    }
    r.fallback(fault::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .with_state(state)
}
