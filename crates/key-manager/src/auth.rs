//! Token authentication. Upstream's pipeline puts keystonemiddleware in
//! front of the `/v1` application only; version discovery (`/`) is open.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use neutrino_identity::AuthContext;

use crate::KmState;
use crate::fault::{Fault, unauthorized};

/// Whether `path` belongs to the authenticated `/v1` application.
fn needs_token(prefix: &str, path: &str) -> bool {
    let Some(rest) = path.strip_prefix(prefix.trim_end_matches('/')) else {
        return false;
    };
    rest == "/v1" || rest.starts_with("/v1/")
}

pub async fn require_token(State(state): State<KmState>, mut req: Request, next: Next) -> Response {
    if !needs_token(&state.config.prefix, req.uri().path()) {
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
        Err(e) => Fault::internal("Authentication", &e).into_response(),
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller(pub AuthContext);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = Fault;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Fault::internal("Authentication", &"authentication middleware missing"))
    }
}

#[cfg(test)]
mod tests {
    use super::needs_token;

    #[test]
    fn only_v1_is_authenticated() {
        assert!(needs_token("", "/v1"));
        assert!(needs_token("", "/v1/secrets"));
        assert!(!needs_token("", "/"));
        assert!(!needs_token("", "/v10"));
        assert!(needs_token("/key-manager", "/key-manager/v1/containers/x"));
        assert!(!needs_token("/key-manager", "/key-manager"));
        assert!(!needs_token("/key-manager", "/key-manager/"));
        assert!(!needs_token("/key-manager", "/v1/secrets"));
    }
}
