//! `/v2.0/routers`: routers, their external gateway (with SNAT and fixed
//! external IPs), interfaces added by subnet or by port, and extra routes.

use std::net::IpAddr;

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use neutrino_ipam::IpNet;
use neutrino_store::locks::{self as lock, Lock, Table};
use neutrino_store::routers as store;
use neutrino_store::{Tx, now_timestamp};
use neutrino_types::model::{Route, Router as RouterModel, Subnet};
use neutrino_types::{ApiError, DEVICE_OWNER_ROUTER_GW, DEVICE_OWNER_ROUTER_INTF};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::body::{self, Attr, attr};
use crate::fixed_ips::{self, Requested};
use crate::listing::{self, ListParams, ListSpec};
use crate::middleware::RawBody;
use crate::networks::{base_url, fields_of, internal};
use crate::reject::ApiResult;
use crate::service_ports::{self, ServicePort};
use crate::{AppState, views};

const ATTRS: &[Attr] = &[
    attr("id", false, false),
    attr("name", true, true),
    attr("description", true, true),
    attr("tenant_id", true, false),
    attr("project_id", true, false),
    attr("admin_state_up", true, true),
    attr("external_gateway_info", true, true),
    attr("routes", false, true),
    attr("availability_zone_hints", true, false),
];

const SPEC: ListSpec = ListSpec {
    plural: "routers",
    filters: &[
        "id",
        "name",
        "description",
        "project_id",
        "admin_state_up",
        "status",
        "revision_number",
        "created_at",
        "updated_at",
        "availability_zone_hints",
    ],
    sort_keys: &[
        "id",
        "name",
        "project_id",
        "admin_state_up",
        "status",
        "created_at",
        "updated_at",
        "revision_number",
    ],
};

const MAX_ROUTES: usize = 30;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2.0/routers", get(list).post(create))
        .route("/v2.0/routers/{id}", get(show).put(update).delete(delete))
        .route(
            "/v2.0/routers/{id}/add_router_interface",
            put(add_interface),
        )
        .route(
            "/v2.0/routers/{id}/remove_router_interface",
            put(remove_interface),
        )
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("RouterNotFound", format!("Router {id} could not be found"))
}

fn bad(msg: impl std::fmt::Display) -> ApiError {
    ApiError::bad_resource_request("router", msg)
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(uri.query(), &SPEC)?;
    let vis = caller.visibility();
    let routers = store::list(&st.db, vis.as_deref(), None).await?;
    let items = routers.iter().map(views::router).collect();
    Ok(Json(listing::respond(
        items,
        &params,
        &SPEC,
        &base_url(&headers, &uri),
    )?))
}

async fn visible(st: &AppState, caller: &Caller, id: &str) -> Result<RouterModel, ApiError> {
    match store::get(&st.db, id).await.map_err(internal)? {
        Some(r) if caller.owns(&r.project_id) => Ok(r),
        _ => Err(not_found(id)),
    }
}

async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let r = visible(&st, &caller, &id).await?;
    Ok(Json(
        json!({"router": listing::select_fields(views::router(&r), &fields_of(uri.query()))}),
    ))
}

/// A parsed `external_gateway_info`; `None` network means "no gateway".
struct GatewayRequest {
    network_id: Option<String>,
    enable_snat: Option<bool>,
    fixed_ips: Option<Vec<Requested>>,
}

fn parse_gateway(caller: &Caller, v: &Value) -> Result<GatewayRequest, ApiError> {
    let empty = GatewayRequest {
        network_id: None,
        enable_snat: None,
        fixed_ips: None,
    };
    let m = match v {
        Value::Null => return Ok(empty),
        Value::Object(m) if m.is_empty() => return Ok(empty),
        Value::Object(m) => m,
        other => {
            return Err(ApiError::invalid_attr(
                "external_gateway_info",
                format!("'{other}' is not a dictionary"),
            ));
        }
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["network_id", "enable_snat", "external_fixed_ips"].contains(&k.as_str()))
    {
        return Err(ApiError::invalid_attr(
            "external_gateway_info",
            format!("Unexpected keys supplied: {k}"),
        ));
    }
    let network_id = match m.get("network_id") {
        Some(Value::String(s)) if body::is_uuid(s) => s.clone(),
        Some(v) => {
            return Err(ApiError::invalid_attr(
                "external_gateway_info",
                format!("'{v}' is not a valid UUID"),
            ));
        }
        None => {
            return Err(ApiError::invalid_attr(
                "external_gateway_info",
                "Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: {}",
            ));
        }
    };
    for key in ["enable_snat", "external_fixed_ips"] {
        if m.contains_key(key) && !caller.is_admin() {
            return Err(ApiError::policy_not_authorized(&format!(
                "router:external_gateway_info:{key}"
            )));
        }
    }
    let enable_snat = body::opt_bool(m, "enable_snat")?;
    let fixed_ips = match m.get("external_fixed_ips") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            fixed_ips::parse(v)
                .map_err(|e| ApiError::invalid_attr("external_gateway_info", e.message))?,
        ),
    };
    Ok(GatewayRequest {
        network_id: Some(network_id),
        enable_snat,
        fixed_ips,
    })
}

async fn check_no_fips(tx: &mut Tx, r: &RouterModel) -> Result<(), ApiError> {
    if neutrino_store::floatingips::count_via_router_tx(tx, &r.id)
        .await
        .map_err(internal)?
        > 0
    {
        return Err(ApiError::conflict(
            "RouterExternalGatewayInUseByFloatingIp",
            format!(
                "Gateway cannot be updated for router {}, since a gateway to external network {} is required by one or more floating IPs.",
                r.id,
                r.gw_network_id.as_deref().unwrap_or("")
            ),
        ));
    }
    Ok(())
}

/// Gateway addresses may not be a subnet's own gateway IP.
async fn check_gateway_ips(
    tx: &mut Tx,
    network_id: &str,
    req: &[Requested],
) -> Result<(), ApiError> {
    let subnets = neutrino_store::subnets::for_network_tx(tx, network_id)
        .await
        .map_err(internal)?;
    for r in req {
        if let Some(ip) = r.ip_address
            && subnets
                .iter()
                .any(|s| s.gateway_ip.as_deref() == Some(&ip.to_string()))
        {
            return Err(bad(format!(
                "IP address {ip} cannot be the gateway IP of a subnet on the external network"
            )));
        }
    }
    Ok(())
}

/// Applies a gateway request to `r` (not yet written back).
async fn apply_gateway(
    st: &AppState,
    caller: &Caller,
    tx: &mut Tx,
    r: &mut RouterModel,
    req: GatewayRequest,
) -> Result<(), ApiError> {
    let Some(net_id) = req.network_id else {
        if r.gw_network_id.is_some() {
            check_no_fips(tx, r).await?;
            if let Some(port) = r.gw_port_id.take() {
                neutrino_store::ports::delete(tx, &port)
                    .await
                    .map_err(internal)?;
            }
            r.gw_network_id = None;
            r.enable_snat = true;
        }
        return Ok(());
    };
    // The gateway port goes on this network: it must outlive the change.
    lock::row(tx, Table::Networks, &net_id, Lock::Share)
        .await
        .map_err(internal)?;
    let net = neutrino_store::networks::get_tx(tx, &net_id)
        .await
        .map_err(internal)?;
    let net = match net {
        Some(n) if caller.sees(&n) => n,
        _ => return Err(ApiError::network_not_found(&net_id)),
    };
    if !net.router_external || !(caller.is_admin() || net.external_for(&caller.project_id())) {
        return Err(bad(format!("Network {net_id} is not an external network")));
    }
    if let Some(req_ips) = &req.fixed_ips {
        check_gateway_ips(tx, &net_id, req_ips).await?;
    }
    r.enable_snat = req.enable_snat.unwrap_or(st.config.enable_snat_by_default);
    if r.gw_network_id.as_deref() == Some(net_id.as_str()) {
        // Same network: only the addresses may change.
        if let (Some(req_ips), Some(port_id)) = (&req.fixed_ips, &r.gw_port_id) {
            let port = neutrino_store::ports::get_tx(tx, port_id)
                .await
                .map_err(internal)?
                .ok_or_else(|| ApiError::port_not_found(port_id))?;
            service_ports::readdress(tx, &port, req_ips).await?;
        }
        return Ok(());
    }
    if r.gw_network_id.is_some() {
        check_no_fips(tx, r).await?;
        if let Some(port) = r.gw_port_id.take() {
            neutrino_store::ports::delete(tx, &port)
                .await
                .map_err(internal)?;
        }
    }
    let port = service_ports::create(
        st.config.mac_prefix,
        tx,
        &ServicePort {
            network_id: &net_id,
            project_id: "",
            device_owner: DEVICE_OWNER_ROUTER_GW,
            device_id: &r.id,
            fixed_ips: req.fixed_ips.as_deref(),
        },
    )
    .await?;
    r.gw_port_id = Some(port.id);
    r.gw_network_id = Some(net_id);
    Ok(())
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    let m = body::single(body::parse_json(&raw)?, "router")?;
    body::check_attrs(&m, ATTRS, true)?;
    caller.require_write("create_router")?;
    let project = body::project_of(&m)?.unwrap_or_else(|| caller.project_id());
    if !caller.owns(&project) {
        return Err(ApiError::policy_not_authorized("create_router").into());
    }
    let hints = body::opt_string_list(&m, "availability_zone_hints")?.unwrap_or_default();
    crate::networks::check_az_hints(&st.config, &hints)?;
    let gw = match m.get("external_gateway_info") {
        Some(v) => Some(parse_gateway(&caller, v)?),
        None => None,
    };
    let now = now_timestamp();
    let mut r = RouterModel {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project,
        name: body::opt_string(&m, "name", 255)?.unwrap_or_default(),
        description: body::opt_string(&m, "description", 255)?.unwrap_or_default(),
        admin_state_up: body::opt_bool(&m, "admin_state_up")?.unwrap_or(true),
        status: "ACTIVE".into(),
        gw_network_id: None,
        gw_port_id: None,
        enable_snat: st.config.enable_snat_by_default,
        routes: Vec::new(),
        availability_zone_hints: hints,
        // Neutron's router is at revision 1 when the create returns.
        revision_number: 1,
        created_at: now.clone(),
        updated_at: now,
        tags: Vec::new(),
        gw_fixed_ips: Vec::new(),
    };
    let mut tx = st.db.begin().await?;
    crate::quotas::enforce(&st, &mut tx, &r.project_id, "router", 1).await?;
    store::insert(&mut tx, &r).await?;
    if let Some(gw) = gw {
        apply_gateway(&st, &caller, &mut tx, &mut r, gw).await?;
        store::update(&mut tx, &r).await?;
    }
    tx.commit().await?;
    let r = store::get(&st.db, &r.id)
        .await?
        .ok_or_else(|| not_found(&r.id))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"router": views::router(&r)})),
    )
        .into_response())
}

async fn owned(st: &AppState, caller: &Caller, id: &str, action: &str) -> Result<(), ApiError> {
    visible(st, caller, id).await?;
    caller.require_write(action)?;
    Ok(())
}

/// Subnets a router is connected to: through its interfaces and its gateway.
async fn connected_subnets(tx: &mut Tx, r: &RouterModel) -> Result<Vec<Subnet>, ApiError> {
    let mut ids: Vec<String> = store::interface_ips_tx(tx, &r.id)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|(_, s, _)| s)
        .collect();
    ids.extend(r.gw_fixed_ips.iter().map(|f| f.subnet_id.clone()));
    ids.sort();
    ids.dedup();
    let mut out = Vec::new();
    for id in ids {
        if let Some(s) = neutrino_store::subnets::get_tx(tx, &id)
            .await
            .map_err(internal)?
        {
            out.push(s);
        }
    }
    Ok(out)
}

fn parse_routes(v: &Value, router_id: &str) -> Result<Vec<Route>, ApiError> {
    let out: Vec<Route> = body::parse_route_list(v, "routes")?
        .into_iter()
        .map(|(dst, hop)| Route {
            destination: dst.to_string(),
            nexthop: hop.to_string(),
        })
        .collect();
    if out.len() > MAX_ROUTES {
        return Err(ApiError::new(
            400,
            "RoutesExhausted",
            format!(
                "Unable to complete operation for {router_id}. The number of routes exceeds the maximum {MAX_ROUTES}."
            ),
        ));
    }
    Ok(out)
}

async fn check_routes(tx: &mut Tx, r: &RouterModel, routes: &[Route]) -> Result<(), ApiError> {
    let subnets = connected_subnets(tx, r).await?;
    let own_ips: Vec<String> = store::interface_ips_tx(tx, &r.id)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|(_, _, ip)| ip)
        .chain(r.gw_fixed_ips.iter().map(|f| f.ip_address.clone()))
        .collect();
    for route in routes {
        let hop: IpAddr = route
            .nexthop
            .parse()
            .map_err(|_| ApiError::internal("route parsed above"))?;
        let invalid = |why: &str| {
            ApiError::new(
                400,
                "InvalidRoutes",
                format!("Invalid format for routes: {routes:?}, {why}"),
            )
        };
        if own_ips.contains(&route.nexthop) {
            return Err(invalid("the nexthop is used by router"));
        }
        let connected = subnets
            .iter()
            .any(|s| s.cidr.parse::<IpNet>().is_ok_and(|c| c.contains(&hop)));
        if !connected {
            return Err(invalid("the nexthop is not connected with router"));
        }
    }
    Ok(())
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    let m = body::single(body::parse_json(&raw)?, "router")?;
    body::check_attrs(&m, ATTRS, false)?;
    let expected = body::if_match_revision(&headers)?;
    owned(&st, &caller, &id, "update_router").await?;
    let gw = match m.get("external_gateway_info") {
        Some(v) => Some(parse_gateway(&caller, v)?),
        None => None,
    };
    let mut tx = st.db.begin().await?;
    // Before the revision check: see store::locks.
    lock::row(&mut tx, Table::Routers, &id, Lock::Update).await?;
    let mut r = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    body::check_revision(expected, r.revision_number)?;
    if let Some(v) = body::opt_string(&m, "name", 255)? {
        r.name = v;
    }
    if let Some(v) = body::opt_string(&m, "description", 255)? {
        r.description = v;
    }
    if let Some(v) = body::opt_bool(&m, "admin_state_up")? {
        r.admin_state_up = v;
    }
    if let Some(gw) = gw {
        apply_gateway(&st, &caller, &mut tx, &mut r, gw).await?;
        // Routes below are checked against the gateway as it now is.
        r.gw_fixed_ips = match &r.gw_port_id {
            Some(p) => neutrino_store::ports::get_tx(&mut tx, p)
                .await?
                .map(|p| p.fixed_ips)
                .unwrap_or_default(),
            None => Vec::new(),
        };
    }
    if let Some(v) = m.get("routes") {
        let routes = parse_routes(v, &id)?;
        check_routes(&mut tx, &r, &routes).await?;
        r.routes = routes;
    }
    r.updated_at = now_timestamp();
    store::update(&mut tx, &r).await?;
    tx.commit().await?;
    let r = store::get(&st.db, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(json!({"router": views::router(&r)})))
}

async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = body::if_match_revision(&headers)?;
    owned(&st, &caller, &id, "delete_router").await?;
    let mut tx = st.db.begin().await?;
    // Before looking for interfaces and floating IPs: their creators hold
    // the router (see store::locks).
    lock::row(&mut tx, Table::Routers, &id, Lock::Update).await?;
    let r = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    body::check_revision(expected, r.revision_number)?;
    if !store::interface_ips_tx(&mut tx, &id).await?.is_empty() {
        return Err(
            ApiError::conflict("RouterInUse", format!("Router {id} still has ports")).into(),
        );
    }
    check_no_fips(&mut tx, &r).await?;
    if let Some(port) = &r.gw_port_id {
        neutrino_store::ports::delete(&mut tx, port).await?;
    }
    store::delete(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of an interface request: exactly one of `subnet_id` / `port_id`
/// (removal by port may name the subnet too).
fn interface_keys(
    m: &Map<String, Value>,
    removing: bool,
) -> Result<(Option<String>, Option<String>), ApiError> {
    if let Some(k) = m.keys().find(|k| *k != "subnet_id" && *k != "port_id") {
        return Err(bad(format!("Unrecognized attribute(s) '{k}'")));
    }
    let get = |k: &str| -> Result<Option<String>, ApiError> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if body::is_uuid(s) => Ok(Some(s.clone())),
            Some(v) => Err(ApiError::invalid_attr(
                k,
                format!(
                    "'{}' is not a valid UUID",
                    v.as_str().unwrap_or(&v.to_string())
                ),
            )),
        }
    };
    let (subnet, port) = (get("subnet_id")?, get("port_id")?);
    match (&subnet, &port) {
        (None, None) => Err(bad("Either subnet_id or port_id must be specified")),
        (Some(_), Some(_)) if !removing => Err(bad("Cannot specify both subnet-id and port-id")),
        _ => Ok((subnet, port)),
    }
}

fn interface_info(
    r: &RouterModel,
    port_id: &str,
    network_id: &str,
    subnet_ids: &[String],
) -> Value {
    json!({"id": r.id, "tenant_id": r.project_id, "project_id": r.project_id, "port_id": port_id,
           "network_id": network_id, "subnet_id": subnet_ids.first(), "subnet_ids": subnet_ids})
}

/// Rejects a subnet the router already has, or one overlapping its others.
async fn check_new_subnets(tx: &mut Tx, r: &RouterModel, new: &[Subnet]) -> Result<(), ApiError> {
    let existing = connected_subnets(tx, r).await?;
    for s in new {
        if existing.iter().any(|e| e.id == s.id) {
            return Err(bad(format!("Router already has a port on subnet {}", s.id)));
        }
        let cidr: IpNet = s
            .cidr
            .parse()
            .map_err(|_| ApiError::internal("stored CIDR is invalid"))?;
        for e in &existing {
            if let Ok(ec) = e.cidr.parse::<IpNet>()
                && neutrino_ipam::cidrs_overlap(&cidr, &ec)
            {
                return Err(bad(format!(
                    "Cidr {} of subnet {} overlaps with cidr {} of subnet {}",
                    s.cidr, s.id, e.cidr, e.id
                )));
            }
        }
    }
    Ok(())
}

async fn add_interface(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    let v = body::parse_json(&raw)?;
    let Value::Object(m) = v else {
        return Err(bad("Either subnet_id or port_id must be specified").into());
    };
    let (subnet_id, port_id) = interface_keys(&m, false)?;
    owned(&st, &caller, &id, "add_router_interface").await?;
    let mut tx = st.db.begin().await?;
    // In the order of store::locks: the network (its deleter looks for
    // ports), the subnet, the router (its deleter looks for interfaces),
    // the port being claimed.
    match (&subnet_id, &port_id) {
        (_, Some(p)) => {
            lock::network_of(&mut tx, Table::Ports, p, Lock::Share).await?;
            lock::row(&mut tx, Table::Routers, &id, Lock::Update).await?;
            lock::row(&mut tx, Table::Ports, p, Lock::Update).await?;
        }
        (Some(s), None) => {
            lock::with_network(&mut tx, Table::Subnets, s, Lock::Share, Lock::Share).await?;
            lock::row(&mut tx, Table::Routers, &id, Lock::Update).await?;
        }
        (None, None) => {}
    }
    let r = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let now = now_timestamp();
    let info = if let Some(port_id) = port_id {
        let port = neutrino_store::ports::get_tx(&mut tx, &port_id).await?;
        let port = match port {
            Some(p) if caller.owns(&p.project_id) => p,
            _ => return Err(ApiError::port_not_found(&port_id).into()),
        };
        let in_use = || {
            ApiError::conflict(
                "PortInUse",
                format!(
                    "Unable to complete operation on port {port_id} for network {}. Port already has an attached device {}.",
                    port.network_id, port.device_id
                ),
            )
        };
        if !port.device_id.is_empty() {
            return Err(in_use().into());
        }
        if port.fixed_ips.is_empty() {
            return Err(bad("Router port must have at least one fixed IP").into());
        }
        let mut subnets = Vec::new();
        for f in &port.fixed_ips {
            if let Some(s) = neutrino_store::subnets::get_tx(&mut tx, &f.subnet_id).await?
                && !subnets.iter().any(|x: &Subnet| x.id == s.id)
            {
                subnets.push(s);
            }
        }
        if subnets.iter().filter(|s| s.ip_version == 4).count() > 1 {
            return Err(bad("Cannot have multiple IPv4 subnets on router port").into());
        }
        check_new_subnets(&mut tx, &r, &subnets).await?;
        // The claim is one conditional UPDATE: of two routers racing for
        // this port, exactly one sees its row change.
        if !store::claim_port(&mut tx, &port_id, &id, &now).await? {
            return Err(in_use().into());
        }
        let ids: Vec<String> = subnets.iter().map(|s| s.id.clone()).collect();
        interface_info(&r, &port_id, &port.network_id, &ids)
    } else {
        let subnet_id = subnet_id.expect("one key is present");
        let s = neutrino_store::subnets::get_tx(&mut tx, &subnet_id).await?;
        let s = match s {
            Some(s) => s,
            None => return Err(ApiError::subnet_not_found(&subnet_id).into()),
        };
        let net = neutrino_store::networks::get_tx(&mut tx, &s.network_id).await?;
        if !net.as_ref().is_some_and(|n| caller.sees(n)) && !caller.owns(&s.project_id) {
            return Err(ApiError::subnet_not_found(&subnet_id).into());
        }
        let Some(gw) = s.gateway_ip.clone() else {
            return Err(bad("Subnet for router interface must have a gateway IP").into());
        };
        crate::ownership::check_interface_subnet(&caller, &s, net.as_ref())?;
        if s.ip_version == 6 && s.ipv6_address_mode.is_some() && s.ipv6_ra_mode.is_none() {
            return Err(bad(format!("IPv6 subnet {subnet_id} configured to receive RAs from an external router cannot be added to Neutron Router.")).into());
        }
        check_new_subnets(&mut tx, &r, std::slice::from_ref(&s)).await?;
        let req = [Requested {
            subnet_id: Some(subnet_id.clone()),
            ip_address: gw.parse().ok(),
        }];
        let port = service_ports::create(
            st.config.mac_prefix,
            &mut tx,
            &ServicePort {
                network_id: &s.network_id,
                // The router's project, as in Neutron: the interface is
                // the router owner's even on another project's subnet.
                project_id: &r.project_id,
                device_owner: DEVICE_OWNER_ROUTER_INTF,
                device_id: &id,
                fixed_ips: Some(&req),
            },
        )
        .await?;
        interface_info(&r, &port.id, &s.network_id, &[subnet_id])
    };
    store::touch(&mut tx, &id, &now).await?;
    tx.commit().await?;
    Ok(Json(info))
}

async fn remove_interface(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    let v = body::parse_json(&raw)?;
    let Value::Object(m) = v else {
        return Err(bad("Either subnet_id or port_id must be specified").into());
    };
    let (subnet_id, port_id) = interface_keys(&m, true)?;
    owned(&st, &caller, &id, "remove_router_interface").await?;
    let mut tx = st.db.begin().await?;
    lock::row(&mut tx, Table::Routers, &id, Lock::Update).await?;
    let r = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let interfaces = store::interface_ips_tx(&mut tx, &id).await?;
    // Resolve to one port and the subnets going away with this removal.
    let (port_id, removed): (String, Vec<String>) = match (port_id, subnet_id) {
        (Some(p), subnet) => {
            let subnets: Vec<String> = interfaces
                .iter()
                .filter(|(port, _, _)| *port == p)
                .map(|(_, s, _)| s.clone())
                .collect();
            if subnets.is_empty() {
                return Err(ApiError::not_found(
                    "RouterInterfaceNotFound",
                    format!("Router {id} does not have an interface with id {p}"),
                )
                .into());
            }
            if let Some(s) = subnet
                && !subnets.contains(&s)
            {
                return Err(ApiError::new(
                    400,
                    "SubnetMismatchForPort",
                    format!("Subnet on port {p} does not match the requested subnet {s}"),
                )
                .into());
            }
            (p, subnets)
        }
        (None, Some(s)) => match interfaces.iter().find(|(_, sub, _)| *sub == s) {
            Some((port, _, _)) => (port.clone(), vec![s]),
            None => {
                return Err(ApiError::not_found(
                    "RouterInterfaceNotFoundForSubnet",
                    format!("Router {id} has no interface on subnet {s}"),
                )
                .into());
            }
        },
        (None, None) => unreachable!("interface_keys requires a key"),
    };
    for s in &removed {
        if neutrino_store::floatingips::count_via_router_subnet_tx(&mut tx, &id, s).await? > 0 {
            return Err(ApiError::conflict(
                "RouterInterfaceInUseByFloatingIP",
                format!("Router interface for subnet {s} on router {id} cannot be deleted, as it is required by one or more floating IPs."),
            )
            .into());
        }
        if let Some(sub) = neutrino_store::subnets::get_tx(&mut tx, s).await?
            && let Ok(cidr) = sub.cidr.parse::<IpNet>()
            && r.routes.iter().any(|rt| {
                rt.nexthop
                    .parse::<IpAddr>()
                    .is_ok_and(|h| cidr.contains(&h))
            })
        {
            return Err(ApiError::conflict(
                "RouterInterfaceInUseByRoute",
                format!("Router interface for subnet {s} on router {id} cannot be deleted, as it is required by one or more routes."),
            )
            .into());
        }
    }
    let port = neutrino_store::ports::get_tx(&mut tx, &port_id)
        .await?
        .ok_or_else(|| ApiError::port_not_found(&port_id))?;
    let remaining: Vec<_> = port
        .fixed_ips
        .iter()
        .filter(|f| !removed.contains(&f.subnet_id))
        .collect();
    if remaining.is_empty() {
        neutrino_store::ports::delete(&mut tx, &port_id).await?;
    } else {
        for f in port
            .fixed_ips
            .iter()
            .filter(|f| removed.contains(&f.subnet_id))
        {
            neutrino_store::ports::delete_allocation(
                &mut tx,
                &port_id,
                &f.subnet_id,
                &f.ip_address,
            )
            .await?;
        }
        // The port's view changed: a new revision (see view_cache.rs).
        neutrino_store::ports::touch(&mut tx, &port_id, &now_timestamp()).await?;
    }
    store::touch(&mut tx, &id, &now_timestamp()).await?;
    tx.commit().await?;
    Ok(Json(interface_info(
        &r,
        &port_id,
        &port.network_id,
        &removed,
    )))
}
