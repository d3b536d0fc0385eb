//! The load-balancer CA (design: load-balancing.md §8.2 TLS, §8.4).
//!
//! - [`Ca`]: create (`up`) or load (`serve --lb-ca-dir`) the CA in
//!   `{dir}/ca.pem` + `{dir}/ca.key`, and issue the controller's client
//!   certificate and the per-amphora server certificates.
//! - [`server_config`] / [`server_config_with`]: the amphora agent's end
//!   (presents the amphora certificate, requires a client certificate
//!   chained to the CA); [`ReloadableServerCert`] backs `PUT /certificate`.
//! - [`client_config_for`]: the controller's end. The controller connects
//!   by IP but checks that the server certificate names the expected
//!   amphora (upstream's `CustomHostNameCheckingAdapter`);
//!   [`client_config`] checks the name given at connect time instead.
//!
//! Everything uses rustls' `ring` provider explicitly; no process-wide
//! default provider is installed or needed.

mod ca;
mod tls;

pub use ca::{AMPHORA_VALIDITY, CA_CN, CONTROLLER_CN, Ca, Issued};
pub use tls::{
    AmphoraNameVerifier, ReloadableServerCert, client_config, client_config_for, provider,
    server_config, server_config_with,
};

use std::path::PathBuf;

/// Errors at this crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `Ca::load` on a directory without a complete CA.
    #[error("no CA at {}: {what}", dir.display())]
    Missing { dir: PathBuf, what: &'static str },
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("invalid PEM ({what}): {detail}")]
    Pem { what: &'static str, detail: String },
    #[error("{0}")]
    Invalid(String),
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    #[error("{0:?} is not usable as a certificate name")]
    InvalidName(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
