//! The node description: what `neutrino infra render` needs besides the
//! NetConfig. The NetConfig says which networks exist; this says which
//! cluster nodes join them, on which interface, and which addresses pods
//! and MetalLB may use (the NetConfig's allocation ranges belong to
//! IPSets, so they cannot be reused for either).
//!
//! ```yaml
//! baseInterface: enp6s0                    # required
//! nodeSelector:                            # optional, added to every node's
//!   node-role.kubernetes.io/worker: ""
//! nodes:                                   # required, at least one
//! - name: worker-0                         # the node's policy is named after it
//!   nodeSelector: {...}                    # default kubernetes.io/hostname: <name>
//!   ipSet: worker-0                        # default <name>
//!   addresses:                             # network -> address(es); wins over the IPSet
//!     ctlplane: 192.168.122.10
//! networks:                                # keyed by network name or serviceNetwork
//!   internalapi:
//!     range: 172.17.0.30-172.17.0.70       # pods' addresses: renders the attachment
//!     metallb: [172.17.0.80-172.17.0.90]   # MetalLB pool: IPAddressPool + L2Advertisement
//! metallb:
//!   namespace: metallb-system
//! octavia:                                 # optional, see below
//!   network: octavia
//!   bridge: octbr
//!   controlPlane: controlplane
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RenderError;
use crate::codec::deserialize_at;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeDescription {
    /// The interface the VLAN interfaces sit on, the same on every node
    /// (an attachment names one `master` for the whole cluster).
    pub base_interface: String,
    /// Labels every node's policy selects on, besides the node's own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    pub nodes: Vec<Node>,
    /// Per-network settings, keyed by the NetConfig network's name or
    /// serviceNetwork (any case).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkSettings>,
    #[serde(default)]
    pub metallb: MetalLbSettings,
    /// The Octavia management network. Without this section, a NetConfig
    /// network named (or with serviceNetwork) `octavia` is it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub octavia: Option<OctaviaSettings>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    pub name: String,
    /// Replaces the default selector `kubernetes.io/hostname: <name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// The IPSet (or Reservation) holding this node's addresses; the
    /// node's name when unset, where a missing one means no addresses.
    #[serde(default, rename = "ipSet", skip_serializing_if = "Option::is_none")]
    pub ip_set: Option<String>,
    /// Addresses by network, for nodes whose addresses no IPSet holds (a
    /// cluster node's control-plane address, typically).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addresses: BTreeMap<String, Addresses>,
}

/// One address or several (dual stack).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Addresses {
    One(String),
    Many(Vec<String>),
}

impl Addresses {
    pub fn list(&self) -> Vec<&str> {
        match self {
            Addresses::One(a) => vec![a.as_str()],
            Addresses::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSettings {
    /// `START-END`: the addresses whereabouts gives pods; the network gets
    /// a NetworkAttachmentDefinition when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// MetalLB pool addresses (`START-END` or a CIDR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metallb: Vec<String>,
}

fn default_metallb_namespace() -> String {
    "metallb-system".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetalLbSettings {
    #[serde(default = "default_metallb_namespace")]
    pub namespace: String,
}

impl Default for MetalLbSettings {
    fn default() -> Self {
        MetalLbSettings {
            namespace: default_metallb_namespace(),
        }
    }
}

fn default_octavia_network() -> String {
    "octavia".into()
}

fn default_bridge() -> String {
    "octbr".into()
}

fn default_control_plane() -> String {
    "controlplane".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OctaviaSettings {
    /// NetConfig network name or serviceNetwork.
    #[serde(default = "default_octavia_network")]
    pub network: String,
    /// The Linux bridge on the network's VLAN interface, OVN's NIC mapping.
    #[serde(default = "default_bridge")]
    pub bridge: String,
    /// Name of the OpenStackControlPlane the patch is for.
    #[serde(default = "default_control_plane")]
    pub control_plane: String,
}

impl Default for OctaviaSettings {
    fn default() -> Self {
        OctaviaSettings {
            network: default_octavia_network(),
            bridge: default_bridge(),
            control_plane: default_control_plane(),
        }
    }
}

impl NodeDescription {
    /// Reads a node description (parsed YAML or JSON); a wrong or unknown
    /// field is an error naming it (`nodes[1].nodeSelector`).
    pub fn from_value(value: Value) -> Result<NodeDescription, RenderError> {
        deserialize_at::<NodeDescription>("", value).map_err(|mut e| {
            e.field = e.field.trim_start_matches('.').to_string();
            if e.field.is_empty() {
                e.field = "(document)".into();
            }
            RenderError::Nodes(vec![e])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_field_errors() {
        let d = NodeDescription::from_value(json!({
            "baseInterface": "enp6s0",
            "nodes": [{"name": "worker-0", "addresses": {"ctlplane": ["192.168.122.10", "fd00::10"]}}],
            "octavia": {}
        }))
        .unwrap();
        assert_eq!(d.metallb.namespace, "metallb-system");
        let o = d.octavia.unwrap();
        assert_eq!(
            (
                o.network.as_str(),
                o.bridge.as_str(),
                o.control_plane.as_str()
            ),
            ("octavia", "octbr", "controlplane")
        );
        assert_eq!(d.nodes[0].addresses["ctlplane"].list().len(), 2);

        let e = NodeDescription::from_value(json!({
            "baseInterface": "enp6s0",
            "nodes": [{"name": "w", "nodeSelektor": {}}]
        }))
        .unwrap_err()
        .to_string();
        assert!(e.contains("nodes[0].nodeSelektor"), "{e}");
        let e = NodeDescription::from_value(json!({"nodes": []}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("baseInterface: Required value"), "{e}");
        let e = NodeDescription::from_value(json!({
            "baseInterface": "enp6s0", "nodes": [], "networks": {"x": {"range": 5}}
        }))
        .unwrap_err()
        .to_string();
        assert!(e.contains("networks.x.range"), "{e}");
    }
}
