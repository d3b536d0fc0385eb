//! Rendering model records into Neutron's JSON shapes. Attributes that
//! Neutron shows only to admins are left out for everyone else.

use neutrino_types::model::{Network, Port, Subnet};
use serde_json::{Map, Value, json};

use crate::auth::Caller;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("views build objects"),
    }
}

pub fn network(n: &Network, caller: &Caller) -> Map<String, Value> {
    let mut m = obj(json!({
        "id": n.id,
        "name": n.name,
        "tenant_id": n.project_id,
        "project_id": n.project_id,
        "description": n.description,
        "admin_state_up": n.admin_state_up,
        "status": n.status,
        "shared": n.shared || n.shared_for(&caller.project_id()),
        "router:external": n.router_external,
        "mtu": n.mtu,
        "subnets": n.subnets,
        "availability_zone_hints": n.availability_zone_hints,
        "availability_zones": [],
        "port_security_enabled": n.port_security_enabled,
        "dns_domain": n.dns_domain,
        "l2_adjacency": true,
        "tags": n.tags,
        "created_at": n.created_at,
        "updated_at": n.updated_at,
        "revision_number": n.revision_number,
    }));
    if caller.is_admin() {
        m.insert("provider:network_type".into(), json!(n.network_type));
        m.insert(
            "provider:physical_network".into(),
            json!(n.physical_network),
        );
        m.insert("provider:segmentation_id".into(), json!(n.segmentation_id));
    }
    m
}

pub fn subnet(s: &Subnet, router_external: bool) -> Map<String, Value> {
    obj(json!({
        "id": s.id,
        "name": s.name,
        "tenant_id": s.project_id,
        "project_id": s.project_id,
        "network_id": s.network_id,
        "description": s.description,
        "ip_version": s.ip_version,
        "cidr": s.cidr,
        "gateway_ip": s.gateway_ip,
        "allocation_pools": s.allocation_pools,
        "dns_nameservers": s.dns_nameservers,
        "host_routes": s.host_routes,
        "enable_dhcp": s.enable_dhcp,
        "ipv6_ra_mode": s.ipv6_ra_mode,
        "ipv6_address_mode": s.ipv6_address_mode,
        "subnetpool_id": null,
        "segment_id": null,
        "service_types": [],
        "dns_publish_fixed_ip": s.dns_publish_fixed_ip,
        "router:external": router_external,
        "tags": s.tags,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "revision_number": s.revision_number,
    }))
}

/// The hostname Neutron gives an address when the port has no `dns_name`.
pub fn default_hostname(ip: &str) -> String {
    format!("host-{}", ip.replace(['.', ':'], "-"))
}

pub fn port(p: &Port, caller: &Caller, dns_domain: &str) -> Map<String, Value> {
    let dns_assignment: Vec<Value> = p
        .fixed_ips
        .iter()
        .map(|f| {
            let host = if p.dns_name.is_empty() { default_hostname(&f.ip_address) } else { p.dns_name.clone() };
            json!({"hostname": host, "ip_address": f.ip_address, "fqdn": format!("{host}.{dns_domain}.")})
        })
        .collect();
    let mut m = obj(json!({
        "id": p.id,
        "name": p.name,
        "tenant_id": p.project_id,
        "project_id": p.project_id,
        "network_id": p.network_id,
        "description": p.description,
        "admin_state_up": p.admin_state_up,
        "mac_address": p.mac_address,
        "fixed_ips": p.fixed_ips,
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "status": p.status,
        "port_security_enabled": p.port_security_enabled,
        "security_groups": p.security_groups,
        "allowed_address_pairs": p.allowed_address_pairs,
        "dns_name": p.dns_name,
        "dns_assignment": dns_assignment,
        "tags": p.tags,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "revision_number": p.revision_number,
    }));
    if caller.is_admin() {
        m.insert("binding:host_id".into(), json!(p.binding_host_id));
        m.insert("binding:vif_type".into(), json!(p.binding_vif_type));
        m.insert("binding:vnic_type".into(), json!(p.binding_vnic_type));
        m.insert("binding:profile".into(), p.binding_profile.clone());
        m.insert("binding:vif_details".into(), p.binding_vif_details.clone());
    }
    m
}

pub fn router(r: &neutrino_types::model::Router) -> Map<String, Value> {
    let gw = r.gw_network_id.as_ref().map(|net| {
        json!({"network_id": net, "enable_snat": r.enable_snat, "external_fixed_ips": r.gw_fixed_ips})
    });
    obj(json!({
        "id": r.id,
        "name": r.name,
        "tenant_id": r.project_id,
        "project_id": r.project_id,
        "description": r.description,
        "admin_state_up": r.admin_state_up,
        "status": r.status,
        "external_gateway_info": gw,
        "routes": r.routes,
        "availability_zone_hints": r.availability_zone_hints,
        "availability_zones": [],
        "tags": r.tags,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "revision_number": r.revision_number,
    }))
}

pub fn floatingip(f: &neutrino_types::model::FloatingIp) -> Map<String, Value> {
    obj(json!({
        "id": f.id,
        "tenant_id": f.project_id,
        "project_id": f.project_id,
        "description": f.description,
        "floating_network_id": f.floating_network_id,
        "floating_ip_address": f.floating_ip_address,
        "port_id": f.port_id,
        "fixed_ip_address": f.fixed_ip_address,
        "router_id": f.router_id,
        "status": f.status,
        "tags": f.tags,
        "created_at": f.created_at,
        "updated_at": f.updated_at,
        "revision_number": f.revision_number,
    }))
}

pub fn rbac_policy(p: &neutrino_types::model::RbacPolicy) -> Map<String, Value> {
    obj(json!({
        "id": p.id,
        "tenant_id": p.project_id,
        "project_id": p.project_id,
        "object_type": "network",
        "object_id": p.object_id,
        "action": p.action,
        "target_tenant": p.target_project,
    }))
}
