//! Read-only `/v3/services`, `/v3/endpoints` and `/v3/regions`: the
//! catalog comes from configuration, so it cannot be edited here.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use serde_json::{Value, json};

use super::{AppState, Query, caller, list_links, query_str, self_link};
use crate::catalog::{Endpoint, Service, endpoints, services};
use crate::policy::require_admin;
use crate::{IdentityError, Inner, store};

type Result<T> = std::result::Result<T, IdentityError>;

pub fn routes() -> Router<std::sync::Arc<Inner>> {
    Router::new()
        .route("/v3/services", get(list_services))
        .route("/v3/services/{id}", get(show_service))
        .route("/v3/endpoints", get(list_endpoints))
        .route("/v3/endpoints/{id}", get(show_endpoint))
        .route("/v3/regions", get(list_regions))
        .route("/v3/regions/{id}", get(show_region))
}

fn service_json(inner: &Inner, s: &Service) -> Value {
    json!({
        "id": s.id,
        "type": s.kind,
        "name": s.name,
        "description": s.description,
        "enabled": true,
        "links": self_link(inner, &format!("/services/{}", s.id)),
    })
}

fn endpoint_json(inner: &Inner, e: &Endpoint) -> Value {
    let region = &inner.config.catalog.region;
    json!({
        "id": e.id,
        "interface": e.interface,
        "region": region,
        "region_id": region,
        "service_id": e.service_id,
        "url": e.url,
        "enabled": true,
        "links": self_link(inner, &format!("/endpoints/{}", e.id)),
    })
}

fn region_json(inner: &Inner, id: &str) -> Value {
    json!({
        "id": id,
        "description": "",
        "parent_region_id": null,
        "links": self_link(inner, &format!("/regions/{id}")),
    })
}

async fn list_services(
    State(inner): AppState,
    headers: HeaderMap,
    q: Query,
    uri: Uri,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "list_services")?;
    let out: Vec<Value> = services(&inner.config.catalog)
        .iter()
        .filter(|s| query_str(&q, "type").is_none_or(|t| t == s.kind))
        .filter(|s| query_str(&q, "name").is_none_or(|n| n == s.name))
        .map(|s| service_json(&inner, s))
        .collect();
    Ok(Json(
        json!({"services": out, "links": list_links(&inner, &uri)}),
    ))
}

async fn show_service(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "get_service")?;
    let s = services(&inner.config.catalog)
        .into_iter()
        .find(|s| s.id == id);
    let s = s.ok_or_else(|| IdentityError::not_found("service", &id))?;
    Ok(Json(json!({"service": service_json(&inner, &s)})))
}

async fn list_endpoints(
    State(inner): AppState,
    headers: HeaderMap,
    q: Query,
    uri: Uri,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "list_endpoints")?;
    let region = &inner.config.catalog.region;
    let out: Vec<Value> = endpoints(&inner.config.catalog)
        .iter()
        .filter(|e| query_str(&q, "interface").is_none_or(|i| i == e.interface))
        .filter(|e| query_str(&q, "service_id").is_none_or(|s| s == e.service_id))
        .filter(|_| query_str(&q, "region_id").is_none_or(|r| r == region))
        .map(|e| endpoint_json(&inner, e))
        .collect();
    Ok(Json(
        json!({"endpoints": out, "links": list_links(&inner, &uri)}),
    ))
}

async fn show_endpoint(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "get_endpoint")?;
    let e = endpoints(&inner.config.catalog)
        .into_iter()
        .find(|e| e.id == id);
    let e = e.ok_or_else(|| IdentityError::not_found("endpoint", &id))?;
    Ok(Json(json!({"endpoint": endpoint_json(&inner, &e)})))
}

/// The catalog's region plus any recorded at bootstrap.
async fn region_ids(inner: &Inner) -> Result<Vec<String>> {
    let mut ids = store::list_regions(&inner.db).await?;
    if !ids.contains(&inner.config.catalog.region) {
        ids.push(inner.config.catalog.region.clone());
        ids.sort();
    }
    Ok(ids)
}

/// Any authenticated user may list regions, as in Keystone.
async fn list_regions(State(inner): AppState, headers: HeaderMap, uri: Uri) -> Result<Json<Value>> {
    caller(&inner, &headers).await?;
    let out: Vec<Value> = region_ids(&inner)
        .await?
        .iter()
        .map(|r| region_json(&inner, r))
        .collect();
    Ok(Json(
        json!({"regions": out, "links": list_links(&inner, &uri)}),
    ))
}

async fn show_region(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    caller(&inner, &headers).await?;
    if !region_ids(&inner).await?.contains(&id) {
        return Err(IdentityError::not_found("region", &id));
    }
    Ok(Json(json!({"region": region_json(&inner, &id)})))
}
