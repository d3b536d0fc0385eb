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
        // The details go to the log, never to the client.
        tracing::error!(error = ?e, "storage failure");
        Reject(ApiError::internal(
            "Request Failed: internal server error while processing your request.",
        ))
    }
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
