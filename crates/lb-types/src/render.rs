//! Records → the API's JSON, as octavia 19's response types render them
//! (attribute order is upstream's declaration order; `tenant_id`, which
//! WSME adds to every type with `project_id`, comes last). `name` and
//! `description` stored as NULL render `""`.
//!
//! The `_full` forms are the graph-create answer: children inline
//! instead of `[{"id"}]`, and, as upstream leaves them unset there, no
//! `loadbalancers` on listeners and pools, no `pools` on monitors, no
//! `healthmonitor_id` on pools.

use crate::consts::DEFAULT_PROVIDER_SHOWN;
use crate::model::*;
use serde_json::{Map, Value, json};

fn text(v: &Option<String>) -> Value {
    Value::String(v.clone().unwrap_or_default())
}

fn ids(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"id": id})).collect())
}

fn with_tenant(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v
        && let Some(p) = m.get("project_id").cloned()
    {
        m.insert("tenant_id".into(), p);
    }
    v
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub fn loadbalancer(lb: &LoadBalancer, listener_ids: &[String], pool_ids: &[String]) -> Value {
    loadbalancer_with(lb, ids(listener_ids), ids(pool_ids))
}

/// The graph-create answer: `listeners` and `pools` are the `_full`
/// renderings of the children.
pub fn loadbalancer_full(lb: &LoadBalancer, listeners: Vec<Value>, pools: Vec<Value>) -> Value {
    loadbalancer_with(lb, Value::Array(listeners), Value::Array(pools))
}

fn loadbalancer_with(lb: &LoadBalancer, listeners: Value, pools: Value) -> Value {
    let additional: Vec<Value> = lb
        .additional_vips
        .iter()
        .map(
            |v| json!({"subnet_id": v.subnet_id, "ip_address": v.ip_address, "port_id": v.port_id}),
        )
        .collect();
    with_tenant(json!({
        "id": lb.id,
        "name": text(&lb.name),
        "description": text(&lb.description),
        "provisioning_status": lb.provisioning_status,
        "operating_status": lb.operating_status,
        "admin_state_up": lb.admin_state_up,
        "project_id": lb.project_id,
        "created_at": lb.created_at,
        "updated_at": lb.updated_at,
        "vip_address": lb.vip.ip_address,
        "vip_port_id": lb.vip.port_id,
        "vip_subnet_id": lb.vip.subnet_id,
        "vip_network_id": lb.vip.network_id,
        "vip_sg_ids": lb.vip.sg_ids,
        "additional_vips": additional,
        "listeners": listeners,
        "pools": pools,
        "provider": lb.provider.as_deref().unwrap_or(DEFAULT_PROVIDER_SHOWN),
        "flavor_id": lb.flavor_id,
        "vip_qos_policy_id": lb.vip.qos_policy_id,
        "tags": lb.tags,
        "availability_zone": lb.availability_zone,
        "vip_vnic_type": lb.vip.vnic_type,
    }))
}

fn listener_common(l: &Listener, l7policies: Value) -> Map<String, Value> {
    object(json!({
        "id": l.id,
        "name": text(&l.name),
        "description": text(&l.description),
        "provisioning_status": l.provisioning_status,
        "operating_status": l.operating_status,
        "admin_state_up": l.admin_state_up,
        "protocol": l.protocol,
        "protocol_port": l.protocol_port,
        "connection_limit": l.connection_limit,
        "default_tls_container_ref": l.default_tls_container_ref,
        "sni_container_refs": l.sni_container_refs,
        "project_id": l.project_id,
        "default_pool_id": l.default_pool_id,
        "l7policies": l7policies,
        "insert_headers": l.insert_headers,
        "created_at": l.created_at,
        "updated_at": l.updated_at,
    }))
}

fn listener_tail(l: &Listener, m: &mut Map<String, Value>) {
    let tail = object(json!({
        "timeout_client_data": l.timeout_client_data,
        "timeout_member_connect": l.timeout_member_connect,
        "timeout_member_data": l.timeout_member_data,
        "timeout_tcp_inspect": l.timeout_tcp_inspect,
        "tags": l.tags,
        "client_ca_tls_container_ref": l.client_ca_tls_container_ref,
        "client_authentication": l.client_authentication,
        "client_crl_container_ref": l.client_crl_container_ref,
        "allowed_cidrs": if l.allowed_cidrs.is_empty() { Value::Null } else { json!(l.allowed_cidrs) },
        "tls_ciphers": l.tls_ciphers,
        "tls_versions": l.tls_versions,
        "alpn_protocols": l.alpn_protocols,
        "hsts_max_age": l.hsts_max_age,
        "hsts_include_subdomains": l.hsts_include_subdomains,
        "hsts_preload": l.hsts_preload,
    }));
    m.extend(tail);
    m.insert("tenant_id".into(), json!(l.project_id));
}

pub fn listener(l: &Listener) -> Value {
    let mut m = listener_common(l, ids(&l.l7policy_ids));
    m.insert("loadbalancers".into(), json!([{"id": l.load_balancer_id}]));
    listener_tail(l, &mut m);
    Value::Object(m)
}

/// `ListenerFullResponse`: `l7policies` inline, no `loadbalancers`.
pub fn listener_full(l: &Listener, l7policies: Vec<Value>) -> Value {
    let mut m = listener_common(l, Value::Array(l7policies));
    listener_tail(l, &mut m);
    Value::Object(m)
}

fn session_persistence(sp: &Option<SessionPersistence>) -> Value {
    match sp {
        None => Value::Null,
        Some(sp) => json!({
            "type": sp.sp_type,
            "cookie_name": sp.cookie_name,
            "persistence_timeout": sp.persistence_timeout,
            "persistence_granularity": sp.persistence_granularity,
        }),
    }
}

fn pool_head(p: &Pool) -> Map<String, Value> {
    object(json!({
        "id": p.id,
        "name": text(&p.name),
        "description": text(&p.description),
        "provisioning_status": p.provisioning_status,
        "operating_status": p.operating_status,
        "admin_state_up": p.admin_state_up,
        "protocol": p.protocol,
        "lb_algorithm": p.lb_algorithm,
        "session_persistence": session_persistence(&p.session_persistence),
        "project_id": p.project_id,
    }))
}

fn pool_tail(p: &Pool, m: &mut Map<String, Value>) {
    m.extend(object(json!({
        "tags": p.tags,
        "tls_container_ref": p.tls_container_ref,
        "ca_tls_container_ref": p.ca_tls_container_ref,
        "crl_container_ref": p.crl_container_ref,
        "tls_enabled": p.tls_enabled,
        "tls_ciphers": p.tls_ciphers,
        "tls_versions": p.tls_versions,
        "alpn_protocols": p.alpn_protocols,
        "tenant_id": p.project_id,
    })));
}

pub fn pool(p: &Pool) -> Value {
    let mut m = pool_head(p);
    m.insert("loadbalancers".into(), json!([{"id": p.load_balancer_id}]));
    m.insert("listeners".into(), ids(&p.listener_ids));
    m.insert("created_at".into(), json!(p.created_at));
    m.insert("updated_at".into(), json!(p.updated_at));
    // WSME leaves an unset attribute out: no monitor, no key.
    if let Some(hm) = &p.healthmonitor_id {
        m.insert("healthmonitor_id".into(), json!(hm));
    }
    m.insert("members".into(), ids(&p.member_ids));
    pool_tail(p, &mut m);
    Value::Object(m)
}

/// `PoolFullResponse`: `members` and `healthmonitor` inline.
pub fn pool_full(p: &Pool, members: Vec<Value>, healthmonitor: Option<Value>) -> Value {
    let mut m = pool_head(p);
    m.insert("listeners".into(), ids(&p.listener_ids));
    m.insert("created_at".into(), json!(p.created_at));
    m.insert("updated_at".into(), json!(p.updated_at));
    m.insert("members".into(), Value::Array(members));
    pool_tail(p, &mut m);
    if let Some(hm) = healthmonitor {
        m.insert("healthmonitor".into(), hm);
    }
    Value::Object(m)
}

pub fn member(m: &Member) -> Value {
    with_tenant(json!({
        "id": m.id,
        "name": text(&m.name),
        "operating_status": m.operating_status,
        "provisioning_status": m.provisioning_status,
        "admin_state_up": m.admin_state_up,
        "address": m.address,
        "protocol_port": m.protocol_port,
        "weight": m.weight,
        "backup": m.backup,
        "subnet_id": m.subnet_id,
        "project_id": m.project_id,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "monitor_address": m.monitor_address,
        "monitor_port": m.monitor_port,
        "tags": m.tags,
        "vnic_type": m.vnic_type,
    }))
}

fn health_monitor_with(h: &HealthMonitor, pools: Option<Value>) -> Value {
    let mut m = object(json!({
        "id": h.id,
        "name": text(&h.name),
        "type": h.hm_type,
        "delay": h.delay,
        "timeout": h.timeout,
        "max_retries": h.max_retries,
        "max_retries_down": h.max_retries_down,
        "http_method": h.http_method,
        "url_path": h.url_path,
        "expected_codes": h.expected_codes,
        "admin_state_up": h.admin_state_up,
        "project_id": h.project_id,
    }));
    if let Some(pools) = pools {
        m.insert("pools".into(), pools);
    }
    m.extend(object(json!({
        "provisioning_status": h.provisioning_status,
        "operating_status": h.operating_status,
        "created_at": h.created_at,
        "updated_at": h.updated_at,
        "tags": h.tags,
        "http_version": h.http_version,
        "domain_name": h.domain_name,
        "tenant_id": h.project_id,
    })));
    Value::Object(m)
}

pub fn health_monitor(h: &HealthMonitor) -> Value {
    health_monitor_with(h, Some(json!([{"id": h.pool_id}])))
}

pub fn health_monitor_full(h: &HealthMonitor) -> Value {
    health_monitor_with(h, None)
}

fn l7policy_with(p: &L7Policy, rules: Value) -> Value {
    with_tenant(json!({
        "id": p.id,
        "name": text(&p.name),
        "description": text(&p.description),
        "provisioning_status": p.provisioning_status,
        "operating_status": p.operating_status,
        "admin_state_up": p.admin_state_up,
        "project_id": p.project_id,
        "action": p.action,
        "listener_id": p.listener_id,
        "redirect_pool_id": p.redirect_pool_id,
        "redirect_url": p.redirect_url,
        "redirect_prefix": p.redirect_prefix,
        "position": p.position,
        "rules": rules,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "tags": p.tags,
        "redirect_http_code": p.redirect_http_code,
    }))
}

pub fn l7policy(p: &L7Policy) -> Value {
    l7policy_with(p, ids(&p.rule_ids))
}

pub fn l7policy_full(p: &L7Policy, rules: Vec<Value>) -> Value {
    l7policy_with(p, Value::Array(rules))
}

pub fn l7rule(r: &L7Rule) -> Value {
    with_tenant(json!({
        "id": r.id,
        "type": r.rule_type,
        "compare_type": r.compare_type,
        "key": r.key,
        "value": r.value,
        "invert": r.invert,
        "provisioning_status": r.provisioning_status,
        "operating_status": r.operating_status,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "project_id": r.project_id,
        "admin_state_up": r.admin_state_up,
        "tags": r.tags,
    }))
}

pub fn amphora(a: &Amphora) -> Value {
    json!({
        "id": a.id,
        "loadbalancer_id": a.load_balancer_id,
        "compute_id": a.compute_id,
        "lb_network_ip": a.lb_network_ip,
        "vrrp_ip": a.vrrp_ip,
        "ha_ip": a.ha_ip,
        "vrrp_port_id": a.vrrp_port_id,
        "ha_port_id": a.ha_port_id,
        "cert_expiration": a.cert_expiration,
        "cert_busy": a.cert_busy,
        "role": a.role,
        "status": a.status,
        "vrrp_interface": a.vrrp_interface,
        "vrrp_id": a.vrrp_id,
        "vrrp_priority": a.vrrp_priority,
        "cached_zone": a.cached_zone,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "image_id": a.image_id,
        "compute_flavor": a.compute_flavor,
    })
}

pub fn flavor(f: &Flavor) -> Value {
    json!({
        "id": f.id,
        "name": f.name,
        "description": text(&f.description),
        "enabled": f.enabled,
        "flavor_profile_id": f.flavor_profile_id,
    })
}

pub fn flavor_profile(p: &FlavorProfile) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "provider_name": p.provider_name,
        "flavor_data": p.flavor_data,
    })
}

pub fn availability_zone(az: &AvailabilityZone) -> Value {
    json!({
        "name": az.name,
        "description": text(&az.description),
        "enabled": az.enabled,
        "availability_zone_profile_id": az.availability_zone_profile_id,
    })
}

pub fn availability_zone_profile(p: &AzProfile) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "provider_name": p.provider_name,
        "availability_zone_data": p.availability_zone_data,
    })
}

/// A project's effective quota: both spellings of the renamed keys, with
/// equal values. `project_id` is omitted for the defaults document.
pub fn quota(project_id: Option<&str>, q: &Quota, defaults: &Quota) -> Value {
    let pick = |v: Option<i64>, d: Option<i64>| v.or(d).unwrap_or(-1);
    let lb = pick(q.load_balancer, defaults.load_balancer);
    let hm = pick(q.health_monitor, defaults.health_monitor);
    let mut m = Map::new();
    if let Some(p) = project_id {
        m.insert("project_id".into(), json!(p));
    }
    m.extend(object(json!({
        "loadbalancer": lb,
        "load_balancer": lb,
        "listener": pick(q.listener, defaults.listener),
        "member": pick(q.member, defaults.member),
        "pool": pick(q.pool, defaults.pool),
        "healthmonitor": hm,
        "health_monitor": hm,
        "l7policy": pick(q.l7policy, defaults.l7policy),
        "l7rule": pick(q.l7rule, defaults.l7rule),
    })));
    if let Some(p) = project_id {
        m.insert("tenant_id".into(), json!(p));
    }
    Value::Object(m)
}

pub fn stats(s: &Stats) -> Value {
    json!({"stats": {
        "bytes_in": s.bytes_in,
        "bytes_out": s.bytes_out,
        "active_connections": s.active_connections,
        "total_connections": s.total_connections,
        "request_errors": s.request_errors,
    }})
}
