//! One `NetworkAttachmentDefinition` per network pods attach to: macvlan
//! on the network's host interface (a VLAN interface, or the base
//! interface when untagged), or for Octavia a bridge attachment on its
//! bridge, which lets pods on one node reach each other (macvlan does
//! not) and lets OVN plug the same bridge. Addresses come from whereabouts,
//! limited to the range the node description gives, with the subnet's
//! routes.

use serde_json::{Value, json};

use super::plan::Plan;

pub const API_VERSION: &str = "k8s.cni.cncf.io/v1";
pub const KIND: &str = "NetworkAttachmentDefinition";
const CNI_VERSION: &str = "0.3.1";
/// The label that marks an attachment's network.
pub const NETWORK_LABEL: &str = "osp/net";

/// The attachment of network `i`, which has a range.
pub(super) fn attachment(plan: &Plan, i: usize) -> Value {
    let np = &plan.networks[i];
    let att = np
        .attachment
        .as_ref()
        .expect("only networks with a range get an attachment");
    let s = &np.subnets[att.subnet];
    let mut config = json!({"cniVersion": CNI_VERSION, "name": np.name});
    match plan.octavia.as_ref().filter(|o| o.network == i) {
        Some(o) => {
            config["type"] = json!("bridge");
            config["bridge"] = json!(o.bridge);
        }
        None => {
            config["type"] = json!("macvlan");
            config["master"] = json!(plan.interface(i, att.subnet));
        }
    }
    let mut ipam = json!({
        "type": "whereabouts",
        "range": s.cidr.to_string(),
        "range_start": att.start.to_string(),
        "range_end": att.end.to_string(),
    });
    if !s.subnet.routes.is_empty() {
        ipam["routes"] = s
            .subnet
            .routes
            .iter()
            .map(|r| json!({"dst": r.destination.trim(), "gw": r.nexthop.trim()}))
            .collect();
    }
    config["ipam"] = ipam;
    // Pretty, with the final newline of a YAML block scalar, as people
    // write it.
    let mut text = serde_json::to_string_pretty(&config).expect("JSON values serialize");
    text.push('\n');
    json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "labels": {NETWORK_LABEL: np.name},
            "name": np.name,
            "namespace": plan.namespace,
        },
        "spec": {"config": text},
    })
}
