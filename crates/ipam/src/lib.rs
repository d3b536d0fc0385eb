//! Pure IP address management math for Neutrino.
//!
//! Everything here is synchronous and free of I/O so that the API layer and
//! the SQL store can share one definition of Neutron's IPAM rules: the store
//! persists offsets computed here, and [`Allocator`] is the reference model
//! its allocation query must agree with.

mod addr;
mod allocator;
mod error;
mod eui64;
mod mac;
mod pool;

pub use addr::{
    ROUTER_PORT_OWNERS, addr_at, cidrs_overlap, default_gateway, first_usable, is_valid_for_subnet,
    last_usable, normalize_cidr, offset_of, validate_gateway,
};
pub use allocator::Allocator;
pub use error::IpamError;
pub use eui64::{AUTO_ADDRESS_MODES, check_auto_address_prefix, eui64, is_eui64_address};
pub use mac::{DEFAULT_MAC_PREFIX, Mac};
pub use pool::{Pool, default_pools, parse_pool, pool_offsets, ranges_overlap, validate_pools};

/// Re-exported so callers name the same CIDR types this crate does.
pub use ipnet::{IpNet, Ipv4Net, Ipv6Net};
