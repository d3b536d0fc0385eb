//! L7 policies — `/v2/lbaas/l7policies[/{id}]` (design §2.10; octavia 19
//! `api/v2/controllers/l7policy.py`, `common/validate.py`
//! `sanitize_l7policy_api_args`, `db/repositories.py`
//! `L7PolicyRepository`).
//!
//! A policy hangs on an HTTP or TERMINATED_HTTPS listener; its changes
//! hold the listener and the load balancer in PENDING_UPDATE. Positions
//! are 1..n per listener, renumbered in the writing transaction as
//! upstream's ordering list does: a new policy goes to its position (the
//! end when past it) and pushes the rest down; a moved one is taken out
//! and put back at its new position; a deleted one closes its gap when
//! its row goes (`neutrino_store::lb::l7policies::delete`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::LbError;
use neutrino_lb_types::Patch;
use neutrino_lb_types::checks;
use neutrino_lb_types::enums::{Protocol, ProvisioningStatus};
use neutrino_lb_types::model::{L7Policy, Listener, LoadBalancer};
use neutrino_lb_types::render;
use neutrino_lb_types::request::l7policy::{L7PolicyCreate, L7PolicyUpdate};
use neutrino_lb_types::resource;
use neutrino_lb_types::state::{self, Object, Operation, Role};
use neutrino_lbaas::flows::{Plan, Touched, kind};
use neutrino_store::Tx;
use neutrino_store::lb::{self as store, l7policies, quotas::LbResource};
use serde_json::json;

use crate::LbState;
use crate::auth::Caller;
use crate::fault::{Fault, json_response, only};
use crate::listing::Collection;
use crate::ops::{self, db};

const COLLECTION: Collection = Collection {
    attributes: &[
        "id",
        "name",
        "description",
        "provisioning_status",
        "operating_status",
        "admin_state_up",
        "project_id",
        "action",
        "listener_id",
        "redirect_pool_id",
        "redirect_url",
        "redirect_prefix",
        "redirect_http_code",
        "position",
        "created_at",
        "updated_at",
    ],
    booleans: &["admin_state_up"],
    tagged: true,
};

/// The listener protocols the amphora provider runs L7 policies on
/// (its driver's `VALID_L7POLICY_LISTENER_PROTOCOLS`).
const L7_LISTENER_PROTOCOLS: &[Protocol] = &[Protocol::Http, Protocol::TerminatedHttps];

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/l7policies");
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

/// The listener and load balancer a policy hangs on. The load balancer's
/// project owns the policy for policy checks (upstream's
/// `_get_lb_project_id_provider`).
pub(crate) async fn parents(
    state: &LbState,
    listener_id: &str,
) -> Result<(Listener, LoadBalancer), LbError> {
    let listener = store::listeners::get(&state.db, listener_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::LISTENER, listener_id))?;
    let lb = store::load_balancers::get(&state.db, &listener.load_balancer_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::LOAD_BALANCER, &listener.load_balancer_id))?;
    Ok((listener, lb))
}

/// The policy `id` (404 `L7 Policy`).
pub(crate) async fn find(state: &LbState, id: &str) -> Result<L7Policy, LbError> {
    l7policies::get(&state.db, id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::L7_POLICY, id))
}

/// The policy as this transaction wrote it: the answer is what commits
/// (read before the worker can settle it).
async fn stored_tx(tx: &mut Tx, id: &str) -> Result<L7Policy, LbError> {
    l7policies::get_tx(tx, id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::L7_POLICY, id))
}

/// The provider's name as its errors spell it.
fn provider_of(lb: &LoadBalancer) -> &str {
    lb.provider.as_deref().unwrap_or(crate::providers::DEFAULT)
}

/// The amphora provider's refusal of L7 policies on listeners other than
/// HTTP and TERMINATED_HTTPS (501, as its driver's
/// `UnsupportedOptionError`).
pub(crate) fn provider_supports(
    provider: &str,
    listener_protocol: Protocol,
) -> Result<(), LbError> {
    if L7_LISTENER_PROTOCOLS.contains(&listener_protocol) {
        return Ok(());
    }
    Err(LbError::provider_unsupported_option(
        provider,
        &format!("{listener_protocol} protocol listeners do not support L7 policies"),
    ))
}

/// The redirect pool as the controller checks it before the transaction:
/// it exists (404 `Pool`) and the listener's protocol may use it.
async fn check_redirect_pool(
    state: &LbState,
    pool_id: &str,
    listener: &Listener,
) -> Result<(), LbError> {
    let pool = store::pools::get(&state.db, pool_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::POOL, pool_id))?;
    checks::listener_pool_protocols(listener.protocol, pool.protocol)
}

/// The repository's `_pool_check`, in the transaction after the
/// compare-and-set: the pool belongs to the listener's load balancer and
/// project (404 `Pool` otherwise).
async fn check_pool_of_lb(tx: &mut Tx, pool_id: &str, listener: &Listener) -> Result<(), LbError> {
    let pool = store::pools::get_tx(tx, pool_id).await.map_err(db)?;
    match pool {
        Some(p)
            if p.load_balancer_id == listener.load_balancer_id
                && p.project_id == listener.project_id =>
        {
            Ok(())
        }
        _ => Err(LbError::not_found(resource::POOL, pool_id)),
    }
}

/// Where a new policy goes.
pub(crate) struct Placement<'a> {
    /// The load balancer's project (the policy's and its rules').
    pub project: &'a str,
    pub listener_id: &'a str,
    /// The pool a REDIRECT_TO_POOL policy sends to: the request's
    /// `redirect_pool_id`, or in a graph create the id of the pool its
    /// `redirect_pool` named.
    pub redirect_pool_id: Option<String>,
}

/// What [`insert_new`] wrote.
pub(crate) struct NewPolicy {
    /// Its rules' ids, in the request's order.
    pub rule_ids: Vec<String>,
}

/// Writes one new policy (PENDING_CREATE, OFFLINE) with its rules into
/// `tx` under listener `at.listener_id`, placed at its position with the
/// listener's other policies renumbered, and no flow. Validates the rules
/// as upstream's `db_prepare.create_l7policy` does (at most 50, each
/// through `l7rule_data`). Quotas, policy checks, the load balancer's
/// compare-and-set and the flow are the caller's (the standalone create
/// below, or the graph create).
pub(crate) async fn insert_new(
    tx: &mut Tx,
    id: &str,
    req: &L7PolicyCreate,
    at: &Placement<'_>,
) -> Result<NewPolicy, LbError> {
    req.check_rules(id)?;
    let existing = l7policies::list_by_listener_tx(tx, at.listener_id)
        .await
        .map_err(db)?;
    let mut order: Vec<&str> = existing.iter().map(|p| p.id.as_str()).collect();
    let index = slot(req.position, order.len());
    order.insert(index, id);
    let created_at = store::now();
    let r = &req.redirect;
    let policy = L7Policy {
        id: id.to_string(),
        project_id: at.project.to_string(),
        listener_id: at.listener_id.to_string(),
        name: req.name.clone(),
        description: req.description.clone(),
        admin_state_up: req.admin_state_up,
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: state::initial_operating(Object::L7Policy, false),
        action: r.action,
        redirect_pool_id: at.redirect_pool_id.clone(),
        redirect_url: r.redirect_url.clone(),
        redirect_prefix: r.redirect_prefix.clone(),
        redirect_http_code: r.redirect_http_code,
        position: index as i64 + 1,
        rule_ids: Vec::new(),
        tags: req.tags.clone(),
        created_at: created_at.clone(),
        updated_at: None,
    };
    l7policies::insert(tx, &policy).await.map_err(db)?;
    l7policies::set_positions(tx, &order).await.map_err(db)?;
    let mut rule_ids = Vec::with_capacity(req.rules.len());
    for rule in &req.rules {
        let rid = uuid::Uuid::new_v4().to_string();
        let row = crate::l7rules::new_row(&rid, id, at.project, rule, &created_at);
        store::l7rules::insert(tx, &row).await.map_err(db)?;
        rule_ids.push(rid);
    }
    Ok(NewPolicy { rule_ids })
}

/// The 0-based index a policy asked for `position` (1-based) takes among
/// `others` policies: past the end appends.
fn slot(position: i64, others: usize) -> usize {
    let wanted = usize::try_from(position.max(1) - 1).unwrap_or(usize::MAX);
    wanted.min(others)
}

async fn list(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let pairs = ops::pairs(raw);
    let query = ops::list_query(&state, &pairs, &COLLECTION)?;
    let scope = ops::list_scope(&state, &caller, "l7policy", &query)?;
    let policies = l7policies::list(&state.db, scope.as_deref())
        .await
        .map_err(db)?;
    let items = policies.iter().map(render::l7policy).collect();
    Ok(ops::list_response(
        &headers,
        "/v2/lbaas/l7policies",
        "l7policies",
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
    let policy = find(&state, &id).await?;
    state
        .policy()
        .enforce("l7policy:get_one", &caller, &policy.project_id)?;
    let fields = crate::listing::fields(&ops::pairs(raw));
    let body = crate::listing::select_fields(render::l7policy(&policy), fields.as_deref());
    Ok(json_response(StatusCode::OK, json!({ "l7policy": body })))
}

async fn create(
    State(state): State<LbState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Fault> {
    let req = L7PolicyCreate::parse(&ops::json_body(&body)?)?;
    let listener_id = req
        .listener_id
        .clone()
        .ok_or_else(|| LbError::mandatory_missing("listener_id"))?;
    let (listener, lb) = parents(&state, &listener_id).await?;
    let project = lb.project_id.clone();
    state.policy().enforce("l7policy:post", &caller, &project)?;
    if listener.protocol == Protocol::Prometheus {
        return Err(LbError::listener_no_children(Protocol::Prometheus.as_str()).into());
    }
    let pool_id = req.redirect.redirect_pool_id.clone();
    if let Some(pool_id) = &pool_id {
        check_redirect_pool(&state, pool_id, &listener).await?;
    }

    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = state.db.begin().await.map_err(db)?;
    let limit = state.config.default_quota;
    if !store::quotas::check_tx(&mut tx, &project, LbResource::L7Policy, 1, limit)
        .await
        .map_err(db)?
    {
        return Err(LbError::quota_exceeded(resource::L7_POLICY).into());
    }
    // Upstream fails on rules given here (500); we create them, so they
    // count against the rule quota as a graph create's do.
    let rules = req.rules.len() as i64;
    if rules > 0
        && !store::quotas::check_tx(&mut tx, &project, LbResource::L7Rule, rules, limit)
            .await
            .map_err(db)?
    {
        return Err(LbError::quota_exceeded(resource::L7_RULE).into());
    }
    req.check_rules(&id)?;
    ops::hold_lb(&mut tx, &lb.id, Operation::Create, Role::Parent).await?;
    ops::hold(&mut tx, store::Object::Listener, &[listener.id.as_str()]).await?;
    if let Some(pool_id) = &pool_id {
        check_pool_of_lb(&mut tx, pool_id, &listener).await?;
    }
    provider_supports(provider_of(&lb), listener.protocol)?;
    let new = insert_new(
        &mut tx,
        &id,
        &req,
        &Placement {
            project: &project,
            listener_id: &listener.id,
            redirect_pool_id: pool_id,
        },
    )
    .await?;
    let mut touched = vec![Touched::own(Object::L7Policy, &id, Operation::Create)];
    touched.extend(
        new.rule_ids
            .iter()
            .map(|r| Touched::own(Object::L7Rule, r, Operation::Create)),
    );
    touched.push(Touched::parent(Object::Listener, &listener.id));
    touched.push(Touched::parent(Object::LoadBalancer, &lb.id));
    let plan = Plan {
        touched,
        ..Plan::default()
    };
    let stored = stored_tx(&mut tx, &id).await?;
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "l7policy": render::l7policy(&stored) }),
    ))
}

async fn update(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let req = L7PolicyUpdate::parse(&ops::json_body(&body)?)?;
    let policy = find(&state, &id).await?;
    let (listener, lb) = parents(&state, &policy.listener_id).await?;
    state
        .policy()
        .enforce("l7policy:put", &caller, &lb.project_id)?;
    let pool_id = req
        .redirect
        .as_ref()
        .and_then(|r| r.redirect_pool_id.clone());
    if let Some(pool_id) = &pool_id {
        check_redirect_pool(&state, pool_id, &listener).await?;
    }

    let mut tx = state.db.begin().await.map_err(db)?;
    ops::hold_lb(&mut tx, &lb.id, Operation::Update, Role::Parent).await?;
    ops::hold(&mut tx, store::Object::Listener, &[listener.id.as_str()]).await?;
    if let Some(pool_id) = &pool_id {
        check_pool_of_lb(&mut tx, pool_id, &listener).await?;
    }
    let current = l7policies::get_tx(&mut tx, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::L7_POLICY, &id))?;
    let mut new = req.apply(&current);
    new.position = current.position;
    let mut order = None;
    if let Patch::Value(position) = req.position
        && position != current.position
    {
        let siblings = l7policies::list_by_listener_tx(&mut tx, &listener.id)
            .await
            .map_err(db)?;
        let mut ids: Vec<String> = siblings
            .into_iter()
            .map(|p| p.id)
            .filter(|p| *p != id)
            .collect();
        let index = slot(position, ids.len());
        ids.insert(index, id.clone());
        new.position = index as i64 + 1;
        order = Some(ids);
    }
    new.provisioning_status = ProvisioningStatus::PendingUpdate;
    new.updated_at = Some(store::now());
    l7policies::update(&mut tx, &new).await.map_err(db)?;
    if let Some(ids) = &order {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        l7policies::set_positions(&mut tx, &ids).await.map_err(db)?;
    }
    let plan = Plan {
        touched: vec![
            Touched::own(Object::L7Policy, &id, Operation::Update),
            Touched::parent(Object::Listener, &listener.id),
            Touched::parent(Object::LoadBalancer, &lb.id),
        ],
        ..Plan::default()
    };
    let stored = stored_tx(&mut tx, &id).await?;
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "l7policy": render::l7policy(&stored) }),
    ))
}

async fn delete(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    let policy = find(&state, &id).await?;
    let (listener, lb) = parents(&state, &policy.listener_id).await?;
    state
        .policy()
        .enforce("l7policy:delete", &caller, &lb.project_id)?;
    let mut tx = state.db.begin().await.map_err(db)?;
    ops::hold_lb(&mut tx, &lb.id, Operation::Delete, Role::Parent).await?;
    ops::hold(&mut tx, store::Object::Listener, &[listener.id.as_str()]).await?;
    store::set_provisioning_status(
        &mut tx,
        store::Object::L7Policy,
        &[id.as_str()],
        ProvisioningStatus::PendingDelete,
    )
    .await
    .map_err(db)?;
    let plan = Plan {
        touched: vec![
            Touched::own(Object::L7Policy, &id, Operation::Delete),
            Touched::parent(Object::Listener, &listener.id),
            Touched::parent(Object::LoadBalancer, &lb.id),
        ],
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_past_the_end_append() {
        assert_eq!(slot(1, 0), 0);
        assert_eq!(slot(1, 3), 0);
        assert_eq!(slot(2, 3), 1);
        assert_eq!(slot(4, 3), 3);
        assert_eq!(slot(i64::from(i32::MAX), 3), 3);
        assert_eq!(slot(0, 3), 0);
    }

    #[test]
    fn only_http_listeners_take_policies() {
        assert!(provider_supports("amphora", Protocol::Http).is_ok());
        assert!(provider_supports("amphora", Protocol::TerminatedHttps).is_ok());
        let e = provider_supports("amphora", Protocol::Tcp).expect_err("refused");
        assert_eq!(e.status, 501);
        assert_eq!(
            e.faultstring,
            "Provider 'amphora' does not support a requested option: \
             TCP protocol listeners do not support L7 policies"
        );
    }
}
