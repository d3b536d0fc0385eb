//! Quotas — `/v2/lbaas/quotas[/{project_id}[/default]]` (design §2.12,
//! §5; octavia 19 `controllers/quotas.py`, `types/quotas.py`).
//!
//! Every answer is a project's effective quota: its stored limits with
//! the deployment's default (`LbConfig::default_quota`) where it has
//! none, under both spellings of the renamed keys (`loadbalancer` and
//! the deprecated `load_balancer`, `healthmonitor` and `health_monitor`,
//! equal), with `project_id` and `tenant_id`. DELETE resets a project's
//! row to the defaults and keeps it, as upstream does: it stays listed,
//! and a second DELETE is 202 again. Upstream writes the defaults of the
//! moment into the row whenever it reads one; we keep NULL and fill in
//! at read time, which answers the same until the defaults change.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::model::Quota;
use neutrino_lb_types::request::admin::QuotaUpdate;
use neutrino_lb_types::{LbError, render, resource};
use neutrino_store::lb::quotas as store;

use crate::auth::Caller;
use crate::common;
use crate::fault::{Fault, only};
use crate::listing::{Collection, ListQuery};
use crate::{LbState, ops};

const ALLOW: &str = "DELETE, GET, PUT";

const COLLECTION: Collection = Collection {
    attributes: &[
        "project_id",
        "loadbalancer",
        "load_balancer",
        "listener",
        "member",
        "pool",
        "healthmonitor",
        "health_monitor",
        "l7policy",
        "l7rule",
    ],
    booleans: &[],
    tagged: false,
};

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/quotas");
    let one = format!("{base}/{{project_id}}");
    let collection = || {
        only(
            get(list)
                .put(|| async { Fault(LbError::missing_argument("project_id")) })
                .delete(|| async { Fault(LbError::missing_argument("project_id")) }),
            ALLOW,
        )
    };
    Router::new()
        .route(&base, collection())
        .route(&format!("{base}/"), collection())
        .route(&one, only(get(show).put(update).delete(reset), ALLOW))
        .route(&format!("{one}/default"), only(get(defaults), "GET"))
}

/// `[quotas] default_*_quota`, one value for every resource.
pub fn default_limits(state: &LbState) -> Quota {
    let d = Some(state.config.default_quota);
    Quota {
        load_balancer: d,
        listener: d,
        pool: d,
        health_monitor: d,
        member: d,
        l7policy: d,
        l7rule: d,
    }
}

fn answer(state: &LbState, status: StatusCode, project: &str, q: &Quota) -> Response {
    common::one(
        status,
        "quota",
        render::quota(Some(project), q, &default_limits(state)),
    )
}

/// Global readers list every project's row, everybody else their own
/// project's. `project_id` filters (upstream's quota listing takes no
/// such parameter, so it never widens the scope); `fields` is ignored.
async fn list(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let own = ops::own_project(&caller)?;
    let policy = state.policy();
    let scope = if policy.allows("quota:get_all-global", &caller, &own) {
        None
    } else {
        policy.enforce("quota:get_all", &caller, &own)?;
        Some(own)
    };
    let mut query = ListQuery::parse(
        &ops::pairs(raw),
        &COLLECTION,
        state.config.pagination_max_limit,
    )?;
    query.fields = None;
    let defaults = default_limits(&state);
    let items = store::list(&state.db)
        .await
        .map_err(ops::db)?
        .iter()
        .filter(|(p, _)| scope.as_ref().is_none_or(|s| s == p))
        .filter(|(p, _)| query.project_id.as_ref().is_none_or(|want| want == p))
        .map(|(p, q)| render::quota(Some(p), q, &defaults))
        .collect();
    Ok(common::page(
        &headers,
        &uri,
        &query,
        items,
        ("quotas", "quotas_links"),
        Some("project_id"),
    )?)
}

async fn show(
    State(state): State<LbState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response, Fault> {
    state.policy().enforce("quota:get_one", &caller, &project)?;
    let stored = store::get(&state.db, &project)
        .await
        .map_err(ops::db)?
        .unwrap_or_default();
    Ok(answer(&state, StatusCode::OK, &project, &stored))
}

async fn defaults(
    State(state): State<LbState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response, Fault> {
    state
        .policy()
        .enforce("quota:get_defaults", &caller, &project)?;
    Ok(answer(&state, StatusCode::OK, &project, &Quota::default()))
}

/// 202 with the effective quota. Absent keys keep their value, null ones
/// go back to the default.
async fn update(
    State(state): State<LbState>,
    caller: Caller,
    Path(project): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Fault> {
    let body = common::body(&headers, &bytes, "quotas")?;
    let req = QuotaUpdate::parse(&body)?;
    state.policy().enforce("quota:put", &caller, &project)?;
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    common::serialise(&mut tx, "lb_quotas", &project)
        .await
        .map_err(ops::db)?;
    let stored = store::get_tx(&mut tx, &project)
        .await
        .map_err(ops::db)?
        .unwrap_or_default();
    let q = req.apply(&stored);
    store::set(&mut tx, &project, &q).await.map_err(ops::db)?;
    tx.commit().await.map_err(ops::db)?;
    Ok(answer(&state, StatusCode::ACCEPTED, &project, &q))
}

/// 202 without a body; a project without a row is 404.
async fn reset(
    State(state): State<LbState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response, Fault> {
    state.policy().enforce("quota:delete", &caller, &project)?;
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    common::serialise(&mut tx, "lb_quotas", &project)
        .await
        .map_err(ops::db)?;
    if store::get_tx(&mut tx, &project)
        .await
        .map_err(ops::db)?
        .is_none()
    {
        return Err(LbError::not_found(resource::QUOTAS, &project).into());
    }
    store::set(&mut tx, &project, &Quota::default())
        .await
        .map_err(ops::db)?;
    tx.commit().await.map_err(ops::db)?;
    Ok(StatusCode::ACCEPTED.into_response())
}
