//! Operator mode: the infra layer's resources (`NetConfig`, `IPSet`,
//! `Reservation`, `DNSMasq`, `DNSData`, `network.openstack.org/v1beta1`)
//! reconciled in a Kubernetes cluster instead of Neutrino's database.
//!
//! The rules and the work are the REST service's: [`neutrino_infra::validate`]
//! for what upstream's webhooks check, [`neutrino_infra::alloc`] for the
//! address walk and the status entries, [`neutrino_infra::dns::Reconciler`]
//! for the DNS responders. What changes is the store: the cluster's objects
//! are read through the API server, and the results are written back as
//! owned `Reservation` objects and status subresources.
//!
//! * [`crd`]: the custom resource types and the CRDs generated from them.
//! * [`ipset`]: allocation and status of IPSets, with a finalizer that
//!   deletes their Reservation.
//! * [`netconfig`]: validation, and a finalizer that keeps a NetConfig while
//!   IPSets use it.
//! * [`dns`]: DNSMasq/DNSData from watches into the DNS reconciler.
//! * [`run`]: the controllers wired together (`neutrino operator run`).

pub mod crd;
pub mod dns;
pub mod ipset;
pub mod netconfig;
mod run;

use std::time::Duration;

pub use crd::{crds, crds_yaml};
pub use run::{Options, run, run_with};

/// Field manager of every server-side apply, and the name events carry.
pub const MANAGER: &str = "neutrino-operator";

/// How long a failed reconcile waits before it runs again.
pub const RETRY: Duration = Duration::from_secs(30);

/// What the reconcilers share.
pub struct Context {
    pub client: kube::Client,
    /// The timestamp of condition transitions (tests pin it).
    pub now: fn() -> String,
}

impl Context {
    pub fn new(client: kube::Client) -> Context {
        Context {
            client,
            now: now_timestamp,
        }
    }
}

/// Seconds-precision RFC 3339 in UTC, as Kubernetes writes times.
pub fn now_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Finalizer(Box<kube::runtime::finalizer::Error<Error>>),
    /// A NetConfig whose deletion waits for its IPSets.
    #[error("{0}")]
    InUse(String),
    #[error("object without a namespace")]
    NoNamespace,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `network.openstack.org/v1beta1`, as objects written by the operator
/// carry it.
pub(crate) const API_VERSION: &str = neutrino_infra::meta::API_VERSION;
