//! One `NodeNetworkConfigurationPolicy` per node.
//!
//! * A VLAN interface `<base>.<vlan>` per VLAN of the NetConfig (networks
//!   sharing a VLAN share it), carrying the node's addresses on it, IP
//!   disabled otherwise.
//! * The base interface (an `ethernet`), only when the node has addresses
//!   on untagged subnets or a VLAN needs an MTU above 1500; otherwise the
//!   policy leaves it alone (nmstate keeps what a policy does not name).
//! * The Octavia VLAN interface and bridge ([`super::octavia`]).
//!
//! MTUs are written only when some network's is not 1500: a VLAN interface
//! inherits its base's MTU when created, so once the base is raised every
//! VLAN interface needs its own.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::octavia;
use super::plan::{NodePlan, Plan};

pub const API_VERSION: &str = "nmstate.io/v1";
pub const KIND: &str = "NodeNetworkConfigurationPolicy";
/// What an interface gets when nothing sets its MTU.
const DEFAULT_MTU: i64 = 1500;

/// nmstate's `ipv4` and `ipv6` sections for a set of addresses: a family
/// with addresses is enabled with them, the other disabled.
pub(super) fn ip_settings(addrs: &[(IpAddr, u8)]) -> (Value, Value) {
    let family = |v6: bool| {
        let list: Vec<Value> = addrs
            .iter()
            .filter(|(ip, _)| ip.is_ipv6() == v6)
            .map(|(ip, p)| json!({"ip": ip.to_string(), "prefix-length": p}))
            .collect();
        if list.is_empty() {
            json!({"enabled": false})
        } else {
            json!({"address": list, "enabled": true})
        }
    };
    (family(false), family(true))
}

struct VlanGroup {
    vlan: i64,
    names: Vec<String>,
    mtu: i64,
    addrs: Vec<(IpAddr, u8)>,
}

pub(super) fn policy(plan: &Plan, node: &NodePlan) -> Value {
    let mut groups: Vec<VlanGroup> = Vec::new();
    let mut untagged: Vec<(IpAddr, u8)> = Vec::new();
    let mut mtus: Vec<i64> = Vec::new();
    for (i, np) in plan.networks.iter().enumerate() {
        if plan.is_octavia(i) {
            mtus.push(np.net.mtu);
            continue;
        }
        for (j, s) in np.subnets.iter().enumerate() {
            let addrs = node
                .addresses
                .iter()
                .filter(|a| a.network == i && a.subnet == j)
                .map(|a| (a.ip, s.cidr.prefix_len()));
            match s.subnet.vlan {
                Some(vlan) => {
                    let g = match groups.iter().position(|g| g.vlan == vlan) {
                        Some(k) => &mut groups[k],
                        None => {
                            groups.push(VlanGroup {
                                vlan,
                                names: Vec::new(),
                                mtu: np.net.mtu,
                                addrs: Vec::new(),
                            });
                            groups.last_mut().expect("just pushed")
                        }
                    };
                    if !g.names.contains(&np.name) {
                        g.names.push(np.name.clone());
                    }
                    g.mtu = g.mtu.max(np.net.mtu);
                    g.addrs.extend(addrs);
                    mtus.push(np.net.mtu);
                }
                None => {
                    let before = untagged.len();
                    untagged.extend(addrs);
                    if untagged.len() > before {
                        mtus.push(np.net.mtu);
                    }
                }
            }
        }
    }
    let explicit_mtu = mtus.iter().any(|m| *m != DEFAULT_MTU);
    let base_mtu = mtus.iter().copied().max().unwrap_or(DEFAULT_MTU);

    let mut interfaces = Vec::new();
    for g in &groups {
        let (v4, v6) = ip_settings(&g.addrs);
        let mut iface = json!({
            "description": format!("{} vlan interface", g.names.join(", ")),
            "ipv4": v4,
            "ipv6": v6,
        });
        if explicit_mtu {
            iface["mtu"] = json!(g.mtu);
        }
        iface["name"] = json!(plan.vlan_interface(g.vlan));
        iface["state"] = json!("up");
        iface["type"] = json!("vlan");
        iface["vlan"] = json!({"base-iface": plan.base, "id": g.vlan});
        interfaces.push(iface);
    }
    if !untagged.is_empty() || base_mtu > DEFAULT_MTU {
        let mut iface = json!({"description": format!("Configuring {}", plan.base)});
        if !untagged.is_empty() {
            let (v4, v6) = ip_settings(&untagged);
            iface["ipv4"] = v4;
            iface["ipv6"] = v6;
        }
        iface["mtu"] = json!(base_mtu);
        iface["name"] = json!(plan.base);
        iface["state"] = json!("up");
        iface["type"] = json!("ethernet");
        interfaces.push(iface);
    }
    if let Some(o) = &plan.octavia {
        interfaces.extend(octavia::interfaces(plan, o, node, explicit_mtu));
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": node.name},
        "spec": {
            "desiredState": {"interfaces": interfaces},
            "nodeSelector": node.selector,
        },
    })
}
