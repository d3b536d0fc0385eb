//! `/v2.0/rbac-policies`: sharing networks with projects (`access_as_shared`)
//! and letting them use external networks (`access_as_external`).

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use neutrino_store::locks::{self as lock, Lock, Table};
use neutrino_store::now_timestamp;
use neutrino_store::rbac as store;
use neutrino_types::ApiError;
use neutrino_types::model::{ACCESS_AS_EXTERNAL, ACCESS_AS_SHARED, RbacPolicy};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::body::{self, Attr, attr};
use crate::listing::{self, ListParams, ListSpec};
use crate::middleware::RawBody;
use crate::networks::{base_url, fields_of, internal};
use crate::reject::ApiResult;
use crate::{AppState, views};

const ATTRS: &[Attr] = &[
    attr("id", false, false),
    attr("tenant_id", true, false),
    attr("project_id", true, false),
    attr("object_type", true, false),
    attr("object_id", true, false),
    attr("action", true, false),
    attr("target_tenant", true, true),
];

const SPEC: ListSpec = ListSpec {
    plural: "rbac_policies",
    filters: &[
        "id",
        "project_id",
        "object_type",
        "object_id",
        "action",
        "target_tenant",
    ],
    sort_keys: &[
        "id",
        "project_id",
        "object_type",
        "object_id",
        "action",
        "target_tenant",
    ],
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2.0/rbac-policies", get(list).post(create))
        .route(
            "/v2.0/rbac-policies/{id}",
            get(show).put(update).delete(delete),
        )
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "RbacPolicyNotFound",
        format!("RBAC policy of type network with ID {id} not found"),
    )
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(uri.query(), &SPEC)?;
    let vis = caller.visibility();
    let items = store::list(&st.db, vis.as_deref())
        .await?
        .iter()
        .map(views::rbac_policy)
        .collect();
    Ok(Json(listing::respond(
        items,
        &params,
        &SPEC,
        &base_url(&headers, &uri),
    )?))
}

/// A policy the caller may see: its own, or one that names its project.
async fn visible(st: &AppState, caller: &Caller, id: &str) -> Result<RbacPolicy, ApiError> {
    match store::get(&st.db, id).await.map_err(internal)? {
        // A policy is its creator's: the project it names does not see it.
        Some(p) if caller.owns(&p.project_id) => Ok(p),
        _ => Err(not_found(id)),
    }
}

async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let p = visible(&st, &caller, &id).await?;
    Ok(Json(
        json!({"rbac_policy": listing::select_fields(views::rbac_policy(&p), &fields_of(uri.query()))}),
    ))
}

/// Only admins may grant to everyone (Neutron's `restrict_wildcard`).
fn check_target(caller: &Caller, target: &str, action: &str) -> Result<(), ApiError> {
    if target == "*" && !caller.is_admin() {
        return Err(ApiError::policy_not_authorized(&format!(
            "{action}_rbac_policy:target_tenant"
        )));
    }
    if target.is_empty() || target.len() > 255 {
        return Err(ApiError::invalid_attr(
            "target_tenant",
            format!("'{target}' is not a valid project id"),
        ));
    }
    Ok(())
}

/// Refuses a change to policy `p` (its deletion, or re-targeting it to
/// `new_target`) that would take access away from a project still using
/// the network that way; the owner needs no grant.
async fn check_not_in_use(
    tx: &mut neutrino_store::Tx,
    p: &RbacPolicy,
    net_owner: &str,
    new_target: Option<&str>,
) -> Result<(), ApiError> {
    let mut grants: Vec<String> = store::access_tx(tx, &p.object_id)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|a| a.action == p.action)
        .map(|a| a.target)
        .collect();
    // This policy's grant goes (or moves).
    if let Some(i) = grants.iter().position(|t| *t == p.target_project) {
        grants.remove(i);
    }
    grants.extend(new_target.map(str::to_owned));
    let covered =
        |project: &str| project == net_owner || grants.iter().any(|t| t == "*" || t == project);
    let users = store::users_tx(tx, &p.object_id, &p.action)
        .await
        .map_err(internal)?;
    if users.iter().any(|u| !covered(u)) {
        return Err(ApiError::conflict(
            "RbacPolicyInUse",
            format!(
                "RBAC policy on object {} cannot be removed because other objects depend on it.",
                p.object_id
            ),
        ));
    }
    Ok(())
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    let m = body::single(body::parse_json(&raw)?, "rbac_policy")?;
    body::check_attrs(&m, ATTRS, true)?;
    caller.require_write("create_rbac_policy")?;
    let required = |k: &str| -> Result<String, ApiError> {
        body::opt_string(&m, k, 255)?.ok_or_else(|| {
            ApiError::bad_request(format!(
                "Failed to parse request. Required attribute '{k}' not specified"
            ))
        })
    };
    let object_type = required("object_type")?;
    let object_id = required("object_id")?;
    let action = required("action")?;
    let target = required("target_tenant")?;
    if object_type != "network" {
        return Err(ApiError::invalid_attr(
            "object_type",
            format!("{object_type} is not in ['network']"),
        )
        .into());
    }
    if action != ACCESS_AS_SHARED && action != ACCESS_AS_EXTERNAL {
        return Err(ApiError::invalid_attr(
            "action",
            format!("{action} is not in ['access_as_external', 'access_as_shared']"),
        )
        .into());
    }
    check_target(&caller, &target, "create")?;
    let project = body::project_of(&m)?.unwrap_or_else(|| caller.project_id());
    // A policy in another project's name is an admin's (policy rule
    // ADMIN_OR_PROJECT_MEMBER), not silently re-owned.
    if !caller.owns(&project) {
        return Err(ApiError::policy_not_authorized("create_rbac_policy").into());
    }
    let mut tx = st.db.begin().await?;
    // The grant may change the network's flags: hold it as for an update.
    lock::row(&mut tx, Table::Networks, &object_id, Lock::Update).await?;
    let net = neutrino_store::networks::get_tx(&mut tx, &object_id).await?;
    // Only the network's owner (or an admin) may grant access to it.
    let net = match net {
        Some(n) if caller.owns(&n.project_id) => n,
        Some(n) if caller.sees(&n) => {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!("Only the owner of network {object_id} may change its access"),
            )
            .into());
        }
        _ => {
            return Err(ApiError::not_found(
                "RbacPolicyNotFound",
                format!("RBAC policy of type network with ID {object_id} not found"),
            )
            .into());
        }
    };
    // As in Neutron: granting access_as_external makes the network external.
    let becomes_external = action == ACCESS_AS_EXTERNAL && !net.router_external;
    let now = now_timestamp();
    let policy = RbacPolicy {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: if caller.is_admin() {
            project
        } else {
            net.project_id.clone()
        },
        object_id,
        action: action.clone(),
        target_project: target.clone(),
        created_at: now.clone(),
        updated_at: now,
    };
    crate::quotas::enforce(&st, &mut tx, &policy.project_id, "rbac_policy", 1).await?;
    if !store::insert(&mut tx, &policy).await? {
        return Err(ApiError::conflict(
            "DuplicateRbacPolicy",
            "An RBAC policy already exists with those values.",
        )
        .into());
    }
    if becomes_external {
        let mut n = net.clone();
        n.router_external = true;
        n.updated_at = now_timestamp();
        neutrino_store::networks::update(&mut tx, &n).await?;
    }
    if action == ACCESS_AS_SHARED && target == "*" {
        let mut n = neutrino_store::networks::get_tx(&mut tx, &net.id)
            .await?
            .unwrap_or_else(|| net.clone());
        n.shared = true;
        n.updated_at = now_timestamp();
        neutrino_store::networks::update(&mut tx, &n).await?;
    }
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"rbac_policy": views::rbac_policy(&policy)})),
    )
        .into_response())
}

async fn owned(
    st: &AppState,
    caller: &Caller,
    id: &str,
    action: &str,
) -> Result<RbacPolicy, ApiError> {
    let p = visible(st, caller, id).await?;
    if !caller.owns(&p.project_id) {
        return Err(ApiError::policy_not_authorized(action));
    }
    caller.require_write(action)?;
    Ok(p)
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    let m = body::single(body::parse_json(&raw)?, "rbac_policy")?;
    body::check_attrs(&m, ATTRS, false)?;
    owned(&st, &caller, &id, "update_rbac_policy").await?;
    let mut tx = st.db.begin().await?;
    // The network first: ports created under this grant hold it, and the
    // in-use check below must see them (store::locks).
    lock::with_network(
        &mut tx,
        Table::NetworkRbacs,
        &id,
        Lock::Update,
        Lock::Update,
    )
    .await?;
    let mut p = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    if let Some(target) = body::opt_string(&m, "target_tenant", 255)?
        && target != p.target_project
    {
        check_target(&caller, &target, "update")?;
        let owner = neutrino_store::networks::get_tx(&mut tx, &p.object_id)
            .await?
            .map(|n| n.project_id)
            .unwrap_or_default();
        check_not_in_use(&mut tx, &p, &owner, Some(&target)).await?;
        if !store::set_target(&mut tx, &id, &target, &now_timestamp()).await? {
            return Err(ApiError::conflict(
                "DuplicateRbacPolicy",
                "An RBAC policy already exists with those values.",
            )
            .into());
        }
        if p.action == ACCESS_AS_SHARED
            && (p.target_project == "*" || target == "*")
            && let Some(mut n) = neutrino_store::networks::get_tx(&mut tx, &p.object_id).await?
        {
            n.shared = target == "*";
            n.updated_at = now_timestamp();
            neutrino_store::networks::update(&mut tx, &n).await?;
        }
        p.target_project = target;
    }
    tx.commit().await?;
    Ok(Json(json!({"rbac_policy": views::rbac_policy(&p)})))
}

async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    owned(&st, &caller, &id, "delete_rbac_policy").await?;
    let mut tx = st.db.begin().await?;
    // The network first: ports created under this grant hold it, and the
    // in-use check below must see them (store::locks).
    lock::with_network(
        &mut tx,
        Table::NetworkRbacs,
        &id,
        Lock::Update,
        Lock::Update,
    )
    .await?;
    let p = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let net = neutrino_store::networks::get_tx(&mut tx, &p.object_id).await?;
    let owner = net
        .as_ref()
        .map(|n| n.project_id.clone())
        .unwrap_or_default();
    check_not_in_use(&mut tx, &p, &owner, None).await?;
    store::delete(&mut tx, &id).await?;
    if let Some(mut n) = net {
        let remaining = store::access_tx(&mut tx, &p.object_id).await?;
        let mut changed = false;
        if p.action == ACCESS_AS_SHARED && p.target_project == "*" {
            n.shared = false;
            changed = true;
        }
        // As in Neutron: a network stops being external with its last
        // access_as_external grant.
        if p.action == ACCESS_AS_EXTERNAL
            && !remaining.iter().any(|a| a.action == ACCESS_AS_EXTERNAL)
        {
            n.router_external = false;
            changed = true;
        }
        if changed {
            n.updated_at = now_timestamp();
            neutrino_store::networks::update(&mut tx, &n).await?;
        }
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
