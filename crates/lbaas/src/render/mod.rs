//! Configuration files the controller renders for an amphora
//! (docs/design/load-balancing.md §8.3). Pure functions of records: no I/O.
//!
//! [`haproxy`] is octavia 19's `combined_listeners` haproxy template
//! (`octavia/common/jinja/haproxy/combined_listeners/`) in Rust;
//! `tests/render` compares it line for line with upstream's own output.

mod haproxy;
mod hash;
mod keepalived;

pub use haproxy::{
    AmpMemory, DEFAULT_CONNECTION_LIMIT, DEFAULT_USER_LOG_FORMAT, HAPROXY_BASE_PEER_PORT,
    HAPROXY_MAX_MAXCONN, HaproxyInput, HaproxyOptions, HaproxyPaths, Peer, crt_list, haproxy,
    peer_name, peers_section_name,
};
pub use keepalived::{
    DEFAULT_VRRP_ADVERT_INT, HostRoute, KeepalivedInput, KeepalivedOptions, KeepalivedVip,
    ROLE_BACKUP_PRIORITY, ROLE_MASTER_PRIORITY, VRRP_AUTH_DEFAULT, VRRP_ID, VrrpGroup, keepalived,
    vrrp_group_name,
};
