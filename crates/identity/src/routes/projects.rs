//! `/v3/projects`.

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
use crate::authn::{ScopeData, TokenData, new_id};
use crate::policy::{require_admin, require_admin_or_project};
use crate::store::{self, ProjectFilter, ProjectRow};
use crate::{DEFAULT_DOMAIN_ID, IdentityError, Inner};

type Result<T> = std::result::Result<T, IdentityError>;

pub fn routes() -> Router<std::sync::Arc<Inner>> {
    Router::new()
        .route("/v3/projects", get(list).post(create))
        .route(
            "/v3/projects/{project_id}",
            get(show).patch(update).delete(remove),
        )
}

pub(crate) fn project_json(inner: &Inner, p: &ProjectRow) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "description": p.description,
        "enabled": p.enabled,
        // Keystone reports a top-level project's domain as its parent.
        "parent_id": p.parent_id.as_deref().unwrap_or(&p.domain_id),
        "is_domain": false,
        "tags": tags_json(&p.tags),
        "options": {},
        "links": self_link(inner, &format!("/projects/{}", p.id)),
    })
}

fn conflict(p: &ProjectRow) -> IdentityError {
    IdentityError::Conflict(format!(
        "Conflict occurred attempting to store project - Duplicate entry found with name {} at domain ID {}.",
        p.name, p.domain_id
    ))
}

pub(crate) async fn load(inner: &Inner, id: &str) -> Result<ProjectRow> {
    store::get_project(&inner.db, id)
        .await?
        .ok_or_else(|| IdentityError::not_found("project", id))
}

/// Where a new project or user goes when the request names no domain: the
/// domain of the caller's scope, as in Keystone.
pub(crate) fn default_domain_of(caller: &TokenData) -> String {
    match &caller.scope {
        ScopeData::Project { domain, .. } => domain.id.clone(),
        ScopeData::Domain(d) => d.id.clone(),
        _ => DEFAULT_DOMAIN_ID.into(),
    }
}

async fn list(
    State(inner): AppState,
    headers: HeaderMap,
    q: Query,
    uri: Uri,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "list_projects")?;
    // We keep no projects acting as domains.
    if query_bool(&q, "is_domain") == Some(true) {
        return Ok(Json(
            json!({"projects": [], "links": list_links(&inner, &uri)}),
        ));
    }
    let filter = ProjectFilter {
        name: query_str(&q, "name"),
        domain_id: query_str(&q, "domain_id"),
        parent_id: query_str(&q, "parent_id"),
        enabled: query_bool(&q, "enabled"),
    };
    let rows = store::list_projects(&inner.db, &filter).await?;
    let projects: Vec<Value> = rows.iter().map(|p| project_json(&inner, p)).collect();
    Ok(Json(
        json!({"projects": projects, "links": list_links(&inner, &uri)}),
    ))
}

async fn create(
    State(inner): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>)> {
    let me = caller(&inner, &headers).await?;
    require_admin(&me, "create_project")?;
    let body = parse_json(&body)?;
    let p = member(&body, "project")?;
    if opt_bool(p, "is_domain")? == Some(true) {
        return Err(IdentityError::BadRequest(
            "Projects acting as domains are not supported.".into(),
        ));
    }
    let mut parent = opt_string(p, "parent_id")?;
    let domain_id = match opt_string(p, "domain_id")? {
        Some(d) => d,
        None => match &parent {
            Some(pid) => match store::get_project(&inner.db, pid).await? {
                Some(pp) => pp.domain_id,
                None => pid.clone(),
            },
            None => default_domain_of(&me),
        },
    };
    if store::get_domain(&inner.db, &domain_id).await?.is_none() {
        return Err(IdentityError::BadRequest(format!(
            "Could not find domain: {domain_id}."
        )));
    }
    if parent.as_deref() == Some(domain_id.as_str()) {
        parent = None;
    }
    if let Some(pid) = &parent {
        match store::get_project(&inner.db, pid).await? {
            Some(pp) if pp.domain_id == domain_id => {}
            Some(_) => {
                return Err(IdentityError::BadRequest(
                    "Cannot create a project in a domain other than its parent's.".into(),
                ));
            }
            None => {
                return Err(IdentityError::BadRequest(format!(
                    "Could not find project: {pid}."
                )));
            }
        }
    }
    let row = ProjectRow {
        id: new_id(),
        domain_id,
        name: req_name(p, "name")?,
        description: opt_string(p, "description")?.unwrap_or_default(),
        enabled: opt_bool(p, "enabled")?.unwrap_or(true),
        parent_id: parent,
        tags: opt_tags(p)?.unwrap_or_else(|| "[]".into()),
    };
    match store::insert_project(&inner.db, &row).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            Json(json!({"project": project_json(&inner, &row)})),
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
    let me = caller(&inner, &headers).await?;
    require_admin_or_project(&me, &id, "get_project")?;
    let p = load(&inner, &id).await?;
    Ok(Json(json!({"project": project_json(&inner, &p)})))
}

async fn update(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "update_project")?;
    let body = parse_json(&body)?;
    let p = member(&body, "project")?;
    let mut row = load(&inner, &id).await?;
    if opt_string(p, "domain_id")?.is_some_and(|d| d != row.domain_id) {
        return Err(IdentityError::BadRequest("Cannot change Domain ID.".into()));
    }
    if let Some(name) = opt_name(p, "name")? {
        row.name = name;
    }
    if let Some(desc) = opt_string(p, "description")? {
        row.description = desc;
    }
    if let Some(enabled) = opt_bool(p, "enabled")? {
        row.enabled = enabled;
    }
    if let Some(tags) = opt_tags(p)? {
        row.tags = tags;
    }
    match store::update_project(&inner.db, &row).await {
        Ok(true) => {}
        Ok(false) => return Err(IdentityError::not_found("project", &id)),
        Err(e) if e.is_unique_violation() => return Err(conflict(&row)),
        Err(e) => return Err(e.into()),
    }
    Ok(Json(json!({"project": project_json(&inner, &row)})))
}

async fn remove(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "delete_project")?;
    load(&inner, &id).await?;
    if store::count_child_projects(&inner.db, &id).await? > 0 {
        return Err(IdentityError::Forbidden(format!(
            "Cannot delete the project {id} since it is not a leaf in the hierarchy."
        )));
    }
    if !store::delete_project(&inner.db, &id).await? {
        return Err(IdentityError::not_found("project", &id));
    }
    Ok(StatusCode::NO_CONTENT)
}
