//! Version discovery, which keystoneauth performs before authenticating.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use super::{AppState, v3_url};
use crate::Inner;

pub fn routes() -> Router<std::sync::Arc<Inner>> {
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(v3))
        .route("/v3/", get(v3))
}

fn version(inner: &Inner) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": v3_url(inner, "/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

/// Keystone answers the root with 300 Multiple Choices.
async fn versions(State(inner): AppState) -> (StatusCode, Json<Value>) {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": {"values": [version(&inner)]}})),
    )
}

async fn v3(State(inner): AppState) -> Json<Value> {
    Json(json!({"version": version(&inner)}))
}
