//! Pools — `/v2/lbaas/pools[/{id}]` (design §2.7, §3; octavia 19
//! `api/v2/controllers/pool.py`).
//!
//! A pool hangs off a load balancer, and optionally becomes the default
//! pool of the listener it was created with. Its members and health
//! monitor are rows of their own, deleted with it.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::LbError;
use neutrino_lb_types::checks;
use neutrino_lb_types::enums::{LbAlgorithm, Protocol, ProvisioningStatus};
use neutrino_lb_types::model::{Listener, LoadBalancer, Pool};
use neutrino_lb_types::render;
use neutrino_lb_types::request::pool::{PoolCreate, PoolUpdate};
use neutrino_lb_types::state::{self, Object, Operation, Role};
use neutrino_lbaas::flows::{Plan, Touched, kind};
use neutrino_store::Tx;
use neutrino_store::lb::{self as store, l7policies, listeners, pools, quotas::LbResource};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::fault::{Fault, json_response, only};
use crate::listeners::{PROHIBITED_CIPHERS, get_lb, list_response_hiding};
use crate::listing::{self, Collection};
use crate::ops::{self, db};
use crate::{LbState, providers};

const COLLECTION: Collection = Collection {
    attributes: &[
        "id",
        "name",
        "description",
        "admin_state_up",
        "project_id",
        "provisioning_status",
        "operating_status",
        "protocol",
        "lb_algorithm",
        "loadbalancer_id",
        "healthmonitor_id",
        "created_at",
        "updated_at",
        "tls_enabled",
        "tls_container_ref",
        "ca_tls_container_ref",
        "crl_container_ref",
        "tls_ciphers",
    ],
    booleans: &["admin_state_up", "tls_enabled"],
    tagged: true,
};

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/pools");
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

fn render_for_list(p: &Pool) -> Value {
    let mut v = render::pool(p);
    if let Value::Object(m) = &mut v {
        m.insert("loadbalancer_id".into(), json!(p.load_balancer_id));
    }
    v
}

async fn list(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let pairs = ops::pairs(raw);
    let query = ops::list_query(&state, &pairs, &COLLECTION)?;
    let scope = ops::list_scope(&state, &caller, "pool", &query)?;
    let all = pools::list(&state.db, scope.as_deref()).await.map_err(db)?;
    let items = all.iter().map(render_for_list).collect();
    Ok(list_response_hiding(
        &headers,
        "/v2/lbaas/pools",
        "pools",
        &query,
        items,
        &["loadbalancer_id"],
    )?)
}

async fn get_pool(state: &LbState, id: &str) -> Result<Pool, LbError> {
    pools::get(&state.db, id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Pool", id))
}

async fn show(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let p = get_pool(&state, &id).await?;
    state
        .policy()
        .enforce("pool:get_one", &caller, &p.project_id)?;
    let fields = listing::fields(&ops::pairs(raw));
    let body = listing::select_fields(render::pool(&p), fields.as_deref());
    Ok(json_response(StatusCode::OK, json!({ "pool": body })))
}

/// The provider of a load balancer's children (upstream's
/// `get_driver(lb.provider)`: none stored means `amphora`).
pub(crate) fn provider_of(lb: &LoadBalancer) -> &str {
    lb.provider.as_deref().unwrap_or(providers::DEFAULT)
}

/// The amphora driver's `_validate_pool_algorithm`.
pub(crate) fn check_algorithm(provider: &str, algorithm: LbAlgorithm) -> Result<(), LbError> {
    if algorithm == LbAlgorithm::SourceIpPort {
        return Err(LbError::provider_unsupported_option(
            provider,
            &format!("Amphora provider does not support {algorithm} algorithm."),
        ));
    }
    Ok(())
}

/// The rules of a pool create that need no database, in upstream's
/// order: the listener it is created with (`listener_protocol`) takes
/// children of this protocol, the session persistence fits the protocol,
/// the TLS attributes (`_validate_create_pool` without certificate
/// lookups), then the provider's algorithm check (501).
pub(crate) fn check_request(
    req: &PoolCreate,
    listener_protocol: Option<Protocol>,
    provider: &str,
) -> Result<(), LbError> {
    let protocol = req
        .protocol
        .ok_or_else(|| LbError::mandatory_missing("protocol"))?;
    if let Some(lp) = listener_protocol {
        if lp == Protocol::Prometheus {
            return Err(LbError::listener_no_children(Protocol::Prometheus.as_str()));
        }
        checks::listener_pool_protocols(lp, protocol)?;
    }
    req.check_session_persistence()?;
    req.check_tls(PROHIBITED_CIPHERS)?;
    if let Some(a) = req.lb_algorithm {
        check_algorithm(provider, a)?;
    }
    Ok(())
}

/// The new pool's row (PENDING_CREATE, OFFLINE), owned by the load
/// balancer's project.
pub(crate) fn new_row(req: &PoolCreate, lb: &LoadBalancer) -> Result<Pool, LbError> {
    Ok(Pool {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: lb.project_id.clone(),
        load_balancer_id: lb.id.clone(),
        name: req.name.clone(),
        description: req.description.clone(),
        admin_state_up: req.admin_state_up,
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: state::initial_operating(Object::Pool, false),
        protocol: req
            .protocol
            .ok_or_else(|| LbError::mandatory_missing("protocol"))?,
        lb_algorithm: req
            .lb_algorithm
            .ok_or_else(|| LbError::mandatory_missing("lb_algorithm"))?,
        session_persistence: req.stored_session_persistence(),
        tls_enabled: req.tls_enabled,
        tls_container_ref: req.tls_container_ref.clone(),
        ca_tls_container_ref: req.ca_tls_container_ref.clone(),
        crl_container_ref: req.crl_container_ref.clone(),
        tls_ciphers: req.tls_ciphers.clone(),
        tls_versions: req.tls_versions.clone(),
        alpn_protocols: req.alpn_protocols.clone(),
        tags: req.tags.clone(),
        listener_ids: Vec::new(),
        member_ids: Vec::new(),
        healthmonitor_id: None,
        created_at: store::now(),
        updated_at: None,
    })
}

/// Writes a new pool of `lb` in `tx`. With `listener`, the pool becomes
/// that listener's default pool (409 DuplicatePoolEntry when it already
/// has one) and the listener goes PENDING_UPDATE in the same write. The
/// caller has run [`check_request`], checked the quota and holds the load
/// balancer (or is creating it). Writes no members or health monitor and
/// submits no flow. Returns the row as written.
pub(crate) async fn insert_new(
    tx: &mut Tx,
    lb: &LoadBalancer,
    req: &PoolCreate,
    listener: Option<&str>,
) -> Result<Pool, LbError> {
    let attach = match listener {
        Some(lid) => {
            let l = listeners::get_tx(tx, lid)
                .await
                .map_err(db)?
                .filter(|l| l.load_balancer_id == lb.id)
                .ok_or_else(|| LbError::not_found("Listener", lid))?;
            if l.default_pool_id.is_some() {
                return Err(LbError::duplicate_pool());
            }
            Some(l)
        }
        None => None,
    };
    let row = new_row(req, lb)?;
    pools::insert(tx, &row).await.map_err(db)?;
    if let Some(mut l) = attach {
        l.default_pool_id = Some(row.id.clone());
        l.provisioning_status = ProvisioningStatus::PendingUpdate;
        l.updated_at = Some(store::now());
        listeners::update(tx, &l).await.map_err(db)?;
    }
    Ok(row)
}

/// The load balancer and listener a pool create names: the load balancer
/// when given (a listener given with it must be one of its own, else 404
/// `Listener`), else the listener's load balancer.
async fn parents(
    state: &LbState,
    req: &PoolCreate,
) -> Result<(LoadBalancer, Option<Listener>), LbError> {
    let get_listener = |lid: String| async move {
        listeners::get(&state.db, &lid)
            .await
            .map_err(db)?
            .ok_or_else(|| LbError::not_found("Listener", &lid))
    };
    match (&req.loadbalancer_id, &req.listener_id) {
        (Some(lb_id), listener_id) => {
            let lb = get_lb(state, lb_id).await?;
            let listener = match listener_id {
                Some(lid) => Some(get_listener(lid.clone()).await?),
                None => None,
            };
            if let Some(l) = &listener
                && l.load_balancer_id != lb.id
            {
                return Err(LbError::not_found("Listener", &l.id));
            }
            Ok((lb, listener))
        }
        (None, Some(lid)) => {
            let l = get_listener(lid.clone()).await?;
            Ok((get_lb(state, &l.load_balancer_id).await?, Some(l)))
        }
        (None, None) => Err(LbError::validation(
            "Must provide at least one of: loadbalancer_id, listener_id",
        )),
    }
}

async fn create(
    State(state): State<LbState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Fault> {
    let req = PoolCreate::parse(&ops::json_body(&body)?)?;
    let (lb, listener) = parents(&state, &req).await?;
    state
        .policy()
        .enforce("pool:post", &caller, &lb.project_id)?;
    check_request(
        &req,
        listener.as_ref().map(|l| l.protocol),
        provider_of(&lb),
    )?;

    let mut tx = state.db.begin().await.map_err(db)?;
    if !store::quotas::check_tx(
        &mut tx,
        &lb.project_id,
        LbResource::Pool,
        1,
        state.config.default_quota,
    )
    .await
    .map_err(db)?
    {
        return Err(LbError::quota_exceeded("Pool").into());
    }
    ops::hold_lb(&mut tx, &lb.id, Operation::Create, Role::Parent).await?;
    let lid = listener.as_ref().map(|l| l.id.as_str());
    let row = insert_new(&mut tx, &lb, &req, lid).await?;
    let mut touched = vec![Touched::own(Object::Pool, &row.id, Operation::Create)];
    touched.extend(lid.map(|l| Touched::parent(Object::Listener, l)));
    touched.push(Touched::parent(Object::LoadBalancer, &lb.id));
    let plan = Plan {
        touched,
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    let stored = get_pool(&state, &row.id).await?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "pool": render::pool(&stored) }),
    ))
}

/// The plan of a change to pool `id`: the pool, the listeners using it,
/// the load balancer.
fn plan_for(id: &str, op: Operation, listener_ids: &[String], lb_id: &str) -> Plan {
    let mut touched = vec![Touched::own(Object::Pool, id, op)];
    touched.extend(
        listener_ids
            .iter()
            .map(|l| Touched::parent(Object::Listener, l)),
    );
    touched.push(Touched::parent(Object::LoadBalancer, lb_id));
    Plan {
        touched,
        ..Plan::default()
    }
}

async fn update(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let mut req = PoolUpdate::parse(&ops::json_body(&body)?)?;
    let pool = get_pool(&state, &id).await?;
    let lb = get_lb(&state, &pool.load_balancer_id).await?;
    state
        .policy()
        .enforce("pool:put", &caller, &lb.project_id)?;
    // A session persistence without a type keeps the stored one.
    if let (Some(sp), Some(stored)) = (
        req.session_persistence.value().cloned(),
        pool.session_persistence.as_ref(),
    ) && sp.sp_type.is_none()
    {
        let mut sp = sp;
        sp.sp_type = Some(stored.sp_type);
        req.session_persistence = neutrino_lb_types::Patch::Value(sp);
    }
    req.check(&pool, PROHIBITED_CIPHERS)?;
    if let Some(a) = req.lb_algorithm.value() {
        check_algorithm(provider_of(&lb), *a)?;
    }

    let mut tx = state.db.begin().await.map_err(db)?;
    ops::hold_lb(&mut tx, &lb.id, Operation::Update, Role::Parent).await?;
    let current = pools::get_tx(&mut tx, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Pool", &id))?;
    let held: Vec<&str> = current.listener_ids.iter().map(String::as_str).collect();
    ops::hold(&mut tx, store::Object::Listener, &held).await?;
    let mut new = req.apply(&current);
    new.provisioning_status = ProvisioningStatus::PendingUpdate;
    new.updated_at = Some(store::now());
    pools::update(&mut tx, &new).await.map_err(db)?;
    let plan = plan_for(&id, Operation::Update, &current.listener_ids, &lb.id);
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    let stored = get_pool(&state, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "pool": render::pool(&stored) }),
    ))
}

/// The first L7 policy redirecting to `pool` (its listeners' policies).
async fn redirecting_policy(tx: &mut Tx, pool: &Pool) -> Result<Option<String>, LbError> {
    for lid in &pool.listener_ids {
        let policies = l7policies::list_by_listener_tx(tx, lid).await.map_err(db)?;
        if let Some(p) = policies
            .into_iter()
            .find(|p| p.redirect_pool_id.as_deref() == Some(pool.id.as_str()))
        {
            return Ok(Some(p.id));
        }
    }
    Ok(None)
}

async fn delete(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    let pool = get_pool(&state, &id).await?;
    let lb = get_lb(&state, &pool.load_balancer_id).await?;
    state
        .policy()
        .enforce("pool:delete", &caller, &lb.project_id)?;
    let mut tx = state.db.begin().await.map_err(db)?;
    // Upstream refuses before its compare-and-set; checked again after
    // it, when no other change to the load balancer can be under way.
    if let Some(policy) = redirecting_policy(&mut tx, &pool).await? {
        return Err(LbError::pool_in_use_by_l7policy(&id, &policy).into());
    }
    ops::hold_lb(&mut tx, &lb.id, Operation::Delete, Role::Parent).await?;
    let current = pools::get_tx(&mut tx, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Pool", &id))?;
    if let Some(policy) = redirecting_policy(&mut tx, &current).await? {
        return Err(LbError::pool_in_use_by_l7policy(&id, &policy).into());
    }
    let held: Vec<&str> = current.listener_ids.iter().map(String::as_str).collect();
    ops::hold(&mut tx, store::Object::Listener, &held).await?;
    store::set_provisioning_status(
        &mut tx,
        store::Object::Pool,
        &[id.as_str()],
        ProvisioningStatus::PendingDelete,
    )
    .await
    .map_err(db)?;
    let plan = plan_for(&id, Operation::Delete, &current.listener_ids, &lb.id);
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
