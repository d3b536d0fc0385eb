//! The graph ("fully populated") create: a load balancer with its
//! listeners, pools, members, monitors and L7 policies in one request
//! (design §2.13; upstream `LoadBalancersController._graph_create` and the
//! controllers' `_graph_create`s).
//!
//! The load balancer handler has parsed the body, hoisted the inline pool
//! definitions (`LoadBalancerCreate::hoist_graph_pools`: every pool is
//! named, defined once, and referenced by name), inserted the load
//! balancer with its VIP port, and calls [`create_children`] in the same
//! transaction before it submits the one `lb_create` flow. That flow
//! marks the whole tree ACTIVE at its end, so every child is written here
//! PENDING_CREATE with its initial operating status (design §3.2), and no
//! flow of its own. Any error returns before the commit: nothing of the
//! request is stored, the VIP port included.
//!
//! Order, as upstream's: the pools first (quota for all of them, then each
//! pool with its health monitor and members), then the listeners (quota,
//! then each listener with its default pool resolved by name and its L7
//! policies with their rules and redirect pools resolved by name).

use std::collections::HashMap;

use neutrino_lb_types::consts::DEFAULT_RESERVED_IPS;
use neutrino_lb_types::enums::Protocol;
use neutrino_lb_types::model::{LoadBalancer, Pool};
use neutrino_lb_types::request::listener::ListenerCreate;
use neutrino_lb_types::request::loadbalancer::LoadBalancerCreate;
use neutrino_lb_types::request::pool::PoolCreate;
use neutrino_lb_types::{LbError, checks, render, resource};
use neutrino_store::Tx;
use neutrino_store::lb::{self as store, quotas::LbResource};
use serde_json::Value;

use crate::ops::db;
use crate::{LbState, health_monitors, l7policies, listeners, members, pools};

/// The children written for a graph create.
pub struct Children;

/// Fails with upstream's QuotaException for `name` unless `adding` more
/// `resource` rows of `project` fit (counted in `tx`, so the rows this
/// graph already wrote count too).
async fn quota(
    state: &LbState,
    tx: &mut Tx,
    project: &str,
    resource: LbResource,
    adding: usize,
    name: &str,
) -> Result<(), LbError> {
    if adding == 0 {
        return Ok(());
    }
    let n = i64::try_from(adding).unwrap_or(i64::MAX);
    if store::quotas::check_tx(tx, project, resource, n, state.config.default_quota)
        .await
        .map_err(db)?
    {
        Ok(())
    } else {
        Err(LbError::quota_exceeded(name))
    }
}

/// The id of the graph's pool `name` (`SingleCreateDetailsMissing` when
/// no definition has that name; the hoisting has already refused that
/// with its own message, so this is a safety net).
fn pool_named<'a>(ids: &'a HashMap<String, Pool>, name: &str) -> Result<&'a Pool, LbError> {
    ids.get(name)
        .ok_or_else(|| LbError::single_create_details_missing("Pool", name))
}

/// Inserts the children of `req` under `lb` in `tx`: pools with their
/// health monitors and members, then listeners with their L7 policies and
/// rules. Checks quotas and every rule a single create of each object
/// checks that makes sense for a new load balancer; writes no flow.
pub async fn create_children(
    state: &LbState,
    tx: &mut Tx,
    lb: &LoadBalancer,
    req: &LoadBalancerCreate,
) -> Result<Children, LbError> {
    let project = lb.project_id.as_str();
    quota(
        state,
        tx,
        project,
        LbResource::Pool,
        req.pools.len(),
        resource::POOL,
    )
    .await?;
    let mut by_name: HashMap<String, Pool> = HashMap::new();
    for p in &req.pools {
        let pool = create_pool(state, tx, lb, p).await?;
        if let Some(name) = &pool.name {
            by_name.insert(name.clone(), pool);
        }
    }
    quota(
        state,
        tx,
        project,
        LbResource::Listener,
        req.listeners.len(),
        resource::LISTENER,
    )
    .await?;
    for l in &req.listeners {
        create_listener(state, tx, lb, l, &by_name).await?;
    }
    Ok(Children)
}

/// One pool of the graph with its health monitor and members
/// (`PoolsController._graph_create`).
async fn create_pool(
    state: &LbState,
    tx: &mut Tx,
    lb: &LoadBalancer,
    req: &PoolCreate,
) -> Result<Pool, LbError> {
    let project = lb.project_id.as_str();
    pools::check_request(req, None, pools::provider_of(lb))?;
    let pool = pools::insert_new(tx, lb, req, None).await?;
    if let Some(hm) = &req.healthmonitor {
        quota(
            state,
            tx,
            project,
            LbResource::HealthMonitor,
            1,
            resource::HEALTH_MONITOR,
        )
        .await?;
        hm.check()?;
        hm.check_pool_protocol(pool.protocol)?;
        let row = health_monitors::new_health_monitor(hm, &pool.id, project);
        health_monitors::insert_new(tx, &row).await?;
    }
    quota(
        state,
        tx,
        project,
        LbResource::Member,
        req.members.len(),
        resource::MEMBER,
    )
    .await?;
    for m in &req.members {
        m.check(DEFAULT_RESERVED_IPS)?;
        let row = members::new_member(m, &pool.id, project, req.healthmonitor.is_some());
        members::insert_new(tx, &row).await?;
    }
    Ok(pool)
}

/// One listener of the graph with its L7 policies
/// (`ListenersController._graph_create`).
async fn create_listener(
    state: &LbState,
    tx: &mut Tx,
    lb: &LoadBalancer,
    req: &ListenerCreate,
    by_name: &HashMap<String, Pool>,
) -> Result<(), LbError> {
    let project = lb.project_id.as_str();
    let default_pool_id = match &req.default_pool {
        Some(p) => {
            let name = p.name.as_deref().unwrap_or_default();
            Some(pool_named(by_name, name)?.id.clone())
        }
        None => req.default_pool_id.clone(),
    };
    // Upstream's order: the default pool (a PROMETHEUS listener takes
    // none; a pool of this load balancer with a protocol the listener may
    // use), then the listener's own rules.
    req.check_no_children()?;
    if let Some(pool_id) = &default_pool_id {
        listeners::check_default_pool(tx, &lb.id, pool_id, req.protocol).await?;
    }
    listeners::check_request(req, true)?;
    // Certificate references must be the load balancer's project's own.
    let listener =
        listeners::insert_new(state, false, tx, lb, req, default_pool_id.as_deref()).await?;
    if req.l7policies.is_empty() {
        return Ok(());
    }
    quota(
        state,
        tx,
        project,
        LbResource::L7Policy,
        req.l7policies.len(),
        resource::L7_POLICY,
    )
    .await?;
    l7policies::provider_supports(pools::provider_of(lb), listener.protocol)?;
    for policy in &req.l7policies {
        let redirect_pool_id = match &policy.redirect_pool {
            Some(p) => {
                let pool = pool_named(by_name, p.name.as_deref().unwrap_or_default())?;
                redirect_protocol(listener.protocol, pool)?;
                Some(pool.id.clone())
            }
            None => None,
        };
        quota(
            state,
            tx,
            project,
            LbResource::L7Rule,
            policy.rules.len(),
            resource::L7_RULE,
        )
        .await?;
        let id = uuid::Uuid::new_v4().to_string();
        l7policies::insert_new(
            tx,
            &id,
            policy,
            &l7policies::Placement {
                project,
                listener_id: &listener.id,
                redirect_pool_id,
            },
        )
        .await?;
    }
    Ok(())
}

/// A redirect pool's protocol must be one the listener may send to, as
/// the single L7 policy create checks.
fn redirect_protocol(listener: Protocol, pool: &Pool) -> Result<(), LbError> {
    checks::listener_pool_protocols(listener, pool.protocol)
}

/// The graph-create answer: the load balancer with its listeners (each
/// with its L7 policies and their rules) and its pools (each with its
/// members and health monitor) inline, as upstream's
/// `LoadBalancerFullResponse`.
pub async fn render_full(state: &LbState, lb: &LoadBalancer) -> Result<Value, LbError> {
    let mut listeners = Vec::new();
    for l in store::listeners::list_by_lb(&state.db, &lb.id)
        .await
        .map_err(db)?
    {
        let mut policies = Vec::with_capacity(l.l7policy_ids.len());
        for pid in &l.l7policy_ids {
            let Some(p) = store::l7policies::get(&state.db, pid).await.map_err(db)? else {
                continue;
            };
            let rules = store::l7rules::list_by_policy(&state.db, pid)
                .await
                .map_err(db)?
                .iter()
                .map(render::l7rule)
                .collect();
            policies.push(render::l7policy_full(&p, rules));
        }
        listeners.push(render::listener_full(&l, policies));
    }
    let mut pools = Vec::new();
    for p in store::pools::list_by_lb(&state.db, &lb.id)
        .await
        .map_err(db)?
    {
        let members = store::members::list_by_pool(&state.db, &p.id)
            .await
            .map_err(db)?
            .iter()
            .map(render::member)
            .collect();
        let hm = match &p.healthmonitor_id {
            Some(id) => store::health_monitors::get(&state.db, id)
                .await
                .map_err(db)?
                .map(|h| render::health_monitor_full(&h)),
            None => None,
        };
        pools.push(render::pool_full(&p, members, hm));
    }
    Ok(render::loadbalancer_full(lb, listeners, pools))
}
