//! Helpers of the flavor, availability-zone and quota tests: bodies sent
//! raw (no body, other content types), the project of a token, and the
//! keys of a listing.

use axum::Router;
use serde_json::Value;

use crate::support::{Answer, Cloud, send_raw};

/// A request whose body and `Content-Type` are given as is; the answer
/// must be JSON.
pub async fn raw(
    app: &Router,
    method: &str,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> Answer {
    let a = send_raw(
        app,
        method,
        path,
        Some(token),
        content_type,
        body.to_string(),
    )
    .await;
    assert!(a.body.get("raw").is_none(), "not a JSON answer: {}", a.body);
    a
}

/// The project a token is scoped to.
pub async fn project_of(cloud: &Cloud, token: &str) -> String {
    cloud
        .identity
        .validate(token)
        .await
        .expect("valid token")
        .project_id
        .expect("project-scoped")
}

/// The ids (or `key`s) of a collection answer's objects, in order.
pub fn keys(body: &Value, plural: &str, key: &str) -> Vec<String> {
    body[plural]
        .as_array()
        .unwrap_or_else(|| panic!("no {plural} in {body}"))
        .iter()
        .map(|o| o[key].as_str().expect("key").to_string())
        .collect()
}
