//! The load-balancer controller (docs/design/load-balancing.md §7).
//!
//! [`engine`] runs persisted, resumable flows: ordered steps with an undo
//! each, stored in the database and driven by a lease-holding worker on
//! every server. It knows nothing about load balancers; the flow
//! definitions built on it ([`flows`]) do, calling a [`backend`] for
//! whatever is outside the database. The API reaches all of it through
//! [`Controller`].

pub mod audit;
pub mod backend;
pub mod controller;
pub mod engine;
pub mod flows;
pub mod health;
pub mod render;

pub use controller::Controller;
