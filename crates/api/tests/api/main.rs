//! Network API integration tests, each run on SQLite and on PostgreSQL.

mod support;

mod auth;
mod concurrency;
mod conformance;
mod cross_project;
mod errors;
mod fuzz;
mod hostile_input;
mod networks;
mod ovn_sync;
mod ports;
mod quotas;
mod races;
mod rbac;
mod routers;
mod security_groups;
mod subnets;
