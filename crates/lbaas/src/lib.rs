//! The load-balancer controller (docs/design/load-balancing.md §7).
//!
//! [`engine`] runs persisted, resumable flows: ordered steps with an undo
//! each, stored in the database and driven by a lease-holding worker on
//! every server. It knows nothing about load balancers; the flow
//! definitions and providers built on it do.

pub mod engine;
