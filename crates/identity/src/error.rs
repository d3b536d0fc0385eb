//! Errors, rendered as Keystone renders them:
//! `{"error": {"code": 404, "message": "...", "title": "Not Found"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use neutrino_store::StoreError;
use serde_json::json;

/// Keystone's wording for every authentication failure: it deliberately
/// does not say whether the user, the password or the token was wrong.
pub const AUTH_REQUIRED: &str = "The request you have made requires authentication.";

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0}")]
    BadRequest(String),
    /// Bad credentials, or a missing, invalid, expired or revoked token.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Internal(String),
    #[error("database error: {0}")]
    Store(#[from] StoreError),
}

impl IdentityError {
    pub fn unauthorized() -> IdentityError {
        IdentityError::Unauthorized(AUTH_REQUIRED.into())
    }

    /// Keystone's message for a policy refusal.
    pub fn forbidden_action(action: &str) -> IdentityError {
        IdentityError::Forbidden(format!(
            "You are not authorized to perform the requested action: {action}."
        ))
    }

    pub fn not_found(kind: &str, id: &str) -> IdentityError {
        IdentityError::NotFound(format!("Could not find {kind}: {id}."))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            IdentityError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IdentityError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            IdentityError::Forbidden(_) => StatusCode::FORBIDDEN,
            IdentityError::NotFound(_) => StatusCode::NOT_FOUND,
            IdentityError::Conflict(_) => StatusCode::CONFLICT,
            IdentityError::Internal(_) | IdentityError::Store(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// True when the error says "you are not who you claim" rather than
    /// "something broke": callers map only these to 401/404.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, IdentityError::Unauthorized(_))
    }

    fn title(&self) -> &'static str {
        match self {
            IdentityError::BadRequest(_) => "Bad Request",
            IdentityError::Unauthorized(_) => "Unauthorized",
            IdentityError::Forbidden(_) => "Forbidden",
            IdentityError::NotFound(_) => "Not Found",
            IdentityError::Conflict(_) => "Conflict",
            IdentityError::Internal(_) | IdentityError::Store(_) => "Internal Server Error",
        }
    }

    fn public_message(&self) -> String {
        match self {
            // Details of internal failures go to the log, not the client.
            IdentityError::Internal(_) | IdentityError::Store(_) => {
                "An unexpected error prevented the server from fulfilling your request.".into()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for IdentityError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = ?self, "identity request failed");
        }
        let body = json!({"error": {
            "code": status.as_u16(),
            "message": self.public_message(),
            "title": self.title(),
        }});
        (status, Json(body)).into_response()
    }
}

/// The response, plus `WWW-Authenticate: Keystone uri="..."` on a 401.
pub(crate) fn render(err: IdentityError, identity_url: &str) -> Response {
    let mut resp = err.into_response();
    add_www_authenticate(&mut resp, identity_url);
    resp
}

pub(crate) fn add_www_authenticate(resp: &mut Response, identity_url: &str) {
    if resp.status() == StatusCode::UNAUTHORIZED
        && !resp.headers().contains_key(header::WWW_AUTHENTICATE)
        && let Ok(v) = HeaderValue::from_str(&format!("Keystone uri=\"{identity_url}\""))
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
}
