//! `/v2.0/security-groups` and `/v2.0/security-group-rules`, with the
//! stateful-security-group, normalized-cidr and belongs-to-default-sg
//! attributes, and the per-project `default` group Neutron creates on
//! first use (listing groups or rules, creating a group or a port).
//!
//! Rule validation follows `neutron/db/securitygroups_db.py` step by step
//! (same order, same exception classes and messages). Duplicate rules are
//! refused by a unique index on the rule's comparison form
//! ([`rule_key`]), so two servers racing to add the same rule cannot both
//! succeed.

use std::net::IpAddr;

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use neutrino_ipam::IpNet;
use neutrino_store::locks::{self as lock, Lock, Table};
use neutrino_store::security_groups::{self as store, DeleteGroup, GroupQuery, RuleQuery};
use neutrino_store::{Tx, now_timestamp};
use neutrino_types::ApiError;
use neutrino_types::model::{SecurityGroup, SecurityGroupRule};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::body::{self, Attr, attr};
use crate::listing::{self, ListParams, ListSpec};
use crate::middleware::RawBody;
use crate::networks::{base_url, fields_of, internal};
use crate::reject::ApiResult;

const GROUP_ATTRS: &[Attr] = &[
    attr("id", false, false),
    attr("name", true, true),
    attr("description", true, true),
    attr("tenant_id", true, false),
    attr("project_id", true, false),
    attr("stateful", true, true),
    attr("shared", false, false),
    attr("security_group_rules", false, false),
    attr("tags", false, false),
];

const RULE_ATTRS: &[Attr] = &[
    attr("id", false, false),
    attr("security_group_id", true, false),
    attr("remote_group_id", true, false),
    attr("direction", true, false),
    attr("protocol", true, false),
    attr("port_range_min", true, false),
    attr("port_range_max", true, false),
    attr("ethertype", true, false),
    attr("remote_ip_prefix", true, false),
    attr("tenant_id", true, false),
    attr("project_id", true, false),
    attr("description", true, false),
    attr("remote_address_group_id", true, false),
    attr("normalized_cidr", false, false),
    attr("belongs_to_default_sg", false, false),
];

const GROUP_SPEC: ListSpec = ListSpec {
    plural: "security_groups",
    filters: &[
        "id",
        "name",
        "description",
        "project_id",
        "stateful",
        "shared",
        "revision_number",
        "created_at",
        "updated_at",
    ],
    sort_keys: &[
        "id",
        "name",
        "project_id",
        "description",
        "stateful",
        "created_at",
        "updated_at",
        "revision_number",
    ],
};

const RULE_SPEC: ListSpec = ListSpec {
    plural: "security_group_rules",
    filters: &[
        "id",
        "security_group_id",
        "remote_group_id",
        "direction",
        "protocol",
        "port_range_min",
        "port_range_max",
        "ethertype",
        "remote_ip_prefix",
        "project_id",
        "description",
        "normalized_cidr",
        "belongs_to_default_sg",
        "remote_address_group_id",
        "revision_number",
        "created_at",
        "updated_at",
    ],
    sort_keys: &[
        "id",
        "security_group_id",
        "remote_group_id",
        "direction",
        "protocol",
        "port_range_min",
        "port_range_max",
        "ethertype",
        "remote_ip_prefix",
        "project_id",
        "remote_address_group_id",
        "created_at",
        "updated_at",
        "revision_number",
    ],
};

/// Neutron's `IP_PROTOCOL_MAP` (names, `icmpv6` kept for compatibility).
const PROTOCOLS: &[(&str, u8)] = &[
    ("ah", 51),
    ("dccp", 33),
    ("egp", 8),
    ("esp", 50),
    ("gre", 47),
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ip", 0),
    ("ipip", 4),
    ("ipv6-encap", 41),
    ("ipv6-frag", 44),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ipv6-route", 43),
    ("ospf", 89),
    ("pgm", 113),
    ("rsvp", 46),
    ("sctp", 132),
    ("tcp", 6),
    ("udp", 17),
    ("udplite", 136),
    ("vrrp", 112),
];

/// Protocols whose rules may carry a port range (DCCP, SCTP, TCP, UDP, UDPLITE).
const PORT_PROTOCOLS: &[u8] = &[33, 132, 6, 17, 136];
const ICMP: u8 = 1;
const IPV6_ICMP: u8 = 58;
/// Protocols that exist only over IPv6 (names and numbers).
const IPV6_ONLY: &[&str] = &[
    "ipv6-encap",
    "ipv6-frag",
    "ipv6-icmp",
    "icmpv6",
    "ipv6-nonxt",
    "ipv6-opts",
    "ipv6-route",
    "41",
    "44",
    "58",
    "59",
    "60",
    "43",
];

const DEFAULT_DESCRIPTION: &str = "Default security group";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2.0/security-groups",
            get(list_groups).post(create_groups),
        )
        .route(
            "/v2.0/security-groups/{id}",
            get(show_group).put(update_group).delete(delete_group),
        )
        .route(
            "/v2.0/security-group-rules",
            get(list_rules).post(create_rules),
        )
        .route(
            "/v2.0/security-group-rules/{id}",
            get(show_rule).delete(delete_rule),
        )
}

// ------------------------------------------------------------------ errors

pub fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "SecurityGroupNotFound",
        format!("Security group {id} does not exist"),
    )
}

fn rule_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "SecurityGroupRuleNotFound",
        format!("Security group rule {id} does not exist"),
    )
}

fn in_use(id: &str) -> ApiError {
    ApiError::conflict("SecurityGroupInUse", format!("Security Group {id} in use."))
}

fn invalid(kind: &'static str, message: String) -> ApiError {
    ApiError::new(400, kind, message)
}

fn repr(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

// ------------------------------------------------------------------ views

fn rule_view(r: &SecurityGroupRule) -> Map<String, Value> {
    let normalized = r
        .remote_ip_prefix
        .as_deref()
        .and_then(|p| p.parse::<IpNet>().ok())
        .map(|n| n.trunc().to_string());
    let Value::Object(m) = json!({
        "id": r.id,
        "project_id": r.project_id,
        "tenant_id": r.project_id,
        "security_group_id": r.security_group_id,
        "ethertype": r.ethertype,
        "direction": r.direction,
        "protocol": r.protocol,
        "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix,
        "remote_address_group_id": null,
        "normalized_cidr": normalized,
        "remote_group_id": r.remote_group_id,
        "belongs_to_default_sg": r.belongs_to_default_sg,
        "description": r.description,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "revision_number": r.revision_number,
    }) else {
        unreachable!("an object literal")
    };
    m
}

fn group_view(g: &SecurityGroup) -> Map<String, Value> {
    let rules: Vec<Value> = g
        .rules
        .iter()
        .map(|r| Value::Object(rule_view(r)))
        .collect();
    let Value::Object(m) = json!({
        "id": g.id,
        "name": g.name,
        "stateful": g.stateful,
        "tenant_id": g.project_id,
        "project_id": g.project_id,
        "description": g.description,
        // Security group RBAC is not implemented: nothing is shared.
        "shared": false,
        "security_group_rules": rules,
        "tags": g.tags,
        "created_at": g.created_at,
        "updated_at": g.updated_at,
        "revision_number": g.revision_number,
    }) else {
        unreachable!("an object literal")
    };
    m
}

// ------------------------------------------------------------------ default groups

fn default_rules(g: &SecurityGroup, now: &str) -> Vec<SecurityGroupRule> {
    let mut out = Vec::new();
    for ethertype in ["IPv4", "IPv6"] {
        out.push(template_rule(g, "egress", ethertype, None, now));
        if g.is_default {
            out.push(template_rule(
                g,
                "ingress",
                ethertype,
                Some(g.id.clone()),
                now,
            ));
        }
    }
    out
}

/// A rule Neutron adds to a new group from its default-rule templates
/// (these, unlike rules users create, have no description).
fn template_rule(
    g: &SecurityGroup,
    direction: &str,
    ethertype: &str,
    remote_group_id: Option<String>,
    now: &str,
) -> SecurityGroupRule {
    SecurityGroupRule {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: g.project_id.clone(),
        security_group_id: g.id.clone(),
        direction: direction.into(),
        ethertype: ethertype.into(),
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        remote_ip_prefix: None,
        remote_group_id,
        description: None,
        belongs_to_default_sg: g.is_default,
        revision_number: 0,
        created_at: now.to_string(),
        updated_at: now.to_string(),
    }
}

/// Inserts a new group with the rules Neutron gives it. `Ok(false)` when
/// it is a default group and the project already has one.
pub(crate) async fn insert_group(tx: &mut Tx, g: &SecurityGroup) -> Result<bool, ApiError> {
    if !store::insert(tx, g).await.map_err(internal)? {
        return Ok(false);
    }
    for r in default_rules(g, &g.created_at) {
        if store::insert_rule(tx, &r, &rule_key(&r))
            .await
            .map_err(internal)?
            .is_some()
        {
            return Err(ApiError::internal("default rules collide"));
        }
    }
    Ok(true)
}

/// The id of the project's default group, created (inside `tx`) if the
/// project has none yet. Two transactions racing to create it both end up
/// with the one that committed first.
pub async fn ensure_default(tx: &mut Tx, project_id: &str) -> Result<String, ApiError> {
    if let Some(id) = store::default_id_tx(tx, project_id)
        .await
        .map_err(internal)?
    {
        return Ok(id);
    }
    let now = now_timestamp();
    let g = SecurityGroup {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project_id.to_string(),
        name: "default".into(),
        description: DEFAULT_DESCRIPTION.into(),
        stateful: true,
        is_default: true,
        // The rules added after the group revise it once, as in Neutron.
        revision_number: 1,
        created_at: now.clone(),
        updated_at: now,
        tags: Vec::new(),
        rules: Vec::new(),
    };
    if insert_group(tx, &g).await? {
        return Ok(g.id);
    }
    store::default_id_tx(tx, project_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::internal("default security group vanished"))
}

/// [`ensure_default`] in a transaction of its own, for read requests; a
/// project that already has its group costs one indexed read.
async fn ensure_default_committed(st: &AppState, project_id: &str) -> Result<(), ApiError> {
    if project_id.is_empty()
        || store::default_id(&st.db, project_id)
            .await
            .map_err(internal)?
            .is_some()
    {
        return Ok(());
    }
    let mut tx = st.db.begin().await.map_err(internal)?;
    ensure_default(&mut tx, project_id).await?;
    tx.commit().await.map_err(internal)?;
    Ok(())
}

/// The project whose default group a list request makes sure of: the
/// `project_id` filter or the caller's own, if the caller may see it.
async fn ensure_default_for_list(
    st: &AppState,
    caller: &Caller,
    params: &ListParams,
) -> Result<(), ApiError> {
    let project = params
        .values("project_id")
        .into_iter()
        .next()
        .unwrap_or_else(|| caller.project_id());
    if caller.owns(&project) {
        ensure_default_committed(st, &project).await?;
    }
    Ok(())
}

// ------------------------------------------------------------------ ports

/// The groups a new port is bound to: the requested ones (which must
/// exist and be usable by the port's project), or else the project's
/// default group, unless port security is off or Neutron owns the port
/// (`network:*` device owners get no groups).
///
/// `known_default` is the project's default group if this transaction has
/// already read it (`None`: not read, or none yet).
pub async fn groups_for_new_port(
    tx: &mut Tx,
    caller: &Caller,
    project_id: &str,
    requested: Option<Vec<String>>,
    port_security: bool,
    device_owner: &str,
    known_default: Option<String>,
) -> Result<Vec<String>, ApiError> {
    match requested {
        Some(groups) if port_security => {
            check_port_groups(tx, caller, project_id, &groups).await?;
            Ok(groups)
        }
        // Port security off: the port's own check refuses any group.
        Some(groups) => Ok(groups),
        None if port_security && !device_owner.starts_with("network:") => match known_default {
            Some(id) => Ok(vec![id]),
            None => Ok(vec![ensure_default(tx, project_id).await?]),
        },
        None => Ok(Vec::new()),
    }
}

/// Checks that groups bound to a port of `project_id` exist, belong to
/// that project (admins may use any) and do not mix stateful and
/// stateless groups. On PostgreSQL the groups stay locked until the
/// transaction ends, so none can be deleted under the new binding.
pub async fn check_port_groups(
    tx: &mut Tx,
    caller: &Caller,
    project_id: &str,
    groups: &[String],
) -> Result<(), ApiError> {
    if groups.is_empty() {
        return Ok(());
    }
    let found = store::lock(tx, groups).await.map_err(internal)?;
    let missing: Vec<&str> = groups
        .iter()
        .filter(|id| {
            !found
                .iter()
                .any(|g| g.id == **id && (caller.is_admin() || g.project_id == project_id))
        })
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(not_found(&missing.join(", ")));
    }
    if found.iter().any(|g| g.stateful) && found.iter().any(|g| !g.stateful) {
        return Err(ApiError::conflict(
            "SecurityGroupConflict",
            "Error Cannot apply both stateful and stateless security groups on the same port at the same time while attempting the operation.",
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------ groups

/// A group the caller may see, or 404 as Neutron answers for groups of
/// other projects.
async fn visible_group(
    st: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<SecurityGroup, ApiError> {
    match store::get(&st.db, id).await.map_err(internal)? {
        Some(g) if caller.owns(&g.project_id) => Ok(g),
        _ => Err(not_found(id)),
    }
}

async fn read_group(st: &AppState, id: &str) -> Result<SecurityGroup, ApiError> {
    store::get(&st.db, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| not_found(id))
}

async fn list_groups(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(uri.query(), &GROUP_SPEC)?;
    ensure_default_for_list(&st, &caller, &params).await?;
    let q = GroupQuery {
        visible_to: caller.visibility(),
        ids: params.values("id"),
    };
    let groups = store::list(&st.db, &q).await?;
    let items = groups.iter().map(group_view).collect();
    Ok(Json(listing::respond(
        items,
        &params,
        &GROUP_SPEC,
        &base_url(&headers, &uri),
    )?))
}

async fn show_group(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let g = visible_group(&st, &caller, &id).await?;
    Ok(Json(
        json!({"security_group": listing::select_fields(group_view(&g), &fields_of(uri.query()))}),
    ))
}

/// Neutron's `name_not_default` validator: a string no longer than 255
/// that is not "default" in any case.
fn group_name(m: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let name = body::opt_string(m, "name", 255)?;
    if name
        .as_deref()
        .is_some_and(|n| n.eq_ignore_ascii_case("default"))
    {
        return Err(ApiError::conflict(
            "SecurityGroupDefaultAlreadyExists",
            "Default security group already exists.",
        ));
    }
    Ok(name)
}

/// `convert_to_boolean` as the stateful attribute uses it (InvalidInput).
fn stateful_of(m: &Map<String, Value>) -> Result<Option<bool>, ApiError> {
    match m.get("stateful") {
        None => Ok(None),
        Some(v) => body::to_bool("stateful", v).map(Some).map_err(|_| {
            ApiError::invalid_input(format!("'{}' cannot be converted to boolean", repr(v)))
        }),
    }
}

fn build_group(caller: &Caller, m: &Map<String, Value>) -> Result<SecurityGroup, ApiError> {
    body::check_attrs(m, GROUP_ATTRS, true)?;
    caller.require_write("create_security_group")?;
    let project = body::project_of(m)?.unwrap_or_else(|| caller.project_id());
    if !caller.owns(&project) {
        return Err(ApiError::policy_not_authorized("create_security_group"));
    }
    let name = group_name(m)?.unwrap_or_default();
    let description = body::opt_string(m, "description", 255)?.unwrap_or_default();
    let stateful = stateful_of(m)?.unwrap_or(true);
    let now = now_timestamp();
    Ok(SecurityGroup {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project,
        name,
        description,
        stateful,
        is_default: false,
        revision_number: 1,
        created_at: now.clone(),
        updated_at: now,
        tags: Vec::new(),
        rules: Vec::new(),
    })
}

async fn create_groups(
    State(st): State<AppState>,
    caller: Caller,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    let (items, bulk) = body::items(
        body::parse_json(&raw)?,
        "security_group",
        "security_groups",
        true,
    )?;
    let built = items
        .iter()
        .map(|m| build_group(&caller, m))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tx = st.db.begin().await?;
    // Default groups first: they take no quota locks, so no transaction
    // waits for a default group while holding one.
    for g in &built {
        ensure_default(&mut tx, &g.project_id).await?;
    }
    for g in &built {
        crate::quotas::enforce(&st, &mut tx, &g.project_id, "security_group", 1).await?;
        let rules = default_rules(g, &g.created_at).len() as i64;
        crate::quotas::enforce(&st, &mut tx, &g.project_id, "security_group_rule", rules).await?;
        insert_group(&mut tx, g).await?;
    }
    tx.commit().await?;
    let mut out = Vec::with_capacity(built.len());
    for g in &built {
        out.push(Value::Object(group_view(&read_group(&st, &g.id).await?)));
    }
    let body = if bulk {
        json!({"security_groups": out})
    } else {
        json!({"security_group": out.remove(0)})
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn update_group(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> ApiResult<Json<Value>> {
    let m = body::single(body::parse_json(&raw)?, "security_group")?;
    body::check_attrs(&m, GROUP_ATTRS, false)?;
    let expected = body::if_match_revision(&headers)?;
    let name = group_name(&m)?;
    let description = body::opt_string(&m, "description", 255)?;
    let stateful = stateful_of(&m)?;
    visible_group(&st, &caller, &id).await?;
    caller.require_write("update_security_group")?;

    let mut tx = st.db.begin().await?;
    // Before the revision and port checks: see store::locks.
    lock::row(&mut tx, Table::SecurityGroups, &id, Lock::Update).await?;
    let mut g = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    body::check_revision(expected, g.revision_number)?;
    if let Some(v) = stateful
        && v != g.stateful
    {
        if store::port_count(&mut tx, &id).await? > 0 {
            return Err(in_use(&id).into());
        }
        g.stateful = v;
    }
    if let Some(v) = name {
        if g.is_default || g.name == "default" {
            return Err(ApiError::conflict(
                "SecurityGroupCannotUpdateDefault",
                "Updating default security group not allowed.",
            )
            .into());
        }
        g.name = v;
    }
    if let Some(v) = description {
        g.description = v;
    }
    g.updated_at = now_timestamp();
    store::update(&mut tx, &g).await?;
    tx.commit().await?;
    Ok(Json(
        json!({"security_group": group_view(&read_group(&st, &id).await?)}),
    ))
}

async fn delete_group(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = body::if_match_revision(&headers)?;
    visible_group(&st, &caller, &id).await?;
    caller.require_write("delete_security_group")?;
    let mut tx = st.db.begin().await?;
    lock::row(&mut tx, Table::SecurityGroups, &id, Lock::Update).await?;
    let g = store::get_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    body::check_revision(expected, g.revision_number)?;
    if store::port_count(&mut tx, &id).await? > 0 {
        return Err(in_use(&id).into());
    }
    if (g.is_default || g.name == "default") && !caller.is_admin() {
        return Err(ApiError::conflict(
            "SecurityGroupCannotRemoveDefault",
            "Insufficient rights for removing default security group.",
        )
        .into());
    }
    match store::delete(&mut tx, &id).await? {
        DeleteGroup::Deleted => {}
        DeleteGroup::NotFound => return Err(not_found(&id).into()),
        DeleteGroup::InUse => return Err(in_use(&id).into()),
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------ rule validation

/// `convert_protocol`: `None`/"any" → no protocol; a name (any case) or a
/// number 0-255 → itself (numbers as canonical decimal strings).
fn convert_protocol(v: Option<&Value>) -> Result<Option<String>, ApiError> {
    let bad = |v: &Value| {
        let names: Vec<String> = PROTOCOLS.iter().map(|(n, _)| format!("'{n}'")).collect();
        invalid(
            "SecurityGroupRuleInvalidProtocol",
            format!(
                "Security group rule protocol {} not supported. Only protocol values (None, 'any', {}) and integer representations [0 to 255] are supported.",
                repr(v),
                names.join(", ")
            ),
        )
    };
    let Some(v) = v else { return Ok(None) };
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_u64() {
            Some(p) if p <= 255 => Ok(Some(p.to_string())),
            _ => Err(bad(v)),
        },
        Value::String(s) if s == "any" => Ok(None),
        Value::String(s) => {
            if let Ok(p) = s.trim().parse::<i64>() {
                return if (0..=255).contains(&p) {
                    Ok(Some(p.to_string()))
                } else {
                    Err(bad(v))
                };
            }
            let lower = s.to_lowercase();
            if PROTOCOLS.iter().any(|(n, _)| *n == lower) {
                Ok(Some(lower))
            } else {
                Err(bad(v))
            }
        }
        _ => Err(bad(v)),
    }
}

/// `convert_validate_port_value`: an integer 0-65535 (also as a string).
fn convert_port(v: Option<&Value>) -> Result<Option<i64>, ApiError> {
    let port = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match port {
        Some(p) if (0..=65535).contains(&p) => Ok(Some(p)),
        _ => Err(invalid(
            "SecurityGroupInvalidPortValue",
            format!(
                "Invalid value for port {}",
                repr(v.expect("absent ports returned above"))
            ),
        )),
    }
}

/// `convert_ethertype_to_case_insensitive`.
fn convert_ethertype(v: Option<&Value>) -> Result<String, ApiError> {
    let Some(v) = v else {
        return Ok("IPv4".into());
    };
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("ipv4") => Ok("IPv4".into()),
        Value::String(s) if s.eq_ignore_ascii_case("ipv6") => Ok("IPv6".into()),
        other => Err(invalid(
            "SecurityGroupRuleInvalidEtherType",
            format!(
                "Security group rule for ethertype '{}' not supported. Allowed values are ['IPv4', 'IPv6'].",
                repr(other)
            ),
        )),
    }
}

/// `convert_ip_prefix_to_cidr`: an address or a network, host bits kept,
/// always written with its prefix length (netaddr's `str(IPNetwork(x))`).
fn convert_prefix(v: Option<&Value>) -> Result<Option<IpNet>, ApiError> {
    let s = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(invalid(
                "InvalidCIDR",
                format!("Invalid CIDR {} given as IP prefix.", repr(other)),
            ));
        }
    };
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(Some(net));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Some(IpNet::from(ip)));
    }
    Err(invalid(
        "InvalidCIDR",
        format!("Invalid CIDR {s} given as IP prefix."),
    ))
}

fn protocol_number(p: &str) -> Option<u8> {
    PROTOCOLS
        .iter()
        .find(|(n, _)| *n == p)
        .map(|(_, num)| *num)
        .or_else(|| p.parse().ok())
}

/// The name Neutron gives a protocol number (`IP_PROTOCOL_NUM_TO_NAME_MAP`:
/// the last name listed for it, never the legacy `icmpv6`).
fn protocol_name(num: u8) -> Option<&'static str> {
    PROTOCOLS
        .iter()
        .rev()
        .find(|(n, p)| *p == num && *n != "icmpv6")
        .map(|(n, _)| *n)
}

/// A rule in Neutron's comparison form (`_rule_to_key`): equal keys are
/// the same rule. Protocol names and their numbers compare equal, and an
/// "everything" prefix equals no prefix. The description does not count.
pub fn rule_key(r: &SecurityGroupRule) -> String {
    const NONE: &str = "+";
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| NONE.into());
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_else(|| NONE.into());
    let protocol = match r.protocol.as_deref() {
        None => NONE.to_string(),
        Some(p) => {
            let mut p = p.to_string();
            if r.ethertype == "IPv6" {
                if p == "icmp" || p == "icmpv6" {
                    p = "ipv6-icmp".into();
                } else if p == "1" {
                    p = "58".into();
                }
            }
            match PROTOCOLS.iter().find(|(n, _)| *n == p) {
                Some((n, num)) => format!("{n}/{num}"),
                None => match p.parse::<u8>().ok().and_then(protocol_name) {
                    Some(name) => format!("{name}/{p}"),
                    None => format!("{p}/{p}"),
                },
            }
        }
    };
    let prefix = match r.remote_ip_prefix.as_deref() {
        None | Some("0.0.0.0/0") | Some("::/0") => NONE.to_string(),
        Some(p) => p.to_string(),
    };
    [
        r.direction.clone(),
        r.ethertype.clone(),
        num(r.port_range_max),
        num(r.port_range_min),
        protocol,
        opt(&r.remote_group_id),
        NONE.to_string(), // remote_address_group_id
        prefix,
    ]
    .join("|")
}

/// `_validate_port_range`, after the ICMPv6 and full-range canonicalisation.
fn check_port_range(r: &SecurityGroupRule) -> Result<(), ApiError> {
    let (min, max) = (r.port_range_min, r.port_range_max);
    if min.is_none() && max.is_none() {
        return Ok(());
    }
    let Some(protocol) = r.protocol.as_deref() else {
        return Err(invalid(
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol if port range is given.".into(),
        ));
    };
    let num = protocol_number(protocol).unwrap_or(255);
    if PORT_PROTOCOLS.contains(&num) {
        if min == Some(0) || max == Some(0) {
            return Err(invalid(
                "SecurityGroupInvalidPortValue",
                "Invalid value for port 0".into(),
            ));
        }
        match (min, max) {
            (Some(a), Some(b)) if a <= b => Ok(()),
            _ => Err(invalid(
                "SecurityGroupInvalidPortRange",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max".into(),
            )),
        }
    } else if num == ICMP || num == IPV6_ICMP {
        for (value, attr, field) in [
            (min, "port_range_min", "type"),
            (max, "port_range_max", "code"),
        ] {
            if let Some(v) = value
                && !(0..=255).contains(&v)
            {
                return Err(invalid(
                    "SecurityGroupInvalidIcmpValue",
                    format!("Invalid value for ICMP {field} ({attr}) {v}. It must be 0 to 255."),
                ));
            }
        }
        if let (None, Some(code)) = (min, max) {
            return Err(invalid(
                "SecurityGroupMissingIcmpType",
                format!(
                    "ICMP code (port-range-max) {code} is provided but ICMP type (port-range-min) is missing."
                ),
            ));
        }
        Ok(())
    } else {
        Err(invalid(
            "SecurityGroupInvalidProtocolForPort",
            format!(
                "Ports cannot be specified for protocol {num}. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE."
            ),
        ))
    }
}

fn required_string(m: &Map<String, Value>, key: &str, max: usize) -> Result<String, ApiError> {
    body::opt_string(m, key, max)?.ok_or_else(|| {
        ApiError::bad_request(format!(
            "Failed to parse request. Required attribute '{key}' not specified"
        ))
    })
}

/// Converts and validates one rule of a create request (everything that
/// needs no database), as Neutron's attribute converters and
/// `_validate_base_security_group_rule_attributes` do.
fn build_rule(caller: &Caller, m: &Map<String, Value>) -> Result<SecurityGroupRule, ApiError> {
    body::check_attrs(m, RULE_ATTRS, true)?;
    caller.require_write("create_security_group_rule")?;
    for key in ["security_group_id", "direction"] {
        if !m.contains_key(key) {
            return Err(ApiError::bad_request(format!(
                "Failed to parse request. Required attribute '{key}' not specified"
            )));
        }
    }
    let security_group_id = required_string(m, "security_group_id", 36)?;
    let remote_group_id = match m.get("remote_group_id") {
        None | Some(Value::Null) => None,
        Some(_) => body::opt_string(m, "remote_group_id", 255)?,
    };
    let direction = required_string(m, "direction", 255)?;
    if direction != "ingress" && direction != "egress" {
        return Err(ApiError::invalid_attr(
            "direction",
            format!("{direction} is not in valid_values"),
        ));
    }
    let mut protocol = convert_protocol(m.get("protocol"))?;
    let mut port_range_min = convert_port(m.get("port_range_min"))?;
    let mut port_range_max = convert_port(m.get("port_range_max"))?;
    let ethertype = convert_ethertype(m.get("ethertype"))?;
    let prefix = convert_prefix(m.get("remote_ip_prefix"))?;
    let project = body::project_of(m)?.unwrap_or_else(|| caller.project_id());
    if !caller.owns(&project) {
        return Err(ApiError::policy_not_authorized(
            "create_security_group_rule",
        ));
    }
    let description = body::opt_string(m, "description", 255)?.unwrap_or_default();
    match m.get("remote_address_group_id") {
        None | Some(Value::Null) => {}
        // Address groups are not implemented, so none exists.
        Some(v) => {
            return Err(ApiError::not_found(
                "AddressGroupNotFound",
                format!("Address group {} could not be found.", repr(v)),
            ));
        }
    }

    // _make_canonical_ipv6_icmp_protocol
    if ethertype == "IPv6" {
        match protocol.as_deref() {
            Some("icmp") | Some("icmpv6") => protocol = Some("ipv6-icmp".into()),
            Some("1") => protocol = Some("58".into()),
            _ => {}
        }
    }
    // _make_canonical_port_range: the whole range is no range.
    if port_range_min == Some(1) && port_range_max == Some(65535) {
        port_range_min = None;
        port_range_max = None;
    }
    let now = now_timestamp();
    let rule = SecurityGroupRule {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project,
        security_group_id,
        direction,
        ethertype,
        protocol,
        port_range_min,
        port_range_max,
        remote_ip_prefix: prefix.map(|p| p.to_string()),
        remote_group_id,
        description: Some(description),
        belongs_to_default_sg: false,
        revision_number: 0,
        created_at: now.clone(),
        updated_at: now,
    };
    check_port_range(&rule)?;
    // _validate_ip_prefix
    if let Some(p) = prefix {
        let family = if p.addr().is_ipv4() { "IPv4" } else { "IPv6" };
        if rule.ethertype != family {
            return Err(invalid(
                "SecurityGroupRuleParameterConflict",
                format!(
                    "Conflicting value ethertype {} for CIDR {p}",
                    rule.ethertype
                ),
            ));
        }
    }
    // _validate_ethertype_and_protocol
    if let Some(p) = rule.protocol.as_deref()
        && IPV6_ONLY.contains(&p)
        && rule.ethertype == "IPv4"
    {
        return Err(invalid(
            "SecurityGroupEthertypeConflictWithProtocol",
            format!("Invalid ethertype IPv4 for protocol {p}."),
        ));
    }
    // _validate_multiple_remote_entites
    if rule.remote_ip_prefix.is_some() && rule.remote_group_id.is_some() {
        return Err(invalid(
            "SecurityGroupMultipleRemoteEntites",
            "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.".into(),
        ));
    }
    Ok(rule)
}

// ------------------------------------------------------------------ rules

async fn list_rules(
    State(st): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(uri.query(), &RULE_SPEC)?;
    ensure_default_for_list(&st, &caller, &params).await?;
    let q = RuleQuery {
        visible_to: caller.visibility(),
        ids: params.values("id"),
        security_group_ids: params.values("security_group_id"),
    };
    let rules = store::list_rules(&st.db, &q).await?;
    let items = rules.iter().map(rule_view).collect();
    Ok(Json(listing::respond(
        items,
        &params,
        &RULE_SPEC,
        &base_url(&headers, &uri),
    )?))
}

/// A rule the caller may see: one in a group of its project. Rules of
/// other projects' groups are hidden as Neutron's policy layer hides them.
async fn visible_rule(
    st: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<SecurityGroupRule, ApiError> {
    match store::get_rule(&st.db, id).await.map_err(internal)? {
        Some((r, owner)) if caller.owns(&owner) => Ok(r),
        Some(_) => Err(ApiError::not_found(
            "HTTPNotFound",
            "The resource could not be found.",
        )),
        None => Err(rule_not_found(id)),
    }
}

async fn show_rule(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Json<Value>> {
    let r = visible_rule(&st, &caller, &id).await?;
    Ok(Json(
        json!({"security_group_rule": listing::select_fields(rule_view(&r), &fields_of(uri.query()))}),
    ))
}

/// Stores one validated rule: its group must exist and be the caller's, a
/// remote group must exist and belong to the rule's project, and no equal
/// rule may be in the group. The group moves to a new revision.
async fn insert_rule(
    st: &AppState,
    tx: &mut Tx,
    caller: &Caller,
    r: &SecurityGroupRule,
) -> Result<(), ApiError> {
    let group = store::lock(tx, std::slice::from_ref(&r.security_group_id))
        .await
        .map_err(internal)?
        .pop();
    let Some(group) = group else {
        return Err(not_found(&r.security_group_id));
    };
    if !caller.owns(&group.project_id) {
        return Err(ApiError::policy_not_authorized(
            "create_security_group_rule",
        ));
    }
    if let Some(remote) = &r.remote_group_id {
        let found = store::lock(tx, std::slice::from_ref(remote))
            .await
            .map_err(internal)?
            .pop();
        if !found.is_some_and(|g| caller.is_admin() || g.project_id == r.project_id) {
            return Err(not_found(remote));
        }
    }
    crate::quotas::enforce(st, tx, &r.project_id, "security_group_rule", 1).await?;
    let mut row = r.clone();
    row.belongs_to_default_sg = group.is_default;
    if let Some(existing) = store::insert_rule(tx, &row, &rule_key(&row))
        .await
        .map_err(internal)?
    {
        return Err(ApiError::conflict(
            "SecurityGroupRuleExists",
            format!("Security group rule already exists. Rule id is {existing}."),
        ));
    }
    store::touch(tx, &group.id, &row.updated_at)
        .await
        .map_err(internal)?;
    Ok(())
}

async fn create_rules(
    State(st): State<AppState>,
    caller: Caller,
    RawBody(raw): RawBody,
) -> ApiResult<Response> {
    let (items, bulk) = body::items(
        body::parse_json(&raw)?,
        "security_group_rule",
        "security_group_rules",
        true,
    )?;
    let rules = items
        .iter()
        .map(|m| build_rule(&caller, m))
        .collect::<Result<Vec<_>, _>>()?;
    if bulk {
        // _validate_single_project_and_group and the duplicate check of a POST.
        if rules
            .iter()
            .any(|r| r.security_group_id != rules[0].security_group_id)
        {
            return Err(invalid(
                "SecurityGroupNotSingleGroupRules",
                "Only allowed to update rules for one security profile at a time".into(),
            )
            .into());
        }
        if rules.iter().any(|r| r.project_id != rules[0].project_id) {
            return Err(invalid(
                "SecurityGroupRulesNotSingleProject",
                "Multiple project_ids in bulk security group rule create not allowed".into(),
            )
            .into());
        }
        let mut keys: Vec<String> = rules.iter().map(rule_key).collect();
        keys.sort();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(ApiError::conflict(
                "DuplicateSecurityGroupRuleInPost",
                "Duplicate Security Group Rule in POST.",
            )
            .into());
        }
    }
    let mut tx = st.db.begin().await?;
    for r in &rules {
        insert_rule(&st, &mut tx, &caller, r).await?;
    }
    tx.commit().await?;
    let mut out = Vec::with_capacity(rules.len());
    for r in &rules {
        let (rule, _) = store::get_rule(&st.db, &r.id)
            .await?
            .ok_or_else(|| rule_not_found(&r.id))?;
        out.push(Value::Object(rule_view(&rule)));
    }
    let body = if bulk {
        json!({"security_group_rules": out})
    } else {
        json!({"security_group_rule": out.remove(0)})
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn delete_rule(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    visible_rule(&st, &caller, &id).await?;
    caller.require_write("delete_security_group_rule")?;
    let mut tx = st.db.begin().await?;
    let group = store::rule_group_tx(&mut tx, &id)
        .await?
        .ok_or_else(|| rule_not_found(&id))?;
    store::delete_rule(&mut tx, &id).await?;
    store::touch(&mut tx, &group, &now_timestamp()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: Option<&str>, ethertype: &str, prefix: Option<&str>) -> SecurityGroupRule {
        SecurityGroupRule {
            id: "r".into(),
            project_id: "p".into(),
            security_group_id: "g".into(),
            direction: "ingress".into(),
            ethertype: ethertype.into(),
            protocol: protocol.map(str::to_owned),
            port_range_min: Some(22),
            port_range_max: Some(22),
            remote_ip_prefix: prefix.map(str::to_owned),
            remote_group_id: None,
            description: Some("ignored".into()),
            belongs_to_default_sg: false,
            revision_number: 0,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn names_and_numbers_of_a_protocol_are_one_rule() {
        assert_eq!(
            rule_key(&rule(Some("tcp"), "IPv4", None)),
            rule_key(&rule(Some("6"), "IPv4", None))
        );
        assert_eq!(
            rule_key(&rule(Some("ipv6-icmp"), "IPv6", None)),
            rule_key(&rule(Some("1"), "IPv6", None))
        );
        assert_ne!(
            rule_key(&rule(Some("tcp"), "IPv4", None)),
            rule_key(&rule(Some("udp"), "IPv4", None))
        );
        // As upstream: 0 is "ip", and "hopopt" (also 0) stays apart.
        assert_eq!(
            rule_key(&rule(Some("ip"), "IPv4", None)),
            rule_key(&rule(Some("0"), "IPv4", None))
        );
        assert_ne!(
            rule_key(&rule(Some("hopopt"), "IPv4", None)),
            rule_key(&rule(Some("0"), "IPv4", None))
        );
    }

    #[test]
    fn any_prefix_is_no_prefix() {
        assert_eq!(
            rule_key(&rule(None, "IPv4", Some("0.0.0.0/0"))),
            rule_key(&rule(None, "IPv4", None))
        );
        assert_eq!(
            rule_key(&rule(None, "IPv6", Some("::/0"))),
            rule_key(&rule(None, "IPv6", None))
        );
        assert_ne!(
            rule_key(&rule(None, "IPv4", Some("10.0.0.1/24"))),
            rule_key(&rule(None, "IPv4", Some("10.0.0.0/24")))
        );
    }

    #[test]
    fn protocols_convert_like_neutron() {
        assert_eq!(
            convert_protocol(Some(&json!("TCP"))).unwrap(),
            Some("tcp".into())
        );
        assert_eq!(
            convert_protocol(Some(&json!(17))).unwrap(),
            Some("17".into())
        );
        assert_eq!(convert_protocol(Some(&json!("any"))).unwrap(), None);
        assert_eq!(convert_protocol(None).unwrap(), None);
        for bad in [json!("foo"), json!(256), json!(-1), json!(6.5), json!(true)] {
            let e = convert_protocol(Some(&bad)).unwrap_err();
            assert_eq!(e.kind, "SecurityGroupRuleInvalidProtocol", "{bad}");
        }
        assert_eq!(protocol_name(0), Some("ip"));
        assert_eq!(protocol_name(58), Some("ipv6-icmp"));
    }

    #[test]
    fn prefixes_keep_host_bits_and_gain_a_length() {
        let p = |s: &str| {
            convert_prefix(Some(&json!(s)))
                .unwrap()
                .unwrap()
                .to_string()
        };
        assert_eq!(p("10.1.2.3"), "10.1.2.3/32");
        assert_eq!(p("10.0.0.1/24"), "10.0.0.1/24");
        assert_eq!(p("2001:DB8::1/64"), "2001:db8::1/64");
        assert_eq!(
            convert_prefix(Some(&json!("10.0.0.300/8")))
                .unwrap_err()
                .kind,
            "InvalidCIDR"
        );
    }
}
