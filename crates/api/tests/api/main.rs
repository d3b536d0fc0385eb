//! Network API integration tests, each run on SQLite and on PostgreSQL.

mod support;

mod auth;
mod concurrency;
mod conformance;
mod errors;
mod networks;
mod ovn_sync;
mod ports;
mod quotas;
mod rbac;
mod routers;
mod security_groups;
mod subnets;
