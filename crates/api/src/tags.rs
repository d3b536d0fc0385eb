//! The tags sub-resource: `/v2.0/{networks,subnets,ports,security-groups}/{id}/tags[/{tag}]`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use neutrino_store::locks::{self as lock, Lock, Table};
use neutrino_store::tags as store;
use neutrino_types::ApiError;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::body;
use crate::middleware::RawBody;
use crate::networks::internal;
use crate::reject::ApiResult;

const MAX_TAGS: usize = 50;
const MAX_TAG_LEN: usize = 255;
const TAGGABLE: &[&str] = &[
    "networks",
    "subnets",
    "ports",
    "security-groups",
    "routers",
    "floatingips",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2.0/{resource}/{id}/tags",
            get(list).put(replace).post(add_many).delete(remove_all),
        )
        .route(
            "/v2.0/{resource}/{id}/tags/{tag}",
            get(check).put(add).delete(remove),
        )
}

pub fn validate(tags: &[String]) -> Result<(), ApiError> {
    for t in tags {
        if t.is_empty() || t.chars().count() > MAX_TAG_LEN || t.contains(',') {
            return Err(ApiError::invalid_attr(
                "tags",
                format!("'{t}' is not a valid tag"),
            ));
        }
    }
    let mut sorted = tags.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != tags.len() {
        return Err(ApiError::invalid_attr(
            "tags",
            "Duplicate items in the list",
        ));
    }
    if tags.len() > MAX_TAGS {
        return Err(ApiError::bad_request(format!(
            "Number of tags exceeds the limit {MAX_TAGS}"
        )));
    }
    Ok(())
}

/// Checks the parent exists and the caller may see (and, for writes, change) it.
async fn parent(
    st: &AppState,
    caller: &Caller,
    resource: &str,
    id: &str,
    write: bool,
) -> Result<(), ApiError> {
    if !TAGGABLE.contains(&resource) {
        return Err(ApiError::not_found(
            "HTTPNotFound",
            "The resource could not be found.",
        ));
    }
    let (owner, network_project) = match resource {
        "networks" => {
            let n = neutrino_store::networks::get(&st.db, id)
                .await
                .map_err(internal)?;
            match n {
                Some(n) if caller.sees(&n) => (n.project_id, None),
                _ => return Err(ApiError::network_not_found(id)),
            }
        }
        "subnets" => match neutrino_store::subnets::get(&st.db, id)
            .await
            .map_err(internal)?
        {
            Some(s) => {
                let n = neutrino_store::networks::get(&st.db, &s.network_id)
                    .await
                    .map_err(internal)?;
                let visible =
                    caller.owns(&s.project_id) || n.as_ref().is_some_and(|n| caller.sees(n));
                if !visible {
                    return Err(ApiError::subnet_not_found(id));
                }
                (s.project_id, n.map(|n| n.project_id))
            }
            None => return Err(ApiError::subnet_not_found(id)),
        },
        "routers" => match neutrino_store::routers::get(&st.db, id)
            .await
            .map_err(internal)?
        {
            Some(r) if caller.owns(&r.project_id) => (r.project_id, None),
            _ => {
                return Err(ApiError::not_found(
                    "RouterNotFound",
                    format!("Router {id} could not be found"),
                ));
            }
        },
        "floatingips" => match neutrino_store::floatingips::get(&st.db, id)
            .await
            .map_err(internal)?
        {
            Some(f) if caller.owns(&f.project_id) => (f.project_id, None),
            _ => {
                return Err(ApiError::not_found(
                    "FloatingIPNotFound",
                    format!("Floating IP {id} could not be found"),
                ));
            }
        },
        "security-groups" => {
            match neutrino_store::security_groups::get(&st.db, id)
                .await
                .map_err(internal)?
            {
                Some(g) if caller.owns(&g.project_id) => (g.project_id, None),
                _ => return Err(crate::security_groups::not_found(id)),
            }
        }
        _ => match neutrino_store::ports::get(&st.db, id)
            .await
            .map_err(internal)?
        {
            Some(p) => {
                let n = neutrino_store::networks::get(&st.db, &p.network_id)
                    .await
                    .map_err(internal)?;
                let net_owner = n.as_ref().is_some_and(|n| caller.owns(&n.project_id));
                if !caller.owns(&p.project_id) && !net_owner {
                    return Err(ApiError::port_not_found(id));
                }
                (p.project_id, n.map(|n| n.project_id))
            }
            None => return Err(ApiError::port_not_found(id)),
        },
    };
    if write {
        caller.require_write("update_tags")?;
        if !caller.owns(&owner) && !network_project.is_some_and(|p| caller.owns(&p)) {
            return Err(ApiError::policy_not_authorized("update_tags"));
        }
    }
    Ok(())
}

fn tags_in(raw: &[u8]) -> Result<Vec<String>, ApiError> {
    let v = body::parse_json(raw)?;
    let Some(list) = v.get("tags") else {
        return Err(ApiError::bad_request("Invalid tags body"));
    };
    let Value::Array(items) = list else {
        return Err(ApiError::invalid_attr("tags", "Invalid tags body"));
    };
    let tags = items
        .iter()
        .map(|t| {
            t.as_str().map(str::to_owned).ok_or_else(|| {
                ApiError::invalid_attr("tags", format!("'{t}' is not a valid string"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    validate(&tags)?;
    Ok(tags)
}

/// Locks the tagged object for the rest of the transaction (its tags are
/// read, counted and rewritten: see store::locks), and answers its 404 if
/// it was deleted since [`parent`] saw it.
async fn hold(tx: &mut neutrino_store::Tx, resource: &str, id: &str) -> Result<(), ApiError> {
    let (table, gone) = match resource {
        "networks" => (Table::Networks, ApiError::network_not_found(id)),
        "subnets" => (Table::Subnets, ApiError::subnet_not_found(id)),
        "routers" => (
            Table::Routers,
            ApiError::not_found("RouterNotFound", format!("Router {id} could not be found")),
        ),
        "floatingips" => (
            Table::FloatingIps,
            ApiError::not_found(
                "FloatingIPNotFound",
                format!("Floating IP {id} could not be found"),
            ),
        ),
        "security-groups" => (
            Table::SecurityGroups,
            ApiError::not_found(
                "SecurityGroupNotFound",
                format!("Security group {id} does not exist"),
            ),
        ),
        _ => (Table::Ports, ApiError::port_not_found(id)),
    };
    if lock::exists(tx, table, id, Lock::Update)
        .await
        .map_err(internal)?
    {
        Ok(())
    } else {
        Err(gone)
    }
}

async fn bump(tx: &mut neutrino_store::Tx, resource: &str, id: &str) -> Result<(), ApiError> {
    // As in Neutron (a tag revises its standard_attr): every taggable
    // resource moves to a new revision when its tags change.
    let now = neutrino_store::now_timestamp();
    match resource {
        "networks" => neutrino_store::networks::touch(tx, id, &now).await,
        "subnets" => neutrino_store::subnets::touch(tx, id, &now).await,
        "security-groups" => neutrino_store::security_groups::touch(tx, id, &now).await,
        "routers" => neutrino_store::routers::touch(tx, id, &now).await,
        "floatingips" => neutrino_store::floatingips::touch(tx, id, &now).await,
        _ => neutrino_store::ports::touch(tx, id, &now).await,
    }
    .map_err(internal)?;
    Ok(())
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Path((resource, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    parent(&st, &caller, &resource, &id, false).await?;
    let tags = store::get(&st.db, &resource, &id).await?;
    Ok(Json(json!({"tags": tags})))
}

async fn check(
    State(st): State<AppState>,
    caller: Caller,
    Path((resource, id, tag)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    parent(&st, &caller, &resource, &id, false).await?;
    if store::get(&st.db, &resource, &id).await?.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "TagNotFound",
            format!("Tag {tag} could not be found for {resource} {id}."),
        )
        .into())
    }
}

async fn replace(
    State(st): State<AppState>,
    caller: Caller,
    Path((resource, id)): Path<(String, String)>,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    parent(&st, &caller, &resource, &id, true).await?;
    let tags = tags_in(&raw)?;
    let mut tx = st.db.begin().await?;
    hold(&mut tx, &resource, &id).await?;
    store::replace(&mut tx, &resource, &id, &tags).await?;
    bump(&mut tx, &resource, &id).await?;
    tx.commit().await?;
    let mut sorted = tags;
    sorted.sort();
    Ok(Json(json!({"tags": sorted})))
}

async fn add_many(
    State(st): State<AppState>,
    caller: Caller,
    Path((resource, id)): Path<(String, String)>,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    parent(&st, &caller, &resource, &id, true).await?;
    let tags = tags_in(&raw)?;
    let mut tx = st.db.begin().await?;
    hold(&mut tx, &resource, &id).await?;
    let mut all = store::get_tx(&mut tx, &resource, &id).await?;
    for t in &tags {
        if !all.contains(t) {
            all.push(t.clone());
        }
    }
    validate(&all)?;
    store::replace(&mut tx, &resource, &id, &all).await?;
    bump(&mut tx, &resource, &id).await?;
    tx.commit().await?;
    all.sort();
    Ok((StatusCode::CREATED, Json(json!({"tags": all}))).into_response())
}

async fn add(
    State(st): State<AppState>,
    caller: Caller,
    Path((resource, id, tag)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    parent(&st, &caller, &resource, &id, true).await?;
    let mut tx = st.db.begin().await?;
    hold(&mut tx, &resource, &id).await?;
    let mut all = store::get_tx(&mut tx, &resource, &id).await?;
    if !all.contains(&tag) {
        all.push(tag.clone());
    }
    validate(&all)?;
    store::add(&mut tx, &resource, &id, &tag).await?;
    bump(&mut tx, &resource, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::CREATED)
}

async fn remove(
    State(st): State<AppState>,
    caller: Caller,
    Path((resource, id, tag)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    parent(&st, &caller, &resource, &id, true).await?;
    let mut tx = st.db.begin().await?;
    hold(&mut tx, &resource, &id).await?;
    if !store::remove(&mut tx, &resource, &id, &tag).await? {
        return Err(ApiError::not_found(
            "TagNotFound",
            format!("Tag {tag} could not be found for {resource} {id}."),
        )
        .into());
    }
    bump(&mut tx, &resource, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_all(
    State(st): State<AppState>,
    caller: Caller,
    Path((resource, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    parent(&st, &caller, &resource, &id, true).await?;
    let mut tx = st.db.begin().await?;
    hold(&mut tx, &resource, &id).await?;
    store::delete_all(&mut tx, &resource, &id).await?;
    bump(&mut tx, &resource, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
