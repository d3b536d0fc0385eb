//! Integration tests of the infra layer's REST API, each on SQLite and, when
//! `NEUTRINO_TEST_POSTGRES_URL` is set, on PostgreSQL.

mod access;
mod concurrency;
mod dns;
mod doc001;
mod hostile_input;
mod support;
mod validation;
