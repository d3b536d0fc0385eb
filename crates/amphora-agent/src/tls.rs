//! The agent's end of the mTLS (design §8.2 TLS, §8.4): the server
//! certificate and the controller CA named by `[tls]` of the config file,
//! and the `PUT /1.0/certificate` hook that swaps the certificate.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use neutrino_pki::ReloadableServerCert;

use crate::{AgentConfig, CertificateHook};

/// The TLS configuration the agent serves with, and the certificate holder
/// behind it.
pub struct ServerTls {
    /// Presents [`ServerTls::cert`]'s certificate, requires a client
    /// certificate chained to the controller CA, TLS >= 1.2.
    pub server_config: Arc<rustls::ServerConfig>,
    /// The certificate new handshakes present.
    pub cert: Arc<ReloadableServerCert>,
    /// Where the server certificate bundle lives (rewritten on replace, so
    /// that a restarted agent presents the new certificate too).
    pub server_cert_path: PathBuf,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("server_cert_path", &self.server_cert_path)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

impl ServerTls {
    /// Reads `config.tls`: `server_cert` (certificate + key PEM bundle) and
    /// `client_ca` (PEM). Errors name the file and the problem.
    pub fn load(config: &AgentConfig) -> Result<Self, String> {
        let Some(files) = &config.tls else {
            return Err(
                "no [tls] section (server_cert, client_ca): the agent serves only over mTLS".into(),
            );
        };
        let bundle = read(&files.server_cert, "tls.server_cert")?;
        let ca = read(&files.client_ca, "tls.client_ca")?;
        let cert = ReloadableServerCert::from_pem(&bundle, &bundle)
            .map_err(|e| format!("tls.server_cert {}: {e}", files.server_cert.display()))?;
        let server_config = neutrino_pki::server_config_with(cert.clone(), &ca)
            .map_err(|e| format!("tls.client_ca {}: {e}", files.client_ca.display()))?;
        Ok(ServerTls {
            server_config,
            cert,
            server_cert_path: files.server_cert.clone(),
        })
    }

    /// The `PUT /1.0/certificate` hook: the body (certificate + key PEM)
    /// replaces the presented certificate for new handshakes (rejected with
    /// 400 and nothing changed when invalid), and is written over
    /// `tls.server_cert`.
    pub fn certificate_hook(&self) -> CertificateHook {
        let cert = self.cert.clone();
        let path = self.server_cert_path.clone();
        Arc::new(move |body: &[u8]| {
            let pem = std::str::from_utf8(body).map_err(|_| "the bundle is not UTF-8 PEM")?;
            cert.replace(pem, pem).map_err(|e| e.to_string())?;
            write_atomic(&path, body).map_err(|e| {
                format!(
                    "certificate in use but not saved to {}: {e}",
                    path.display()
                )
            })
        })
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-write");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}
