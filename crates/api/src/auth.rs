//! Token authentication and the caller's view of policy.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use neutrino_identity::AuthContext;
use neutrino_types::ApiError;

use crate::AppState;

/// Rejects requests without a valid `X-Auth-Token`; otherwise stores the
/// caller's [`AuthContext`] in the request extensions.
pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(token) = token else {
        return unauthorized(&state);
    };
    match state.identity.validate(&token).await {
        Ok(ctx) => {
            req.extensions_mut().insert(Caller(ctx));
            next.run(req).await
        }
        Err(e) if e.is_auth_failure() => unauthorized(&state),
        // A broken database is not the client's fault: 500, not 401.
        Err(e) => {
            tracing::error!(error = ?e, "token validation failed");
            crate::reject::Reject(ApiError::internal(
                "Request Failed: internal server error while processing your request.",
            ))
            .into_response()
        }
    }
}

fn unauthorized(state: &AppState) -> Response {
    // keystonemiddleware's answer, which clients recognise.
    let body = serde_json::json!({"error": {"code": 401, "title": "Unauthorized",
        "message": "The request you have made requires authentication."}});
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::WWW_AUTHENTICATE,
                format!("Keystone uri=\"{}\"", state.config.identity_url),
            ),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller(pub AuthContext);

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.0.is_admin()
    }

    /// The project new resources belong to by default.
    pub fn project_id(&self) -> String {
        self.0.project_id.clone().unwrap_or_default()
    }

    /// `None` for admins (who see everything), else the caller's project.
    pub fn visibility(&self) -> Option<String> {
        if self.is_admin() {
            None
        } else {
            Some(self.project_id())
        }
    }

    /// Whether the caller may see an object owned by `project`.
    pub fn owns(&self, project: &str) -> bool {
        self.is_admin() || self.0.project_id.as_deref() == Some(project)
    }

    /// Whether the caller may see a network: admins always; others when
    /// they own it or an RBAC grant names them (or everyone).
    pub fn sees(&self, n: &neutrino_types::model::Network) -> bool {
        self.is_admin() || n.visible_to(&self.project_id())
    }

    /// Readers may look but not touch.
    pub fn require_write(&self, action: &str) -> Result<(), ApiError> {
        if self.0.can_write() {
            Ok(())
        } else {
            Err(ApiError::policy_not_authorized(action))
        }
    }

    pub fn require_admin(&self, action: &str) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::policy_not_authorized(action))
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = crate::reject::Reject;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::internal("authentication middleware missing").into())
    }
}
