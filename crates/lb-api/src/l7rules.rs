//! L7 rules — `/v2/lbaas/l7policies/{l7policy_id}/rules[/{id}]` (design
//! §2.11; octavia 19 `api/v2/controllers/l7rule.py`, `common/validate.py`
//! `l7rule_data`).
//!
//! Every path first finds its policy, as upstream's routing
//! (`L7PolicyController._lookup`) does before any handler runs: a
//! missing one answers pecan's plain 404, not a fault body. A change
//! needs the policy ACTIVE, and holds it, its listener and the load
//! balancer in PENDING_UPDATE.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::LbError;
use neutrino_lb_types::consts::MAX_L7RULES_PER_L7POLICY;
use neutrino_lb_types::enums::ProvisioningStatus;
use neutrino_lb_types::model::{L7Policy, L7Rule, Listener, LoadBalancer};
use neutrino_lb_types::render;
use neutrino_lb_types::request::l7rule::{L7RuleCreate, L7RuleUpdate};
use neutrino_lb_types::resource;
use neutrino_lb_types::state::{self, Object, Operation, Role};
use neutrino_lbaas::flows::{Plan, Touched, kind};
use neutrino_store::Tx;
use neutrino_store::lb::{self as store, l7policies, l7rules, quotas::LbResource};
use serde_json::json;

use crate::LbState;
use crate::auth::Caller;
use crate::fault::{Fault, json_response, only};
use crate::l7policies::parents;
use crate::listing::Collection;
use crate::ops::{self, db};

const COLLECTION: Collection = Collection {
    attributes: &[
        "id",
        "type",
        "compare_type",
        "key",
        "value",
        "invert",
        "provisioning_status",
        "operating_status",
        "created_at",
        "updated_at",
        "project_id",
        "admin_state_up",
    ],
    booleans: &["admin_state_up", "invert"],
    tagged: true,
};

pub fn routes(prefix: &str) -> Router<LbState> {
    // `{id}` is the policy, named as the policies' own routes name it.
    let base = format!("{prefix}/lbaas/l7policies/{{id}}/rules");
    let one = format!("{base}/{{rule_id}}");
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

/// A rule path's failures: upstream's routing 404 for a missing policy,
/// or a fault.
enum RuleFault {
    NoPolicy(String),
    Fault(Fault),
}

impl From<LbError> for RuleFault {
    fn from(e: LbError) -> Self {
        RuleFault::Fault(Fault(e))
    }
}

impl From<Fault> for RuleFault {
    fn from(f: Fault) -> Self {
        RuleFault::Fault(f)
    }
}

impl IntoResponse for RuleFault {
    fn into_response(self) -> Response {
        match self {
            // What pecan renders for the `NotFound` the lookup raises
            // (title and all).
            RuleFault::NoPolicy(id) => json_response(
                StatusCode::NOT_FOUND,
                json!({"code": 404, "title": "Bad Request",
                       "description": format!("L7Policy {id} not found.")}),
            ),
            RuleFault::Fault(f) => f.into_response(),
        }
    }
}

/// The path's policy (upstream's `_lookup`).
async fn lookup(state: &LbState, policy_id: &str) -> Result<L7Policy, RuleFault> {
    l7policies::get(&state.db, policy_id)
        .await
        .map_err(db)?
        .ok_or_else(|| RuleFault::NoPolicy(policy_id.to_string()))
}

/// Rule `id` of policy `policy_id` (404 `L7 Rule`; a rule of another
/// policy is not found here either).
async fn find(state: &LbState, policy_id: &str, id: &str) -> Result<L7Rule, LbError> {
    match l7rules::get(&state.db, id).await.map_err(db)? {
        Some(r) if r.l7policy_id == policy_id => Ok(r),
        _ => Err(LbError::not_found(resource::L7_RULE, id)),
    }
}

/// The rule as this transaction wrote it: the answer is what commits
/// (read before the worker can settle it).
async fn stored_tx(tx: &mut Tx, id: &str) -> Result<L7Rule, LbError> {
    l7rules::get_tx(tx, id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::L7_RULE, id))
}

/// A new rule's row: PENDING_CREATE, OFFLINE, owned by `project`. Also
/// the rules of a new policy (`l7policies::insert_new`).
pub(crate) fn new_row(
    id: &str,
    policy_id: &str,
    project: &str,
    req: &L7RuleCreate,
    created_at: &str,
) -> L7Rule {
    L7Rule {
        id: id.to_string(),
        project_id: project.to_string(),
        l7policy_id: policy_id.to_string(),
        admin_state_up: req.admin_state_up,
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: state::initial_operating(Object::L7Rule, false),
        rule_type: req.rule_type,
        compare_type: req.compare_type,
        key: req.key.clone(),
        value: req.value.clone(),
        invert: req.invert,
        tags: req.tags.clone(),
        created_at: created_at.to_string(),
        updated_at: None,
    }
}

/// The policy must be ACTIVE for its rules to change (ImmutableObject
/// `L7Policy`), then the load balancer's compare-and-set; then the policy
/// and its listener go to PENDING_UPDATE. Upstream's
/// `_test_lb_listener_policy_statuses`.
async fn hold_parents(
    tx: &mut Tx,
    policy_id: &str,
    listener: &Listener,
    lb: &LoadBalancer,
    op: Operation,
) -> Result<(), LbError> {
    let current = l7policies::get_tx(tx, policy_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::L7_POLICY, policy_id))?;
    if !state::is_mutable(current.provisioning_status) {
        return Err(state::parent_not_active("L7Policy", policy_id));
    }
    ops::hold_lb(tx, &lb.id, op, Role::Parent).await?;
    ops::hold(tx, store::Object::Listener, &[listener.id.as_str()]).await?;
    ops::hold(tx, store::Object::L7Policy, &[policy_id]).await
}

/// The flow's plan: the rule, then the policy, listener and load
/// balancer it held.
fn plan(
    rule_id: &str,
    op: Operation,
    policy_id: &str,
    listener: &Listener,
    lb: &LoadBalancer,
) -> Plan {
    Plan {
        touched: vec![
            Touched::own(Object::L7Rule, rule_id, op),
            Touched::parent(Object::L7Policy, policy_id),
            Touched::parent(Object::Listener, &listener.id),
            Touched::parent(Object::LoadBalancer, &lb.id),
        ],
        ..Plan::default()
    }
}

async fn list(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    Path(policy_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, RuleFault> {
    let policy = lookup(&state, &policy_id).await?;
    let pairs = ops::pairs(raw);
    let query = ops::list_query(&state, &pairs, &COLLECTION)?;
    state
        .policy()
        .enforce("l7rule:get_all", &caller, &policy.project_id)?;
    let rules = l7rules::list_by_policy(&state.db, &policy_id)
        .await
        .map_err(db)?;
    let items = rules.iter().map(render::l7rule).collect();
    let path = format!("/v2/lbaas/l7policies/{policy_id}/rules");
    Ok(ops::list_response(&headers, &path, "rules", &query, items)?)
}

async fn show(
    State(state): State<LbState>,
    caller: Caller,
    Path((policy_id, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, RuleFault> {
    lookup(&state, &policy_id).await?;
    let rule = find(&state, &policy_id, &id).await?;
    state
        .policy()
        .enforce("l7rule:get_one", &caller, &rule.project_id)?;
    let fields = crate::listing::fields(&ops::pairs(raw));
    let body = crate::listing::select_fields(render::l7rule(&rule), fields.as_deref());
    Ok(json_response(StatusCode::OK, json!({ "rule": body })))
}

async fn create(
    State(state): State<LbState>,
    caller: Caller,
    Path(policy_id): Path<String>,
    body: Bytes,
) -> Result<Response, RuleFault> {
    let policy = lookup(&state, &policy_id).await?;
    let req = L7RuleCreate::parse(&ops::json_body(&body)?)?;
    let (listener, lb) = parents(&state, &policy.listener_id).await?;
    let project = lb.project_id.clone();
    state.policy().enforce("l7rule:post", &caller, &project)?;
    req.check()?;

    let mut tx = state.db.begin().await.map_err(db)?;
    let rules = l7rules::count_by_policy_tx(&mut tx, &policy_id)
        .await
        .map_err(db)?;
    if rules >= MAX_L7RULES_PER_L7POLICY as i64 {
        return Err(LbError::too_many_l7rules(&policy_id).into());
    }
    if !store::quotas::check_tx(
        &mut tx,
        &project,
        LbResource::L7Rule,
        1,
        state.config.default_quota,
    )
    .await
    .map_err(db)?
    {
        return Err(LbError::quota_exceeded(resource::L7_RULE).into());
    }
    hold_parents(&mut tx, &policy_id, &listener, &lb, Operation::Create).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let row = new_row(&id, &policy_id, &project, &req, &store::now());
    l7rules::insert(&mut tx, &row).await.map_err(db)?;
    let stored = stored_tx(&mut tx, &id).await?;
    let plan = plan(&id, Operation::Create, &policy_id, &listener, &lb);
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "rule": render::l7rule(&stored) }),
    ))
}

async fn update(
    State(state): State<LbState>,
    caller: Caller,
    Path((policy_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, RuleFault> {
    let policy = lookup(&state, &policy_id).await?;
    let req = L7RuleUpdate::parse(&ops::json_body(&body)?)?;
    let rule = find(&state, &policy_id, &id).await?;
    let (listener, lb) = parents(&state, &policy.listener_id).await?;
    state
        .policy()
        .enforce("l7rule:put", &caller, &lb.project_id)?;
    // Upstream validates the merged rule before the status checks.
    req.apply(&rule)?;

    let mut tx = state.db.begin().await.map_err(db)?;
    hold_parents(&mut tx, &policy_id, &listener, &lb, Operation::Update).await?;
    let current = l7rules::get_tx(&mut tx, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::L7_RULE, &id))?;
    let mut new = req.apply(&current)?;
    new.provisioning_status = ProvisioningStatus::PendingUpdate;
    new.updated_at = Some(store::now());
    l7rules::update(&mut tx, &new).await.map_err(db)?;
    let stored = stored_tx(&mut tx, &id).await?;
    let plan = plan(&id, Operation::Update, &policy_id, &listener, &lb);
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "rule": render::l7rule(&stored) }),
    ))
}

async fn delete(
    State(state): State<LbState>,
    caller: Caller,
    Path((policy_id, id)): Path<(String, String)>,
) -> Result<Response, RuleFault> {
    let policy = lookup(&state, &policy_id).await?;
    find(&state, &policy_id, &id).await?;
    let (listener, lb) = parents(&state, &policy.listener_id).await?;
    state
        .policy()
        .enforce("l7rule:delete", &caller, &lb.project_id)?;
    let mut tx = state.db.begin().await.map_err(db)?;
    hold_parents(&mut tx, &policy_id, &listener, &lb, Operation::Delete).await?;
    store::set_provisioning_status(
        &mut tx,
        store::Object::L7Rule,
        &[id.as_str()],
        ProvisioningStatus::PendingDelete,
    )
    .await
    .map_err(db)?;
    let plan = plan(&id, Operation::Delete, &policy_id, &listener, &lb);
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
