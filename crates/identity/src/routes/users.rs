//! `/v3/users`. Passwords go in, never out.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::projects::{default_domain_of, project_json};
use super::{
    AppState, Query, caller, invalid, list_links, member, opt_bool, opt_name, opt_string,
    parse_json, query_bool, query_str, req_name, self_link,
};
use crate::authn::new_id;
use crate::policy::{require_admin, require_admin_or_self};
use crate::store::{self, UserRow};
use crate::{IdentityError, Inner, password};

type Result<T> = std::result::Result<T, IdentityError>;

/// Fields with a meaning of their own; everything else in a user body is
/// kept verbatim, as Keystone does with `email`, `description` and so on.
const KNOWN_FIELDS: &[&str] = &[
    "id",
    "name",
    "domain_id",
    "password",
    "enabled",
    "default_project_id",
    "options",
    "links",
    "password_expires_at",
    "federated",
];

pub fn routes() -> Router<std::sync::Arc<Inner>> {
    Router::new()
        .route("/v3/users", get(list).post(create))
        .route(
            "/v3/users/{user_id}",
            get(show).patch(update).delete(remove),
        )
        .route("/v3/users/{user_id}/password", post(change_password))
        .route("/v3/users/{user_id}/projects", get(projects))
        .route("/v3/users/{user_id}/groups", get(groups))
}

pub(crate) fn user_json(inner: &Inner, u: &UserRow) -> Value {
    let mut out: Map<String, Value> = match serde_json::from_str(&u.extra) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    out.insert("id".into(), json!(u.id));
    out.insert("name".into(), json!(u.name));
    out.insert("domain_id".into(), json!(u.domain_id));
    out.insert("enabled".into(), json!(u.enabled));
    out.insert("password_expires_at".into(), Value::Null);
    out.insert("options".into(), json!({}));
    out.insert(
        "links".into(),
        self_link(inner, &format!("/users/{}", u.id)),
    );
    if let Some(p) = &u.default_project_id {
        out.insert("default_project_id".into(), json!(p));
    }
    Value::Object(out)
}

fn conflict(u: &UserRow) -> IdentityError {
    IdentityError::Conflict(format!(
        "Conflict occurred attempting to store user - Duplicate entry found with name {} at domain ID {}.",
        u.name, u.domain_id
    ))
}

pub(crate) async fn load(inner: &Inner, id: &str) -> Result<UserRow> {
    store::get_user(&inner.db, id)
        .await?
        .ok_or_else(|| IdentityError::not_found("user", id))
}

fn password_field(u: &Map<String, Value>) -> Result<Option<String>> {
    let p = opt_string(u, "password")?;
    if p.as_deref().is_some_and(str::is_empty) {
        return Err(invalid("password", "'' is too short"));
    }
    Ok(p)
}

/// Merges the free-form attributes of `u` into the stored JSON object; a
/// null value removes the attribute.
fn merge_extra(stored: &str, u: &Map<String, Value>) -> String {
    let mut extra: Map<String, Value> = match serde_json::from_str(stored) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for (k, v) in u
        .iter()
        .filter(|(k, _)| !KNOWN_FIELDS.contains(&k.as_str()))
    {
        if v.is_null() {
            extra.remove(k);
        } else {
            extra.insert(k.clone(), v.clone());
        }
    }
    Value::Object(extra).to_string()
}

async fn list(
    State(inner): AppState,
    headers: HeaderMap,
    q: Query,
    uri: Uri,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "list_users")?;
    let rows = store::list_users(
        &inner.db,
        query_str(&q, "name"),
        query_str(&q, "domain_id"),
        query_bool(&q, "enabled"),
    )
    .await?;
    let users: Vec<Value> = rows.iter().map(|u| user_json(&inner, u)).collect();
    Ok(Json(
        json!({"users": users, "links": list_links(&inner, &uri)}),
    ))
}

async fn create(
    State(inner): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>)> {
    let me = caller(&inner, &headers).await?;
    require_admin(&me, "create_user")?;
    let body = parse_json(&body)?;
    let u = member(&body, "user")?;
    let domain_id = opt_string(u, "domain_id")?.unwrap_or_else(|| default_domain_of(&me));
    if store::get_domain(&inner.db, &domain_id).await?.is_none() {
        return Err(IdentityError::BadRequest(format!(
            "Could not find domain: {domain_id}."
        )));
    }
    let name = req_name(u, "name")?;
    let password_hash = match password_field(u)? {
        Some(p) => Some(password::hash(&p).await?),
        None => None,
    };
    let row = UserRow {
        id: new_id(),
        domain_id,
        name,
        enabled: opt_bool(u, "enabled")?.unwrap_or(true),
        password_hash,
        default_project_id: opt_string(u, "default_project_id")?,
        extra: merge_extra("{}", u),
        revoked_before: 0,
    };
    match store::insert_user(&inner.db, &row).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            Json(json!({"user": user_json(&inner, &row)})),
        )),
        Err(e) if e.is_unique_violation() => Err(conflict(&row)),
        Err(e) => Err(e.into()),
    }
}

async fn show(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require_admin_or_self(caller(&inner, &headers).await?.as_ref(), &id, "get_user")?;
    let u = load(&inner, &id).await?;
    Ok(Json(json!({"user": user_json(&inner, &u)})))
}

async fn update(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "update_user")?;
    let body = parse_json(&body)?;
    let u = member(&body, "user")?;
    let mut row = load(&inner, &id).await?;
    if opt_string(u, "domain_id")?.is_some_and(|d| d != row.domain_id) {
        return Err(IdentityError::BadRequest("Cannot change Domain ID.".into()));
    }
    if let Some(name) = opt_name(u, "name")? {
        row.name = name;
    }
    if let Some(enabled) = opt_bool(u, "enabled")? {
        // Keystone revokes a disabled user's tokens: enabling the user
        // again does not bring them back.
        if row.enabled && !enabled {
            row.revoked_before = crate::authn::revoking_epoch(row.revoked_before);
        }
        row.enabled = enabled;
    }
    if u.contains_key("default_project_id") {
        row.default_project_id = opt_string(u, "default_project_id")?;
    }
    if let Some(p) = password_field(u)? {
        row.password_hash = Some(password::hash(&p).await?);
        // Keystone revokes a user's tokens when the password changes.
        row.revoked_before = crate::authn::revoking_epoch(row.revoked_before);
    }
    row.extra = merge_extra(&row.extra, u);
    match store::update_user(&inner.db, &row).await {
        Ok(true) => {}
        Ok(false) => return Err(IdentityError::not_found("user", &id)),
        Err(e) if e.is_unique_violation() => return Err(conflict(&row)),
        Err(e) => return Err(e.into()),
    }
    Ok(Json(json!({"user": user_json(&inner, &row)})))
}

async fn remove(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "delete_user")?;
    if !store::delete_user(&inner.db, &id).await? {
        return Err(IdentityError::not_found("user", &id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Self-service password change: proven by the original password, so it
/// needs no token (as in Keystone).
async fn change_password(
    State(inner): AppState,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode> {
    let body = parse_json(&body)?;
    let u = member(&body, "user")?;
    let original = opt_string(u, "original_password")?.ok_or_else(|| {
        invalid(
            "original_password",
            "'original_password' is a required property",
        )
    })?;
    let new = password_field(u)?
        .ok_or_else(|| invalid("password", "'password' is a required property"))?;
    let mut row = store::get_user(&inner.db, &id).await?;
    let hash = row.as_ref().and_then(|r| r.password_hash.as_deref());
    if !password::verify(&original, hash).await {
        return Err(IdentityError::unauthorized());
    }
    let Some(row) = row.as_mut() else {
        return Err(IdentityError::unauthorized());
    };
    row.password_hash = Some(password::hash(&new).await?);
    row.revoked_before = crate::authn::revoking_epoch(row.revoked_before);
    store::update_user(&inner.db, row).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn projects(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Json<Value>> {
    require_admin_or_self(
        caller(&inner, &headers).await?.as_ref(),
        &id,
        "list_user_projects",
    )?;
    load(&inner, &id).await?;
    let rows = store::projects_of_user(&inner.db, &id).await?;
    let projects: Vec<Value> = rows.iter().map(|p| project_json(&inner, p)).collect();
    Ok(Json(
        json!({"projects": projects, "links": list_links(&inner, &uri)}),
    ))
}

/// We have no groups; clients that ask get an empty list.
async fn groups(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Json<Value>> {
    require_admin_or_self(
        caller(&inner, &headers).await?.as_ref(),
        &id,
        "list_groups_for_user",
    )?;
    load(&inner, &id).await?;
    Ok(Json(
        json!({"groups": [], "links": list_links(&inner, &uri)}),
    ))
}
