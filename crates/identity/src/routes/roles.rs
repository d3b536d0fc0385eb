//! `/v3/roles` and implied-role rules.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use serde_json::{Value, json};

use super::{
    AppState, Query, caller, list_links, member, opt_name, opt_string, parse_json, query_str,
    req_name, self_link,
};
use crate::authn::new_id;
use crate::policy::require_admin;
use crate::store::{self, RoleRow};
use crate::{IdentityError, Inner};

type Result<T> = std::result::Result<T, IdentityError>;

pub fn routes() -> Router<std::sync::Arc<Inner>> {
    Router::new()
        .route("/v3/roles", get(list).post(create))
        .route(
            "/v3/roles/{role_id}",
            get(show).patch(update).delete(remove),
        )
        .route("/v3/roles/{role_id}/implies", get(list_implied))
        .route(
            "/v3/roles/{prior_id}/implies/{implied_id}",
            get(show_rule)
                .head(check_rule)
                .put(add_rule)
                .delete(remove_rule),
        )
        .route("/v3/role_inferences", get(list_inferences))
}

pub(crate) fn role_json(inner: &Inner, r: &RoleRow) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "domain_id": if r.domain_id.is_empty() { Value::Null } else { json!(r.domain_id) },
        "description": r.description,
        "options": {},
        "links": self_link(inner, &format!("/roles/{}", r.id)),
    })
}

/// The short form used inside inference rules.
fn role_ref(inner: &Inner, r: &RoleRow) -> Value {
    json!({"id": r.id, "name": r.name, "links": self_link(inner, &format!("/roles/{}", r.id))})
}

fn conflict(name: &str) -> IdentityError {
    IdentityError::Conflict(format!(
        "Conflict occurred attempting to store role - Duplicate entry found with name {name}."
    ))
}

pub(crate) async fn load(inner: &Inner, id: &str) -> Result<RoleRow> {
    store::get_role(&inner.db, id)
        .await?
        .ok_or_else(|| IdentityError::not_found("role", id))
}

async fn list(
    State(inner): AppState,
    headers: HeaderMap,
    q: Query,
    uri: Uri,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "list_roles")?;
    let rows =
        store::list_roles(&inner.db, query_str(&q, "name"), query_str(&q, "domain_id")).await?;
    let roles: Vec<Value> = rows.iter().map(|r| role_json(&inner, r)).collect();
    Ok(Json(
        json!({"roles": roles, "links": list_links(&inner, &uri)}),
    ))
}

async fn create(
    State(inner): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>)> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "create_role")?;
    let body = parse_json(&body)?;
    let r = member(&body, "role")?;
    let domain_id = opt_string(r, "domain_id")?.unwrap_or_default();
    if !domain_id.is_empty() && store::get_domain(&inner.db, &domain_id).await?.is_none() {
        return Err(IdentityError::BadRequest(format!(
            "Could not find domain: {domain_id}."
        )));
    }
    let row = RoleRow {
        id: new_id(),
        name: req_name(r, "name")?,
        domain_id,
        description: opt_string(r, "description")?,
    };
    match store::insert_role(&inner.db, &row).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            Json(json!({"role": role_json(&inner, &row)})),
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
    require_admin(caller(&inner, &headers).await?.as_ref(), "get_role")?;
    Ok(Json(
        json!({"role": role_json(&inner, &load(&inner, &id).await?)}),
    ))
}

async fn update(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "update_role")?;
    let body = parse_json(&body)?;
    let r = member(&body, "role")?;
    let mut row = load(&inner, &id).await?;
    if let Some(name) = opt_name(r, "name")? {
        row.name = name;
    }
    if r.contains_key("description") {
        row.description = opt_string(r, "description")?;
    }
    match store::update_role(&inner.db, &row).await {
        Ok(true) => {}
        Ok(false) => return Err(IdentityError::not_found("role", &id)),
        Err(e) if e.is_unique_violation() => return Err(conflict(&row.name)),
        Err(e) => return Err(e.into()),
    }
    // Tokens show role names.
    Ok(Json(json!({"role": role_json(&inner, &row)})))
}

async fn remove(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "delete_role")?;
    if !store::delete_role(&inner.db, &id).await? {
        return Err(IdentityError::not_found("role", &id));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- inference rules

async fn rule_roles(inner: &Inner, prior: &str, implied: &str) -> Result<(RoleRow, RoleRow)> {
    Ok((load(inner, prior).await?, load(inner, implied).await?))
}

async fn rule_exists(inner: &Inner, prior: &str, implied: &str) -> Result<bool> {
    let rules = store::list_implied_roles(&inner.db).await?;
    Ok(rules.iter().any(|(p, i)| p == prior && i == implied))
}

async fn list_implied(
    State(inner): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require_admin(
        caller(&inner, &headers).await?.as_ref(),
        "list_implied_roles",
    )?;
    let prior = load(&inner, &id).await?;
    let mut implies = Vec::new();
    for (_, implied) in store::list_implied_roles(&inner.db)
        .await?
        .iter()
        .filter(|(p, _)| *p == id)
    {
        implies.push(role_ref(&inner, &load(&inner, implied).await?));
    }
    Ok(Json(
        json!({"role_inference": {"prior_role": role_ref(&inner, &prior), "implies": implies}}),
    ))
}

async fn show_rule(
    State(inner): AppState,
    headers: HeaderMap,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<Json<Value>> {
    require_admin(caller(&inner, &headers).await?.as_ref(), "get_implied_role")?;
    let (p, i) = rule_roles(&inner, &prior, &implied).await?;
    if !rule_exists(&inner, &prior, &implied).await? {
        return Err(IdentityError::not_found(
            "role inference rule",
            &format!("{prior}/{implied}"),
        ));
    }
    Ok(Json(
        json!({"role_inference": {"prior_role": role_ref(&inner, &p), "implies": role_ref(&inner, &i)}}),
    ))
}

async fn check_rule(
    State(inner): AppState,
    headers: HeaderMap,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<StatusCode> {
    require_admin(
        caller(&inner, &headers).await?.as_ref(),
        "check_implied_role",
    )?;
    rule_roles(&inner, &prior, &implied).await?;
    if rule_exists(&inner, &prior, &implied).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(IdentityError::not_found(
            "role inference rule",
            &format!("{prior}/{implied}"),
        ))
    }
}

async fn add_rule(
    State(inner): AppState,
    headers: HeaderMap,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>)> {
    require_admin(
        caller(&inner, &headers).await?.as_ref(),
        "create_implied_role",
    )?;
    let (p, i) = rule_roles(&inner, &prior, &implied).await?;
    if prior == implied {
        return Err(IdentityError::BadRequest(
            "A role cannot imply itself.".into(),
        ));
    }
    store::add_implied_role(&inner.db, &prior, &implied).await?;
    let body = json!({"role_inference": {"prior_role": role_ref(&inner, &p), "implies": role_ref(&inner, &i)}});
    Ok((StatusCode::CREATED, Json(body)))
}

async fn remove_rule(
    State(inner): AppState,
    headers: HeaderMap,
    Path((prior, implied)): Path<(String, String)>,
) -> Result<StatusCode> {
    require_admin(
        caller(&inner, &headers).await?.as_ref(),
        "delete_implied_role",
    )?;
    rule_roles(&inner, &prior, &implied).await?;
    if !store::delete_implied_role(&inner.db, &prior, &implied).await? {
        return Err(IdentityError::not_found(
            "role inference rule",
            &format!("{prior}/{implied}"),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn list_inferences(
    State(inner): AppState,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>> {
    require_admin(
        caller(&inner, &headers).await?.as_ref(),
        "list_role_inference_rules",
    )?;
    let roles: HashMap<String, RoleRow> = store::list_roles(&inner.db, None, None)
        .await?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let mut grouped: Vec<(String, Vec<Value>)> = Vec::new();
    for (p, i) in store::list_implied_roles(&inner.db).await? {
        let Some(implied) = roles.get(&i) else {
            continue;
        };
        match grouped.iter_mut().find(|(id, _)| *id == p) {
            Some((_, v)) => v.push(role_ref(&inner, implied)),
            None => grouped.push((p, vec![role_ref(&inner, implied)])),
        }
    }
    let rules: Vec<Value> = grouped
        .into_iter()
        .filter_map(|(p, implies)| {
            let prior = roles.get(&p)?;
            Some(json!({"prior_role": role_ref(&inner, prior), "implies": implies}))
        })
        .collect();
    Ok(Json(
        json!({"role_inferences": rules, "links": list_links(&inner, &uri)}),
    ))
}
