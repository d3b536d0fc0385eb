//! Health monitors — `/v2/lbaas/healthmonitors[/{id}]` (design §2.9;
//! octavia 19 `api/v2/controllers/health_monitor.py`).
//!
//! A monitor's changes hold its pool, the pool's listeners and the load
//! balancer like a member's ([`crate::members::hold_pool`]). The flow that
//! settles a create or update reports the monitor ONLINE (OFFLINE when
//! disabled); the one that settles a delete puts the pool's members back
//! to NO_MONITOR.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::enums::ProvisioningStatus;
use neutrino_lb_types::model::{HealthMonitor, Pool};
use neutrino_lb_types::request::healthmonitor::{HealthMonitorCreate, HealthMonitorUpdate};
use neutrino_lb_types::state::{self, Object, Operation};
use neutrino_lb_types::{LbError, Patch, render, resource};
use neutrino_lbaas::flows::{Plan, Touched, kind};
use neutrino_store::Tx;
use neutrino_store::lb::{self as store, health_monitors, pools, quotas::LbResource};
use serde_json::json;

use crate::LbState;
use crate::auth::Caller;
use crate::fault::{Fault, json_response, only};
use crate::listing::Collection;
use crate::members::{hold_pool, lb_of};
use crate::ops::{self, db};

const COLLECTION: Collection = Collection {
    attributes: &[
        "id",
        "name",
        "type",
        "delay",
        "timeout",
        "max_retries",
        "max_retries_down",
        "http_method",
        "url_path",
        "expected_codes",
        "admin_state_up",
        "project_id",
        "provisioning_status",
        "operating_status",
        "created_at",
        "updated_at",
        "http_version",
        "domain_name",
    ],
    booleans: &["admin_state_up"],
    tagged: true,
};

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/healthmonitors");
    let one = format!("{base}/{{id}}");
    Router::new()
        .route(&base, only(get(list).post(create), "GET, POST"))
        .route(
            &format!("{base}/"),
            only(get(list).post(create), "GET, POST"),
        )
        .route(
            &one,
            only(get(show).put(update).delete(delete), "GET, PUT, DELETE"),
        )
}

/// A new monitor row of `pool_id` (upstream's
/// `db_prepare.create_health_monitor`): PENDING_CREATE, OFFLINE. For the
/// single create and the graph create.
pub(crate) fn new_health_monitor(
    req: &HealthMonitorCreate,
    pool_id: &str,
    project: &str,
) -> HealthMonitor {
    HealthMonitor {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project.to_string(),
        pool_id: pool_id.to_string(),
        name: req.name.clone(),
        admin_state_up: req.admin_state_up,
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: state::initial_operating(Object::HealthMonitor, false),
        hm_type: req.hm_type,
        delay: req.delay,
        timeout: req.timeout,
        max_retries: req.max_retries,
        max_retries_down: req.max_retries_down,
        http_method: req.http_method,
        url_path: req.url_path.clone(),
        expected_codes: req.expected_codes.clone(),
        http_version: req.http_version,
        domain_name: req.domain_name.clone(),
        tags: req.tags.clone(),
        created_at: store::now(),
        updated_at: None,
    }
}

/// Writes a new monitor in `tx` (no flow); a second one on a pool is 409
/// DuplicateHealthMonitor, as upstream's insert says.
pub(crate) async fn insert_new(tx: &mut Tx, hm: &HealthMonitor) -> Result<(), LbError> {
    if health_monitors::get_by_pool_tx(tx, &hm.pool_id)
        .await
        .map_err(db)?
        .is_some()
    {
        return Err(LbError::duplicate_health_monitor());
    }
    health_monitors::insert(tx, hm).await.map_err(|e| {
        if e.is_unique_violation() {
            LbError::duplicate_health_monitor()
        } else {
            db(e)
        }
    })
}

async fn pool_of(state: &LbState, pool_id: &str) -> Result<Pool, LbError> {
    pools::get(&state.db, pool_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::POOL, pool_id))
}

async fn monitor_of(state: &LbState, id: &str) -> Result<HealthMonitor, LbError> {
    health_monitors::get(&state.db, id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::HEALTH_MONITOR, id))
}

/// The monitor `id`, its pool and its load balancer's id, if the caller
/// may `action` it (404 first, then policy with the load balancer's
/// project).
async fn authorized(
    state: &LbState,
    caller: &Caller,
    id: &str,
    action: &str,
) -> Result<(HealthMonitor, Pool, String), LbError> {
    let hm = monitor_of(state, id).await?;
    let pool = pool_of(state, &hm.pool_id).await?;
    let lb = lb_of(state, &pool).await?;
    state.policy().enforce(action, caller, &lb.project_id)?;
    Ok((hm, pool, lb.id))
}

async fn list(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let pairs = ops::pairs(raw);
    let query = ops::list_query(&state, &pairs, &COLLECTION)?;
    let scope = ops::list_scope(&state, &caller, "healthmonitor", &query)?;
    let items = health_monitors::list(&state.db, scope.as_deref())
        .await
        .map_err(db)?
        .iter()
        .map(render::health_monitor)
        .collect();
    Ok(ops::list_response(
        &headers,
        "/v2/lbaas/healthmonitors",
        "healthmonitors",
        &query,
        items,
    )?)
}

async fn show(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let hm = monitor_of(&state, &id).await?;
    state
        .policy()
        .enforce("healthmonitor:get_one", &caller, &hm.project_id)?;
    let fields = crate::listing::fields(&ops::pairs(raw));
    let body = crate::listing::select_fields(render::health_monitor(&hm), fields.as_deref());
    Ok(json_response(
        StatusCode::OK,
        json!({ "healthmonitor": body }),
    ))
}

async fn read_back(state: &LbState, id: &str) -> Result<HealthMonitor, LbError> {
    monitor_of(state, id).await
}

async fn create(
    State(state): State<LbState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Fault> {
    let req = HealthMonitorCreate::parse(&ops::json_body(&body)?)?;
    let pool_id = req.pool_id.clone().unwrap_or_default();
    let pool = pool_of(&state, &pool_id).await?;
    let lb = lb_of(&state, &pool).await?;
    let project = lb.project_id.clone();
    state
        .policy()
        .enforce("healthmonitor:post", &caller, &project)?;
    req.check_pool_protocol(pool.protocol)?;

    let mut tx = state.db.begin().await.map_err(db)?;
    if !store::quotas::check_tx(
        &mut tx,
        &project,
        LbResource::HealthMonitor,
        1,
        state.config.default_quota,
    )
    .await
    .map_err(db)?
    {
        return Err(LbError::quota_exceeded(resource::HEALTH_MONITOR).into());
    }
    let (_, parents) = hold_pool(&mut tx, &pool_id).await?;
    // Upstream's `_validate_create_hm` runs once the parents are held.
    req.check()?;
    let hm = new_health_monitor(&req, &pool_id, &project);
    insert_new(&mut tx, &hm).await?;

    let mut touched = vec![Touched::own(
        Object::HealthMonitor,
        &hm.id,
        Operation::Create,
    )];
    touched.extend(parents);
    let plan = Plan {
        touched,
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    let stored = read_back(&state, &hm.id).await?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "healthmonitor": render::health_monitor(&stored) }),
    ))
}

/// The UDP/SCTP rules of an update (upstream re-runs the create check
/// with the stored type and the new delay, when one is given).
fn check_lvs_update(
    hm: &HealthMonitor,
    pool: &Pool,
    req: &HealthMonitorUpdate,
) -> Result<(), LbError> {
    let Patch::Value(delay) = req.delay else {
        return Ok(());
    };
    if !pool.protocol.is_lvs() {
        return Ok(());
    }
    let probe = HealthMonitorCreate {
        name: None,
        hm_type: hm.hm_type,
        delay,
        timeout: hm.timeout,
        max_retries: hm.max_retries,
        max_retries_down: hm.max_retries_down,
        http_method: None,
        url_path: None,
        expected_codes: None,
        admin_state_up: hm.admin_state_up,
        project_id: None,
        pool_id: None,
        tags: Vec::new(),
        http_version: None,
        domain_name: None,
    };
    probe.check_pool_protocol(pool.protocol)
}

async fn update(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let req = HealthMonitorUpdate::parse(&ops::json_body(&body)?)?;
    let (hm, pool, lb_id) = authorized(&state, &caller, &id, "healthmonitor:put").await?;
    req.check(&hm)?;
    check_lvs_update(&hm, &pool, &req)?;

    let mut tx = state.db.begin().await.map_err(db)?;
    let (_, parents) = hold_pool(&mut tx, &hm.pool_id).await?;
    let current = health_monitors::get_tx(&mut tx, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::HEALTH_MONITOR, &id))?;
    let mut new = req.apply(&current);
    new.provisioning_status = ProvisioningStatus::PendingUpdate;
    new.updated_at = Some(store::now());
    health_monitors::update(&mut tx, &new).await.map_err(db)?;

    let mut touched = vec![Touched::own(Object::HealthMonitor, &id, Operation::Update)];
    touched.extend(parents);
    let plan = Plan {
        touched,
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb_id)).await?;
    let stored = read_back(&state, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "healthmonitor": render::health_monitor(&stored) }),
    ))
}

async fn delete(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    let (hm, _, lb_id) = authorized(&state, &caller, &id, "healthmonitor:delete").await?;
    let mut tx = state.db.begin().await.map_err(db)?;
    let (_, parents) = hold_pool(&mut tx, &hm.pool_id).await?;
    let n = store::set_provisioning_status(
        &mut tx,
        store::Object::HealthMonitor,
        &[id.as_str()],
        ProvisioningStatus::PendingDelete,
    )
    .await
    .map_err(db)?;
    if n == 0 {
        return Err(LbError::not_found(resource::HEALTH_MONITOR, &id).into());
    }
    let mut touched = vec![Touched::own(Object::HealthMonitor, &id, Operation::Delete)];
    touched.extend(parents);
    let plan = Plan {
        touched,
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb_id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
