//! Every SQL statement Neutrino runs lives in this crate.
//!
//! [`db`] holds the two-backend abstraction; one module per resource family
//! holds its queries. Callers outside this crate never see SQL.

pub mod db;
mod error;
pub mod floatingips;
pub mod infra;
pub mod key_manager;
pub mod lb;
pub mod lb_flows;
pub mod locks;
pub mod networks;
pub mod ovn;
pub mod ports;
pub mod quotas;
pub mod rbac;
pub mod routers;
mod rows;
pub mod security_groups;
pub mod subnets;
pub mod tags;

pub use db::{Db, Target, Tx};
pub use error::StoreError;

/// Current time as Neutron renders it: `2026-11-22T01:56:22Z`.
pub fn now_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
