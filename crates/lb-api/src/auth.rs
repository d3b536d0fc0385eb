//! Token authentication: every request but version discovery carries a
//! valid `X-Auth-Token`, validated by the identity service exactly as the
//! Network API does.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use neutrino_identity::AuthContext;
use neutrino_lb_types::LbError;

use crate::LbState;
use crate::fault::{Fault, unauthorized};

/// Upstream lets `/` through without a token (octavia's keystone
/// middleware skips version discovery).
fn is_public(path: &str) -> bool {
    path == "/"
}

pub async fn require_token(State(state): State<LbState>, mut req: Request, next: Next) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(token) = token else {
        return unauthorized(&state.config.identity_url);
    };
    match state.identity.validate(&token).await {
        Ok(ctx) => {
            req.extensions_mut().insert(Caller(ctx));
            next.run(req).await
        }
        Err(e) if e.is_auth_failure() => unauthorized(&state.config.identity_url),
        // A broken database is not the client's fault: 500, not 401.
        Err(e) => {
            tracing::error!(error = ?e, "token validation failed");
            Fault(LbError::new(500, "InternalError", "Internal Server Error")).into_response()
        }
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller(pub AuthContext);

impl Caller {
    pub fn has_role(&self, role: &str) -> bool {
        self.0.has_role(role)
    }

    /// The token's project; `None` for domain- or system-scoped tokens,
    /// which Octavia's policies (`scope_types=['project']`) refuse.
    pub fn project_id(&self) -> Option<&str> {
        self.0.project_id.as_deref()
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = Fault;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            Fault(LbError::new(
                500,
                "InternalError",
                "authentication middleware missing",
            ))
        })
    }
}
