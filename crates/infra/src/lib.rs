//! The infra network layer: the `network.openstack.org/v1beta1` resources
//! of openstack-k8s-operators' infra-operator (`NetConfig`, `IPSet`,
//! `Reservation`, `DNSMasq`, `DNSData`), stored in Neutrino's database.
//!
//! * [`resources`]: the types, with the CRDs' field names and defaults.
//! * [`validate`]: upstream's webhook rules and the stricter ones.
//! * [`alloc`]: the address walk and status rendering (pure).
//! * [`service`]: [`Infra`], the operations (admission, allocation, one
//!   transaction each) that the REST API calls.
//! * [`api`]: the REST API (`/infra/v1beta1/...`).
//! * [`dns`]: the reconciler that runs a DNS responder per `DNSMasq`.
//! * [`render`]: the cluster manifests (node policies, attachments, MetalLB,
//!   Octavia) and os-net-config documents a NetConfig needs (pure).
//!
//! Operator mode (crate `neutrino-operator`) drives the same pure parts
//! ([`validate`] for the webhooks, [`alloc`] for the walk and
//! [`alloc::status_entry`]) from Kubernetes watches instead of [`Infra`]'s
//! database, and [`dns::Reconciler`] from watched DNSMasq/DNSData; with
//! the `schema` feature the resource types derive `schemars::JsonSchema`,
//! from which it generates the CRDs.

pub mod alloc;
pub mod api;
pub mod codec;
pub mod dns;
pub mod error;
pub mod meta;
pub mod render;
pub mod resources;
pub mod service;
pub mod validate;

pub use error::InfraError;
pub use service::{Actor, Infra, Mode, Outcome};
