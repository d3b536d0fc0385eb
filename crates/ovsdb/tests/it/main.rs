//! Integration tests against a real ovsdb-server (Debian's Open vSwitch 3.1 / OVN 23.03)
//! started per test by `neutrino_ovsdb::testing::OvsdbServer`, and against a scripted
//! fake server for what a real one cannot be made to do on demand.

mod cluster;
mod connection;
mod fake_server;
mod session;

use std::time::Duration;

/// Generous: CI machines are slow, and a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "neutrino_ovsdb=debug".into()),
        )
        .with_test_writer()
        .try_init();
}
