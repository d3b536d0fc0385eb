//! Members — `/v2/lbaas/pools/{pool_id}/members[/{member_id}]`, and the
//! batch update `PUT /v2/lbaas/pools/{pool_id}/members` (design §2.8;
//! octavia 19 `api/v2/controllers/member.py`).
//!
//! Every change holds the pool, the listeners using it and the load
//! balancer in PENDING_UPDATE ([`hold_pool`], shared with the health
//! monitors) and leaves one flow to settle them.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::consts::DEFAULT_RESERVED_IPS;
use neutrino_lb_types::enums::{ProvisioningStatus, VnicType};
use neutrino_lb_types::model::{LoadBalancer, Member, Pool};
use neutrino_lb_types::request::member::{self as member_req, MemberCreate, MemberUpdate};
use neutrino_lb_types::state::{self, Object, Operation, Role};
use neutrino_lb_types::{LbError, checks, render, resource};
use neutrino_lbaas::flows::{Plan, Touched, kind};
use neutrino_store::Tx;
use neutrino_store::lb::{self as store, load_balancers, members, pools, quotas::LbResource};
use serde_json::{Value, json};

use crate::LbState;
use crate::auth::Caller;
use crate::fault::{Fault, json_response, only};
use crate::listing::Collection;
use crate::ops::{self, db};

const COLLECTION: Collection = Collection {
    attributes: &[
        "id",
        "name",
        "operating_status",
        "provisioning_status",
        "admin_state_up",
        "address",
        "protocol_port",
        "weight",
        "backup",
        "subnet_id",
        "project_id",
        "created_at",
        "updated_at",
        "monitor_address",
        "monitor_port",
        "vnic_type",
    ],
    booleans: &["admin_state_up", "backup"],
    tagged: true,
};

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/pools/{{pool_id}}/members");
    let one = format!("{base}/{{member_id}}");
    Router::new()
        .route(
            &base,
            only(get(list).post(create).put(batch), "GET, POST, PUT"),
        )
        .route(
            &format!("{base}/"),
            only(get(list).post(create).put(batch), "GET, POST, PUT"),
        )
        .route(
            &one,
            only(get(show).put(update).delete(delete), "GET, PUT, DELETE"),
        )
}

/// The pool of the path; upstream's router answers 404 before anything
/// else (even a bad body) when it does not exist.
async fn pool_of(state: &LbState, pool_id: &str) -> Result<Pool, LbError> {
    pools::get(&state.db, pool_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::POOL, pool_id))
}

/// The load balancer a pool belongs to: its project owns the pool's
/// children, its provider validates them.
pub(crate) async fn lb_of(state: &LbState, pool: &Pool) -> Result<LoadBalancer, LbError> {
    load_balancers::get(&state.db, &pool.load_balancer_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::LOAD_BALANCER, &pool.load_balancer_id))
}

/// A member of the path's pool; one of another pool is "not found", after
/// the policy check as upstream (`_validate_pool_id`).
async fn member_of(
    state: &LbState,
    caller: &Caller,
    pool_id: &str,
    member_id: &str,
    action: &str,
    owner: Option<&str>,
) -> Result<Member, LbError> {
    let m = members::get(&state.db, member_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::MEMBER, member_id))?;
    state
        .policy()
        .enforce(action, caller, owner.unwrap_or(&m.project_id))?;
    if m.pool_id != pool_id {
        return Err(LbError::not_found(resource::MEMBER, member_id));
    }
    Ok(m)
}

/// The parent checks and holds of a child operation on pool `pool_id`
/// (upstream's `_test_lb_and_listener_and_pool_statuses`): the pool must
/// be ACTIVE (else ImmutableObject `Pool`), then the load balancer's
/// compare-and-set (ImmutableObject `Load Balancer`), then the pool and
/// every listener using it go PENDING_UPDATE. Returns the pool as this
/// transaction sees it and the parents to settle, load balancer last.
pub(crate) async fn hold_pool(tx: &mut Tx, pool_id: &str) -> Result<(Pool, Vec<Touched>), LbError> {
    let pool = pools::get_tx(tx, pool_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::POOL, pool_id))?;
    if !state::is_mutable(pool.provisioning_status) {
        return Err(state::parent_not_active(resource::POOL, pool_id));
    }
    ops::hold_lb(tx, &pool.load_balancer_id, Operation::Update, Role::Parent).await?;
    ops::hold(tx, store::Object::Pool, &[pool_id]).await?;
    let listeners: Vec<&str> = pool.listener_ids.iter().map(String::as_str).collect();
    ops::hold(tx, store::Object::Listener, &listeners).await?;
    let mut parents = vec![Touched::parent(Object::Pool, pool_id)];
    parents.extend(
        pool.listener_ids
            .iter()
            .map(|l| Touched::parent(Object::Listener, l)),
    );
    parents.push(Touched::parent(
        Object::LoadBalancer,
        &pool.load_balancer_id,
    ));
    Ok((pool, parents))
}

/// A new member row of `pool_id` (upstream's `db_prepare.create_member`):
/// PENDING_CREATE, and NO_MONITOR — or OFFLINE when the pool has a
/// health monitor. For the single create, the batch and the graph create.
pub(crate) fn new_member(
    req: &MemberCreate,
    pool_id: &str,
    project: &str,
    pool_has_monitor: bool,
) -> Member {
    Member {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project.to_string(),
        pool_id: pool_id.to_string(),
        name: req.name.clone(),
        admin_state_up: req.admin_state_up,
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: state::initial_operating(Object::Member, pool_has_monitor),
        address: req.address.clone(),
        protocol_port: req.protocol_port,
        weight: req.weight,
        backup: req.backup,
        subnet_id: req.subnet_id.clone(),
        monitor_address: req.monitor_address.clone(),
        monitor_port: req.monitor_port,
        vnic_type: VnicType::Normal,
        tags: req.tags.clone(),
        created_at: store::now(),
        updated_at: None,
    }
}

/// Writes a new member in `tx` (no flow); the same address and port twice
/// in one pool is 409 DuplicateMemberEntry, as upstream's insert says.
pub(crate) async fn insert_new(tx: &mut Tx, m: &Member) -> Result<(), LbError> {
    // The unique (pool, address, port) index is the duplicate check: one
    // statement, where reading the pool's members first made a batch of n
    // members read n²/2 rows.
    members::insert(tx, m).await.map_err(|e| {
        if e.is_unique_violation() {
            LbError::duplicate_member(&m.address, m.protocol_port)
        } else {
            db(e)
        }
    })
}

/// Whether member subnets are looked up: not with the noop network
/// driver, whose upstream twin takes any subnet id.
fn checks_subnets(state: &LbState) -> bool {
    state.config.network_driver == crate::NetworkDriver::Neutrino
}

/// `validate.subnet_exists` with the caller's credentials: a subnet the
/// caller cannot see is as missing (400 InvalidSubresource `Subnet`).
async fn check_subnet(tx: &mut Tx, caller: &Caller, subnet_id: &str) -> Result<(), LbError> {
    let missing = || LbError::invalid_subresource(resource::SUBNET, subnet_id);
    let subnet = neutrino_store::subnets::get_tx(tx, subnet_id)
        .await
        .map_err(db)?
        .ok_or_else(missing)?;
    let network = neutrino_store::networks::get_tx(tx, &subnet.network_id)
        .await
        .map_err(db)?
        .ok_or_else(missing)?;
    let project = caller.project_id().unwrap_or_default();
    if caller.0.is_admin() || network.visible_to(project) {
        Ok(())
    } else {
        Err(missing())
    }
}

/// The amphora provider's `_validate_members`: in UDP/SCTP pools that
/// listeners use, a member's IP version needs a VIP of the same version.
fn check_lvs_versions<'a>(
    lb: &LoadBalancer,
    pool: &Pool,
    addresses: impl IntoIterator<Item = &'a str>,
) -> Result<(), LbError> {
    if !pool.protocol.is_lvs() || pool.listener_ids.is_empty() {
        return Ok(());
    }
    let vips: Vec<IpAddr> = std::iter::once(lb.vip.ip_address.as_deref())
        .chain(lb.additional_vips.iter().map(|v| v.ip_address.as_deref()))
        .flatten()
        .filter_map(|a| a.parse().ok())
        .collect();
    let has_v4 = vips.iter().any(IpAddr::is_ipv4);
    let has_v6 = vips.iter().any(IpAddr::is_ipv6);
    for address in addresses {
        let v6 = address.parse::<IpAddr>().is_ok_and(|a| a.is_ipv6());
        if (v6 && !has_v6) || (!v6 && !has_v4) {
            let provider = lb.provider.as_deref().unwrap_or(crate::providers::DEFAULT);
            return Err(LbError::provider_unsupported_option(
                provider,
                &format!(
                    "This provider doesn't support mixing IPv4 and IPv6 addresses for its VIP \
                     and members in {} load balancers.",
                    pool.protocol
                ),
            ));
        }
    }
    Ok(())
}

async fn read_back(state: &LbState, id: &str) -> Result<Member, LbError> {
    members::get(&state.db, id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::MEMBER, id))
}

async fn list(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    Path(pool_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let pool = pool_of(&state, &pool_id).await?;
    let pairs = ops::pairs(raw);
    let query = ops::list_query(&state, &pairs, &COLLECTION)?;
    state
        .policy()
        .enforce("member:get_all", &caller, &pool.project_id)?;
    let items: Vec<Value> = members::list_by_pool(&state.db, &pool_id)
        .await
        .map_err(db)?
        .iter()
        // `project_id` is a column filter here, not a scope: the pool's
        // owner already decided who may read.
        .filter(|m| query.project_id.as_ref().is_none_or(|p| *p == m.project_id))
        .map(render::member)
        .collect();
    Ok(ops::list_response(
        &headers,
        &format!("/v2/lbaas/pools/{pool_id}/members"),
        "members",
        &query,
        items,
    )?)
}

async fn show(
    State(state): State<LbState>,
    caller: Caller,
    Path((pool_id, member_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    pool_of(&state, &pool_id).await?;
    let m = member_of(
        &state,
        &caller,
        &pool_id,
        &member_id,
        "member:get_one",
        None,
    )
    .await?;
    let fields = crate::listing::fields(&ops::pairs(raw));
    let body = crate::listing::select_fields(render::member(&m), fields.as_deref());
    Ok(json_response(StatusCode::OK, json!({ "member": body })))
}

async fn create(
    State(state): State<LbState>,
    caller: Caller,
    Path(pool_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let pool = pool_of(&state, &pool_id).await?;
    let req = MemberCreate::parse(&ops::json_body(&body)?)?;
    let lb = lb_of(&state, &pool).await?;
    let project = lb.project_id.clone();
    state.policy().enforce("member:post", &caller, &project)?;
    checks::member_address_not_reserved(&req.address, DEFAULT_RESERVED_IPS)?;

    let mut tx = state.db.begin().await.map_err(db)?;
    if let Some(subnet) = req.subnet_id.as_ref().filter(|_| checks_subnets(&state)) {
        check_subnet(&mut tx, &caller, subnet).await?;
    }
    if !store::quotas::check_tx(
        &mut tx,
        &project,
        LbResource::Member,
        1,
        state.config.default_quota,
    )
    .await
    .map_err(db)?
    {
        return Err(LbError::quota_exceeded(resource::MEMBER).into());
    }
    if req.request_sriov {
        return Err(LbError::member_sriov_disabled().into());
    }
    let (pool, parents) = hold_pool(&mut tx, &pool_id).await?;
    let m = new_member(&req, &pool_id, &project, pool.healthmonitor_id.is_some());
    insert_new(&mut tx, &m).await?;
    check_lvs_versions(&lb, &pool, [m.address.as_str()])?;

    let mut touched = vec![Touched::own(Object::Member, &m.id, Operation::Create)];
    touched.extend(parents);
    let plan = Plan {
        touched,
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    let stored = read_back(&state, &m.id).await?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "member": render::member(&stored) }),
    ))
}

async fn update(
    State(state): State<LbState>,
    caller: Caller,
    Path((pool_id, member_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Fault> {
    let pool = pool_of(&state, &pool_id).await?;
    let req = MemberUpdate::parse(&ops::json_body(&body)?)?;
    let lb = lb_of(&state, &pool).await?;
    member_of(
        &state,
        &caller,
        &pool_id,
        &member_id,
        "member:put",
        Some(&lb.project_id),
    )
    .await?;

    let mut tx = state.db.begin().await.map_err(db)?;
    let (_, parents) = hold_pool(&mut tx, &pool_id).await?;
    let current = members::get_tx(&mut tx, &member_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found(resource::MEMBER, &member_id))?;
    let mut new = req.apply(&current);
    new.provisioning_status = ProvisioningStatus::PendingUpdate;
    new.updated_at = Some(store::now());
    members::update(&mut tx, &new).await.map_err(db)?;

    let mut touched = vec![Touched::own(Object::Member, &member_id, Operation::Update)];
    touched.extend(parents);
    let plan = Plan {
        touched,
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    let stored = read_back(&state, &member_id).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "member": render::member(&stored) }),
    ))
}

async fn delete(
    State(state): State<LbState>,
    caller: Caller,
    Path((pool_id, member_id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    let pool = pool_of(&state, &pool_id).await?;
    let lb = lb_of(&state, &pool).await?;
    member_of(
        &state,
        &caller,
        &pool_id,
        &member_id,
        "member:delete",
        Some(&lb.project_id),
    )
    .await?;

    let mut tx = state.db.begin().await.map_err(db)?;
    let (_, parents) = hold_pool(&mut tx, &pool_id).await?;
    let n = store::set_provisioning_status(
        &mut tx,
        store::Object::Member,
        &[member_id.as_str()],
        ProvisioningStatus::PendingDelete,
    )
    .await
    .map_err(db)?;
    if n == 0 {
        return Err(LbError::not_found(resource::MEMBER, &member_id).into());
    }
    let mut touched = vec![Touched::own(Object::Member, &member_id, Operation::Delete)];
    touched.extend(parents);
    let plan = Plan {
        touched,
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One entry of a batch with which of its optional attributes without a
/// default were given (upstream leaves the others as stored).
struct Entry {
    req: MemberCreate,
    has_name: bool,
    has_tags: bool,
}

fn entries(body: &Value) -> Result<Vec<Entry>, LbError> {
    let reqs = member_req::parse_batch(body)?;
    let raw = body
        .get("members")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(reqs
        .into_iter()
        .enumerate()
        .map(|(i, req)| {
            let given = |k: &str| raw.get(i).and_then(|o| o.get(k)).is_some();
            Entry {
                has_name: given("name"),
                has_tags: given("tags"),
                req,
            }
        })
        .collect())
}

/// A stored member updated from a batch entry: what `MemberPOST` gives a
/// default to (weight, admin_state_up, backup, monitor address and port)
/// takes the entry's value or that default; name and tags only when given.
fn batch_updated(stored: &Member, e: &Entry) -> Member {
    let mut m = stored.clone();
    if e.has_name {
        m.name = e.req.name.clone();
    }
    if e.has_tags {
        m.tags = e.req.tags.clone();
    }
    m.admin_state_up = e.req.admin_state_up;
    m.weight = e.req.weight;
    m.backup = e.req.backup;
    m.monitor_address = e.req.monitor_address.clone();
    m.monitor_port = e.req.monitor_port;
    m.provisioning_status = ProvisioningStatus::PendingUpdate;
    m.updated_at = Some(store::now());
    m
}

/// `PUT /pools/{pool_id}/members[?additive_only=true]`: the pool's
/// members become the listed ones (upstream `MembersController.put`).
async fn batch(
    State(state): State<LbState>,
    caller: Caller,
    Path(pool_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, Fault> {
    let pool = pool_of(&state, &pool_id).await?;
    let additive = ops::pairs(raw)
        .iter()
        .find(|(k, _)| k == "additive_only")
        .is_some_and(|(_, v)| crate::listing::oslo_bool(v) == Some(true));
    let entries = entries(&ops::json_body(&body)?)?;
    let lb = lb_of(&state, &pool).await?;
    let project = lb.project_id.clone();
    let policy = state.policy();
    policy.enforce("member:post", &caller, &project)?;
    policy.enforce("member:put", &caller, &project)?;
    if !additive {
        policy.enforce("member:delete", &caller, &project)?;
    }

    let mut tx = state.db.begin().await.map_err(db)?;
    let (pool, parents) = hold_pool(&mut tx, &pool_id).await?;
    let old = members::list_by_pool_tx(&mut tx, &pool_id)
        .await
        .map_err(db)?;
    let old_by_key: HashMap<(&str, i64), &Member> = old
        .iter()
        .map(|m| ((m.address.as_str(), m.protocol_port), m))
        .collect();
    let listed: HashSet<(&str, i64)> = entries
        .iter()
        .map(|e| (e.req.address.as_str(), e.req.protocol_port))
        .collect();
    let mut created = Vec::new();
    let mut updated = Vec::new();
    let mut seen = HashSet::new();
    for e in &entries {
        let key = (e.req.address.as_str(), e.req.protocol_port);
        match old_by_key.get(&key) {
            None => {
                checks::member_address_not_reserved(&e.req.address, DEFAULT_RESERVED_IPS)?;
                created.push(e);
            }
            Some(stored) => {
                if !seen.insert(key) {
                    return Err(LbError::validation(
                        "Member must be updated only once in the same request.",
                    )
                    .into());
                }
                updated.push(batch_updated(stored, e));
            }
        }
    }
    let removed: Vec<&Member> = old
        .iter()
        .filter(|m| !listed.contains(&(m.address.as_str(), m.protocol_port)))
        .collect();
    if created.is_empty() && updated.is_empty() && removed.is_empty() {
        // Nothing to do: the holds roll back with the transaction.
        drop(tx);
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let diff = if additive {
        created.len() as i64
    } else {
        created.len() as i64 - removed.len() as i64
    };
    if diff > 0
        && !store::quotas::check_tx(
            &mut tx,
            &project,
            LbResource::Member,
            diff,
            state.config.default_quota,
        )
        .await
        .map_err(db)?
    {
        return Err(LbError::quota_exceeded(resource::MEMBER).into());
    }

    let mut touched = Vec::new();
    let mut valid_subnets = HashSet::new();
    let has_monitor = pool.healthmonitor_id.is_some();
    for e in &created {
        if let Some(subnet) = &e.req.subnet_id
            && checks_subnets(&state)
            && !valid_subnets.contains(subnet)
        {
            check_subnet(&mut tx, &caller, subnet).await?;
            valid_subnets.insert(subnet.clone());
        }
        if e.req.request_sriov {
            return Err(LbError::member_sriov_disabled().into());
        }
        let m = new_member(&e.req, &pool_id, &project, has_monitor);
        insert_new(&mut tx, &m).await?;
        touched.push(Touched::own(Object::Member, &m.id, Operation::Create));
    }
    for m in &updated {
        members::update(&mut tx, m).await.map_err(db)?;
        touched.push(Touched::own(Object::Member, &m.id, Operation::Update));
    }
    if !additive {
        let ids: Vec<&str> = removed.iter().map(|m| m.id.as_str()).collect();
        store::set_provisioning_status(
            &mut tx,
            store::Object::Member,
            &ids,
            ProvisioningStatus::PendingDelete,
        )
        .await
        .map_err(db)?;
        touched.extend(
            ids.iter()
                .map(|id| Touched::own(Object::Member, id, Operation::Delete)),
        );
    }
    // What the provider is handed: the listed members, and with
    // `additive_only` the untouched ones too.
    let kept = if additive { removed.as_slice() } else { &[] };
    check_lvs_versions(
        &lb,
        &pool,
        created
            .iter()
            .map(|e| e.req.address.as_str())
            .chain(updated.iter().map(|m| m.address.as_str()))
            .chain(kept.iter().map(|m| m.address.as_str())),
    )?;

    touched.extend(parents);
    let plan = Plan {
        touched,
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
