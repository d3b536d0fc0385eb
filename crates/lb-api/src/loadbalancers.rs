//! Load balancers — `/v2/lbaas/loadbalancers[/{id}]` with `/status`,
//! `/stats` and `/failover` (design §2.5, §3, §6; octavia 19
//! `api/v2/controllers/load_balancer.py`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::LbError;
use neutrino_lb_types::enums::{OperatingStatus, ProvisioningStatus, Topology};
use neutrino_lb_types::model::LoadBalancer;
use neutrino_lb_types::render;
use neutrino_lb_types::request::loadbalancer::{LoadBalancerCreate, LoadBalancerUpdate};
use neutrino_lb_types::state::{Object, Operation, Role};
use neutrino_lbaas::flows::{self, Plan, Touched, kind};
use neutrino_store::lb::{self as store, load_balancers, quotas::LbResource};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::fault::{Fault, json_response, only};
use crate::listing::Collection;
use crate::ops::{self, db};
use crate::{LbState, graph, vip};

const COLLECTION: Collection = Collection {
    attributes: &[
        "id",
        "name",
        "description",
        "admin_state_up",
        "project_id",
        "provisioning_status",
        "operating_status",
        "vip_address",
        "vip_port_id",
        "vip_subnet_id",
        "vip_network_id",
        "vip_qos_policy_id",
        "provider",
        "flavor_id",
        "availability_zone",
        "created_at",
        "updated_at",
        "vip_vnic_type",
    ],
    booleans: &["admin_state_up"],
    tagged: true,
};

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/loadbalancers");
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
        .route(&format!("{one}/status"), only(get(status), "GET"))
        .route(&format!("{one}/statuses"), only(get(status), "GET"))
        .route(&format!("{one}/stats"), only(get(stats), "GET"))
        .route(
            &format!("{one}/failover"),
            only(axum::routing::put(failover), "PUT"),
        )
}

/// Renders load balancers with their listener and pool ids, read in one
/// query each over the same scope.
async fn render_all(
    state: &LbState,
    lbs: &[LoadBalancer],
    project: Option<&str>,
) -> Result<Vec<Value>, LbError> {
    let listeners = store::listeners::list(&state.db, project)
        .await
        .map_err(db)?;
    let pools = store::pools::list(&state.db, project).await.map_err(db)?;
    Ok(lbs
        .iter()
        .map(|lb| {
            let l: Vec<String> = listeners
                .iter()
                .filter(|x| x.load_balancer_id == lb.id)
                .map(|x| x.id.clone())
                .collect();
            let p: Vec<String> = pools
                .iter()
                .filter(|x| x.load_balancer_id == lb.id)
                .map(|x| x.id.clone())
                .collect();
            render::loadbalancer(lb, &l, &p)
        })
        .collect())
}

pub(crate) async fn render_one(state: &LbState, lb: &LoadBalancer) -> Result<Value, LbError> {
    let listeners = store::listeners::list_by_lb(&state.db, &lb.id)
        .await
        .map_err(db)?;
    let pools = store::pools::list_by_lb(&state.db, &lb.id)
        .await
        .map_err(db)?;
    let l: Vec<String> = listeners.into_iter().map(|x| x.id).collect();
    let p: Vec<String> = pools.into_iter().map(|x| x.id).collect();
    Ok(render::loadbalancer(lb, &l, &p))
}

async fn list(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let pairs = ops::pairs(raw);
    let query = ops::list_query(&state, &pairs, &COLLECTION)?;
    let scope = ops::list_scope(&state, &caller, "loadbalancer", &query)?;
    let lbs = load_balancers::list(&state.db, scope.as_deref())
        .await
        .map_err(db)?;
    let items = render_all(&state, &lbs, scope.as_deref()).await?;
    Ok(ops::list_response(
        &headers,
        "/v2/lbaas/loadbalancers",
        "loadbalancers",
        &query,
        items,
    )?)
}

/// The load balancer `id` if the caller may `action` it; 404 first, as
/// upstream looks it up before its policy check.
pub(crate) async fn authorized(
    state: &LbState,
    caller: &Caller,
    id: &str,
    action: &str,
) -> Result<LoadBalancer, LbError> {
    let lb = load_balancers::get(&state.db, id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Load Balancer", id))?;
    state.policy().enforce(action, caller, &lb.project_id)?;
    Ok(lb)
}

async fn show(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let lb = authorized(&state, &caller, &id, "loadbalancer:get_one").await?;
    let fields = crate::listing::fields(&ops::pairs(raw));
    let body = crate::listing::select_fields(render_one(&state, &lb).await?, fields.as_deref());
    Ok(json_response(
        StatusCode::OK,
        json!({ "loadbalancer": body }),
    ))
}

/// Flavor, availability zone and provider of a new load balancer
/// (upstream's `_validate_flavor`, `_validate_and_return_az_dict`,
/// `_get_provider`): the provider, the topology and the compute zone.
async fn placement(
    state: &LbState,
    req: &LoadBalancerCreate,
) -> Result<(String, Topology, Option<String>), LbError> {
    let mut topology = state.config.topology;
    let mut flavor_provider = None;
    if let Some(fid) = &req.flavor_id {
        let flavor = store::flavors::get_flavor(&state.db, fid)
            .await
            .map_err(db)?
            .ok_or_else(|| LbError::validation("Invalid flavor_id."))?;
        if !flavor.enabled {
            return Err(LbError::disabled_option("flavor", fid));
        }
        let profile = store::flavors::get_flavor_profile(&state.db, &flavor.flavor_profile_id)
            .await
            .map_err(db)?
            .ok_or_else(|| LbError::validation("Invalid flavor_id."))?;
        let data: Value = serde_json::from_str(&profile.flavor_data).unwrap_or_default();
        if let Some(t) = data
            .get("loadbalancer_topology")
            .and_then(Value::as_str)
            .and_then(Topology::parse)
        {
            topology = t;
        }
        flavor_provider = Some(profile.provider_name);
    }
    let provider = match (&req.provider, flavor_provider) {
        (Some(p), Some(f)) if *p != f => {
            return Err(LbError::provider_flavor_mismatch(
                req.flavor_id.as_deref().unwrap_or_default(),
                p,
            ));
        }
        (Some(p), _) => p.clone(),
        (None, Some(f)) => f,
        (None, None) => crate::providers::DEFAULT.to_string(),
    };
    if !crate::providers::is_enabled(&provider) {
        return Err(LbError::provider_not_enabled(&provider));
    }
    let mut zone = None;
    if let Some(name) = &req.availability_zone {
        let az = store::flavors::get_az(&state.db, name)
            .await
            .map_err(db)?
            .ok_or_else(|| LbError::validation("Invalid availability zone."))?;
        if !az.enabled {
            return Err(LbError::disabled_option("availability_zone", name));
        }
        if let Some(p) = store::flavors::get_az_profile(&state.db, &az.availability_zone_profile_id)
            .await
            .map_err(db)?
        {
            let data: Value = serde_json::from_str(&p.availability_zone_data).unwrap_or_default();
            zone = data
                .get("compute_zone")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
    }
    Ok((provider, topology, zone))
}

async fn create(
    State(state): State<LbState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Fault> {
    let mut req = LoadBalancerCreate::parse(&ops::json_body(&body)?)?;
    let project = match req
        .project_id
        .clone()
        .or_else(|| caller.project_id().map(str::to_string))
    {
        Some(p) => p,
        None => return Err(LbError::missing_api_project_id().into()),
    };
    let policy = state.policy();
    policy.enforce("loadbalancer:post", &caller, &project)?;
    if !req.vip_sg_ids.is_empty() {
        policy.enforce("loadbalancer:post:vip_sg_ids", &caller, &project)?;
    }
    req.check_vip()?;
    let (provider, topology, zone) = placement(&state, &req).await?;
    let graph = !req.listeners.is_empty() || !req.pools.is_empty();
    if graph {
        req.hoist_graph_pools()?;
    }

    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = state.db.begin().await.map_err(db)?;
    if !store::quotas::check_tx(
        &mut tx,
        &project,
        LbResource::LoadBalancer,
        1,
        state.config.default_quota,
    )
    .await
    .map_err(db)?
    {
        return Err(LbError::quota_exceeded("Load Balancer").into());
    }
    let who = vip::Asker {
        project: &project,
        admin: caller.0.is_admin(),
    };
    let (vip, additional_vips) = vip::allocate(
        &mut tx,
        state.mac_prefix,
        state.config.network_driver,
        &id,
        &req,
        &who,
    )
    .await?;
    let lb = LoadBalancer {
        id: id.clone(),
        project_id: project.clone(),
        name: req.name.clone(),
        description: req.description.clone(),
        admin_state_up: req.admin_state_up,
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: OperatingStatus::Offline,
        topology,
        provider: Some(provider),
        flavor_id: req.flavor_id.clone(),
        availability_zone: req.availability_zone.clone(),
        created_at: store::now(),
        updated_at: None,
        vip,
        additional_vips,
        tags: req.tags.clone(),
    };
    load_balancers::insert(&mut tx, &lb).await.map_err(db)?;
    let children = if graph {
        Some(graph::create_children(&state, &mut tx, &lb, &req).await?)
    } else {
        None
    };
    crate::hooks::point("lb_create:after_port");
    let mut own = Touched::own(Object::LoadBalancer, &id, Operation::Create);
    own.tree = true;
    let plan = Plan {
        touched: vec![own],
        amphorae: flows::amphorae_for(topology),
        retire: Vec::new(),
        zone,
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::LB_CREATE, &id)).await?;
    let stored = load_balancers::get(&state.db, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Load Balancer", &id))?;
    let body = match children {
        Some(_) => graph::render_full(&state, &stored).await?,
        None => render::loadbalancer_full(&stored, Vec::new(), Vec::new()),
    };
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "loadbalancer": body }),
    ))
}

async fn update(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let req = LoadBalancerUpdate::parse(&ops::json_body(&body)?)?;
    let lb = authorized(&state, &caller, &id, "loadbalancer:put").await?;
    if req.vip_sg_ids.value().is_some() {
        state
            .policy()
            .enforce("loadbalancer:put:vip_sg_ids", &caller, &lb.project_id)?;
    }
    req.check()?;
    let mut tx = state.db.begin().await.map_err(db)?;
    ops::hold_lb(&mut tx, &id, Operation::Update, Role::Own).await?;
    let current = load_balancers::get_tx(&mut tx, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Load Balancer", &id))?;
    let mut new = req.apply(&current);
    let real_vips = state.config.network_driver == crate::NetworkDriver::Neutrino;
    if let Some(sgs) = req.vip_sg_ids.value().filter(|_| real_vips) {
        // Another project's group is as missing, as on create.
        let who = vip::Asker {
            project: &current.project_id,
            admin: caller.0.is_admin(),
        };
        vip::usable_groups(&mut tx, sgs, &who).await?;
        if let Some(port) = current.vip.port_id.as_deref() {
            neutrino_store::ports::set_security_groups(&mut tx, port, sgs)
                .await
                .map_err(db)?;
        }
    }
    new.updated_at = Some(store::now());
    load_balancers::update(&mut tx, &new).await.map_err(db)?;
    let plan = Plan {
        touched: vec![Touched::own(Object::LoadBalancer, &id, Operation::Update)],
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &id)).await?;
    let stored = load_balancers::get(&state.db, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Load Balancer", &id))?;
    let body = render_one(&state, &stored).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "loadbalancer": body }),
    ))
}

async fn delete(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let cascade = ops::pairs(raw)
        .iter()
        .find(|(k, _)| k == "cascade")
        .is_some_and(|(_, v)| crate::listing::oslo_bool(v) == Some(true));
    authorized(&state, &caller, &id, "loadbalancer:delete").await?;
    let mut tx = state.db.begin().await.map_err(db)?;
    if !cascade {
        let listeners = store::listeners::list_by_lb_tx(&mut tx, &id)
            .await
            .map_err(db)?;
        let pools = store::pools::list_by_lb_tx(&mut tx, &id)
            .await
            .map_err(db)?;
        if !listeners.is_empty() || !pools.is_empty() {
            return Err(neutrino_lb_types::state::lb_has_children(&id).into());
        }
    }
    ops::hold_lb(&mut tx, &id, Operation::Delete, Role::Own).await?;
    let plan = Plan {
        touched: vec![Touched::own(Object::LoadBalancer, &id, Operation::Delete)],
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::LB_DELETE, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn status(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    authorized(&state, &caller, &id, "loadbalancer:get_status").await?;
    let tree = store::status::tree(&state.db, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Load Balancer", &id))?;
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_value(tree).unwrap_or_default(),
    ))
}

async fn stats(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    authorized(&state, &caller, &id, "loadbalancer:get_stats").await?;
    let s = store::stats::load_balancer(&state.db, &id)
        .await
        .map_err(db)?;
    Ok(json_response(StatusCode::OK, render::stats(&s)))
}

async fn failover(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    let lb = authorized(&state, &caller, &id, "loadbalancer:put_failover").await?;
    let mut tx = state.db.begin().await.map_err(db)?;
    ops::hold_lb(&mut tx, &id, Operation::Failover, Role::Own).await?;
    let old = store::amphorae::list_by_lb_tx(&mut tx, &id)
        .await
        .map_err(db)?;
    let plan = Plan {
        touched: vec![Touched::own(Object::LoadBalancer, &id, Operation::Failover)],
        amphorae: flows::amphorae_for(lb.topology),
        retire: old.into_iter().map(|a| a.id).collect(),
        zone: None,
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::LB_FAILOVER, &id)).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
