//! The Octavia management network: a Linux bridge on its VLAN interface on
//! every node (so the `octavia` attachment, a bridge attachment, reaches
//! other nodes), OVN's NIC mapping of the `octavia` physical network to
//! that bridge, and the Octavia services attached to it.
//!
//! octavia-operator reads the attachment to lay out its Neutron networks:
//! the provider subnet is the attachment's `range`, its pool the 26
//! addresses after `range_end`, the health managers' addresses the 26 after
//! those; the lb-mgmt-net CIDR and the link router's address are the first
//! route's `dst` and `gw`. `check_layout` checks that layout fits.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::nncp::ip_settings;
use super::plan::{NetPlan, NodePlan, OctaviaPlan, Plan};
use crate::alloc::{from_u128, to_u128};
use crate::validate::FieldError;

/// The physical network octavia-operator gives its provider network.
pub const PHYSNET: &str = "octavia";
/// The attachment name octavia-operator reads unless told otherwise.
pub const DEFAULT_ATTACHMENT: &str = "octavia";
/// Addresses octavia-operator takes after `range_end`: 26 for the provider
/// subnet's pool, 26 for the health managers and rsyslog.
const OPERATOR_ADDRESSES: u128 = 52;

const CONTROL_PLANE_API_VERSION: &str = "core.openstack.org/v1beta1";
/// The Octavia services that reach amphorae.
const SERVICES: [&str; 3] = [
    "octaviaHousekeeping",
    "octaviaHealthManager",
    "octaviaWorker",
];

/// Checks what octavia-operator derives from the attachment: the addresses
/// after the range fit in the subnet, and the link router's address is
/// outside them.
pub(super) fn check_layout(np: &NetPlan, errs: &mut Vec<FieldError>, warnings: &mut Vec<String>) {
    let Some(att) = &np.attachment else {
        return;
    };
    let s = &np.subnets[att.subnet];
    let sf = format!("{}.subnets[{}]", np.field, att.subnet);
    let v6 = att.end.is_ipv6();
    let first = to_u128(att.end).checked_add(1);
    let last = to_u128(att.end).checked_add(OPERATOR_ADDRESSES);
    let (Some(first), Some(last)) = (first, last) else {
        return;
    };
    let (first, last) = (from_u128(first, v6), from_u128(last, v6));
    let taken = format!("{first}-{last}");
    if !s.cidr.contains(&last) {
        errs.push(FieldError::invalid(
            format!("networks.{}.range", np.name),
            &format!("{}-{}", att.start, att.end),
            format!(
                "octavia-operator takes the {OPERATOR_ADDRESSES} addresses after the range's end ({taken}) for its provider pool and health managers; they must lie inside {}",
                s.cidr
            ),
        ));
    }
    let Some(route) = s.subnet.routes.first() else {
        warnings.push(format!(
            "{sf}.routes is empty: the Octavia attachment gets no route, and octavia-operator takes the lb-mgmt-net CIDR and the link router's address from its first route"
        ));
        return;
    };
    if let Ok(gw) = route.nexthop.trim().parse::<IpAddr>() {
        let inside = |lo: IpAddr, hi: IpAddr| {
            lo.is_ipv4() == gw.is_ipv4() && to_u128(lo) <= to_u128(gw) && to_u128(gw) <= to_u128(hi)
        };
        if inside(att.start, last) {
            errs.push(FieldError::invalid(
                format!("{sf}.routes[0].nexthop"),
                &route.nexthop,
                format!(
                    "is the link router's address, so it must lie outside the pods' range and the addresses octavia-operator takes after it ({}-{last})",
                    att.start
                ),
            ));
        }
    }
}

/// The node's Octavia interfaces: the VLAN interface, then the bridge with
/// it as its only port (and the node's address on the network, if any).
pub(super) fn interfaces(
    plan: &Plan,
    o: &OctaviaPlan,
    node: &NodePlan,
    vlan_mtu: bool,
) -> Vec<Value> {
    let np = &plan.networks[o.network];
    let port = plan.vlan_interface(o.vlan);
    let mut vlan = json!({"description": "Octavia vlan host interface"});
    if vlan_mtu {
        vlan["mtu"] = json!(np.net.mtu);
    }
    vlan["name"] = json!(port);
    vlan["state"] = json!("up");
    vlan["type"] = json!("vlan");
    vlan["vlan"] = json!({"base-iface": plan.base, "id": o.vlan});

    let mut bridge = json!({
        "bridge": {"options": {"stp": {"enabled": false}}, "port": [{"name": port}]},
        "description": format!("Configuring bridge {}", o.bridge),
    });
    let addrs: Vec<(IpAddr, u8)> = node
        .addresses
        .iter()
        .filter(|a| a.network == o.network)
        .map(|a| (a.ip, np.subnets[a.subnet].cidr.prefix_len()))
        .collect();
    if !addrs.is_empty() {
        let (v4, v6) = ip_settings(&addrs);
        bridge["ipv4"] = v4;
        bridge["ipv6"] = v6;
    }
    bridge["mtu"] = json!(np.net.mtu);
    bridge["name"] = json!(o.bridge);
    bridge["state"] = json!("up");
    bridge["type"] = json!("linux-bridge");
    vec![vlan, bridge]
}

/// The OpenStackControlPlane change enabling Octavia: OVN maps the
/// `octavia` physical network to the bridge, and the services that talk
/// to amphorae get the attachment. Meant as a merge patch (or server-side
/// apply): it names only the fields it sets.
pub(super) fn control_plane_patch(plan: &Plan) -> Value {
    let o = plan
        .octavia
        .as_ref()
        .expect("only rendered with an Octavia network");
    let attachment = &plan.networks[o.network].name;
    let mut template = serde_json::Map::new();
    if attachment != DEFAULT_ATTACHMENT {
        template.insert("octaviaNetworkAttachment".into(), json!(attachment));
    }
    for s in SERVICES {
        template.insert(s.into(), json!({"networkAttachments": [attachment]}));
    }
    json!({
        "apiVersion": CONTROL_PLANE_API_VERSION,
        "kind": "OpenStackControlPlane",
        "metadata": {"name": o.control_plane, "namespace": plan.namespace},
        "spec": {
            "ovn": {"template": {"ovnController": {"nicMappings": {PHYSNET: o.bridge}}}},
            "octavia": {"enabled": true, "template": template},
        },
    })
}
