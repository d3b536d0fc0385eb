//! MetalLB in layer 2 mode: per network with a pool, an `IPAddressPool`
//! named after the network and an `L2Advertisement` announcing it only on
//! that network's interfaces. One advertisement per pool, not one for all:
//! an advertisement announces each of its pools on each of its interfaces,
//! which would put one network's VIPs on another's VLAN.

use serde_json::{Value, json};

use super::plan::Plan;

pub const API_VERSION: &str = "metallb.io/v1beta1";

/// The pool and advertisement of network `i`, which has pool addresses.
pub(super) fn documents(plan: &Plan, i: usize) -> [Value; 2] {
    let np = &plan.networks[i];
    let mut interfaces: Vec<String> = Vec::new();
    for &j in &np.pool_subnets {
        let iface = match plan.octavia.as_ref().filter(|o| o.network == i) {
            // The VLAN interface is a bridge port; the bridge holds the L2.
            Some(o) => o.bridge.clone(),
            None => plan.interface(i, j),
        };
        if !interfaces.contains(&iface) {
            interfaces.push(iface);
        }
    }
    let metadata = json!({"name": np.name, "namespace": plan.metallb_namespace});
    [
        json!({
            "apiVersion": API_VERSION,
            "kind": "IPAddressPool",
            "metadata": metadata,
            "spec": {"addresses": np.pool, "autoAssign": true, "avoidBuggyIPs": false},
        }),
        json!({
            "apiVersion": API_VERSION,
            "kind": "L2Advertisement",
            "metadata": metadata,
            "spec": {"ipAddressPools": [np.name], "interfaces": interfaces},
        }),
    ]
}
