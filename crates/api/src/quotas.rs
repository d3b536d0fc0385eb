//! `/v2.0/quotas`: per-project limits, and [`enforce`], which every create
//! calls inside its transaction before inserting.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use neutrino_store::Tx;
use neutrino_store::quotas as store;
use neutrino_types::ApiError;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::body;
use crate::middleware::RawBody;
use crate::networks::internal;
use crate::reject::ApiResult;

/// Neutron's default limits (`neutron/conf/quota.py`); -1 is unlimited.
pub fn default_limits() -> BTreeMap<String, i64> {
    [
        ("network", 100),
        ("subnet", 100),
        ("port", 500),
        ("router", 10),
        ("floatingip", 50),
        ("security_group", 10),
        ("security_group_rule", 100),
        ("rbac_policy", 10),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2.0/quotas", get(list))
        .route(
            "/v2.0/quotas/{project}",
            get(show).put(update).delete(reset),
        )
        .route("/v2.0/quotas/{project}/default", get(defaults))
        .route("/v2.0/quotas/{project}/details", get(details))
}

/// Fails with 409 OverQuota unless `project` may create `n` more `resource`s.
/// Must run inside the creating transaction, before the insert.
pub async fn enforce(
    st: &AppState,
    tx: &mut Tx,
    project: &str,
    resource: &str,
    n: i64,
) -> Result<(), ApiError> {
    let over = store::override_tx(tx, project, resource)
        .await
        .map_err(internal)?;
    enforce_with_override(st, tx, project, resource, n, over).await
}

/// [`enforce`] with the project's override for `resource` already read in
/// this transaction (`None`: no override).
pub async fn enforce_with_override(
    st: &AppState,
    tx: &mut Tx,
    project: &str,
    resource: &str,
    n: i64,
    over: Option<i64>,
) -> Result<(), ApiError> {
    let limit = match over {
        Some(l) => l,
        None => st.config.quotas.get(resource).copied().unwrap_or(-1),
    };
    if limit < 0 {
        // Unlimited: nothing to count, so no reason to queue behind the
        // project's other creates.
        return Ok(());
    }
    store::lock(tx, project, resource).await.map_err(internal)?;
    let used = store::count_tx(tx, project, resource)
        .await
        .map_err(internal)?;
    if used + n > limit {
        return Err(ApiError::conflict(
            "OverQuota",
            format!("Quota exceeded for resources: ['{resource}']."),
        ));
    }
    Ok(())
}

async fn limits(st: &AppState, project: &str) -> Result<BTreeMap<String, i64>, ApiError> {
    let mut out = st.config.quotas.clone();
    for (r, l) in store::overrides(&st.db, project).await.map_err(internal)? {
        out.insert(r, l);
    }
    Ok(out)
}

fn body_of(project: Option<&str>, limits: &BTreeMap<String, i64>) -> Map<String, Value> {
    let mut m: Map<String, Value> = limits.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    if let Some(p) = project {
        m.insert("project_id".into(), json!(p));
        m.insert("tenant_id".into(), json!(p));
    }
    m
}

fn may_read(caller: &Caller, project: &str) -> Result<(), ApiError> {
    if caller.owns(project) {
        Ok(())
    } else {
        Err(ApiError::policy_not_authorized("get_quota"))
    }
}

async fn list(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_admin("get_quota")?;
    let mut out = Vec::new();
    for p in store::projects(&st.db).await? {
        out.push(Value::Object(body_of(Some(&p), &limits(&st, &p).await?)));
    }
    Ok(Json(json!({"quotas": out})))
}

async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    may_read(&caller, &project)?;
    Ok(Json(
        json!({"quota": body_of(None, &limits(&st, &project).await?)}),
    ))
}

async fn defaults(
    State(st): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    may_read(&caller, &project)?;
    Ok(Json(json!({"quota": body_of(None, &st.config.quotas)})))
}

async fn details(
    State(st): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    may_read(&caller, &project)?;
    let mut out = Map::new();
    for (r, limit) in limits(&st, &project).await? {
        let used = store::count(&st.db, &project, &r).await?;
        out.insert(r, json!({"limit": limit, "used": used, "reserved": 0}));
    }
    Ok(Json(json!({"quota": out})))
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    caller.require_admin("update_quota")?;
    let mut m = body::single(body::parse_json(&raw)?, "quota")?;
    // quota-check-limit(-default): new limits are checked against usage
    // unless `force` is true; `check_limit` (what the openstack client
    // always sends) asks for that default.
    let force = m.remove("force") == Some(Value::Bool(true));
    m.remove("check_limit");
    let unknown: Vec<&str> = m
        .keys()
        .map(String::as_str)
        .filter(|k| !st.config.quotas.contains_key(*k))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Unrecognized attribute(s) '{}'",
            unknown.join(", ")
        ))
        .into());
    }
    let mut values = Vec::new();
    for k in m.keys() {
        let v = body::opt_int(&m, k)?.expect("key present");
        if v < -1 {
            return Err(ApiError::invalid_attr(
                k,
                format!("'{v}' should be greater than or equal to -1"),
            )
            .into());
        }
        values.push((k.clone(), v));
    }
    let mut tx = st.db.begin().await?;
    for (k, v) in &values {
        if !force && *v >= 0 {
            store::lock(&mut tx, &project, k).await?;
            let used = store::count_tx(&mut tx, &project, k).await?;
            if used > *v {
                return Err(ApiError::bad_request(format!(
                    "Quota limit {v} for {k} must be greater than or equal to already used {used}"
                ))
                .into());
            }
        }
        store::set(&mut tx, &project, k, *v).await?;
    }
    tx.commit().await?;
    Ok(Json(
        json!({"quota": body_of(None, &limits(&st, &project).await?)}),
    ))
}

async fn reset(
    State(st): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin("delete_quota")?;
    let mut tx = st.db.begin().await?;
    store::reset(&mut tx, &project).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
