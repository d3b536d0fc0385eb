//! Wire-independent vocabulary shared by every Neutrino crate: the API error
//! type and the records of the network model. No I/O happens here.

mod error;
pub mod input;
pub mod model;

pub use error::ApiError;

/// Device owners that make a port part of a router.
pub const ROUTER_INTERFACE_OWNERS: &[&str] = &[
    "network:router_interface",
    "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
    "network:router_centralized_snat",
];
pub const DEVICE_OWNER_ROUTER_GW: &str = "network:router_gateway";
pub const DEVICE_OWNER_ROUTER_INTF: &str = "network:router_interface";
pub const DEVICE_OWNER_DHCP: &str = "network:dhcp";
pub const DEVICE_OWNER_FLOATINGIP: &str = "network:floatingip";
