//! Key-manager API tests of the router, each run on SQLite and on
//! PostgreSQL (when NEUTRINO_TEST_POSTGRES_URL is set), and of the load
//! balancer's certificate loading. Expected answers are upstream
//! barbican 23's (statuses, bodies, messages), read from its source.

mod acls;
mod containers;
mod isolation;
mod secrets;
mod support;
mod tls;
mod versions;
