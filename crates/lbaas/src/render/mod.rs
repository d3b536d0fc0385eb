//! Configuration files the controller renders for an amphora
//! (docs/design/load-balancing.md §8.3). Pure functions of records: no I/O.
//!
//! [`haproxy`] is octavia 19's `combined_listeners` haproxy template
//! (`octavia/common/jinja/haproxy/combined_listeners/`) in Rust;
//! `tests/render` compares it line for line with upstream's own output.

mod haproxy;
mod hash;

pub use haproxy::{
    AmpMemory, DEFAULT_CONNECTION_LIMIT, DEFAULT_USER_LOG_FORMAT, HAPROXY_BASE_PEER_PORT,
    HAPROXY_MAX_MAXCONN, HaproxyInput, HaproxyOptions, HaproxyPaths, Peer, crt_list, haproxy,
    peer_name, peers_section_name,
};
