//! Turning failures into Neutron-shaped HTTP responses.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use neutrino_store::StoreError;
use neutrino_types::ApiError;

/// A handler failure. Wraps [`ApiError`] so it can be an axum response.
#[derive(Debug)]
pub struct Reject(pub ApiError);

impl From<ApiError> for Reject {
    fn from(e: ApiError) -> Self {
        Reject(e)
    }
}

impl From<StoreError> for Reject {
    fn from(e: StoreError) -> Self {
        Reject(store_error(e))
    }
}

/// A storage failure as the client sees it. A clash with a concurrent
/// request (see [`StoreError::Conflict`]) is a 409 the client may retry;
/// anything else is a 500 whose details go to the log, never to the client.
pub fn store_error(e: StoreError) -> ApiError {
    if e.is_conflict() {
        tracing::info!(error = ?e, "conflict with a concurrent request");
        return ApiError::conflict(
            "Conflict",
            "A concurrent request changed the objects this request depends on; retry the request.",
        );
    }
    tracing::error!(error = ?e, "storage failure");
    ApiError::internal("Request Failed: internal server error while processing your request.")
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(status = self.0.status, kind = %self.0.kind, message = %self.0.message, "request failed");
        }
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            self.0.body().to_string(),
        )
            .into_response()
    }
}

pub type ApiResult<T> = Result<T, Reject>;
