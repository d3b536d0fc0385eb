//! For tests that run a real chassis.

use std::fs::File;
use std::path::Path;

/// The lock file every test running ovs-vswitchd holds, whatever the test
/// binary or runner: the userspace datapath's devices are host-wide, so two
/// such tests at once would collide (see [`crate::Error::Collision`]).
pub const HOST_LOCK: &str = "/tmp/neutrino-netdev-datapath.lock";

/// Holds the host-wide data-plane lock until dropped.
pub struct HostLock {
    _file: File,
}

impl HostLock {
    /// Blocks until no other test on this host runs a chassis.
    pub fn acquire() -> std::io::Result<HostLock> {
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(Path::new(HOST_LOCK))?;
        f.lock()?;
        Ok(HostLock { _file: f })
    }
}
