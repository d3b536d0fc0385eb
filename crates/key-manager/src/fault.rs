//! Error answers as Barbican gives them: pecan's `abort(status, detail)`
//! rendered by barbican's JSON error hook,
//! `{"code": 404, "title": "Not Found", "description": "..."}`, and the
//! wrappings of `handle_exceptions` ("Secret creation issue seen - ...").

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use neutrino_store::StoreError;
use serde_json::{Value, json};

/// An error answer. `description` is `None` where upstream aborts without
/// a detail (unknown paths, methods), which renders as `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: StatusCode,
    pub description: Option<String>,
}

impl Fault {
    /// `pecan.abort(status, description)`.
    pub fn new(status: u16, description: impl Into<String>) -> Fault {
        Fault {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            description: Some(description.into()),
        }
    }

    /// `pecan.abort(status)`: no description.
    pub fn bare(status: u16) -> Fault {
        Fault {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            description: None,
        }
    }

    /// A Barbican HTTP exception raised inside a handler, as
    /// `handle_exceptions` words it: "{operation} issue seen - {reason}."
    pub fn issue(operation: &str, status: u16, reason: &str) -> Fault {
        Fault::new(status, format!("{operation} issue seen - {reason}."))
    }

    /// A policy refusal, as `handle_exceptions` words it.
    pub fn forbidden(operation: &str) -> Fault {
        Fault::new(
            403,
            format!("{operation} attempt not allowed - please review your user/project privileges"),
        )
    }

    /// Anything unexpected: logged, and answered without details.
    pub fn internal(operation: &str, err: &dyn std::fmt::Display) -> Fault {
        tracing::error!(error = %err, operation, "key manager failure");
        Fault::new(
            500,
            format!("{operation} failure seen - please contact site administrator."),
        )
    }

    /// A storage error: a lost race with a concurrent writer is a 409
    /// (nothing was written; the request may be retried), anything else
    /// a 500.
    pub fn store(operation: &str, err: StoreError) -> Fault {
        if err.is_conflict() {
            return Fault::issue(operation, 409, "Conflict with a concurrent request");
        }
        Fault::internal(operation, &err)
    }

    pub fn body(&self) -> Value {
        json!({
            "code": self.status.as_u16(),
            "title": self.status.canonical_reason().map(title).unwrap_or("Unknown"),
            "description": self.description,
        })
    }
}

/// webob's titles where they differ from the IANA reason phrase.
fn title(reason: &'static str) -> &'static str {
    match reason {
        "Payload Too Large" => "Request Entity Too Large",
        other => other,
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        let status = self.status;
        json_response(status, &self.body())
    }
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Unknown paths: pecan's 404, no description.
pub async fn not_found() -> Fault {
    Fault::bare(404)
}

/// keystonemiddleware's 401, which clients recognise.
pub fn unauthorized(identity_url: &str) -> Response {
    let mut resp = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"error": {"code": 401, "title": "Unauthorized",
            "message": "The request you have made requires authentication."}}),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("Keystone uri=\"{identity_url}\"")) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Refuses a URL whose path segments or query values decode to invalid
/// UTF-8 or contain NUL (400), before routing: the router's own decoding
/// would answer in plain text, and PostgreSQL cannot compare against NUL.
pub async fn check_url(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri();
    match neutrino_types::input::check_url(uri.path(), uri.query()) {
        Ok(()) => next.run(req).await,
        Err(why) => Fault::new(400, format!("Invalid URL: {why}.")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_webob_titles() {
        assert_eq!(
            Fault::new(413, "x").body(),
            json!({"code": 413, "title": "Request Entity Too Large", "description": "x"})
        );
        assert_eq!(
            Fault::bare(405).body(),
            json!({"code": 405, "title": "Method Not Allowed", "description": null})
        );
        assert_eq!(
            Fault::issue("Secret creation", 400, "content-type of 'x' not supported").description,
            Some("Secret creation issue seen - content-type of 'x' not supported.".into())
        );
    }
}
