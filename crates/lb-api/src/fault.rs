//! Error answers: Octavia's WSME fault body for [`LbError`], and the
//! plain bodies upstream's web framework (pecan/webob) gives to unknown
//! paths and methods.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use neutrino_lb_types::LbError;

/// An [`LbError`] on its way to the wire (`LbError` lives in a crate
/// without HTTP, so the response conversion lives here).
#[derive(Debug)]
pub struct Fault(pub LbError);

impl From<LbError> for Fault {
    fn from(e: LbError) -> Self {
        Fault(e)
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(kind = self.0.kind, fault = %self.0.faultstring, "server fault");
        }
        json_response(status, self.0.body())
    }
}

pub fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Unknown paths. Under the v2 controller pecan answers with an empty
/// description, at the root with a null one (as the peer does).
pub async fn not_found(uri: Uri) -> Response {
    let path = uri.path();
    let under_v2 = ["/v2/", "/v2.0/"].iter().any(|p| path.starts_with(p));
    let description = if under_v2 {
        serde_json::Value::String(String::new())
    } else {
        serde_json::Value::Null
    };
    json_response(
        StatusCode::NOT_FOUND,
        serde_json::json!({"code": 404, "title": "Not Found", "description": description}),
    )
}

/// Upstream's 405: JSON body, `Allow` naming the methods the path has.
pub fn method_not_allowed(allow: &'static str) -> Response {
    let mut resp = json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        serde_json::json!({"code": 405, "title": "Method Not Allowed", "description": ""}),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// A route's methods, answering any other with [`method_not_allowed`].
/// (The router's own 405 has no body, and its `Allow` lists HEAD, which
/// upstream does not.)
pub fn only<S>(methods: MethodRouter<S>, allow: &'static str) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    methods.fallback(move || async move { method_not_allowed(allow) })
}

/// keystonemiddleware's 401, which clients recognise.
pub fn unauthorized(identity_url: &str) -> Response {
    let mut resp = json_response(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({"error": {"code": 401, "title": "Unauthorized",
            "message": "The request you have made requires authentication."}}),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("Keystone uri=\"{identity_url}\"")) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Refuses a URL whose path segments or query values decode to invalid
/// UTF-8 or contain NUL (400 with a fault body), before routing: the
/// router's own decoding would answer in plain text, and PostgreSQL
/// cannot compare against a NUL.
pub async fn check_url(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri();
    match neutrino_types::input::check_url(uri.path(), uri.query()) {
        Ok(()) => next.run(req).await,
        Err(why) => Fault(LbError::client_side(
            "InvalidInput",
            format!("Invalid URL: {why}."),
        ))
        .into_response(),
    }
}
