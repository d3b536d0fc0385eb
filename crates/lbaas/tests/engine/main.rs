//! The flow engine against real databases (SQLite, and PostgreSQL when
//! `NEUTRINO_TEST_POSTGRES_URL` is set), with steps whose side effects are
//! rows of the same database (see `support`).

mod crash;
mod flows;
mod lease;
mod support;
