//! A Keystone v3-compatible token service, enough of it for the stock
//! `openstack` CLI, openstacksdk and tempest's dynamic credentials.
//!
//! [`Identity`] is the whole service: it issues and validates tokens, serves
//! the Keystone HTTP API ([`Identity::router`]) and hands the network API an
//! [`AuthContext`] for each token it sees ([`Identity::validate`]).
//!
//! ```no_run
//! # async fn demo(db: neutrino_store::Db) -> Result<(), Box<dyn std::error::Error>> {
//! use neutrino_identity::*;
//! let secret = load_or_create_secret(std::path::Path::new("/var/lib/neutrino/token.key"))?;
//! let catalog = CatalogConfig {
//!     region: "RegionOne".into(),
//!     identity_url: "http://127.0.0.1:9696/identity/v3".into(),
//!     network_url: "http://127.0.0.1:9696".into(),
//!     load_balancer_url: None,
//!     key_manager_url: None,
//!     infra_url: None,
//! };
//! let identity = Identity::new(db, IdentityConfig::new(secret, catalog));
//! identity.bootstrap(&BootstrapParams { admin_password: "secret".into(), ..Default::default() }).await?;
//! // Keystone under a prefix, next to the network API's own "/".
//! let app: axum::Router = axum::Router::new().nest("/identity", identity.router());
//! let caller = identity.validate("token from X-Auth-Token").await?;
//! assert!(caller.can_write());
//! # Ok(()) }
//! ```

mod authn;
mod bootstrap;
mod cache;
mod catalog;
mod config;
mod error;
mod password;
mod policy;
mod routes;
mod store;
mod token;

use std::sync::Arc;

use neutrino_store::Db;

pub use config::{
    BootstrapOutcome, BootstrapParams, CatalogConfig, IdentityConfig, load_or_create_secret,
};
pub use error::IdentityError;

pub const ADMIN_ROLE: &str = "admin";
pub const MANAGER_ROLE: &str = "manager";
pub const MEMBER_ROLE: &str = "member";
/// Held by service users (e.g. Octavia's) that validate others' tokens.
pub const SERVICE_ROLE: &str = "service";
pub const READER_ROLE: &str = "reader";
/// The built-in domain every deployment has, as in Keystone.
pub const DEFAULT_DOMAIN_ID: &str = "default";
pub const DEFAULT_DOMAIN_NAME: &str = "Default";

/// Who is calling, as established by a validated token.
#[derive(Clone, Debug)]
pub struct AuthContext {
    pub user_id: String,
    pub user_name: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    /// The scope's domain, for domain-scoped tokens only.
    pub domain_id: Option<String>,
    /// Role names, including implied ones (admin ⇒ manager ⇒ member ⇒ reader).
    pub roles: Vec<String>,
    /// Keystone format: `2026-11-22T02:56:22.000000Z`.
    pub expires_at: String,
}

impl AuthContext {
    pub fn is_admin(&self) -> bool {
        self.has_role(ADMIN_ROLE)
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn can_write(&self) -> bool {
        self.is_admin() || self.has_role(MEMBER_ROLE)
    }
}

/// The identity service. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub db: Db,
    pub config: IdentityConfig,
    pub cache: cache::ValidationCache,
}

impl Identity {
    pub fn new(db: Db, config: IdentityConfig) -> Identity {
        let cache = cache::ValidationCache::new(config.cache_ttl_secs);
        Identity {
            inner: Arc::new(Inner { db, config, cache }),
        }
    }

    /// The Keystone API: `/` and `/v3/...`, state applied.
    pub fn router(&self) -> axum::Router {
        routes::router(self.inner.clone())
    }

    /// Creates (or repairs) the default domain, the standard roles, the
    /// `admin` and `service` projects and the admin user. Idempotent; a new
    /// password replaces the old one.
    pub async fn bootstrap(&self, p: &BootstrapParams) -> Result<BootstrapOutcome, IdentityError> {
        bootstrap::bootstrap(&self.inner, p).await
    }

    /// Validates a token for the network API: signature, expiry, revocation,
    /// and that its user, scope and roles still exist (cached briefly).
    pub async fn validate(&self, token: &str) -> Result<AuthContext, IdentityError> {
        let data = authn::validate(&self.inner, token).await?;
        Ok(data.auth_context())
    }

    /// Password authentication in the default domain, scoped to a project
    /// of the default domain. Returns the token.
    pub async fn issue_token_for_tests(
        &self,
        user: &str,
        password: &str,
        project: &str,
    ) -> Result<String, IdentityError> {
        let default = || authn::DomainRef::Id(DEFAULT_DOMAIN_ID.into());
        let creds = authn::PasswordRequest {
            user: authn::EntityRef::Name(user.into(), default()),
            password: password.into(),
        };
        let scope = authn::ScopeRequest::Project(authn::EntityRef::Name(project.into(), default()));
        let issued = authn::issue_password_token(&self.inner, &creds, &scope).await?;
        Ok(issued.token)
    }

    /// Renders an error as Keystone does, with the `WWW-Authenticate` header
    /// on 401s (which the bare `IntoResponse` cannot know the URL for).
    pub fn error_response(&self, err: IdentityError) -> axum::response::Response {
        error::render(err, &self.inner.config.catalog.identity_url)
    }

    /// Deletes revocation records whose tokens have expired anyway.
    pub async fn prune_revocations(&self) -> Result<u64, IdentityError> {
        Ok(store::prune_revocations(&self.inner.db, chrono::Utc::now().timestamp()).await?)
    }
}
