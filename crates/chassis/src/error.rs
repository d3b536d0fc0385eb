//! The crate's error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work (bad name, path too long, ...).
    #[error("invalid chassis configuration: {0}")]
    Config(String),
    /// A file or directory operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A helper program (`ip`, `ethtool`, `ovsdb-tool`) failed.
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    /// Talking to an OVSDB server failed.
    #[error(transparent)]
    Ovsdb(#[from] neutrino_ovsdb::Error),
    /// Another chassis (or something else) already uses a host-global name
    /// this one needs: netdev ovs-vswitchd creates its devices in the host's
    /// network namespace, so two on one host collide.
    #[error("host collision: {0}")]
    Collision(String),
    /// Another process holds this data directory.
    #[error(
        "{} is in use by another running chassis (lock held on chassis.lock)",
        .0.display()
    )]
    Locked(PathBuf),
    /// A daemon did not come up.
    #[error("{daemon} did not start: {detail}")]
    DaemonFailed {
        daemon: &'static str,
        detail: String,
    },
    /// Something did not happen in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A port is already plugged, or not found.
    #[error("{0}")]
    Plug(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
