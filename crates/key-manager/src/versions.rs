//! Version discovery (barbican `api/controllers/versions.py`): `/` lists
//! the one version (300 Multiple Choices, no token), `/v1` describes it.
//! Requests at microversion 1.0 (no header) get the old "stable" shape,
//! which is what clients that predate microversions parse.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::KmState;
use crate::fault::{Fault, json_response};
use crate::microversion::{MAX_MINOR, MIN_MINOR, Microversion};

const MEDIA_TYPE: &str = "application/vnd.openstack.key-manager-v1+json";

fn version_info(state: &KmState, v: Microversion) -> Value {
    let links = json!([
        {"rel": "self", "href": format!("{}/v1/", state.config.base())},
        {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
    ]);
    if v.at_least(1) {
        json!({
            "id": "v1",
            "status": "CURRENT",
            "min_version": format!("1.{MIN_MINOR}"),
            "max_version": format!("1.{MAX_MINOR}"),
            "links": links,
        })
    } else {
        // Upstream means to add `updated` here but writes an annotation
        // instead of an assignment, so the key never appears.
        json!({
            "id": "v1",
            "status": "stable",
            "links": links,
            "media-types": [{"base": "application/json", "type": MEDIA_TYPE}],
        })
    }
}

/// `/`: GET only (pecan's generic index aborts 405 otherwise).
pub async fn root(
    State(state): State<KmState>,
    method: Method,
    axum::Extension(v): axum::Extension<Microversion>,
) -> Response {
    if method != Method::GET {
        return Fault::bare(405).into_response();
    }
    let body = if v.at_least(1) {
        json!({"versions": [version_info(&state, v)]})
    } else {
        json!({"versions": {"values": [version_info(&state, v)]}})
    };
    json_response(StatusCode::MULTIPLE_CHOICES, &body)
}

/// `/v1`: GET only, behind the token check.
pub async fn v1(
    State(state): State<KmState>,
    method: Method,
    axum::Extension(v): axum::Extension<Microversion>,
) -> Response {
    if method != Method::GET {
        return Fault::bare(405).into_response();
    }
    json_response(StatusCode::OK, &json!({"version": version_info(&state, v)}))
}
