//! `/v3/domains`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use serde_json::{Value, json};

use super::{
    AppState, Query, caller, list_links, member, opt_bool, opt_name, opt_string, opt_tags,
    parse_json, query_bool, query_str, req_name, self_link, tags_json,
};
use crate::authn::new_id;
use crate::policy::{require_admin, require_admin_or_domain};
use crate::store::{self, DomainRow};
use crate::{DEFAULT_DOMAIN_ID, IdentityError, Inner};

type Result<T> = std::result::Result<T, IdentityError>;

pub fn routes() -> Router<std::sync::Arc<Inner>> {
    Router::new()
        .route("/v3/domains", get(list).post(create))
        .route(
            "/v3/domains/{domain_id}",
            get(show).patch(update).delete(remove),
        )
}

pub(crate) fn domain_json(inner: &Inner, d: &DomainRow) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "enabled": d.enabled,
        "tags": tags_json(&d.tags),
        "options": {},
        "links": self_link(inner, &format!("/domains/{}", d.id)),
    })
}

fn conflict(name: &str) -> IdentityError {
    IdentityError::Conflict(format!(
        "Conflict occurred attempting to store domain - Duplicate entry found with name {name}."
    ))
}

pub(crate) async fn load(inner: &Inner, id: &str) -> Result<DomainRow> {
    store::get_domain(&inner.db, id)
        .await?
        .ok_or_else(|| IdentityError::not_found("domain", id))
}

async fn list(
    State(inner): AppState,
    headers: HeaderMap,
    q: Query,
    uri: Uri,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "list_domains")?;
    let rows =
        store::list_domains(&inner.db, query_str(&q, "name"), query_bool(&q, "enabled")).await?;
    let domains: Vec<Value> = rows.iter().map(|d| domain_json(&inner, d)).collect();
    Ok(Json(
        json!({"domains": domains, "links": list_links(&inner, &uri)}),
    ))
}

async fn create(
    State(inner): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>)> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "create_domain")?;
    let body = parse_json(&body)?;
    let d = member(&body, "domain")?;
    let row = DomainRow {
        id: opt_string(d, "explicit_domain_id")?.unwrap_or_else(new_id),
        name: req_name(d, "name")?,
        description: opt_string(d, "description")?.unwrap_or_default(),
        enabled: opt_bool(d, "enabled")?.unwrap_or(true),
        tags: opt_tags(d)?.unwrap_or_else(|| "[]".into()),
    };
    match store::insert_domain(&inner.db, &row).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            Json(json!({"domain": domain_json(&inner, &row)})),
        )),
        Err(e) if e.is_unique_violation() => Err(conflict(&row.name)),
        Err(e) => Err(e.into()),
    }
}

async fn show(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let me = caller(&inner, &headers).await?;
    require_admin_or_domain(&me, &id, "get_domain")?;
    let d = load(&inner, &id).await?;
    Ok(Json(json!({"domain": domain_json(&inner, &d)})))
}

async fn update(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "update_domain")?;
    let body = parse_json(&body)?;
    let d = member(&body, "domain")?;
    if d.get("id").and_then(Value::as_str).is_some_and(|v| v != id) {
        return Err(IdentityError::BadRequest(
            "Cannot change the ID of a domain.".into(),
        ));
    }
    let mut row = load(&inner, &id).await?;
    if let Some(name) = opt_name(d, "name")? {
        row.name = name;
    }
    if let Some(desc) = opt_string(d, "description")? {
        row.description = desc;
    }
    if let Some(enabled) = opt_bool(d, "enabled")? {
        row.enabled = enabled;
    }
    if let Some(tags) = opt_tags(d)? {
        row.tags = tags;
    }
    match store::update_domain(&inner.db, &row).await {
        Ok(true) => {}
        Ok(false) => return Err(IdentityError::not_found("domain", &id)),
        Err(e) if e.is_unique_violation() => return Err(conflict(&row.name)),
        Err(e) => return Err(e.into()),
    }
    Ok(Json(json!({"domain": domain_json(&inner, &row)})))
}

async fn remove(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "delete_domain")?;
    let d = load(&inner, &id).await?;
    if d.enabled {
        return Err(IdentityError::Forbidden(
            "Cannot delete a domain that is enabled, please disable it first.".into(),
        ));
    }
    if d.id == DEFAULT_DOMAIN_ID {
        return Err(IdentityError::Forbidden(
            "Cannot delete the default domain.".into(),
        ));
    }
    store::delete_domain(&inner.db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
