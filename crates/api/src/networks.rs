//! `/v2.0/networks`: networks with the provider, external-net, mtu,
//! port-security, availability-zone and dns-domain attributes.

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use neutrino_store::locks::{self as lock, Lock, Table};
use neutrino_store::networks::{self as store, InsertNetworkError, NetworkQuery, SegmentRequest};
use neutrino_store::{Tx, now_timestamp};
use neutrino_types::ApiError;
use neutrino_types::model::{ACCESS_AS_EXTERNAL, ACCESS_AS_SHARED, Network};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::body::{self, Attr, attr};
use crate::listing::{self, ListParams, ListSpec};
use crate::middleware::RawBody;
use crate::reject::ApiResult;
use crate::{AppState, NetworkConfig, views};

const ATTRS: &[Attr] = &[
    attr("id", false, false),
    attr("name", true, true),
    attr("description", true, true),
    attr("tenant_id", true, false),
    attr("project_id", true, false),
    attr("admin_state_up", true, true),
    attr("shared", true, true),
    attr("router:external", true, true),
    attr("mtu", true, true),
    attr("port_security_enabled", true, true),
    attr("availability_zone_hints", true, false),
    attr("dns_domain", true, true),
    attr("provider:network_type", true, true),
    attr("provider:physical_network", true, true),
    attr("provider:segmentation_id", true, true),
];

pub const SPEC: ListSpec = ListSpec {
    plural: "networks",
    filters: &[
        "id",
        "name",
        "description",
        "project_id",
        "admin_state_up",
        "status",
        "shared",
        "router:external",
        "mtu",
        "port_security_enabled",
        "availability_zone_hints",
        "dns_domain",
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "subnets",
        "revision_number",
        "created_at",
        "updated_at",
    ],
    sort_keys: &[
        "id",
        "name",
        "project_id",
        "admin_state_up",
        "status",
        "shared",
        "router:external",
        "mtu",
        "created_at",
        "updated_at",
        "revision_number",
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
    ],
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2.0/networks", get(list).post(create))
        .route("/v2.0/networks/{id}", get(show).put(update).delete(delete))
}

pub fn base_url(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}{}", uri.path())
}

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(uri.query(), &SPEC)?;
    let q = NetworkQuery {
        visible_to: caller.visibility(),
        ids: params.values("id"),
    };
    let nets = store::list(&st.db, &q).await?;
    // Neutron filters (and sorts) on the provider attributes in the database,
    // before its policy hides them from non-admins: render them for the
    // listing, then strip them from what a non-admin gets.
    const PROVIDER: [&str; 3] = [
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
    ];
    let items = nets
        .iter()
        .map(|n| {
            let mut m = views::network(n, &caller);
            if !caller.is_admin() {
                m.insert(PROVIDER[0].into(), json!(n.network_type));
                m.insert(PROVIDER[1].into(), json!(n.physical_network));
                m.insert(PROVIDER[2].into(), json!(n.segmentation_id));
            }
            m
        })
        .collect();
    let mut body = listing::respond(items, &params, &SPEC, &base_url(&headers, &uri))?;
    if !caller.is_admin()
        && let Some(items) = body.get_mut("networks").and_then(Value::as_array_mut)
    {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            for key in PROVIDER {
                item.remove(key);
            }
        }
    }
    Ok(Json(body))
}

/// Loads a network the caller may see, or 404 as Neutron answers for
/// networks of other projects.
pub async fn visible(st: &AppState, caller: &Caller, id: &str) -> Result<Network, ApiError> {
    match store::get(&st.db, id).await.map_err(internal)? {
        Some(n) if caller.sees(&n) => Ok(n),
        _ => Err(ApiError::network_not_found(id)),
    }
}

pub fn internal(e: neutrino_store::StoreError) -> ApiError {
    crate::reject::store_error(e)
}

async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let fields = fields_of(uri.query());
    let n = visible(&st, &caller, &id).await?;
    Ok(Json(
        json!({"network": listing::select_fields(views::network(&n, &caller), &fields)}),
    ))
}

/// The `fields=` of a show request (other query keys are ignored there).
pub fn fields_of(query: Option<&str>) -> Vec<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "fields")
        .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect()
}

fn provider_policy_error(attr: &str) -> ApiError {
    ApiError::policy_not_authorized(&format!("create_network:{attr}"))
}

/// The segment a new network asks for, validated as ML2 validates it.
fn segment_for(
    cfg: &NetworkConfig,
    m: &Map<String, Value>,
) -> Result<(String, Option<String>, SegmentRequest), ApiError> {
    let ntype = body::opt_string(m, "provider:network_type", 255)?;
    let physnet = match m.get("provider:physical_network") {
        None | Some(Value::Null) => None,
        Some(_) => body::opt_string(m, "provider:physical_network", 64)?.filter(|s| !s.is_empty()),
    };
    let seg = match m.get("provider:segmentation_id") {
        None | Some(Value::Null) => None,
        Some(_) => body::opt_int(m, "provider:segmentation_id")?,
    };
    let Some(ntype) = ntype else {
        if physnet.is_some() || seg.is_some() {
            return Err(ApiError::invalid_input("network_type required"));
        }
        let (min, max) = cfg.tunnel_id_range;
        return Ok((
            cfg.tenant_network_type.clone(),
            None,
            SegmentRequest::Allocate { min, max },
        ));
    };
    let known_physnet =
        |p: &str| cfg.physical_networks.is_empty() || cfg.physical_networks.iter().any(|x| x == p);
    match ntype.as_str() {
        "flat" => {
            let Some(p) = physnet else {
                return Err(ApiError::invalid_input(
                    "physical_network required for flat provider network",
                ));
            };
            if seg.is_some() {
                return Err(ApiError::invalid_input(
                    "segmentation_id specified for flat provider network",
                ));
            }
            if !known_physnet(&p) {
                return Err(ApiError::invalid_input(format!(
                    "physical_network '{p}' unknown for flat provider network"
                )));
            }
            Ok((ntype, Some(p), SegmentRequest::Fixed(None)))
        }
        "vlan" => {
            let Some(p) = physnet else {
                return Err(ApiError::invalid_input(
                    "physical_network required for VLAN provider network",
                ));
            };
            if !known_physnet(&p) {
                return Err(ApiError::invalid_input(format!(
                    "physical_network '{p}' unknown for VLAN provider network"
                )));
            }
            match seg {
                Some(v) if !(1..=4094).contains(&v) => Err(ApiError::invalid_input(
                    "segmentation_id out of range (1 through 4094)",
                )),
                Some(v) => Ok((ntype, Some(p), SegmentRequest::Fixed(Some(v)))),
                None => match cfg.vlan_ranges.iter().find(|(n, _, _)| *n == p) {
                    Some((_, min, max)) => Ok((
                        ntype,
                        Some(p),
                        SegmentRequest::Allocate {
                            min: *min,
                            max: *max,
                        },
                    )),
                    None => Err(no_network_available()),
                },
            }
        }
        "geneve" | "vxlan" => {
            if physnet.is_some() {
                return Err(ApiError::invalid_input(format!(
                    "provider:physical_network specified for {ntype} network"
                )));
            }
            match seg {
                Some(v) if !(1..=16_777_215).contains(&v) => Err(ApiError::invalid_input(format!(
                    "{ntype} segmentation_id {v} out of range (1 through 16777215)"
                ))),
                Some(v) => Ok((ntype, None, SegmentRequest::Fixed(Some(v)))),
                None => {
                    let (min, max) = cfg.tunnel_id_range;
                    Ok((ntype, None, SegmentRequest::Allocate { min, max }))
                }
            }
        }
        "local" => {
            if physnet.is_some() || seg.is_some() {
                return Err(ApiError::invalid_input(
                    "provider:physical_network and provider:segmentation_id prohibited for local provider network",
                ));
            }
            Ok((ntype, None, SegmentRequest::Fixed(None)))
        }
        other => Err(ApiError::invalid_input(format!(
            "network_type value '{other}' not supported"
        ))),
    }
}

fn no_network_available() -> ApiError {
    ApiError::service_unavailable(
        "NoNetworkAvailable",
        "Unable to create the network. No tenant network is available for allocation.",
    )
}

/// Largest MTU a network of `ntype` can carry on this fabric.
pub fn max_mtu(cfg: &NetworkConfig, ntype: &str) -> i64 {
    match ntype {
        // OVN's Geneve header (38 bytes incl. options) plus the outer IPv4 header.
        "geneve" => cfg.global_physnet_mtu - 58,
        "vxlan" => cfg.global_physnet_mtu - 50,
        _ => cfg.global_physnet_mtu,
    }
}

pub fn check_az_hints(cfg: &NetworkConfig, hints: &[String]) -> Result<(), ApiError> {
    for h in hints {
        if !cfg.availability_zones.contains(h) {
            return Err(ApiError::not_found(
                "AvailabilityZoneNotFound",
                format!("AvailabilityZone {h} could not be found."),
            ));
        }
    }
    Ok(())
}

/// Validates one item of a create request and builds the new record.
fn build(
    st: &AppState,
    caller: &Caller,
    m: &Map<String, Value>,
) -> Result<(Network, SegmentRequest), ApiError> {
    body::check_attrs(m, ATTRS, true)?;
    caller.require_write("create_network")?;
    let project = body::project_of(m)?.unwrap_or_else(|| caller.project_id());
    if !caller.owns(&project) {
        return Err(body::foreign_project());
    }
    let shared = body::opt_bool(m, "shared")?.unwrap_or(false);
    let external = body::opt_bool(m, "router:external")?.unwrap_or(false);
    if shared && !caller.is_admin() {
        return Err(ApiError::policy_not_authorized("create_network:shared"));
    }
    if m.contains_key("router:external") && !caller.is_admin() {
        return Err(ApiError::policy_not_authorized(
            "create_network:router:external",
        ));
    }
    for key in [
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
    ] {
        if m.contains_key(key) && !caller.is_admin() {
            return Err(provider_policy_error(key));
        }
    }
    let (ntype, physnet, segment) = segment_for(&st.config, m)?;
    let max = max_mtu(&st.config, &ntype);
    let mtu = match body::opt_int(m, "mtu")? {
        Some(v) if v > max => {
            return Err(ApiError::invalid_input(format!(
                "Requested MTU is too big, maximum is {max}"
            )));
        }
        // net-mtu-writable validates type:non_negative only; 0 means the
        // computed maximum (ML2), and too small an MTU is refused when a
        // subnet is added (NetworkMTUSubnetConflict).
        Some(v) if v < 0 => {
            return Err(ApiError::invalid_attr(
                "mtu",
                format!("'{v}' should be non-negative"),
            ));
        }
        Some(0) | None => max,
        Some(v) => v,
    };
    let hints = body::opt_string_list(m, "availability_zone_hints")?.unwrap_or_default();
    check_az_hints(&st.config, &hints)?;
    let now = now_timestamp();
    let net = Network {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project,
        name: body::opt_string(m, "name", 255)?.unwrap_or_default(),
        description: body::opt_string(m, "description", 255)?.unwrap_or_default(),
        admin_state_up: body::opt_bool(m, "admin_state_up")?.unwrap_or(true),
        shared,
        router_external: external,
        mtu,
        status: "ACTIVE".into(),
        network_type: ntype,
        physical_network: physnet,
        segmentation_id: None,
        availability_zone_hints: hints,
        port_security_enabled: body::opt_bool(m, "port_security_enabled")?.unwrap_or(true),
        dns_domain: body::opt_string(m, "dns_domain", 255)?.unwrap_or_default(),
        // Neutron's network is at revision 1 when the create returns (the
        // segment binding bumps it once); clients compare against that.
        revision_number: 1,
        created_at: now.clone(),
        updated_at: now,
        tags: Vec::new(),
        subnets: Vec::new(),
        access: Vec::new(),
    };
    Ok((net, segment))
}

async fn insert(tx: &mut Tx, net: &Network, seg: SegmentRequest) -> Result<Network, ApiError> {
    let seg_id = match &seg {
        SegmentRequest::Fixed(s) => *s,
        SegmentRequest::Allocate { .. } => None,
    };
    store::insert(tx, net, seg).await.map_err(|e| match e {
        InsertNetworkError::SegmentInUse => match (net.network_type.as_str(), &net.physical_network, seg_id) {
            ("flat", Some(p), _) => ApiError::conflict(
                "FlatNetworkInUse",
                format!("Unable to create the flat network. Physical network {p} is in use."),
            ),
            ("vlan", Some(p), Some(v)) => ApiError::conflict(
                "VlanIdInUse",
                format!("Unable to create the network. The VLAN {v} on physical network {p} is in use."),
            ),
            (_, _, Some(v)) => ApiError::conflict(
                "TunnelIdInUse",
                format!("Unable to create the network. The tunnel ID {v} is in use."),
            ),
            _ => ApiError::conflict("Conflict", "The segment is in use."),
        },
        InsertNetworkError::SegmentsExhausted => no_network_available(),
        InsertNetworkError::Store(e) => internal(e),
    })
}

/// Adds the wildcard grant Neutron creates for a shared or external
/// network (the external one is what operators later re-target).
pub async fn grant_wildcard(tx: &mut Tx, net: &Network, action: &str) -> Result<(), ApiError> {
    let now = now_timestamp();
    let policy = neutrino_types::model::RbacPolicy {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: net.project_id.clone(),
        object_id: net.id.clone(),
        action: action.to_string(),
        target_project: "*".into(),
        created_at: now.clone(),
        updated_at: now,
    };
    neutrino_store::rbac::insert(tx, &policy)
        .await
        .map_err(internal)?;
    Ok(())
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    let (items, bulk) = body::items(body::parse_json(&raw)?, "network", "networks", true)?;
    let mut built = Vec::with_capacity(items.len());
    for m in &items {
        built.push(build(&st, &caller, m)?);
    }
    let mut tx = st.db.begin().await?;
    let mut ids = Vec::new();
    for (net, seg) in built {
        crate::quotas::enforce(&st, &mut tx, &net.project_id, "network", 1).await?;
        let n = insert(&mut tx, &net, seg).await?;
        if n.shared {
            grant_wildcard(&mut tx, &n, ACCESS_AS_SHARED).await?;
        }
        if n.router_external {
            grant_wildcard(&mut tx, &n, ACCESS_AS_EXTERNAL).await?;
        }
        ids.push(n.id);
    }
    tx.commit().await?;
    let mut out = Vec::new();
    for id in &ids {
        let n = store::get(&st.db, id)
            .await?
            .ok_or_else(|| ApiError::network_not_found(id))?;
        out.push(Value::Object(views::network(&n, &caller)));
    }
    let body = if bulk {
        json!({"networks": out})
    } else {
        json!({"network": out.remove(0)})
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Loads a network the caller may change: 404 if invisible, 403 if only
/// visible (shared or external networks of other projects).
pub async fn owned(
    st: &AppState,
    caller: &Caller,
    id: &str,
    action: &str,
) -> Result<Network, ApiError> {
    let n = visible(st, caller, id).await?;
    if !caller.owns(&n.project_id) {
        return Err(ApiError::policy_not_authorized(action));
    }
    caller.require_write(action)?;
    Ok(n)
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    let m = body::single(body::parse_json(&raw)?, "network")?;
    body::check_attrs(&m, ATTRS, false)?;
    let expected = body::if_match_revision(&headers)?;
    owned(&st, &caller, &id, "update_network").await?;
    for key in ["shared", "router:external"] {
        if m.contains_key(key) && !caller.is_admin() {
            return Err(ApiError::policy_not_authorized(&format!("update_network:{key}")).into());
        }
    }
    let mut tx = st.db.begin().await?;
    // Locked before the checks below (revision, ports in use): see store::locks.
    lock::row(&mut tx, Table::Networks, &id, Lock::Update).await?;
    let mut n = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::network_not_found(&id))?;
    body::check_revision(expected, n.revision_number)?;
    for key in [
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
    ] {
        if let Some(v) = m.get(key) {
            let current = match key {
                "provider:network_type" => json!(n.network_type),
                "provider:physical_network" => json!(n.physical_network),
                _ => json!(n.segmentation_id),
            };
            if *v != current {
                return Err(ApiError::invalid_input(
                    "Plugin does not support updating provider attributes",
                )
                .into());
            }
        }
    }
    if let Some(v) = body::opt_string(&m, "name", 255)? {
        n.name = v;
    }
    if let Some(v) = body::opt_string(&m, "description", 255)? {
        n.description = v;
    }
    if let Some(v) = body::opt_bool(&m, "admin_state_up")? {
        n.admin_state_up = v;
    }
    if let Some(v) = body::opt_bool(&m, "port_security_enabled")? {
        n.port_security_enabled = v;
    }
    if let Some(v) = body::opt_string(&m, "dns_domain", 255)? {
        n.dns_domain = v;
    }
    if let Some(v) = body::opt_int(&m, "mtu")? {
        let max = max_mtu(&st.config, &n.network_type);
        if v > max {
            return Err(ApiError::invalid_input(format!(
                "Requested MTU is too big, maximum is {max}"
            ))
            .into());
        }
        if v < 0 {
            return Err(
                ApiError::invalid_attr("mtu", format!("'{v}' should be non-negative")).into(),
            );
        }
        // Neutron's _validate_change_network_mtu: the subnets must still fit.
        let versions: Vec<i64> = neutrino_store::subnets::for_network_tx(&mut tx, &id)
            .await?
            .iter()
            .map(|s| s.ip_version)
            .collect();
        if let Some(min) = crate::subnets::mtu_minimum(v, &versions) {
            return Err(crate::subnets::mtu_subnet_conflict(&id, min).into());
        }
        n.mtu = v;
    }
    if let Some(v) = body::opt_bool(&m, "router:external")? {
        if v && !n.router_external {
            grant_wildcard(&mut tx, &n, ACCESS_AS_EXTERNAL).await?;
        }
        if !v && n.router_external {
            let routers =
                neutrino_store::routers::count_with_gateway_tx(&mut tx, &id, None).await?;
            let fips = neutrino_store::floatingips::count_on_network_tx(&mut tx, &id, None).await?;
            if routers + fips > 0 {
                return Err(ApiError::conflict(
                    "ExternalNetworkInUse",
                    format!("External network {id} cannot be updated to be made non-external, since it has existing gateway ports."),
                )
                .into());
            }
            neutrino_store::rbac::delete_action(&mut tx, &id, ACCESS_AS_EXTERNAL).await?;
        }
        n.router_external = v;
    }
    if let Some(v) = body::opt_bool(&m, "shared")? {
        if n.shared && !v {
            let foreign =
                neutrino_store::ports::count_on_network_not_owned_by(&mut tx, &id, &n.project_id)
                    .await?;
            if foreign > 0 {
                return Err(ApiError::conflict(
                    "InvalidSharedSetting",
                    format!("Unable to reconfigure sharing settings for network {id}. Multiple tenants are using it."),
                )
                .into());
            }
        }
        if v && !n.shared {
            grant_wildcard(&mut tx, &n, ACCESS_AS_SHARED).await?;
        }
        if !v && n.shared {
            neutrino_store::rbac::delete_wildcard(&mut tx, &id, ACCESS_AS_SHARED).await?;
        }
        n.shared = v;
    }
    n.updated_at = now_timestamp();
    store::update(&mut tx, &n).await?;
    tx.commit().await?;
    let n = store::get(&st.db, &id)
        .await?
        .ok_or_else(|| ApiError::network_not_found(&id))?;
    Ok(Json(json!({"network": views::network(&n, &caller)})))
}

async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = body::if_match_revision(&headers)?;
    owned(&st, &caller, &id, "delete_network").await?;
    let mut tx = st.db.begin().await?;
    // Locked before the checks below (revision, ports in use): see store::locks.
    lock::row(&mut tx, Table::Networks, &id, Lock::Update).await?;
    let n = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::network_not_found(&id))?;
    body::check_revision(expected, n.revision_number)?;
    // Floating IPs allocated on an external network go with it, as in
    // Neutron (their ports are then gone too).
    for fip in neutrino_store::floatingips::on_network_tx(&mut tx, &id).await? {
        neutrino_store::floatingips::delete(&mut tx, &fip.id).await?;
        neutrino_store::ports::delete(&mut tx, &fip.floating_port_id).await?;
    }
    let ports = neutrino_store::ports::on_network_tx(&mut tx, &id).await?;
    // Ports Neutron itself manages for the network go with it; any other
    // port keeps the network in use.
    if ports.iter().any(|(_, owner)| {
        owner != neutrino_types::DEVICE_OWNER_DHCP && owner != "network:distributed"
    }) {
        return Err(ApiError::conflict(
            "NetworkInUse",
            format!("Unable to complete operation on network {id}. There are one or more ports still in use on the network."),
        )
        .into());
    }
    for (port, _) in &ports {
        neutrino_store::ports::delete(&mut tx, port).await?;
    }
    for s in neutrino_store::subnets::for_network_tx(&mut tx, &id).await? {
        neutrino_store::subnets::delete(&mut tx, &s.id).await?;
    }
    store::delete(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
