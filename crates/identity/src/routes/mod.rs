//! The Keystone v3 HTTP API, and helpers shared by its handlers.

mod assignments;
mod auth;
mod catalog;
mod discovery;
mod domains;
mod projects;
mod roles;
mod users;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::any;
use serde_json::{Map, Value, json};

use crate::authn::{self, TokenData};
use crate::{IdentityError, Inner, error};

pub(crate) type AppState = State<Arc<Inner>>;
pub(crate) type Query = axum::extract::Query<HashMap<String, String>>;
type Result<T> = std::result::Result<T, IdentityError>;

pub fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .merge(discovery::routes())
        .merge(auth::routes())
        .merge(domains::routes())
        .merge(projects::routes())
        .merge(users::routes())
        .merge(roles::routes())
        .merge(assignments::routes())
        .merge(catalog::routes())
        // Not a fallback, so that the router can be merged into another
        // that has one; unknown /v3 paths still get Keystone's 404 body.
        .route("/v3/{*rest}", any(unknown_path))
        .layer(axum::middleware::from_fn(check_url))
        .layer(axum::middleware::map_response_with_state(
            inner.clone(),
            add_auth_header,
        ))
        .with_state(inner)
}

async fn unknown_path(uri: Uri) -> IdentityError {
    IdentityError::NotFound(format!("The resource could not be found: {}", uri.path()))
}

async fn add_auth_header(State(inner): AppState, mut resp: Response) -> Response {
    error::add_www_authenticate(&mut resp, &inner.config.catalog.identity_url);
    resp
}

/// The caller, from `X-Auth-Token`; 401 when missing or invalid.
pub(crate) async fn caller(inner: &Inner, headers: &HeaderMap) -> Result<Arc<TokenData>> {
    let token = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
        .ok_or_else(IdentityError::unauthorized)?;
    authn::validate(inner, token).await
}

/// The identity endpoint without its version suffix, e.g. `http://h:5000`.
pub(crate) fn base_url(inner: &Inner) -> String {
    let url = inner.config.catalog.identity_url.trim_end_matches('/');
    url.strip_suffix("/v3").unwrap_or(url).to_owned()
}

/// Absolute URL of an API path such as `/projects/abc`.
pub(crate) fn v3_url(inner: &Inner, path: &str) -> String {
    format!("{}/v3{path}", base_url(inner))
}

pub(crate) fn self_link(inner: &Inner, path: &str) -> Value {
    json!({"self": v3_url(inner, path)})
}

/// The `links` object of a collection response.
pub(crate) fn list_links(inner: &Inner, uri: &Uri) -> Value {
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(uri.path());
    json!({"self": format!("{}{path_and_query}", base_url(inner)), "previous": null, "next": null})
}

// ---------------------------------------------------------------- request bodies

pub(crate) fn parse_json(body: &Bytes) -> Result<Value> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        IdentityError::BadRequest(
            "Expecting to find valid JSON in request body. The server could not comply with the \
             request since it is either malformed or otherwise incorrect. The client is assumed \
             to be in error."
                .into(),
        )
    })?;
    // One check for every body (including unauthenticated token requests):
    // PostgreSQL cannot compare or store a NUL, SQLite would.
    if let Some(path) = neutrino_types::input::find_nul(&v) {
        let field = path.join("/").replace('\0', "\\0");
        return Err(invalid(&field, "NUL characters are not allowed"));
    }
    Ok(v)
}

/// Refuses URLs whose path or query decode to invalid UTF-8 or contain
/// NUL, with Keystone's 400 body rather than the router's plain text.
async fn check_url(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::response::IntoResponse;
    let uri = req.uri();
    match neutrino_types::input::check_url(uri.path(), uri.query()) {
        Ok(()) => next.run(req).await,
        Err(why) => IdentityError::BadRequest(format!("Invalid URL: {why}.")).into_response(),
    }
}

/// The object under `key` in a body such as `{"user": {...}}`.
pub(crate) fn member<'a>(body: &'a Value, key: &str) -> Result<&'a Map<String, Value>> {
    match body.get(key) {
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(invalid(key, "is not of type 'object'")),
        None => Err(invalid(key, &format!("'{key}' is a required property"))),
    }
}

pub(crate) fn invalid(field: &str, why: &str) -> IdentityError {
    IdentityError::BadRequest(format!("Invalid input for field '{field}': {why}"))
}

/// A string field; JSON null reads as absent.
pub(crate) fn opt_string(obj: &Map<String, Value>, field: &str) -> Result<Option<String>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(invalid(field, &format!("{v} is not of type 'string'"))),
    }
}

/// A name: a string of 1 to 255 characters.
pub(crate) fn opt_name(obj: &Map<String, Value>, field: &str) -> Result<Option<String>> {
    let name = opt_string(obj, field)?;
    if let Some(n) = &name
        && (n.trim().is_empty() || n.chars().count() > 255)
    {
        return Err(invalid(field, &format!("{n:?} is not a valid name")));
    }
    Ok(name)
}

pub(crate) fn req_name(obj: &Map<String, Value>, field: &str) -> Result<String> {
    opt_name(obj, field)?
        .ok_or_else(|| invalid(field, &format!("'{field}' is a required property")))
}

pub(crate) fn opt_bool(obj: &Map<String, Value>, field: &str) -> Result<Option<bool>> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(invalid(field, &format!("{v} is not of type 'boolean'"))),
    }
}

/// `tags`: a list of strings, stored as JSON text.
pub(crate) fn opt_tags(obj: &Map<String, Value>) -> Result<Option<String>> {
    match obj.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            Ok(Some(Value::Array(items.clone()).to_string()))
        }
        Some(v) => Err(invalid("tags", &format!("{v} is not a list of strings"))),
    }
}

pub(crate) fn tags_json(stored: &str) -> Value {
    serde_json::from_str(stored).unwrap_or_else(|_| json!([]))
}

// ---------------------------------------------------------------- query strings

/// Keystone's reading of boolean filters: `0`, `false`, `no`, `off` are
/// false (any case); any other value, or a bare key, is true.
pub(crate) fn query_bool(q: &HashMap<String, String>, key: &str) -> Option<bool> {
    q.get(key).map(|v| {
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "0" | "false" | "no" | "off"
        )
    })
}

pub(crate) fn query_str<'a>(q: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    q.get(key).map(String::as_str)
}
