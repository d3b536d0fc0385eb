//! `/v2.0/ports`: MACs, fixed IPs, bindings, port security, security
//! groups, allowed address pairs and DNS names.

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use neutrino_ipam::Mac;
use neutrino_store::locks::{self as lock, Lock, Table};
use neutrino_store::ports::{self as store, PortQuery};
use neutrino_store::{Tx, now_timestamp};
use neutrino_types::ApiError;
use neutrino_types::model::{AddressPair, Network, Port};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::body::{self, Attr, attr};
use crate::fixed_ips::{self, PortAddressing};
use crate::listing::{self, ListParams, ListSpec};
use crate::middleware::RawBody;
use crate::networks::{base_url, fields_of, internal};
use crate::reject::ApiResult;
use crate::{AppState, views};

const ATTRS: &[Attr] = &[
    attr("id", false, false),
    attr("name", true, true),
    attr("description", true, true),
    attr("tenant_id", true, false),
    attr("project_id", true, false),
    attr("network_id", true, false),
    attr("admin_state_up", true, true),
    attr("mac_address", true, true),
    attr("fixed_ips", true, true),
    attr("device_id", true, true),
    attr("device_owner", true, true),
    attr("status", false, false),
    attr("binding:host_id", true, true),
    attr("binding:vnic_type", true, true),
    attr("binding:profile", true, true),
    attr("binding:vif_type", false, false),
    attr("binding:vif_details", false, false),
    attr("port_security_enabled", true, true),
    attr("security_groups", true, true),
    attr("allowed_address_pairs", true, true),
    attr("dns_name", true, true),
    attr("tags", true, false),
];

const SPEC: ListSpec = ListSpec {
    plural: "ports",
    filters: &[
        "id",
        "name",
        "description",
        "project_id",
        "network_id",
        "admin_state_up",
        "mac_address",
        "fixed_ips",
        "device_id",
        "device_owner",
        "status",
        "binding:host_id",
        "binding:vnic_type",
        "binding:vif_type",
        "port_security_enabled",
        "security_groups",
        "dns_name",
        "revision_number",
        "created_at",
        "updated_at",
        "allowed_address_pairs",
    ],
    sort_keys: &[
        "id",
        "name",
        "project_id",
        "network_id",
        "admin_state_up",
        "mac_address",
        "device_id",
        "device_owner",
        "status",
        "created_at",
        "updated_at",
        "revision_number",
        "binding:host_id",
    ],
};

const VNIC_TYPES: &[&str] = &[
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "remote-managed",
    "accelerator-direct",
    "accelerator-direct-physical",
];
const MAX_ADDRESS_PAIRS: usize = 10;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2.0/ports", get(list).post(create))
        .route("/v2.0/ports/{id}", get(show).put(update).delete(delete))
}

/// Filters the store applies exactly, so a list using only these needs no
/// filtering of rendered JSON.
const PUSHED_DOWN: &[&str] = &["id", "network_id", "device_id"];

async fn list(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let params = ListParams::parse(uri.query(), &SPEC)?;
    let q = PortQuery {
        visible_to: caller.visibility(),
        ids: params.values("id"),
        network_ids: params.values("network_id"),
        device_ids: params.values("device_id"),
    };
    if params.is_plain(PUSHED_DOWN) {
        return list_from_cache(&st, &caller, &q).await;
    }
    let ports = store::list(&st.db, &q).await?;
    let items = ports
        .iter()
        .map(|p| views::port(p, &caller, &st.config.dns_domain))
        .collect();
    Ok(Json(listing::respond(
        items,
        &params,
        &SPEC,
        &base_url(&headers, &uri),
    )?)
    .into_response())
}

/// A list with nothing to filter, sort, page or trim: the body is the
/// concatenation of each port's rendering, reused from the view cache for
/// every port whose revision has not moved.
async fn list_from_cache(st: &AppState, caller: &Caller, q: &PortQuery) -> ApiResult<Response> {
    let admin = caller.is_admin();
    let wanted = store::revisions(&st.db, q).await?;
    let mut out = st.port_views.lookup(&wanted, admin);
    let missing: Vec<String> = wanted
        .iter()
        .zip(&out)
        .filter(|(_, o)| o.is_none())
        .map(|((id, _), _)| id.clone())
        .collect();
    if !missing.is_empty() {
        let mut fresh: std::collections::HashMap<String, std::sync::Arc<str>> =
            std::collections::HashMap::new();
        // In chunks, so a cold list of many ports never holds all their rows
        // and JSON trees at once (the allocator keeps a peak for good).
        for chunk in missing.chunks(500) {
            let fetch = PortQuery {
                ids: chunk.to_vec(),
                ..q.clone()
            };
            let mut rendered = Vec::with_capacity(chunk.len());
            for p in store::list(&st.db, &fetch).await? {
                let json: std::sync::Arc<str> =
                    serde_json::to_string(&views::port(&p, caller, &st.config.dns_domain))
                        .expect("JSON of a map")
                        .into();
                fresh.insert(p.id.clone(), json.clone());
                rendered.push((p.id, p.revision_number, json));
            }
            st.port_views.store(rendered, admin);
        }
        for ((id, _), slot) in wanted.iter().zip(out.iter_mut()) {
            if slot.is_none() {
                // None here: deleted between the two reads, so left out.
                *slot = fresh.get(id).cloned();
            }
        }
    }
    if admin && q.ids.is_empty() && q.network_ids.is_empty() && q.device_ids.is_empty() {
        st.port_views
            .retain(&wanted.iter().map(|(id, _)| id.as_str()).collect());
    }
    let parts: Vec<std::sync::Arc<str>> = out.into_iter().flatten().collect();
    Ok(crate::view_cache::json_list_body("ports", parts))
}

/// A port the caller may see: its own, or one on a network it owns.
async fn visible(st: &AppState, caller: &Caller, id: &str) -> Result<Port, ApiError> {
    let p = store::get(&st.db, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::port_not_found(id))?;
    if caller.owns(&p.project_id) {
        return Ok(p);
    }
    let net = neutrino_store::networks::get(&st.db, &p.network_id)
        .await
        .map_err(internal)?;
    if net.is_some_and(|n| caller.owns(&n.project_id)) {
        Ok(p)
    } else {
        Err(ApiError::port_not_found(id))
    }
}

async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let p = visible(&st, &caller, &id).await?;
    let view = views::port(&p, &caller, &st.config.dns_domain);
    Ok(Json(
        json!({"port": listing::select_fields(view, &fields_of(uri.query()))}),
    ))
}

fn parse_mac(s: &str) -> Result<Mac, ApiError> {
    let mac: Mac = s.parse().map_err(|_| {
        ApiError::invalid_attr("mac_address", format!("'{s}' is not a valid MAC address"))
    })?;
    if mac.is_multicast() || mac.to_string() == "00:00:00:00:00:00" {
        return Err(ApiError::invalid_attr(
            "mac_address",
            format!("'{s}' is not a valid MAC address"),
        ));
    }
    Ok(mac)
}

fn parse_pairs(v: &Value, port_mac: &str) -> Result<Vec<AddressPair>, ApiError> {
    let bad = |why: String| ApiError::invalid_attr("allowed_address_pairs", why);
    let Value::Array(items) = v else {
        return Err(bad("Allowed address pairs must be a list.".to_string()));
    };
    let mut out: Vec<AddressPair> = Vec::new();
    for item in items {
        let Value::Object(o) = item else {
            return Err(bad("Allowed address pairs must be a list.".to_string()));
        };
        if let Some(k) = o.keys().find(|k| *k != "ip_address" && *k != "mac_address") {
            return Err(bad(format!("Unrecognized attribute(s) '{k}'")));
        }
        let Some(ip) = o.get("ip_address").and_then(Value::as_str) else {
            return Err(ApiError::new(
                400,
                "AllowedAddressPairsMissingIP",
                "AllowedAddressPair must contain ip_address",
            ));
        };
        let ip_ok =
            ip.parse::<std::net::IpAddr>().is_ok() || ip.parse::<neutrino_ipam::IpNet>().is_ok();
        if !ip_ok {
            return Err(bad(format!("'{ip}' is not a valid IP address")));
        }
        let mac = match o.get("mac_address") {
            None | Some(Value::Null) => port_mac.to_string(),
            Some(Value::String(m)) => parse_mac(m)?.to_string(),
            Some(other) => return Err(bad(format!("'{other}' is not a valid MAC address"))),
        };
        let pair = AddressPair {
            ip_address: ip.to_string(),
            mac_address: mac,
        };
        if out.contains(&pair) {
            return Err(ApiError::bad_request(
                "Request contains duplicate address pair: mac_address and ip_address",
            ));
        }
        out.push(pair);
    }
    if out.len() > MAX_ADDRESS_PAIRS {
        return Err(ApiError::new(
            400,
            "AllowedAddressPairExhausted",
            format!("The number of allowed address pair exceeds the maximum {MAX_ADDRESS_PAIRS}."),
        ));
    }
    Ok(out)
}

fn parse_dns_name(m: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let Some(name) = body::opt_string(m, "dns_name", 255)? else {
        return Ok(None);
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let trimmed = name.trim_end_matches('.');
    if !name.is_empty() && !trimmed.split('.').all(label_ok) {
        return Err(ApiError::invalid_attr(
            "dns_name",
            format!("'{name}' not a valid PQDN or FQDN"),
        ));
    }
    Ok(Some(name.to_lowercase()))
}

fn parse_groups(m: &Map<String, Value>) -> Result<Option<Vec<String>>, ApiError> {
    let groups = match m.get("security_groups") {
        None => return Ok(None),
        Some(Value::Null) => Vec::new(),
        Some(_) => body::opt_string_list(m, "security_groups")?.unwrap_or_default(),
    };
    let mut dups: Vec<&str> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        if groups[..i].contains(g) && !dups.contains(&g.as_str()) {
            dups.push(g);
        }
    }
    if !dups.is_empty() {
        return Err(ApiError::invalid_attr(
            "security_groups",
            format!("Duplicate items in the list: '{}'", dups.join(", ")),
        ));
    }
    for g in &groups {
        body::check_uuid("security_groups", g)?;
    }
    let mut sorted = groups;
    sorted.sort();
    Ok(Some(sorted))
}

fn binding_attrs_policy(
    caller: &Caller,
    m: &Map<String, Value>,
    action: &str,
) -> Result<(), ApiError> {
    for key in ["binding:host_id", "binding:profile"] {
        if m.contains_key(key) && !caller.is_admin() {
            return Err(ApiError::policy_not_authorized(&format!("{action}:{key}")));
        }
    }
    Ok(())
}

fn vnic_type(m: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match body::opt_string(m, "binding:vnic_type", 255)? {
        Some(v) if !VNIC_TYPES.contains(&v.as_str()) => Err(ApiError::invalid_attr(
            "binding:vnic_type",
            format!("{v} is not in {VNIC_TYPES:?}"),
        )),
        other => Ok(other),
    }
}

fn profile(m: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    match m.get("binding:profile") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(json!({}))),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(v) => Err(ApiError::invalid_attr(
            "binding:profile",
            format!("'{v}' is not a dictionary"),
        )),
    }
}

/// What a bound port looks like before the data plane reports on it.
fn binding_of(host: &str) -> (String, Value) {
    if host.is_empty() {
        ("unbound".into(), json!({}))
    } else {
        (
            "ovs".into(),
            json!({"port_filter": true, "connectivity": "l2"}),
        )
    }
}

fn check_security_combination(
    port_security: bool,
    groups: &[String],
    pairs: &[AddressPair],
) -> Result<(), ApiError> {
    if !port_security && !groups.is_empty() {
        return Err(ApiError::new(
            400,
            "PortSecurityAndIPRequiredForSecurityGroups",
            "Port security must be enabled and port must have an IP address in order to use security groups.",
        ));
    }
    if !port_security && !pairs.is_empty() {
        return Err(ApiError::conflict(
            "AddressPairAndPortSecurityRequired",
            "Port Security must be enabled in order to have allowed address pairs on a port.",
        ));
    }
    Ok(())
}

fn check_tags(tags: &[String]) -> Result<(), ApiError> {
    crate::tags::validate(tags)
}

/// Validates and writes one port; returns it as stored.
async fn create_one(
    st: &AppState,
    caller: &Caller,
    tx: &mut Tx,
    m: &Map<String, Value>,
) -> Result<Port, ApiError> {
    body::check_attrs(m, ATTRS, true)?;
    caller.require_write("create_port")?;
    let network_id = match m.get("network_id") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(ApiError::invalid_attr(
                "network_id",
                format!("'{v}' is not a valid UUID"),
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "Failed to parse request. Required attribute 'network_id' not specified",
            ));
        }
    };
    body::check_uuid("network_id", &network_id)?;
    binding_attrs_policy(caller, m, "create_port")?;
    // The network, and what else of the port's project this create reads
    // (default group, quota override), in one statement: on SQLite every
    // statement here is time the write lock is held. A bad project_id is
    // reported below, after the network checks, as before.
    let requested_project = body::project_of(m);
    let ctx_project = match &requested_project {
        Ok(Some(p)) => p.clone(),
        _ => caller.project_id(),
    };
    // The network must outlive this create (its deleter checks for ports).
    lock::row(tx, Table::Networks, &network_id, Lock::Share)
        .await
        .map_err(internal)?;
    let ctx = neutrino_store::networks::port_create_context_tx(tx, &network_id, &ctx_project)
        .await
        .map_err(internal)?;
    let (net, known_default, port_quota): (Network, _, _) = match ctx {
        Some(c)
            if caller.owns(&c.network.project_id) || c.network.shared_for(&caller.project_id()) =>
        {
            (c.network, c.default_security_group, c.port_quota)
        }
        Some(c) if caller.sees(&c.network) => {
            return Err(ApiError::policy_not_authorized("create_port"));
        }
        _ => return Err(ApiError::network_not_found(&network_id)),
    };
    let net_owner = caller.owns(&net.project_id);
    // Past this, the project is the one the context was read for.
    requested_project?;
    let project = ctx_project;
    if !caller.owns(&project) {
        return Err(body::foreign_project());
    }
    let device_owner = body::opt_string(m, "device_owner", 255)?.unwrap_or_default();
    if device_owner.starts_with("network:") && !net_owner {
        return Err(ApiError::policy_not_authorized("create_port:device_owner"));
    }
    let device_id = body::opt_string(m, "device_id", 255)?.unwrap_or_default();
    crate::ownership::check_device_id(tx, caller, &device_owner, &device_id, &project).await?;
    // Neutron's policy: only the network's owner (or an admin) may set these
    // on a port, e.g. on someone else's shared network.
    for key in ["port_security_enabled", "allowed_address_pairs"] {
        if m.contains_key(key) && !net_owner {
            return Err(ApiError::policy_not_authorized(&format!(
                "create_port:{key}"
            )));
        }
    }
    let requested_mac = match body::opt_string(m, "mac_address", 255)? {
        Some(s) => {
            if !net_owner {
                return Err(ApiError::policy_not_authorized("create_port:mac_address"));
            }
            Some(parse_mac(&s)?)
        }
        None => None,
    };
    let requested_ips = match m.get("fixed_ips") {
        None | Some(Value::Null) => None,
        Some(v) => Some(fixed_ips::parse(v)?),
    };
    if let Some(req) = &requested_ips
        && req.iter().any(|r| r.ip_address.is_some())
        && !net_owner
    {
        return Err(ApiError::policy_not_authorized(
            "create_port:fixed_ips:ip_address",
        ));
    }
    let port_security =
        body::opt_bool(m, "port_security_enabled")?.unwrap_or(net.port_security_enabled);
    let groups = parse_groups(m)?;
    let tags = body::opt_string_list(m, "tags")?.unwrap_or_default();
    check_tags(&tags)?;
    // Requested groups must exist; none requested means the project's
    // default group (created on first use).
    let groups = crate::security_groups::groups_for_new_port(
        tx,
        caller,
        &project,
        groups,
        port_security,
        &device_owner,
        known_default,
    )
    .await?;
    let host = body::opt_string(m, "binding:host_id", 255)?.unwrap_or_default();
    let (vif_type, vif_details) = binding_of(&host);
    let now = now_timestamp();
    let mut port = Port {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project,
        network_id: network_id.clone(),
        name: body::opt_string(m, "name", 255)?.unwrap_or_default(),
        description: body::opt_string(m, "description", 255)?.unwrap_or_default(),
        admin_state_up: body::opt_bool(m, "admin_state_up")?.unwrap_or(true),
        mac_address: String::new(),
        fixed_ips: Vec::new(),
        device_id,
        device_owner,
        status: "DOWN".into(),
        binding_host_id: host,
        binding_vif_type: vif_type,
        binding_vnic_type: vnic_type(m)?.unwrap_or_else(|| "normal".into()),
        binding_profile: profile(m)?.unwrap_or_else(|| json!({})),
        binding_vif_details: vif_details,
        port_security_enabled: port_security,
        security_groups: groups.clone(),
        allowed_address_pairs: Vec::new(),
        dns_name: parse_dns_name(m)?.unwrap_or_default(),
        // Neutron's port is at revision 1 when the create returns.
        revision_number: 1,
        created_at: now.clone(),
        updated_at: now,
        tags: tags.clone(),
    };

    crate::quotas::enforce_with_override(st, tx, &port.project_id, "port", 1, port_quota).await?;
    // The MAC: a requested one must be free; a generated one is retried
    // until the unique index accepts it.
    let mut mac = requested_mac
        .unwrap_or_else(|| Mac::random_with_prefix(st.config.mac_prefix, &mut rand::rng()));
    loop {
        port.mac_address = mac.to_string();
        if let Some(v) = m.get("allowed_address_pairs") {
            port.allowed_address_pairs = parse_pairs(v, &port.mac_address)?;
        }
        check_security_combination(port_security, &groups, &port.allowed_address_pairs)?;
        if store::insert(tx, &port).await.map_err(internal)? {
            break;
        }
        if requested_mac.is_some() {
            return Err(ApiError::conflict(
                "MacAddressInUse",
                format!(
                    "Unable to complete operation for network {network_id}. The mac address {mac} is in use."
                ),
            ));
        }
        mac = Mac::random_with_prefix(st.config.mac_prefix, &mut rand::rng());
    }
    let (subnets_on_net, pools) =
        neutrino_store::subnets::for_network_with_pools_tx(tx, &network_id)
            .await
            .map_err(internal)?;
    let addressing = PortAddressing {
        port_id: &port.id,
        network_id: &network_id,
        device_owner: &port.device_owner,
        mac: &mac,
        pools: &pools,
    };
    port.fixed_ips = addressing
        .allocate(tx, &subnets_on_net, requested_ips.as_deref())
        .await?;
    fixed_ips::sort_as_stored(&mut port.fixed_ips, &subnets_on_net);
    // A new port has no bindings or tags to replace: only add (this is
    // the serialised write path on SQLite, so every statement counts).
    store::add_security_groups(tx, &port.id, &groups)
        .await
        .map_err(internal)?;
    for t in &tags {
        neutrino_store::tags::add(tx, "ports", &port.id, t)
            .await
            .map_err(internal)?;
    }
    Ok(port)
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    let (items, bulk) = body::items(body::parse_json(&raw)?, "port", "ports", true)?;
    let mut tx = st.db.begin().await?;
    let mut ports = Vec::new();
    for m in &items {
        ports.push(create_one(&st, &caller, &mut tx, m).await?);
    }
    tx.commit().await?;
    // The answer is what this transaction wrote, not a fresh read: a new
    // port's row, addresses, groups and tags are exactly the values bound
    // above (revision 1, addresses in stored order). Lists of several
    // groups or tags are read back, because the database's collation
    // orders them.
    let mut out = Vec::new();
    for mut p in ports {
        if p.security_groups.len() > 1 || p.tags.len() > 1 {
            p = store::get(&st.db, &p.id)
                .await?
                .ok_or_else(|| ApiError::port_not_found(&p.id))?;
        }
        out.push(Value::Object(views::port(
            &p,
            &caller,
            &st.config.dns_domain,
        )));
    }
    let body = if bulk {
        json!({"ports": out})
    } else {
        json!({"port": out.remove(0)})
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn owned(st: &AppState, caller: &Caller, id: &str, action: &str) -> Result<Port, ApiError> {
    let p = visible(st, caller, id).await?;
    caller.require_write(action)?;
    Ok(p)
}

async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    let m = body::single(body::parse_json(&raw)?, "port")?;
    body::check_attrs(&m, ATTRS, false)?;
    let expected = body::if_match_revision(&headers)?;
    owned(&st, &caller, &id, "update_port").await?;
    binding_attrs_policy(&caller, &m, "update_port")?;
    let mut tx = st.db.begin().await?;
    // Before the revision check: see store::locks.
    lock::with_network(&mut tx, Table::Ports, &id, Lock::Share, Lock::Update).await?;
    let mut p = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::port_not_found(&id))?;
    body::check_revision(expected, p.revision_number)?;
    let net = neutrino_store::networks::get_tx(&mut tx, &p.network_id)
        .await?
        .ok_or_else(|| ApiError::network_not_found(&p.network_id))?;
    let net_owner = caller.owns(&net.project_id);
    for key in ["port_security_enabled", "allowed_address_pairs"] {
        if m.contains_key(key) && !net_owner {
            return Err(ApiError::policy_not_authorized(&format!("update_port:{key}")).into());
        }
    }

    if let Some(v) = body::opt_string(&m, "name", 255)? {
        p.name = v;
    }
    if let Some(v) = body::opt_string(&m, "description", 255)? {
        p.description = v;
    }
    if let Some(v) = body::opt_bool(&m, "admin_state_up")? {
        p.admin_state_up = v;
    }
    let old_device_id = p.device_id.clone();
    if let Some(v) = body::opt_string(&m, "device_id", 255)? {
        p.device_id = v;
    }
    if let Some(v) = body::opt_string(&m, "device_owner", 255)? {
        if v.starts_with("network:") && !net_owner {
            return Err(ApiError::policy_not_authorized("update_port:device_owner").into());
        }
        p.device_owner = v;
    }
    if crate::ownership::device_id_check_needed(
        m.contains_key("device_owner"),
        &p.device_owner,
        &old_device_id,
        &p.device_id,
    ) {
        crate::ownership::check_device_id(
            &mut tx,
            &caller,
            &p.device_owner,
            &p.device_id,
            &p.project_id,
        )
        .await?;
    }
    if let Some(v) = parse_dns_name(&m)? {
        p.dns_name = v;
    }
    if let Some(v) = vnic_type(&m)? {
        p.binding_vnic_type = v;
    }
    if let Some(v) = profile(&m)? {
        p.binding_profile = v;
    }
    if let Some(host) = body::opt_string(&m, "binding:host_id", 255)? {
        let (t, d) = binding_of(&host);
        p.binding_host_id = host;
        p.binding_vif_type = t;
        p.binding_vif_details = d;
    }
    if let Some(s) = body::opt_string(&m, "mac_address", 255)? {
        let mac = parse_mac(&s)?;
        if mac.to_string() != p.mac_address {
            caller.require_admin("update_port:mac_address")?;
            if !p.binding_host_id.is_empty()
                && p.binding_vif_type != "unbound"
                && p.binding_vif_type != "binding_failed"
            {
                return Err(ApiError::conflict("PortBound", format!("Unable to complete operation on port {id}, port is already bound, port type: {}, old_mac {}, new_mac {mac}.", p.binding_vif_type, p.mac_address)).into());
            }
            p.mac_address = mac.to_string();
        }
    }
    if let Some(v) = body::opt_bool(&m, "port_security_enabled")? {
        p.port_security_enabled = v;
    }
    if let Some(g) = parse_groups(&m)? {
        if p.port_security_enabled {
            crate::security_groups::check_port_groups(&mut tx, &caller, &p.project_id, &g).await?;
        }
        p.security_groups = g;
    }
    if let Some(v) = m.get("allowed_address_pairs") {
        p.allowed_address_pairs = if v.is_null() {
            Vec::new()
        } else {
            parse_pairs(v, &p.mac_address)?
        };
    }
    if !p.port_security_enabled
        && !p.security_groups.is_empty()
        && !m.contains_key("security_groups")
    {
        return Err(ApiError::conflict(
            "PortSecurityPortHasSecurityGroup",
            "Port has security group associated. Cannot disable port security or ip address until security group is removed",
        )
        .into());
    }
    check_security_combination(
        p.port_security_enabled,
        &p.security_groups,
        &p.allowed_address_pairs,
    )?;

    if let Some(v) = m.get("fixed_ips") {
        let req = if v.is_null() {
            Vec::new()
        } else {
            fixed_ips::parse(v)?
        };
        if req.iter().any(|r| r.ip_address.is_some()) && !net_owner {
            return Err(ApiError::policy_not_authorized("update_port:fixed_ips:ip_address").into());
        }
        let (subnets_on_net, pools) =
            neutrino_store::subnets::for_network_with_pools_tx(&mut tx, &p.network_id).await?;
        let mac: Mac = p
            .mac_address
            .parse()
            .map_err(|_| ApiError::internal("stored MAC is invalid"))?;
        let addressing = PortAddressing {
            port_id: &id,
            network_id: &p.network_id,
            device_owner: &p.device_owner,
            mac: &mac,
            pools: &pools,
        };
        addressing
            .reallocate(&mut tx, &subnets_on_net, &p.fixed_ips, &req, true)
            .await?;
    }
    store::set_security_groups(&mut tx, &id, &p.security_groups).await?;
    p.updated_at = now_timestamp();
    store::update(&mut tx, &p).await?;
    tx.commit().await?;
    let p = store::get(&st.db, &id)
        .await?
        .ok_or_else(|| ApiError::port_not_found(&id))?;
    Ok(Json(
        json!({"port": views::port(&p, &caller, &st.config.dns_domain)}),
    ))
}

async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = body::if_match_revision(&headers)?;
    owned(&st, &caller, &id, "delete_port").await?;
    let mut tx = st.db.begin().await?;
    lock::row(&mut tx, Table::Ports, &id, Lock::Update).await?;
    let p = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::port_not_found(&id))?;
    body::check_revision(expected, p.revision_number)?;
    // A load balancer's VIP port goes with its load balancer (the
    // Load-balancer API owns it through `device_owner` Octavia).
    let service = fixed_ips::is_router_owner(&p.device_owner)
        || p.device_owner == neutrino_types::DEVICE_OWNER_ROUTER_GW
        || p.device_owner == neutrino_types::DEVICE_OWNER_FLOATINGIP
        || p.device_owner == "Octavia";
    if service && !p.device_id.is_empty() {
        return Err(ApiError::conflict(
            "ServicePortInUse",
            format!(
                "Port {id} cannot be deleted directly via the port API: has device owner {}.",
                p.device_owner
            ),
        )
        .into());
    }
    // Floating IPs on this port lose their association, as in Neutron.
    neutrino_store::floatingips::disassociate_port(&mut tx, &id, &now_timestamp()).await?;
    store::delete(&mut tx, &id).await?;
    tx.commit().await?;
    st.port_views.forget(&id);
    Ok(StatusCode::NO_CONTENT)
}
