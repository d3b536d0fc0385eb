//! Request ids, access logs and the body extractor shared by all APIs.

use std::time::Instant;

use axum::extract::{FromRequest, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use neutrino_types::ApiError;
use tracing::Instrument;

use crate::body::MAX_BODY_BYTES;
use crate::reject::Reject;

/// Gives every request an `x-openstack-request-id` (as OpenStack services
/// do) and logs one line per request inside a span carrying that id.
pub async fn request_id(req: Request, next: Next) -> Response {
    let id = format!("req-{}", uuid::Uuid::new_v4());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = Instant::now();
    async move {
        let mut resp = next.run(req).await;
        tracing::info!(
            status = resp.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "handled"
        );
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-openstack-request-id", v);
        }
        resp
    }
    .instrument(span)
    .await
}

/// Wraps any router with the request-id middleware.
pub fn with_request_ids(router: axum::Router) -> axum::Router {
    router.layer(axum::middleware::from_fn(request_id))
}

/// Refuses a URL whose path segments or query values decode to invalid
/// UTF-8 or contain NUL, before routing: the router's own decoding would
/// answer in plain text, and PostgreSQL cannot compare against a NUL.
pub async fn check_url(req: Request, next: Next) -> Response {
    let uri = req.uri();
    match neutrino_types::input::check_url(uri.path(), uri.query()) {
        Ok(()) => next.run(req).await,
        Err(why) => Reject(ApiError::bad_request(format!("Invalid URL: {why}."))).into_response(),
    }
}

pub async fn not_found() -> Reject {
    Reject(ApiError::not_found(
        "HTTPNotFound",
        "The resource could not be found.",
    ))
}

/// The raw request body, refused with 413 beyond [`MAX_BODY_BYTES`].
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Reject;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        match axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await {
            Ok(b) => Ok(RawBody(b)),
            Err(_) => Err(Reject(ApiError::new(
                413,
                "HTTPRequestEntityTooLarge",
                "Request is too large.",
            ))),
        }
    }
}
