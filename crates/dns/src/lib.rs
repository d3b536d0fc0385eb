//! Neutrino's DNS responder: what a `DNSMasq` resource runs.
//!
//! It answers A, AAAA and PTR queries for the hosts of the `DNSData`
//! resources it is given (authoritatively, AA set), forwards every other
//! query to the upstreams of the DNSMasq's `server` options, and answers
//! NXDOMAIN without forwarding for names under a `local=/domain/` option.
//!
//! The crate is the engine only: it stores nothing and reads no YAML. The
//! infra layer builds a [`RecordSet`] from the DNSData hosts
//! ([`RecordSet::from_zones`]), turns the DNSMasq options into upstreams and
//! local domains ([`parse_dnsmasq_options`]), starts a [`Responder`] and pushes
//! changes through the [`ResponderHandle`]; they take effect on the next
//! query, without a restart.
//!
//! Design (see `server.rs`): an own UDP/TCP loop on tokio in the style of
//! aardvark-dns and omicron's dns-server rather than hickory-server's
//! catalog. Answers for local names are encoded once, when records are
//! pushed (`answers.rs`); a query is parsed in place and answered by copying
//! its question and the pre-encoded records into a reused buffer
//! (`wire.rs`), so the hot path allocates nothing. hickory-proto does the
//! name handling (validation, reverse names, wire encoding) and is the
//! independent decoder the tests check every response with.

mod answers;
mod error;
mod forward;
mod options;
mod records;
mod server;
mod wire;

pub use error::DnsError;
pub use options::parse_dnsmasq_options;
pub use records::{HostEntry, RecordSet, RejectedHost, Zone, validate_hostname};
pub use server::{Responder, ResponderConfig, ResponderHandle, Stats};
