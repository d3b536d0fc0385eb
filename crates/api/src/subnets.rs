//! `/v2.0/subnets`: CIDRs, gateways, allocation pools, DNS servers, host
//! routes and IPv6 modes, with Neutron's validation rules.

use std::net::IpAddr;

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use neutrino_ipam::{IpNet, IpamError, Pool};
use neutrino_store::locks::{self as lock, Lock, Table};
use neutrino_store::subnets::{self as store, StoredPool, SubnetQuery};
use neutrino_store::{Tx, now_timestamp};
use neutrino_types::ApiError;
use neutrino_types::model::{AllocationPool, HostRoute, Subnet};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::body::{self, Attr, attr};
use crate::listing::{self, ListParams, ListSpec};
use crate::middleware::RawBody;
use crate::networks::{base_url, fields_of, internal};
use crate::reject::ApiResult;
use crate::{AppState, networks, views};

const ATTRS: &[Attr] = &[
    attr("id", false, false),
    attr("name", true, true),
    attr("description", true, true),
    attr("tenant_id", true, false),
    attr("project_id", true, false),
    attr("network_id", true, false),
    attr("ip_version", true, false),
    attr("cidr", true, false),
    attr("prefixlen", true, false),
    attr("subnetpool_id", true, false),
    attr("use_default_subnetpool", true, false),
    attr("gateway_ip", true, true),
    attr("allocation_pools", true, true),
    attr("dns_nameservers", true, true),
    attr("host_routes", true, true),
    attr("enable_dhcp", true, true),
    attr("ipv6_ra_mode", true, false),
    attr("ipv6_address_mode", true, false),
    attr("service_types", true, true),
    attr("segment_id", true, true),
    attr("dns_publish_fixed_ip", true, true),
];

const SPEC: ListSpec = ListSpec {
    plural: "subnets",
    filters: &[
        "id",
        "name",
        "description",
        "project_id",
        "network_id",
        "ip_version",
        "cidr",
        "gateway_ip",
        "enable_dhcp",
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "subnetpool_id",
        "segment_id",
        "dns_publish_fixed_ip",
        "router:external",
        "revision_number",
        "created_at",
        "updated_at",
        "service_types",
        "shared",
    ],
    sort_keys: &[
        "id",
        "name",
        "project_id",
        "network_id",
        "ip_version",
        "cidr",
        "gateway_ip",
        "enable_dhcp",
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "created_at",
        "updated_at",
        "revision_number",
    ],
};

const MAX_DNS_NAMESERVERS: usize = 5;
const MAX_HOST_ROUTES: usize = 20;
const IPV6_MODES: &[&str] = &["slaac", "dhcpv6-stateful", "dhcpv6-stateless"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2.0/subnets", get(list).post(create))
        .route("/v2.0/subnets/{id}", get(show).put(update).delete(delete))
}

/// The minimum MTU that subnets of these IP versions need on a network of
/// MTU `mtu`, when `mtu` is below it (0 means unset): 68 for IPv4, 1280 for
/// IPv6 (Neutron's `_validate_subnet_network_mtu`).
pub fn mtu_minimum(mtu: i64, ip_versions: &[i64]) -> Option<i64> {
    if mtu <= 0 || mtu >= 1280 || ip_versions.is_empty() {
        None
    } else if mtu < 68 {
        Some(68)
    } else if ip_versions.contains(&6) {
        Some(1280)
    } else {
        None
    }
}

pub fn mtu_subnet_conflict(net_id: &str, min: i64) -> ApiError {
    ApiError::conflict(
        "NetworkMTUSubnetConflict",
        format!("MTU of {net_id} is not valid, subnet requires a minimum of {min}"),
    )
}

pub fn ipam_error(e: IpamError) -> ApiError {
    let msg = e.to_string();
    match e {
        IpamError::InvalidAllocationPool(_) => ApiError::new(400, "InvalidAllocationPool", msg),
        IpamError::OutOfBoundsAllocationPool(_) => {
            ApiError::new(400, "OutOfBoundsAllocationPool", msg)
        }
        IpamError::OverlappingAllocationPools(_) => {
            ApiError::conflict("OverlappingAllocationPools", msg)
        }
        IpamError::GatewayConflictWithAllocationPools(_) => {
            ApiError::conflict("GatewayConflictWithAllocationPools", msg)
        }
        IpamError::InvalidGateway(_) | IpamError::InvalidCidr(_) => {
            ApiError::invalid_input(msg.trim_end_matches('.'))
        }
        IpamError::AlreadyAllocated(_) => ApiError::conflict("IpAddressAlreadyAllocated", msg),
        IpamError::NotInSubnet(_) => ApiError::new(400, "InvalidIpForSubnet", msg),
        IpamError::Exhausted => ApiError::conflict("IpAddressGenerationFailure", msg),
        IpamError::InvalidMac(_) => ApiError::bad_request(msg),
    }
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let mut params = ListParams::parse(uri.query(), &SPEC)?;
    // `shared` is a hidden subnet attribute (is_visible False in Neutron):
    // its network's `shared` as the caller sees it. Filtered here, not on
    // the rendered subnet.
    let shared_wanted = params
        .values("shared")
        .iter()
        .map(|v| body::to_bool("shared", &Value::String(v.clone())))
        .collect::<Result<Vec<bool>, ApiError>>()?;
    params.filters.retain(|(k, _)| k != "shared");
    let q = SubnetQuery {
        visible_to: caller.visibility(),
        ids: params.values("id"),
        network_ids: params.values("network_id"),
    };
    let mut subnets = store::list(&st.db, &q).await?;
    if !shared_wanted.is_empty() {
        let shared = shared_networks(&st, &caller).await?;
        subnets.retain(|s| shared_wanted.contains(&shared.contains(&s.network_id)));
    }
    let external = external_networks(&st).await?;
    let items = subnets
        .iter()
        .map(|s| views::subnet(s, external.contains(&s.network_id)))
        .collect();
    Ok(Json(listing::respond(
        items,
        &params,
        &SPEC,
        &base_url(&headers, &uri),
    )?))
}

async fn external_networks(st: &AppState) -> Result<Vec<String>, ApiError> {
    neutrino_store::networks::external_ids(&st.db)
        .await
        .map_err(internal)
}

/// Ids of the networks that are `shared` as `caller` sees them.
async fn shared_networks(st: &AppState, caller: &Caller) -> Result<Vec<String>, ApiError> {
    let nets = neutrino_store::networks::list(&st.db, &Default::default())
        .await
        .map_err(internal)?;
    Ok(nets
        .iter()
        .filter(|n| views::network(n, caller).get("shared") == Some(&Value::Bool(true)))
        .map(|n| n.id.clone())
        .collect())
}

/// A subnet the caller may see (its own, or on a network it may see).
async fn visible(st: &AppState, caller: &Caller, id: &str) -> Result<(Subnet, bool), ApiError> {
    let s = store::get(&st.db, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::subnet_not_found(id))?;
    let net = neutrino_store::networks::get(&st.db, &s.network_id)
        .await
        .map_err(internal)?;
    let ext = net.as_ref().is_some_and(|n| n.router_external);
    let ok = caller.owns(&s.project_id) || net.is_some_and(|n| caller.sees(&n));
    if ok {
        Ok((s, ext))
    } else {
        Err(ApiError::subnet_not_found(id))
    }
}

async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let (s, ext) = visible(&st, &caller, &id).await?;
    Ok(Json(
        json!({"subnet": listing::select_fields(views::subnet(&s, ext), &fields_of(uri.query()))}),
    ))
}

fn parse_ip(attr: &str, s: &str) -> Result<IpAddr, ApiError> {
    s.parse()
        .map_err(|_| ApiError::invalid_attr(attr, format!("'{s}' is not a valid IP address")))
}

fn check_cidr(raw: &str) -> Result<IpNet, ApiError> {
    let net: IpNet = raw
        .parse()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| ApiError::invalid_attr("cidr", format!("'{raw}' is not a valid IP subnet")))?;
    let normal = net.trunc();
    if !raw.contains('/') || (matches!(net, IpNet::V4(_)) && normal.to_string() != raw) {
        return Err(ApiError::invalid_attr(
            "cidr",
            format!("'{raw}' isn't a recognized IP subnet cidr, '{normal}' is recommended"),
        ));
    }
    if normal.prefix_len() == 0 {
        return Err(ApiError::invalid_input(
            "0 is not allowed as CIDR prefix length",
        ));
    }
    Ok(normal)
}

fn version_of(ip: &IpAddr) -> i64 {
    if ip.is_ipv4() { 4 } else { 6 }
}

fn parse_pools(v: &Value) -> Result<Vec<Pool>, ApiError> {
    let Value::Array(items) = v else {
        return Err(ApiError::invalid_attr(
            "allocation_pools",
            format!("Invalid data format for IP pool: '{v}'"),
        ));
    };
    let mut pools = Vec::new();
    for item in items {
        let (Some(start), Some(end)) = (
            item.get("start").and_then(Value::as_str),
            item.get("end").and_then(Value::as_str),
        ) else {
            return Err(ApiError::invalid_attr(
                "allocation_pools",
                format!("Invalid data format for IP pool: '{item}'"),
            ));
        };
        if item.as_object().is_some_and(|o| o.len() != 2) {
            return Err(ApiError::invalid_attr(
                "allocation_pools",
                format!("Unrecognized attribute(s) in IP pool: '{item}'"),
            ));
        }
        pools.push(neutrino_ipam::parse_pool(start, end).map_err(ipam_error)?);
    }
    Ok(pools)
}

fn parse_nameservers(v: &Value, version: i64, subnet: &str) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = v else {
        return Err(ApiError::invalid_attr(
            "dns_nameservers",
            format!("Invalid data format for nameserver: '{v}'"),
        ));
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let Some(s) = item.as_str() else {
            return Err(ApiError::invalid_attr(
                "dns_nameservers",
                format!("'{item}' is not a valid nameserver."),
            ));
        };
        let ip: IpAddr = s.parse().map_err(|_| {
            ApiError::invalid_attr(
                "dns_nameservers",
                format!("'{s}' is not a valid IP address"),
            )
        })?;
        if out.iter().any(|o| o == s) {
            return Err(ApiError::invalid_attr(
                "dns_nameservers",
                format!("Duplicate nameserver '{s}'"),
            ));
        }
        if version_of(&ip) != version {
            return Err(ApiError::invalid_input(format!(
                "DNS nameserver {s} is not a valid IPv{version} address"
            )));
        }
        out.push(s.to_string());
    }
    if out.len() > MAX_DNS_NAMESERVERS {
        return Err(ApiError::new(
            400,
            "DNSNameServersExhausted",
            format!(
                "Unable to complete operation for {subnet}. The number of DNS nameservers exceeds the limit {MAX_DNS_NAMESERVERS}."
            ),
        ));
    }
    Ok(out)
}

fn parse_host_routes(v: &Value, version: i64, subnet: &str) -> Result<Vec<HostRoute>, ApiError> {
    let mut out = Vec::new();
    for (dst, hop) in body::parse_route_list(v, "host_routes")? {
        let dver = if matches!(dst, IpNet::V4(_)) { 4 } else { 6 };
        if dver != version || version_of(&hop) != version {
            return Err(ApiError::invalid_input(format!(
                "Invalid route: Host route {dst} with nexthop {hop} does not match the subnet's IP version {version}"
            )));
        }
        out.push(HostRoute {
            destination: dst.to_string(),
            nexthop: hop.to_string(),
        });
    }
    if out.len() > MAX_HOST_ROUTES {
        return Err(ApiError::new(
            400,
            "HostRoutesExhausted",
            format!(
                "Unable to complete operation for {subnet}. The number of host routes exceeds the limit {MAX_HOST_ROUTES}."
            ),
        ));
    }
    Ok(out)
}

fn stored_pools(cidr: &IpNet, pools: &[Pool]) -> Vec<StoredPool> {
    pools
        .iter()
        .map(|p| {
            let (first_offset, last_offset) = neutrino_ipam::pool_offsets(cidr, p);
            StoredPool {
                first_ip: p.start.to_string(),
                last_ip: p.end.to_string(),
                first_offset,
                last_offset,
            }
        })
        .collect()
}

fn ipv6_mode(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if IPV6_MODES.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(v) => Err(ApiError::invalid_attr(
            key,
            format!("{v} is not in {IPV6_MODES:?}"),
        )),
    }
}

fn required<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a Value, ApiError> {
    m.get(key).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Failed to parse request. Required attribute '{key}' not specified"
        ))
    })
}

/// Validates a create item against the network's existing subnets.
async fn build(
    caller: &Caller,
    tx: &mut Tx,
    m: &Map<String, Value>,
) -> Result<(Subnet, Vec<StoredPool>), ApiError> {
    body::check_attrs(m, ATTRS, true)?;
    caller.require_write("create_subnet")?;
    let network_id = match required(m, "network_id")? {
        Value::String(s) => s.clone(),
        v => {
            return Err(ApiError::invalid_attr(
                "network_id",
                format!("'{v}' is not a valid UUID"),
            ));
        }
    };
    body::check_uuid("network_id", &network_id)?;
    let version = match required(m, "ip_version")? {
        Value::Number(n) if n.as_i64() == Some(4) || n.as_i64() == Some(6) => {
            n.as_i64().unwrap_or(4)
        }
        Value::String(s) if s == "4" || s == "6" => s.parse().unwrap_or(4),
        v => {
            return Err(ApiError::invalid_attr(
                "ip_version",
                format!("{v} is not in [4, 6]"),
            ));
        }
    };
    match m.get("subnetpool_id") {
        None | Some(Value::Null) => {}
        Some(_) => {
            return Err(ApiError::invalid_input(
                "Subnet pools are not supported by this server",
            ));
        }
    }
    if body::opt_bool(m, "use_default_subnetpool")? == Some(true) {
        return Err(ApiError::bad_request("No default subnetpool found"));
    }
    if m.contains_key("prefixlen") && m.contains_key("cidr") {
        return Err(ApiError::bad_request(
            "Bad subnet request: cidr and prefixlen must not be supplied together.",
        ));
    }
    let raw_cidr = match m.get("cidr") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(ApiError::invalid_attr(
                "cidr",
                format!("'{v}' is not a valid IP subnet"),
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "Bad subnet request: a subnetpool must be specified in the absence of a cidr.",
            ));
        }
    };
    let cidr = check_cidr(&raw_cidr)?;
    let cidr_version = if matches!(cidr, IpNet::V4(_)) { 4 } else { 6 };
    if cidr_version != version {
        return Err(ApiError::invalid_input(format!(
            "Cidr {cidr} does not match ip_version {version}"
        )));
    }
    if let IpNet::V6(n) = cidr
        && n.network().is_unspecified()
    {
        return Err(ApiError::invalid_input(format!(
            "IPv6 network address {cidr} is not allowed for a subnet"
        )));
    }
    match m.get("service_types") {
        None => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(_) => {
            return Err(ApiError::invalid_input(
                "Subnet service types are not supported by this server",
            ));
        }
    }
    match m.get("segment_id") {
        None | Some(Value::Null) => {}
        Some(_) => {
            return Err(ApiError::invalid_input(
                "Routed network segments are not supported by this server",
            ));
        }
    }

    // The subnet then revises its network: hold it as for an update.
    lock::row(tx, Table::Networks, &network_id, Lock::Update)
        .await
        .map_err(internal)?;
    let net = neutrino_store::networks::get_tx(tx, &network_id)
        .await
        .map_err(internal)?;
    let net = match net {
        Some(n) if caller.sees(&n) => n,
        _ => return Err(ApiError::network_not_found(&network_id)),
    };
    if !caller.owns(&net.project_id) {
        return Err(ApiError::policy_not_authorized("create_subnet"));
    }
    let project = body::project_of(m)?.unwrap_or_else(|| caller.project_id());
    if !caller.owns(&project) {
        return Err(body::foreign_project());
    }

    let enable_dhcp = body::opt_bool(m, "enable_dhcp")?.unwrap_or(true);
    let ra_mode = ipv6_mode(m, "ipv6_ra_mode")?;
    let addr_mode = ipv6_mode(m, "ipv6_address_mode")?;
    if version == 4 && (ra_mode.is_some() || addr_mode.is_some()) {
        return Err(ApiError::invalid_input(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when ip_version is 4",
        ));
    }
    if !enable_dhcp && (ra_mode.is_some() || addr_mode.is_some()) {
        return Err(ApiError::invalid_input(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False",
        ));
    }
    if let (Some(r), Some(a)) = (&ra_mode, &addr_mode)
        && r != a
    {
        return Err(ApiError::invalid_input(format!(
            "ipv6_ra_mode set to '{r}' with ipv6_address_mode set to '{a}' is not valid. If both attributes are set, they must be the same value"
        )));
    }
    for mode in [&ra_mode, &addr_mode] {
        neutrino_ipam::check_auto_address_prefix(&cidr, mode.as_deref()).map_err(ipam_error)?;
    }
    if enable_dhcp {
        let too_small = match cidr {
            IpNet::V4(n) => n.prefix_len() > 30,
            IpNet::V6(n) => n.prefix_len() > 126,
        };
        if too_small {
            return Err(ApiError::invalid_input(format!(
                "Invalid CIDR {cidr} for DHCP subnet. The CIDR must be a /30 or larger for IPv4 or a /126 or larger for IPv6"
            )));
        }
    }

    let gateway = match m.get("gateway_ip") {
        None => Some(neutrino_ipam::default_gateway(&cidr)),
        Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => {
            let ip = parse_ip("gateway_ip", s)?;
            if version_of(&ip) != version {
                return Err(ApiError::invalid_input(
                    "Gateway IP version inconsistent with allocation pool version",
                ));
            }
            neutrino_ipam::validate_gateway(&cidr, ip).map_err(ipam_error)?;
            Some(ip)
        }
        Some(v) => {
            return Err(ApiError::invalid_attr(
                "gateway_ip",
                format!("'{v}' is not a valid IP address"),
            ));
        }
    };
    let id = uuid::Uuid::new_v4().to_string();
    let pools = match m.get("allocation_pools") {
        None | Some(Value::Null) => neutrino_ipam::default_pools(&cidr, gateway),
        Some(v) => {
            let pools = parse_pools(v)?;
            for p in &pools {
                if version_of(&p.start) != version {
                    return Err(ApiError::new(
                        400,
                        "InvalidAllocationPool",
                        format!("The allocation pool {}-{} is not valid.", p.start, p.end),
                    ));
                }
            }
            neutrino_ipam::validate_pools(&cidr, &pools, gateway).map_err(ipam_error)?;
            pools
        }
    };
    let dns = match m.get("dns_nameservers") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_nameservers(v, version, &id)?,
    };
    let routes = match m.get("host_routes") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_host_routes(v, version, &id)?,
    };
    if let Some(min) = mtu_minimum(net.mtu, &[version]) {
        return Err(mtu_subnet_conflict(&network_id, min));
    }
    for other in store::for_network_tx(tx, &network_id)
        .await
        .map_err(internal)?
    {
        if let Ok(o) = other.cidr.parse::<IpNet>()
            && neutrino_ipam::cidrs_overlap(&o, &cidr)
        {
            return Err(ApiError::invalid_input(format!(
                "Requested subnet with cidr: {cidr} for network: {network_id} overlaps with another subnet"
            )));
        }
    }
    let now = now_timestamp();
    let subnet = Subnet {
        id,
        project_id: project,
        network_id,
        name: body::opt_string(m, "name", 255)?.unwrap_or_default(),
        description: body::opt_string(m, "description", 255)?.unwrap_or_default(),
        ip_version: version,
        cidr: cidr.to_string(),
        gateway_ip: gateway.map(|g| g.to_string()),
        allocation_pools: pools
            .iter()
            .map(|p| AllocationPool {
                start: p.start.to_string(),
                end: p.end.to_string(),
            })
            .collect(),
        dns_nameservers: dns,
        host_routes: routes,
        enable_dhcp,
        ipv6_ra_mode: ra_mode,
        ipv6_address_mode: addr_mode,
        dns_publish_fixed_ip: body::opt_bool(m, "dns_publish_fixed_ip")?.unwrap_or(false),
        revision_number: 0,
        created_at: now.clone(),
        updated_at: now,
        tags: Vec::new(),
    };
    let stored = stored_pools(&cidr, &pools);
    Ok((subnet, stored))
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    let (items, bulk) = body::items(body::parse_json(&raw)?, "subnet", "subnets", true)?;
    let mut tx = st.db.begin().await?;
    let mut ids = Vec::new();
    for m in &items {
        let (subnet, pools) = build(&caller, &mut tx, m).await?;
        crate::quotas::enforce(&st, &mut tx, &subnet.project_id, "subnet", 1).await?;
        store::insert(&mut tx, &subnet, &pools).await?;
        // A subnet revises its network (Neutron's Subnet.revises_on_change).
        neutrino_store::networks::touch(&mut tx, &subnet.network_id, &subnet.updated_at).await?;
        ids.push(subnet.id);
    }
    tx.commit().await?;
    let external = external_networks(&st).await?;
    let mut out = Vec::new();
    for id in &ids {
        let s = store::get(&st.db, id)
            .await?
            .ok_or_else(|| ApiError::subnet_not_found(id))?;
        out.push(Value::Object(views::subnet(
            &s,
            external.contains(&s.network_id),
        )));
    }
    let body = if bulk {
        json!({"subnets": out})
    } else {
        json!({"subnet": out.remove(0)})
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A subnet the caller may change.
async fn owned(st: &AppState, caller: &Caller, id: &str, action: &str) -> Result<Subnet, ApiError> {
    let (s, _) = visible(st, caller, id).await?;
    let net = networks::visible(st, caller, &s.network_id).await.ok();
    let net_owner = net.is_some_and(|n| caller.owns(&n.project_id));
    if !caller.owns(&s.project_id) && !net_owner {
        return Err(ApiError::policy_not_authorized(action));
    }
    caller.require_write(action)?;
    Ok(s)
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    let m = body::single(body::parse_json(&raw)?, "subnet")?;
    body::check_attrs(&m, ATTRS, false)?;
    let expected = body::if_match_revision(&headers)?;
    owned(&st, &caller, &id, "update_subnet").await?;
    let mut tx = st.db.begin().await?;
    lock::with_network(&mut tx, Table::Subnets, &id, Lock::Update, Lock::Update).await?;
    let mut s = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::subnet_not_found(&id))?;
    body::check_revision(expected, s.revision_number)?;
    let cidr: IpNet = s
        .cidr
        .parse()
        .map_err(|_| ApiError::internal("stored CIDR is invalid"))?;
    if let Some(v) = body::opt_string(&m, "name", 255)? {
        s.name = v;
    }
    if let Some(v) = body::opt_string(&m, "description", 255)? {
        s.description = v;
    }
    if let Some(v) = body::opt_bool(&m, "enable_dhcp")? {
        s.enable_dhcp = v;
    }
    if let Some(v) = body::opt_bool(&m, "dns_publish_fixed_ip")? {
        s.dns_publish_fixed_ip = v;
    }
    if let Some(v) = m.get("dns_nameservers") {
        s.dns_nameservers = if v.is_null() {
            Vec::new()
        } else {
            parse_nameservers(v, s.ip_version, &id)?
        };
    }
    if let Some(v) = m.get("host_routes") {
        s.host_routes = if v.is_null() {
            Vec::new()
        } else {
            parse_host_routes(v, s.ip_version, &id)?
        };
    }
    for (key, bad) in [
        (
            "service_types",
            !matches!(m.get("service_types"), None | Some(Value::Array(_))),
        ),
        (
            "segment_id",
            !matches!(m.get("segment_id"), None | Some(Value::Null)),
        ),
    ] {
        if bad {
            return Err(ApiError::invalid_input(format!(
                "Updating {key} is not supported by this server"
            ))
            .into());
        }
    }
    let old_gateway = s.gateway_ip.clone();
    if let Some(v) = m.get("gateway_ip") {
        let gw = match v {
            Value::Null => None,
            Value::String(g) if g.is_empty() => None,
            Value::String(g) => {
                let ip = parse_ip("gateway_ip", g)?;
                if version_of(&ip) != s.ip_version {
                    return Err(ApiError::invalid_input(
                        "Gateway IP version inconsistent with allocation pool version",
                    )
                    .into());
                }
                neutrino_ipam::validate_gateway(&cidr, ip).map_err(ipam_error)?;
                Some(ip.to_string())
            }
            other => {
                return Err(ApiError::invalid_attr(
                    "gateway_ip",
                    format!("'{other}' is not a valid IP address"),
                )
                .into());
            }
        };
        if gw != old_gateway
            && let Some(old) = &old_gateway
            && let Some(owner) = neutrino_store::ports::allocation_owner(&mut tx, &id, old).await?
        {
            let port = neutrino_store::ports::get_tx(&mut tx, &owner).await?;
            if port.is_some_and(|p| {
                neutrino_types::ROUTER_INTERFACE_OWNERS.contains(&p.device_owner.as_str())
                    || p.device_owner == neutrino_types::DEVICE_OWNER_ROUTER_GW
            }) {
                return Err(ApiError::conflict(
                    "GatewayIpInUse",
                    format!(
                        "Current gateway ip {old} already in use by port {owner}. Unable to update."
                    ),
                )
                .into());
            }
        }
        s.gateway_ip = gw;
    }
    let gateway: Option<IpAddr> = s.gateway_ip.as_deref().and_then(|g| g.parse().ok());
    let pools: Vec<Pool> = match m.get("allocation_pools") {
        Some(v) if !v.is_null() => parse_pools(v)?,
        _ => s
            .allocation_pools
            .iter()
            .filter_map(|p| neutrino_ipam::parse_pool(&p.start, &p.end).ok())
            .collect(),
    };
    if m.contains_key("allocation_pools") || m.contains_key("gateway_ip") {
        neutrino_ipam::validate_pools(&cidr, &pools, gateway).map_err(ipam_error)?;
        store::replace_pools(&mut tx, &id, &stored_pools(&cidr, &pools)).await?;
    }
    s.updated_at = now_timestamp();
    store::update(&mut tx, &s).await?;
    neutrino_store::networks::touch(&mut tx, &s.network_id, &s.updated_at).await?;
    tx.commit().await?;
    let (s, ext) = visible(&st, &caller, &id).await?;
    Ok(Json(json!({"subnet": views::subnet(&s, ext)})))
}

async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = body::if_match_revision(&headers)?;
    owned(&st, &caller, &id, "delete_subnet").await?;
    let mut tx = st.db.begin().await?;
    lock::with_network(&mut tx, Table::Subnets, &id, Lock::Update, Lock::Update).await?;
    let s = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::subnet_not_found(&id))?;
    body::check_revision(expected, s.revision_number)?;
    let auto_address = matches!(
        s.ipv6_address_mode.as_deref(),
        Some("slaac") | Some("dhcpv6-stateless")
    );
    for (port, owner) in neutrino_store::ports::on_subnet_tx(&mut tx, &id).await? {
        let service = owner == neutrino_types::DEVICE_OWNER_DHCP || owner == "network:distributed";
        let is_router = neutrino_types::ROUTER_INTERFACE_OWNERS.contains(&owner.as_str());
        if service || (auto_address && !is_router) {
            // These addresses go with the subnet, as in Neutron.
            let p = neutrino_store::ports::get_tx(&mut tx, &port).await?;
            for ip in p
                .iter()
                .flat_map(|p| p.fixed_ips.iter())
                .filter(|f| f.subnet_id == id)
            {
                neutrino_store::ports::delete_allocation(&mut tx, &port, &id, &ip.ip_address)
                    .await?;
            }
            // The port's view changed: a new revision (see view_cache.rs).
            neutrino_store::ports::touch(&mut tx, &port, &neutrino_store::now_timestamp()).await?;
            continue;
        }
        return Err(ApiError::conflict(
            "SubnetInUse",
            format!("Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."),
        )
        .into());
    }
    store::delete(&mut tx, &id).await?;
    neutrino_store::networks::touch(&mut tx, &s.network_id, &now_timestamp()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
