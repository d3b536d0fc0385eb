//! The crate's error type.

/// Everything that can go wrong talking to an OVSDB server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading from or writing to the socket failed.
    #[error("OVSDB I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// No endpoint of the list accepted a connection; `last` is the last failure.
    #[error("could not connect to {endpoint}: {last}")]
    Connect {
        endpoint: String,
        last: std::io::Error,
    },
    /// The peer sent something that is not OVSDB's JSON-RPC.
    #[error("OVSDB protocol error: {0}")]
    Protocol(String),
    /// JSON (de)serialisation failed.
    #[error("OVSDB JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// The server answered a request with a JSON-RPC error (e.g. "unknown database").
    #[error("OVSDB request failed: {error}{}", details_suffix(details))]
    Rpc {
        error: String,
        details: Option<String>,
    },
    /// Operation `index` of a transaction failed (the transaction was not committed).
    /// `index` may equal the number of operations: that is the extra result the server
    /// appends when the commit itself fails (constraint or referential integrity violation).
    #[error("OVSDB operation {index} failed: {error}{}", details_suffix(details))]
    OperationFailed {
        index: usize,
        error: String,
        details: Option<String>,
    },
    /// The connection is closed (or there is none); the request may or may not have run.
    #[error("not connected to the OVSDB server")]
    Disconnected,
    /// A deadline passed.
    #[error("timed out waiting for the OVSDB server")]
    Timeout,
    /// An endpoint string could not be parsed.
    #[error("invalid OVSDB endpoint {0:?} (expected unix:PATH or tcp:HOST:PORT)")]
    InvalidEndpoint(String),
    /// A schema could not be parsed, or does not have what was expected.
    #[error("OVSDB schema error: {0}")]
    Schema(String),
    /// The server cannot serve the database now (e.g. a cluster member cut off from its
    /// cluster, or not the leader when the leader is required).
    #[error("OVSDB server unavailable: {0}")]
    Unavailable(String),
    /// The [`crate::Session`] was closed.
    #[error("the OVSDB session is closed")]
    Closed,
}

fn details_suffix(details: &Option<String>) -> String {
    match details {
        Some(d) if !d.is_empty() => format!(" ({d})"),
        _ => String::new(),
    }
}

impl Error {
    /// Whether the error means the connection is gone (so retrying on a new one may help).
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            Error::Disconnected | Error::Io(_) | Error::Connect { .. }
        )
    }

    /// The OVSDB error string of an [`Error::Rpc`] or [`Error::OperationFailed`]
    /// (e.g. `"constraint violation"`, `"referential integrity violation"`, `"timed out"`).
    pub fn ovsdb_error(&self) -> Option<&str> {
        match self {
            Error::Rpc { error, .. } | Error::OperationFailed { error, .. } => Some(error),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
