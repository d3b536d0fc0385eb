//! The key manager: a subset of Barbican v1 (OpenStack's secret store) on
//! Neutrino's database and identity, so that the stock clients work
//! (`openstack secret ...`, `openstack secret container ...`), and the
//! library the load balancer reads TLS certificates through ([`tls`]).
//!
//! Served: version discovery (`/`, `/v1`), secrets (one- and two-step
//! create, list, metadata, payload, delete), containers (generic,
//! certificate, rsa: create, list, show, delete) and their read ACLs
//! (`/acl`: get, replace, merge, delete), with upstream's
//! validation, policy (new defaults) and error bodies
//! (`{"code": 404, "title": "Not Found", "description": "..."}`).
//! Payloads are stored as given (no encryption at rest: the database is
//! the trust boundary, as for every other credential Neutrino keeps).

mod acls;
mod auth;
mod body;
mod containers;
mod fault;
mod listing;
mod microversion;
mod mime;
mod policy;
mod pyrepr;
mod schema;
mod secrets;
mod timefmt;
pub mod tls;
mod versions;

use std::sync::Arc;

use axum::Router;
use axum::routing::any;
use neutrino_identity::Identity;
use neutrino_store::Db;

pub use fault::Fault;

/// Where the key manager is and how it is reached.
#[derive(Clone, Debug)]
pub struct KmConfig {
    /// The service's URL as clients are given it (the catalog entry, e.g.
    /// `http://127.0.0.1:9696/key-manager`). Every `secret_ref`,
    /// `container_ref` and version link is built from it (upstream's
    /// `host_href`), and a container's secret refs must start with it.
    pub public_url: String,
    /// Where the router is mounted on its listener: `""` on a listener of
    /// its own, `/key-manager` beside the Network API. Paths are matched
    /// with this prefix, so the router merges into another.
    pub prefix: String,
    /// Public URL of the identity service, for `WWW-Authenticate`.
    pub identity_url: String,
}

impl KmConfig {
    /// `public_url` with no trailing slash.
    pub fn base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    /// `{base}/v1/{resource}`, upstream's `hostname_for_refs`.
    pub fn href(&self, resource: &str) -> String {
        format!("{}/v1/{resource}", self.base())
    }
}

#[derive(Clone)]
pub struct KmState {
    pub db: Db,
    pub identity: Identity,
    pub config: Arc<KmConfig>,
}

impl KmState {
    pub fn new(db: Db, identity: Identity, config: KmConfig) -> KmState {
        KmState {
            db,
            identity,
            config: Arc::new(config),
        }
    }
}

/// The key manager's router. It has no fallback of its own (a catch-all
/// route under its prefix answers Barbican's 404 instead), so it merges
/// into a router that has one.
pub fn router(state: KmState) -> Router {
    let p = state.config.prefix.trim_end_matches('/').to_string();
    let root = if p.is_empty() {
        "/".to_string()
    } else {
        p.clone()
    };
    let mut r = Router::new()
        .route(&root, any(versions::root))
        .route(&format!("{p}/v1"), any(versions::v1))
        .route(&format!("{p}/v1/"), any(versions::v1))
        .merge(secrets::routes(&p))
        .merge(containers::routes(&p))
        .merge(acls::routes(&p))
        .route(&format!("{p}/{{*rest}}"), any(fault::not_found));
    if !p.is_empty() {
        r = r.route(&format!("{p}/"), any(versions::root));
    }
    r.layer(axum::middleware::from_fn(microversion::negotiate))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        // Outermost: a URL that decodes to invalid UTF-8 or holds NUL is
        // refused before anything reads it, token check included.
        .layer(axum::middleware::from_fn(fault::check_url))
        .with_state(state)
}
