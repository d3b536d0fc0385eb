//! Version discovery (octavia 19 `api/root_controller.py`).

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::fault::json_response;

/// Every minor version upstream lists, oldest first, with its date. The
/// last one is `CURRENT`; tempest derives its API version from it.
const VERSIONS: &[(&str, &str)] = &[
    ("v2.0", "2016-12-11T00:00:00Z"),
    ("v2.1", "2018-04-20T00:00:00Z"),
    ("v2.2", "2018-07-31T00:00:00Z"),
    ("v2.3", "2018-12-18T00:00:00Z"),
    ("v2.4", "2018-12-19T00:00:00Z"),
    ("v2.5", "2019-01-21T00:00:00Z"),
    ("v2.6", "2019-01-25T00:00:00Z"),
    ("v2.7", "2018-01-25T12:00:00Z"),
    ("v2.8", "2019-02-12T00:00:00Z"),
    ("v2.9", "2019-03-04T00:00:00Z"),
    ("v2.10", "2019-03-05T00:00:00Z"),
    ("v2.11", "2019-06-24T00:00:00Z"),
    ("v2.12", "2019-09-11T00:00:00Z"),
    ("v2.13", "2019-09-13T00:00:00Z"),
    ("v2.14", "2019-11-10T00:00:00Z"),
    ("v2.15", "2020-03-10T00:00:00Z"),
    ("v2.16", "2020-03-15T00:00:00Z"),
    ("v2.17", "2020-04-29T00:00:00Z"),
    ("v2.18", "2020-04-29T01:00:00Z"),
    ("v2.19", "2020-05-12T00:00:00Z"),
    ("v2.20", "2020-08-02T00:00:00Z"),
    ("v2.21", "2020-09-03T00:00:00Z"),
    ("v2.22", "2020-09-04T00:00:00Z"),
    ("v2.23", "2020-09-07T00:00:00Z"),
    ("v2.24", "2020-10-15T00:00:00Z"),
    ("v2.25", "2021-10-02T00:00:00Z"),
    ("v2.26", "2022-08-29T00:00:00Z"),
    ("v2.27", "2023-05-05T00:00:00Z"),
    ("v2.28", "2023-11-08T00:00:00Z"),
    ("v2.29", "2024-10-15T00:00:00Z"),
    ("v2.30", "2025-02-26T00:00:00Z"),
];

/// `http://<Host>`: upstream builds its links from the request URL.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

pub fn document(base_url: &str) -> Value {
    let last = VERSIONS.len() - 1;
    let versions: Vec<Value> = VERSIONS
        .iter()
        .enumerate()
        .map(|(i, (id, updated))| {
            json!({
                "id": id,
                "status": if i == last { "CURRENT" } else { "SUPPORTED" },
                "updated": updated,
                "links": [{"href": format!("{base_url}/v2"), "rel": "self"}],
            })
        })
        .collect();
    json!({ "versions": versions })
}

/// `/`, for any method (upstream's index is method-agnostic) and without
/// a token.
pub async fn root(headers: HeaderMap) -> Response {
    json_response(StatusCode::OK, document(&base_url(&headers)))
}

/// `/v2`, `/v2.0`: upstream's V2Controller index answers the JSON string.
pub async fn v2() -> Response {
    json_response(StatusCode::OK, json!("v2"))
}
