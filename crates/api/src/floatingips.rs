//! `/v2.0/floatingips`: addresses on external networks, associated with a
//! fixed IP that a router connects to that network.

use std::net::IpAddr;

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use neutrino_store::floatingips as store;
use neutrino_store::locks::{self as lock, Lock, Table};
use neutrino_store::{Tx, now_timestamp};
use neutrino_types::model::FloatingIp;
use neutrino_types::{ApiError, DEVICE_OWNER_FLOATINGIP};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::body::{self, Attr, attr};
use crate::fixed_ips::Requested;
use crate::listing::{self, ListParams, ListSpec};
use crate::middleware::RawBody;
use crate::networks::{base_url, fields_of, internal};
use crate::reject::ApiResult;
use crate::service_ports::{self, ServicePort};
use crate::{AppState, views};

const ATTRS: &[Attr] = &[
    attr("id", false, false),
    attr("tenant_id", true, false),
    attr("project_id", true, false),
    attr("description", true, true),
    attr("floating_network_id", true, false),
    attr("floating_ip_address", true, false),
    attr("subnet_id", true, false),
    attr("port_id", true, true),
    attr("fixed_ip_address", true, true),
];

const SPEC: ListSpec = ListSpec {
    plural: "floatingips",
    filters: &[
        "id",
        "project_id",
        "description",
        "floating_network_id",
        "floating_ip_address",
        "port_id",
        "fixed_ip_address",
        "router_id",
        "status",
        "revision_number",
        "created_at",
        "updated_at",
    ],
    sort_keys: &[
        "id",
        "project_id",
        "floating_network_id",
        "floating_ip_address",
        "port_id",
        "fixed_ip_address",
        "router_id",
        "status",
        "created_at",
        "updated_at",
    ],
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2.0/floatingips", get(list).post(create))
        .route(
            "/v2.0/floatingips/{id}",
            get(show).put(update).delete(delete),
        )
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "FloatingIPNotFound",
        format!("Floating IP {id} could not be found"),
    )
}

fn bad(msg: impl std::fmt::Display) -> ApiError {
    ApiError::bad_resource_request("floatingip", msg)
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(uri.query(), &SPEC)?;
    let vis = caller.visibility();
    let items = store::list(&st.db, vis.as_deref(), None)
        .await?
        .iter()
        .map(views::floatingip)
        .collect();
    Ok(Json(listing::respond(
        items,
        &params,
        &SPEC,
        &base_url(&headers, &uri),
    )?))
}

async fn visible(st: &AppState, caller: &Caller, id: &str) -> Result<FloatingIp, ApiError> {
    match store::get(&st.db, id).await.map_err(internal)? {
        Some(f) if caller.owns(&f.project_id) => Ok(f),
        _ => Err(not_found(id)),
    }
}

async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let f = visible(&st, &caller, &id).await?;
    Ok(Json(
        json!({"floatingip": listing::select_fields(views::floatingip(&f), &fields_of(uri.query()))}),
    ))
}

fn uuid_field(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if body::is_uuid(s) => Ok(Some(s.clone())),
        Some(v) => Err(ApiError::invalid_attr(
            key,
            format!(
                "'{}' is not a valid UUID",
                v.as_str().unwrap_or(&v.to_string())
            ),
        )),
    }
}

fn ip_field(m: &Map<String, Value>, key: &str) -> Result<Option<IpAddr>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid_attr(key, format!("'{s}' is not a valid IP address"))),
        Some(v) => Err(ApiError::invalid_attr(
            key,
            format!("'{v}' is not a valid IP address"),
        )),
    }
}

/// Resolves the association target: the port, its fixed address and the
/// router that links that address's subnet to the floating network.
async fn association(
    tx: &mut Tx,
    caller: &Caller,
    fip: &FloatingIp,
    port_id: &str,
    fixed: Option<IpAddr>,
) -> Result<(String, String), ApiError> {
    // The port's deleter clears its floating IPs: it must wait for us.
    lock::row(tx, Table::Ports, port_id, Lock::Share)
        .await
        .map_err(internal)?;
    let port = neutrino_store::ports::get_tx(tx, port_id)
        .await
        .map_err(internal)?;
    let port = match port {
        Some(p) if caller.owns(&p.project_id) => p,
        _ => return Err(ApiError::port_not_found(port_id)),
    };
    if port.network_id == fip.floating_network_id {
        return Err(bad(format!(
            "Port {port_id} is on the external network {}",
            fip.floating_network_id
        )));
    }
    let chosen = match fixed {
        Some(ip) => port
            .fixed_ips
            .iter()
            .find(|f| f.ip_address == ip.to_string())
            .ok_or_else(|| bad(format!("Port {port_id} does not have fixed ip {ip}")))?,
        None => {
            let v4: Vec<_> = port
                .fixed_ips
                .iter()
                .filter(|f| f.ip_address.parse::<IpAddr>().is_ok_and(|a| a.is_ipv4()))
                .collect();
            match v4.as_slice() {
                [one] => *one,
                [] => return Err(bad(format!("No IPv4 addresses found on port {port_id}"))),
                _ => {
                    return Err(bad(format!(
                        "Port {port_id} has multiple fixed IPv4 addresses. Must provide a specific IPv4 address when assigning a floating IP"
                    )));
                }
            }
        }
    };
    let routers = neutrino_store::routers::routers_linking_tx(
        tx,
        &fip.floating_network_id,
        &chosen.subnet_id,
    )
    .await
    .map_err(internal)?;
    // Held so the router keeps its gateway and this interface until we
    // commit (its deleter and interface removal look for floating IPs).
    // A router lost in between is skipped, as if it had never linked.
    let mut router = None;
    for r in routers {
        if !tx.is_postgres() {
            // One writer at a time: nothing changed since the read.
            router = Some(r);
            break;
        }
        lock::row(tx, Table::Routers, &r, Lock::Share)
            .await
            .map_err(internal)?;
        let still = neutrino_store::routers::routers_linking_tx(
            tx,
            &fip.floating_network_id,
            &chosen.subnet_id,
        )
        .await
        .map_err(internal)?;
        if still.contains(&r) {
            router = Some(r);
            break;
        }
    }
    let Some(router) = router else {
        return Err(ApiError::not_found(
            "ExternalGatewayForFloatingIPNotFound",
            format!(
                "External network {} is not reachable from subnet {}.  Therefore, cannot associate Port {port_id} with a Floating IP.",
                fip.floating_network_id, chosen.subnet_id
            ),
        ));
    };
    Ok((chosen.ip_address.clone(), router))
}

async fn associate(
    tx: &mut Tx,
    fip: &mut FloatingIp,
    target: Option<(String, String, String)>,
) -> Result<(), ApiError> {
    match target {
        Some((port, fixed, router)) => {
            fip.port_id = Some(port.clone());
            fip.fixed_ip_address = Some(fixed.clone());
            fip.router_id = Some(router);
            if !store::associate(tx, fip).await.map_err(internal)? {
                return Err(ApiError::conflict(
                    "FloatingIPPortAlreadyAssociated",
                    format!(
                        "Cannot associate floating IP {} ({}) with port {port} using fixed IP {fixed}, as that fixed IP already has a floating IP on external network {}.",
                        fip.floating_ip_address, fip.id, fip.floating_network_id
                    ),
                ));
            }
        }
        None => {
            fip.port_id = None;
            fip.fixed_ip_address = None;
            fip.router_id = None;
            store::associate(tx, fip).await.map_err(internal)?;
        }
    }
    Ok(())
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    let m = body::single(body::parse_json(&raw)?, "floatingip")?;
    body::check_attrs(&m, ATTRS, true)?;
    caller.require_write("create_floatingip")?;
    let Some(net_id) = uuid_field(&m, "floating_network_id")? else {
        return Err(ApiError::bad_request(
            "Failed to parse request. Required attribute 'floating_network_id' not specified",
        )
        .into());
    };
    let address = ip_field(&m, "floating_ip_address")?;
    if address.is_some() && !caller.is_admin() {
        return Err(
            ApiError::policy_not_authorized("create_floatingip:floating_ip_address").into(),
        );
    }
    let subnet_id = uuid_field(&m, "subnet_id")?;
    let port_id = uuid_field(&m, "port_id")?;
    let fixed = ip_field(&m, "fixed_ip_address")?;
    let project = body::project_of(&m)?.unwrap_or_else(|| caller.project_id());
    if !caller.owns(&project) {
        return Err(ApiError::policy_not_authorized("create_floatingip").into());
    }
    let mut tx = st.db.begin().await?;
    // The address port goes on this network: it must outlive the create.
    lock::row(&mut tx, Table::Networks, &net_id, Lock::Share).await?;
    let net = neutrino_store::networks::get_tx(&mut tx, &net_id).await?;
    let net = match net {
        Some(n) if caller.sees(&n) => n,
        _ => return Err(ApiError::network_not_found(&net_id).into()),
    };
    if !net.router_external || !(caller.is_admin() || net.external_for(&caller.project_id())) {
        return Err(bad(format!("Network {net_id} is not a valid external network")).into());
    }
    crate::quotas::enforce(&st, &mut tx, &project, "floatingip", 1).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let req = match (subnet_id, address) {
        (None, None) => None,
        (s, a) => Some(vec![Requested {
            subnet_id: s,
            ip_address: a,
        }]),
    };
    // One address only: IPv4 first, as Neutron gives floating IPs.
    let req = match req {
        Some(r) => r,
        None => {
            let subnets = neutrino_store::subnets::for_network_tx(&mut tx, &net_id).await?;
            let Some(first) = subnets.iter().find(|s| s.ip_version == 4) else {
                return Err(
                    bad(format!("Network {net_id} does not contain any IPv4 subnet")).into(),
                );
            };
            vec![Requested {
                subnet_id: Some(first.id.clone()),
                ip_address: None,
            }]
        }
    };
    let port = service_ports::create(
        st.config.mac_prefix,
        &mut tx,
        &ServicePort {
            network_id: &net_id,
            project_id: "",
            device_owner: DEVICE_OWNER_FLOATINGIP,
            device_id: &id,
            fixed_ips: Some(&req),
        },
    )
    .await
    .map_err(|e| {
        if e.kind == "IpAddressGenerationFailure" {
            ApiError::new(
                400,
                "ExternalIpAddressExhausted",
                format!("Unable to find any IP address on external network {net_id}."),
            )
        } else {
            e
        }
    })?;
    let address = port
        .fixed_ips
        .first()
        .ok_or_else(|| ApiError::internal("floating IP port got no address"))?;
    let now = now_timestamp();
    let mut fip = FloatingIp {
        id,
        project_id: project,
        description: body::opt_string(&m, "description", 255)?.unwrap_or_default(),
        floating_network_id: net_id,
        floating_ip_address: address.ip_address.clone(),
        floating_port_id: port.id.clone(),
        port_id: None,
        fixed_ip_address: None,
        router_id: None,
        status: "DOWN".into(),
        revision_number: 0,
        created_at: now.clone(),
        updated_at: now,
        tags: Vec::new(),
    };
    store::insert(&mut tx, &fip).await?;
    if let Some(p) = port_id {
        let (fixed, router) = association(&mut tx, &caller, &fip, &p, fixed).await?;
        associate(&mut tx, &mut fip, Some((p, fixed, router))).await?;
    }
    tx.commit().await?;
    let f = store::get(&st.db, &fip.id)
        .await?
        .ok_or_else(|| not_found(&fip.id))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"floatingip": views::floatingip(&f)})),
    )
        .into_response())
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    let m = body::single(body::parse_json(&raw)?, "floatingip")?;
    body::check_attrs(&m, ATTRS, false)?;
    let expected = body::if_match_revision(&headers)?;
    visible(&st, &caller, &id).await?;
    caller.require_write("update_floatingip")?;
    let mut tx = st.db.begin().await?;
    // A port named here first (store::locks order: port, then floating IP).
    if let Some(Value::String(p)) = m.get("port_id") {
        lock::row(&mut tx, Table::Ports, p, Lock::Share).await?;
    }
    lock::row(&mut tx, Table::FloatingIps, &id, Lock::Update).await?;
    let mut fip = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    body::check_revision(expected, fip.revision_number)?;
    if let Some(d) = body::opt_string(&m, "description", 255)? {
        fip.description = d;
    }
    fip.updated_at = now_timestamp();
    if m.contains_key("port_id") {
        match uuid_field(&m, "port_id")? {
            Some(p) => {
                let fixed = ip_field(&m, "fixed_ip_address")?;
                let (fixed, router) = association(&mut tx, &caller, &fip, &p, fixed).await?;
                associate(&mut tx, &mut fip, Some((p, fixed, router))).await?;
            }
            None => associate(&mut tx, &mut fip, None).await?,
        }
    } else {
        store::associate(&mut tx, &fip).await?;
    }
    tx.commit().await?;
    let f = store::get(&st.db, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(json!({"floatingip": views::floatingip(&f)})))
}

async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = body::if_match_revision(&headers)?;
    visible(&st, &caller, &id).await?;
    caller.require_write("delete_floatingip")?;
    let mut tx = st.db.begin().await?;
    lock::row(&mut tx, Table::FloatingIps, &id, Lock::Update).await?;
    let fip = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    body::check_revision(expected, fip.revision_number)?;
    store::delete(&mut tx, &id).await?;
    neutrino_store::ports::delete(&mut tx, &fip.floating_port_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
