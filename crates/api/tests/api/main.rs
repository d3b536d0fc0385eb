//! Network API integration tests, each run on SQLite and on PostgreSQL.

mod support;

mod auth;
mod concurrency;
mod errors;
mod networks;
mod ports;
mod subnets;
