//! Realizes the Network API model in OVN.
//!
//! * [`desired`] — pure translation of networks, subnets, ports, routers,
//!   floating IPs and security groups into northbound rows, with the names
//!   and `external_ids` of OpenStack's own OVN driver ([`naming`], [`acl`]).
//! * [`plan`] — the difference between those rows and a replica snapshot,
//!   as one OVSDB transaction.
//! * [`sync`] — the worker draining the journal the database triggers fill,
//!   plus the full audit.
//! * [`status`] — port status and binding host from the southbound DB.

pub mod acl;
pub mod desired;
pub mod diff;
pub mod index;
pub mod load;
pub mod naming;
pub mod plan;
pub mod status;
pub mod sync;

pub use plan::Counts;
pub use sync::{AuditReport, NB_TABLES, SB_TABLES, Syncer};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] neutrino_store::StoreError),
    #[error(transparent)]
    Ovsdb(#[from] neutrino_ovsdb::Error),
    #[error("{0} objects wait for objects they depend on")]
    NotReady(usize),
}
