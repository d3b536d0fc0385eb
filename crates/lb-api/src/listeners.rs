//! Listeners — `/v2/lbaas/listeners[/{id}]` and `GET {id}/stats`
//! (design §2.6, §3; octavia 19 `api/v2/controllers/listener.py`).
//!
//! Certificate references (`default_tls_container_ref`,
//! `sni_container_refs`) must name a bundle of the key manager the load
//! balancer's project may read (upstream `_validate_tls_refs`), except
//! with `--lb-network-driver noop`: upstream's `noop_cert_manager`, which
//! tempest's noop mode runs against, accepts any reference.

use std::net::IpAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::LbError;
use neutrino_lb_types::enums::{Protocol, ProvisioningStatus};
use neutrino_lb_types::model::{Listener, LoadBalancer};
use neutrino_lb_types::render;
use neutrino_lb_types::request::listener::{ListenerCreate, ListenerUpdate};
use neutrino_lb_types::state::{self, Object, Operation, Role};
use neutrino_lbaas::flows::{Plan, Touched, kind};
use neutrino_store::Tx;
use neutrino_store::lb::{self as store, listeners, load_balancers, pools, quotas::LbResource};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::fault::{Fault, json_response, only};
use crate::listing::{Collection, ListQuery};
use crate::ops::{self, db};
use crate::{LbState, listing, versions};

/// `[api_settings] tls_cipher_prohibit_list` (empty by default).
pub(crate) const PROHIBITED_CIPHERS: &[&str] = &[];

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
        "protocol_port",
        "connection_limit",
        "default_pool_id",
        "default_tls_container_ref",
        "loadbalancer_id",
        "created_at",
        "updated_at",
        "timeout_client_data",
        "timeout_member_connect",
        "timeout_member_data",
        "timeout_tcp_inspect",
        "client_ca_tls_container_ref",
        "client_authentication",
        "client_crl_container_ref",
        "tls_ciphers",
        "hsts_max_age",
        "hsts_include_subdomains",
        "hsts_preload",
    ],
    booleans: &["admin_state_up", "hsts_include_subdomains", "hsts_preload"],
    tagged: true,
};

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/listeners");
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
        .route(&format!("{one}/stats"), only(get(stats), "GET"))
}

/// A collection answer for objects rendered with extra keys that exist
/// only to be filtered and sorted on (a listener's or pool's
/// `loadbalancer_id`, which upstream filters on but never shows): they
/// are dropped from the page, `fields` or not.
pub(crate) fn list_response_hiding(
    headers: &HeaderMap,
    path: &str,
    plural: &str,
    query: &ListQuery,
    items: Vec<Value>,
    hidden: &[&str],
) -> Result<Response, LbError> {
    let url = format!("{}{path}", versions::base_url(headers));
    let mut page = query.page(items, &url)?;
    for item in &mut page.items {
        if let Value::Object(m) = item {
            for key in hidden {
                m.remove(*key);
            }
        }
    }
    Ok(json_response(
        StatusCode::OK,
        listing::body(plural, &format!("{plural}_links"), page),
    ))
}

/// A rendered listener with its load balancer's id for the filters.
fn render_for_list(l: &Listener) -> Value {
    let mut v = render::listener(l);
    if let Value::Object(m) = &mut v {
        m.insert("loadbalancer_id".into(), json!(l.load_balancer_id));
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
    let scope = ops::list_scope(&state, &caller, "listener", &query)?;
    let all = listeners::list(&state.db, scope.as_deref())
        .await
        .map_err(db)?;
    let items = all.iter().map(render_for_list).collect();
    Ok(list_response_hiding(
        &headers,
        "/v2/lbaas/listeners",
        "listeners",
        &query,
        items,
        &["loadbalancer_id"],
    )?)
}

async fn get_listener(state: &LbState, id: &str) -> Result<Listener, LbError> {
    listeners::get(&state.db, id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Listener", id))
}

pub(crate) async fn get_lb(state: &LbState, id: &str) -> Result<LoadBalancer, LbError> {
    load_balancers::get(&state.db, id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Load Balancer", id))
}

/// The listener `id` if the caller may `action` it; 404 before 403.
async fn authorized(
    state: &LbState,
    caller: &Caller,
    id: &str,
    action: &str,
) -> Result<Listener, LbError> {
    let l = get_listener(state, id).await?;
    state.policy().enforce(action, caller, &l.project_id)?;
    Ok(l)
}

async fn show(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let l = authorized(&state, &caller, &id, "listener:get_one").await?;
    let fields = listing::fields(&ops::pairs(raw));
    let body = listing::select_fields(render::listener(&l), fields.as_deref());
    Ok(json_response(StatusCode::OK, json!({ "listener": body })))
}

async fn stats(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    authorized(&state, &caller, &id, "listener:get_stats").await?;
    let s = store::stats::listener(&state.db, &id).await.map_err(db)?;
    Ok(json_response(StatusCode::OK, render::stats(&s)))
}

/// The addresses of a load balancer's VIPs (primary first), which
/// allowed CIDRs must match in IP version.
pub(crate) fn vip_addresses(lb: &LoadBalancer) -> Vec<IpAddr> {
    std::iter::once(lb.vip.ip_address.as_deref())
        .chain(lb.additional_vips.iter().map(|v| v.ip_address.as_deref()))
        .flatten()
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// Each CIDR once, first occurrence first (upstream stores a set).
fn dedup(cidrs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in cidrs {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

/// The rules of a listener create that need no database, in upstream's
/// order: a PROMETHEUS listener takes no children, then the header,
/// protocol and certificate-reference rules of
/// `_validate_create_listener`. A single create also refuses the
/// graph-only `default_pool` and `l7policies` (upstream fails on them
/// with a 500); a graph create passes `graph = true`.
pub(crate) fn check_request(req: &ListenerCreate, graph: bool) -> Result<(), LbError> {
    req.check_no_children()?;
    if !graph && (req.default_pool.is_some() || !req.l7policies.is_empty()) {
        return Err(LbError::validation(
            "default_pool and l7policies can only be given when creating a fully populated \
             load balancer.",
        ));
    }
    req.check_options(PROHIBITED_CIPHERS)
}

/// `_validate_tls_refs`: every certificate reference names a bundle the
/// load balancer's project (any, for an admin) may read; the first that
/// does not gets upstream's 400.
pub(crate) async fn check_tls_refs(
    state: &LbState,
    admin: bool,
    project_id: &str,
    refs: &[&str],
) -> Result<(), LbError> {
    if state.config.network_driver == crate::NetworkDriver::Noop {
        return Ok(());
    }
    for r in refs {
        if let Err(e) =
            neutrino_key_manager::tls::load_bundle(&state.db, project_id, admin, r).await
        {
            let (status, message) = e.octavia_fault(r);
            return Err(LbError::new(
                status,
                "CertificateRetrievalException",
                message,
            ));
        }
    }
    Ok(())
}

/// `_validate_pool`: the default pool of a listener is a pool of the
/// same load balancer (404 `Pool` otherwise) with a protocol the
/// listener's may use.
pub(crate) async fn check_default_pool(
    tx: &mut Tx,
    lb_id: &str,
    pool_id: &str,
    listener_protocol: Protocol,
) -> Result<(), LbError> {
    let pool = pools::get_tx(tx, pool_id)
        .await
        .map_err(db)?
        .filter(|p| p.load_balancer_id == lb_id)
        .ok_or_else(|| LbError::not_found("Pool", pool_id))?;
    neutrino_lb_types::checks::listener_pool_protocols(listener_protocol, pool.protocol)
}

/// The new listener's row (PENDING_CREATE, OFFLINE), owned by the load
/// balancer's project; `default_pool_id` is the resolved default pool.
pub(crate) fn new_row(
    req: &ListenerCreate,
    lb: &LoadBalancer,
    default_pool_id: Option<&str>,
) -> Listener {
    Listener {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: lb.project_id.clone(),
        load_balancer_id: lb.id.clone(),
        name: req.name.clone(),
        description: req.description.clone(),
        admin_state_up: req.admin_state_up,
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: state::initial_operating(Object::Listener, false),
        protocol: req.protocol,
        protocol_port: req.protocol_port,
        connection_limit: req.connection_limit,
        default_pool_id: default_pool_id.map(str::to_string),
        default_tls_container_ref: req.default_tls_container_ref.clone(),
        sni_container_refs: req.sni_container_refs.clone(),
        client_ca_tls_container_ref: req.client_ca_tls_container_ref.clone(),
        client_authentication: req.client_authentication,
        client_crl_container_ref: req.client_crl_container_ref.clone(),
        insert_headers: req.insert_headers.clone(),
        timeout_client_data: req.timeout_client_data,
        timeout_member_connect: req.timeout_member_connect,
        timeout_member_data: req.timeout_member_data,
        timeout_tcp_inspect: req.timeout_tcp_inspect,
        allowed_cidrs: dedup(&req.allowed_cidrs),
        tls_ciphers: req.tls_ciphers.clone(),
        tls_versions: req.tls_versions.clone(),
        alpn_protocols: req.alpn_protocols.clone(),
        hsts_max_age: req.hsts_max_age,
        hsts_include_subdomains: req.hsts_include_subdomains,
        hsts_preload: req.hsts_preload,
        tags: req.tags.clone(),
        l7policy_ids: Vec::new(),
        created_at: store::now(),
        updated_at: None,
    }
}

/// Writes a new listener of `lb` in `tx`, after the checks that need the
/// database: its default pool (`default_pool_id`, which overrides the
/// request's so a graph create can pass the pool it resolved by name),
/// the port not yet taken in its L4 family on the load balancer
/// (DuplicateListenerEntry), then the allowed CIDRs against the VIPs, TLS
/// versions, ALPN and HSTS. The caller has run [`check_request`], checked
/// the quota and holds the load balancer (or is creating it). Writes no
/// L7 policies and submits no flow. Returns the row as written.
pub(crate) async fn insert_new(
    state: &LbState,
    admin: bool,
    tx: &mut Tx,
    lb: &LoadBalancer,
    req: &ListenerCreate,
    default_pool_id: Option<&str>,
) -> Result<Listener, LbError> {
    if let Some(pool_id) = default_pool_id {
        check_default_pool(tx, &lb.id, pool_id, req.protocol).await?;
    }
    let l4 = req.protocol.l4();
    let taken = listeners::list_by_lb_tx(tx, &lb.id)
        .await
        .map_err(db)?
        .into_iter()
        .find(|l| l.protocol_port == req.protocol_port && l.protocol.l4() == l4);
    if let Some(other) = taken {
        return Err(LbError::duplicate_listener(
            other.protocol.as_str(),
            req.protocol_port,
        ));
    }
    req.check_against_vips(&vip_addresses(lb), !lb.vip.sg_ids.is_empty())?;
    if req.protocol.is_lvs() && !state.config.lvs_listeners {
        return Err(LbError::provider_unsupported_option(
            lb.provider.as_deref().unwrap_or("amphora"),
            &format!(
                "{} listeners need keepalived/LVS in the amphorae, which this deployment's \
                 amphorae do not run yet",
                req.protocol.as_str()
            ),
        ));
    }
    let refs: Vec<&str> = req
        .default_tls_container_ref
        .iter()
        .chain(req.sni_container_refs.iter())
        .map(String::as_str)
        .collect();
    check_tls_refs(state, admin, &lb.project_id, &refs).await?;
    let row = new_row(req, lb, default_pool_id);
    listeners::insert(tx, &row).await.map_err(db)?;
    Ok(row)
}

async fn create(
    State(state): State<LbState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Fault> {
    let req = ListenerCreate::parse(&ops::json_body(&body)?)?;
    let lb_id = req
        .loadbalancer_id
        .clone()
        .ok_or_else(|| LbError::mandatory_missing("loadbalancer_id"))?;
    let lb = get_lb(&state, &lb_id).await?;
    state
        .policy()
        .enforce("listener:post", &caller, &lb.project_id)?;
    check_request(&req, false)?;

    let mut tx = state.db.begin().await.map_err(db)?;
    if !store::quotas::check_tx(
        &mut tx,
        &lb.project_id,
        LbResource::Listener,
        1,
        state.config.default_quota,
    )
    .await
    .map_err(db)?
    {
        return Err(LbError::quota_exceeded("Listener").into());
    }
    ops::hold_lb(&mut tx, &lb.id, Operation::Create, Role::Parent).await?;
    let row = insert_new(
        &state,
        caller.has_role("admin"),
        &mut tx,
        &lb,
        &req,
        req.default_pool_id.as_deref(),
    )
    .await?;
    let plan = Plan {
        touched: vec![
            Touched::own(Object::Listener, &row.id, Operation::Create),
            Touched::parent(Object::LoadBalancer, &lb.id),
        ],
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    let stored = get_listener(&state, &row.id).await?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "listener": render::listener(&stored) }),
    ))
}

async fn update(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let req = ListenerUpdate::parse(&ops::json_body(&body)?)?;
    let listener = get_listener(&state, &id).await?;
    let lb = get_lb(&state, &listener.load_balancer_id).await?;
    state
        .policy()
        .enforce("listener:put", &caller, &lb.project_id)?;
    req.check(
        &listener,
        &vip_addresses(&lb),
        !lb.vip.sg_ids.is_empty(),
        PROHIBITED_CIPHERS,
    )?;
    if req.default_pool_id.value().is_some() && listener.protocol == Protocol::Prometheus {
        return Err(LbError::listener_no_children(Protocol::Prometheus.as_str()).into());
    }
    let refs: Vec<&str> = req
        .default_tls_container_ref
        .value()
        .into_iter()
        .chain(req.sni_container_refs.value().into_iter().flatten())
        .map(String::as_str)
        .collect();
    check_tls_refs(&state, caller.has_role("admin"), &lb.project_id, &refs).await?;

    let mut tx = state.db.begin().await.map_err(db)?;
    ops::hold_lb(&mut tx, &lb.id, Operation::Update, Role::Parent).await?;
    let current = listeners::get_tx(&mut tx, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Listener", &id))?;
    if let Some(pool_id) = req.default_pool_id.value() {
        check_default_pool(&mut tx, &lb.id, pool_id, current.protocol).await?;
    }
    let mut new = req.apply(&current);
    new.allowed_cidrs = dedup(&new.allowed_cidrs);
    new.provisioning_status = ProvisioningStatus::PendingUpdate;
    new.updated_at = Some(store::now());
    listeners::update(&mut tx, &new).await.map_err(db)?;
    let plan = Plan {
        touched: vec![
            Touched::own(Object::Listener, &id, Operation::Update),
            Touched::parent(Object::LoadBalancer, &lb.id),
        ],
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    let stored = get_listener(&state, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "listener": render::listener(&stored) }),
    ))
}

async fn delete(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    let listener = get_listener(&state, &id).await?;
    let lb = get_lb(&state, &listener.load_balancer_id).await?;
    state
        .policy()
        .enforce("listener:delete", &caller, &lb.project_id)?;
    let mut tx = state.db.begin().await.map_err(db)?;
    ops::hold_lb(&mut tx, &lb.id, Operation::Delete, Role::Parent).await?;
    let marked = store::set_provisioning_status(
        &mut tx,
        store::Object::Listener,
        &[id.as_str()],
        ProvisioningStatus::PendingDelete,
    )
    .await
    .map_err(db)?;
    if marked == 0 {
        return Err(LbError::not_found("Listener", &id).into());
    }
    let plan = Plan {
        touched: vec![
            Touched::own(Object::Listener, &id, Operation::Delete),
            Touched::parent(Object::LoadBalancer, &lb.id),
        ],
        ..Plan::default()
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::CONFIG, &lb.id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
