use std::net::SocketAddr;

/// Everything the responder can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The listen address could not be bound (UDP or TCP).
    #[error("cannot listen on {addr} ({proto}): {source}")]
    Bind {
        addr: SocketAddr,
        proto: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A DNSMasq option value that cannot be used.
    #[error("option {key}={value:?}: {reason}")]
    InvalidOption {
        key: String,
        value: String,
        reason: String,
    },
    /// A host or domain name that is not a valid DNS name.
    #[error("invalid DNS name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
}
