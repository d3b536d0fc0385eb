//! The cluster manifests a NetConfig needs, as a pure function of the
//! NetConfig, a [`NodeDescription`] and the nodes' reserved addresses:
//!
//! * [`nncp`]: a `NodeNetworkConfigurationPolicy` per node: a VLAN
//!   interface per VLAN, the base interface when it needs an address or a
//!   larger MTU, and for Octavia the `octbr` bridge on its VLAN interface.
//! * [`nad`]: a `NetworkAttachmentDefinition` per network pods attach to
//!   (macvlan on the VLAN interface, a bridge for Octavia), whereabouts
//!   IPAM.
//! * [`metallb`]: an `IPAddressPool` and `L2Advertisement` per network with
//!   a MetalLB pool.
//! * [`octavia`]: the OpenStackControlPlane patch enabling Octavia on its
//!   attachment, and the checks octavia-operator's address layout needs.
//! * [`os_net_config`]: a node's os-net-config document from its IPSet.
//!
//! The shapes are those of the networking documents the project follows
//! (docs/infra.md lists the choices made where they are silent).

pub mod metallb;
pub mod nad;
pub mod nncp;
pub mod nodes;
pub mod octavia;
pub mod os_net_config;
mod plan;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

pub use nodes::NodeDescription;

use crate::resources::{IPAddress, NetConfigSpec};
use crate::validate::{self, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the NetConfig is invalid:{}", lines(.0))]
    NetConfig(Vec<FieldError>),
    #[error("the node description is invalid:{}", lines(.0))]
    Nodes(Vec<FieldError>),
    #[error("IPSet {name:?}: {message}")]
    IPSet { name: String, message: String },
}

fn lines(errors: &[FieldError]) -> String {
    let mut s = String::new();
    for e in errors {
        let _ = write!(s, "\n  {e}");
    }
    s
}

/// What [`render`] works from.
pub struct RenderInput<'a> {
    pub netconfig: &'a NetConfigSpec,
    pub nodes: &'a NodeDescription,
    /// Namespace of the attachments and the OpenStackControlPlane.
    pub namespace: &'a str,
    /// Reserved addresses by IPSet (= Reservation) name.
    pub reservations: &'a BTreeMap<String, Vec<IPAddress>>,
}

#[derive(Debug)]
pub struct Rendered {
    /// In apply order: node policies, attachments, MetalLB pools with their
    /// advertisements, the OpenStackControlPlane patch.
    pub documents: Vec<Value>,
    /// Settings that render but are likely mistakes (pods and IPSets
    /// sharing addresses, say).
    pub warnings: Vec<String>,
}

pub fn render(input: &RenderInput) -> Result<Rendered, RenderError> {
    let errors = validate::netconfig(input.netconfig);
    if !errors.is_empty() {
        return Err(RenderError::NetConfig(errors));
    }
    let plan = plan::Plan::new(input)?;
    let mut documents = Vec::new();
    for node in &plan.nodes {
        documents.push(nncp::policy(&plan, node));
    }
    for (i, net) in plan.networks.iter().enumerate() {
        if net.attachment.is_some() {
            documents.push(nad::attachment(&plan, i));
        }
    }
    for (i, net) in plan.networks.iter().enumerate() {
        if !net.pool.is_empty() {
            documents.extend(metallb::documents(&plan, i));
        }
    }
    if plan.octavia.is_some() {
        documents.push(octavia::control_plane_patch(&plan));
    }
    Ok(Rendered {
        documents,
        warnings: plan.warnings,
    })
}
