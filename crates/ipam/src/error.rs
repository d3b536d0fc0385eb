use std::net::IpAddr;

/// IPAM failures. Variants map one-to-one onto the Neutron exception the API
/// layer must report; the `String` payloads already hold Neutron's message
/// text so the API does not have to re-derive it.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum IpamError {
    /// Neutron `InvalidAllocationPool` (400).
    #[error("{0}")]
    InvalidAllocationPool(String),
    /// Neutron `OutOfBoundsAllocationPool` (400).
    #[error("{0}")]
    OutOfBoundsAllocationPool(String),
    /// Neutron `OverlappingAllocationPools` (409).
    #[error("{0}")]
    OverlappingAllocationPools(String),
    /// Neutron `GatewayConflictWithAllocationPools` (409).
    #[error("{0}")]
    GatewayConflictWithAllocationPools(String),
    /// Neutron raises `InvalidInput` (400) with this text.
    #[error("{0}")]
    InvalidGateway(String),
    /// Neutron raises `InvalidInput` / `HTTPBadRequest` (400) with this text.
    #[error("{0}")]
    InvalidCidr(String),
    /// Neutron ipam `IpAddressAlreadyAllocated` (409).
    #[error("IP address {0} already allocated in subnet")]
    AlreadyAllocated(IpAddr),
    /// Neutron `InvalidIpForSubnet` (400).
    #[error("IP address {0} is not a valid IP for the specified subnet.")]
    NotInSubnet(IpAddr),
    /// Neutron ipam `IpAddressGenerationFailure` (409).
    #[error("No more IP addresses available on subnet.")]
    Exhausted,
    /// Neutron attribute validation failure (400).
    #[error("{0}")]
    InvalidMac(String),
}
