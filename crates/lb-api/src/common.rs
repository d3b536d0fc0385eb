//! What the operator resources (flavors, availability zones and their
//! profiles) and quotas share: bodies read as WSME reads them, the policy
//! check against the caller's own project, collection answers with their
//! link keys, and the serialisation of writers of one object.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use neutrino_lb_types::LbError;
use neutrino_store::{StoreError, Tx};
use serde_json::Value;

use crate::auth::Caller;
use crate::fault::json_response;
use crate::listing::{self, ListQuery};
use crate::{LbState, ops, versions};

/// What a collection or object path of these resources answers in
/// `Allow` (pecan's RestController lists every method it has).
pub const ALLOW: &str = "DELETE, GET, POST, PUT";

/// The `Content-Type`s WSME reads as JSON.
const JSON_TYPES: &[&str] = &[
    "application/json",
    "text/javascript",
    "application/javascript",
];

/// A POST/PUT body as WSME reads it before the controller runs: no body
/// is the controller parameter `argname` missing, a declared type other
/// than JSON is 415, anything else must be JSON. (Without a type, or as
/// a form, upstream complains about an unknown argument; we read JSON.)
pub fn body(headers: &HeaderMap, bytes: &Bytes, argname: &str) -> Result<Value, LbError> {
    if bytes.is_empty() {
        return Err(LbError::missing_argument(argname));
    }
    let mimetype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim());
    match mimetype {
        None | Some("" | "application/x-www-form-urlencoded") => {}
        Some(m) if JSON_TYPES.contains(&m) => {}
        Some(m) => return Err(LbError::unknown_mimetype(m)),
    }
    ops::json_body(bytes)
}

/// `action` on the caller's own project: the target of every flavor,
/// availability-zone and profile rule (upstream passes
/// `context.project_id`).
pub fn enforce(state: &LbState, caller: &Caller, action: &str) -> Result<(), LbError> {
    let project = ops::own_project(caller)?;
    state.policy().enforce(action, caller, &project)
}

/// One page of a collection, `{plural: [...], links_key: [...]}`, its
/// links on the path the client used. Objects without an `id` page by
/// `marker_key` (upstream writes `marker=None` in their links and fails
/// on such a marker; we use the key that names them).
pub fn page(
    headers: &HeaderMap,
    uri: &Uri,
    query: &ListQuery,
    mut items: Vec<Value>,
    (plural, links_key): (&str, &str),
    marker_key: Option<&str>,
) -> Result<Response, LbError> {
    if let Some(key) = marker_key {
        for item in &mut items {
            if let Some(m) = item.as_object_mut() {
                let id = m.get(key).cloned().unwrap_or(Value::Null);
                m.insert("id".into(), id);
            }
        }
    }
    let url = format!("{}{}", versions::base_url(headers), uri.path());
    let mut page = query.page(items, &url)?;
    if marker_key.is_some() {
        for item in &mut page.items {
            if let Some(m) = item.as_object_mut() {
                m.remove("id");
            }
        }
    }
    Ok(json_response(
        StatusCode::OK,
        listing::body(plural, links_key, page),
    ))
}

/// `{key: object}`, the single-object answer.
pub fn one(status: StatusCode, key: &str, object: Value) -> Response {
    let mut body = serde_json::Map::new();
    body.insert(key.to_string(), object);
    json_response(status, Value::Object(body))
}

/// Serialises this transaction with every other writer of `key` in
/// `table` until it ends (PostgreSQL; SQLite's one writer is exclusive
/// already). For checks the store has no row lock for: a profile's users
/// (a flavor being created on it against the profile's in-use check), a
/// quota row that may not exist yet, a read-modify-write of one flavor.
pub async fn serialise(tx: &mut Tx, table: &str, key: &str) -> Result<(), StoreError> {
    neutrino_store::quotas::lock(tx, key, table).await
}
