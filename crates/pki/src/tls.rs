//! rustls configurations for both ends of the agent API (§8.2).

use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
    SupportedProtocolVersion,
};

use crate::{Error, Issued, Result};

/// TLS 1.3 and 1.2 (nothing older exists in rustls).
static VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The crypto provider every configuration here uses (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem {
            what,
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::Pem {
            what,
            detail: "no CERTIFICATE section".into(),
        });
    }
    Ok(certs)
}

fn key(pem: &str, what: &'static str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| Error::Pem {
        what,
        detail: e.to_string(),
    })
}

fn roots(ca_pem: &str) -> Result<Arc<RootCertStore>> {
    let mut store = RootCertStore::empty();
    for cert in certs(ca_pem, "CA certificate")? {
        store.add(cert)?;
    }
    Ok(Arc::new(store))
}

fn certified_key(cert_pem: &str, key_pem: &str) -> Result<Arc<CertifiedKey>> {
    let ck = CertifiedKey::from_der(
        certs(cert_pem, "server certificate")?,
        key(key_pem, "server key")?,
        &provider(),
    )?;
    Ok(Arc::new(ck))
}

/// The agent's server certificate, replaceable while serving
/// (`PUT /certificate`): handshakes after [`ReloadableServerCert::replace`]
/// present the new certificate; established connections are unaffected.
pub struct ReloadableServerCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for ReloadableServerCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableServerCert")
            .finish_non_exhaustive()
    }
}

impl ReloadableServerCert {
    /// `cert_pem` is the certificate (optionally followed by its chain);
    /// `key_pem` its PKCS#8, SEC1 or PKCS#1 key. Both may be the same
    /// bundle (certificate + key), as in the body of `PUT /certificate`.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            current: RwLock::new(certified_key(cert_pem, key_pem)?),
        }))
    }

    /// Replaces the certificate for new handshakes. Validated first (the
    /// key must match the certificate): on error the old one stays.
    pub fn replace(&self, cert_pem: &str, key_pem: &str) -> Result<()> {
        let new = certified_key(cert_pem, key_pem)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = new;
        Ok(())
    }

    /// The DER of the certificate currently presented.
    pub fn current_cert_der(&self) -> CertificateDer<'static> {
        let ck = self.current.read().unwrap_or_else(|e| e.into_inner());
        ck.cert[0].clone()
    }
}

impl ResolvesServerCert for ReloadableServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// The agent's configuration: presents `issued` (the amphora certificate),
/// requires a client certificate chained to `ca_pem`, TLS ≥ 1.2.
pub fn server_config(issued: &Issued, ca_pem: &str) -> Result<Arc<ServerConfig>> {
    let resolver = ReloadableServerCert::from_pem(&issued.cert_pem, &issued.key_pem)?;
    server_config_with(resolver, ca_pem)
}

/// [`server_config`] with a certificate holder the caller keeps (so that
/// `PUT /certificate` can [`ReloadableServerCert::replace`] it).
pub fn server_config_with(
    resolver: Arc<ReloadableServerCert>,
    ca_pem: &str,
) -> Result<Arc<ServerConfig>> {
    let provider = provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(roots(ca_pem)?, provider.clone()).build()?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(resolver);
    Ok(Arc::new(config))
}

/// The controller's configuration, checking the server certificate against
/// the CA and the name given at connect time (e.g. tokio-rustls'
/// `connect(ServerName::try_from(amphora_id), tcp)`). When the name at
/// connect time is the IP (reqwest with `https://{ip}:9443`), use
/// [`client_config_for`].
pub fn client_config(controller: &Issued, ca_pem: &str) -> Result<Arc<ClientConfig>> {
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(ca_pem)?, provider())
        .build()
        .map_err(|e| Error::Invalid(format!("server certificate verifier: {e}")))?;
    finish_client(controller, verifier)
}

/// The controller's configuration for one amphora: the server certificate
/// must chain to the CA and name `expected_amphora_id` (SAN DNS), whatever
/// address or name the connection was made to. A certificate of another
/// amphora is rejected even though it chains to the CA.
pub fn client_config_for(
    controller: &Issued,
    ca_pem: &str,
    expected_amphora_id: &str,
) -> Result<Arc<ClientConfig>> {
    let verifier = AmphoraNameVerifier::new(ca_pem, expected_amphora_id)?;
    finish_client(controller, Arc::new(verifier))
}

fn finish_client(
    controller: &Issued,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<Arc<ClientConfig>> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(
            certs(&controller.cert_pem, "controller certificate")?,
            key(&controller.key_pem, "controller key")?,
        )?;
    Ok(Arc::new(config))
}

/// webpki's server verification (chain to the CA, validity, EKU
/// serverAuth) with the name replaced by the expected amphora id.
#[derive(Debug)]
pub struct AmphoraNameVerifier {
    inner: Arc<WebPkiServerVerifier>,
    expected: ServerName<'static>,
}

impl AmphoraNameVerifier {
    pub fn new(ca_pem: &str, expected_amphora_id: &str) -> Result<Self> {
        let expected = ServerName::try_from(expected_amphora_id.to_owned())
            .map_err(|_| Error::InvalidName(expected_amphora_id.to_owned()))?;
        if !matches!(expected, ServerName::DnsName(_)) {
            return Err(Error::InvalidName(expected_amphora_id.to_owned()));
        }
        let inner = WebPkiServerVerifier::builder_with_provider(roots(ca_pem)?, provider())
            .build()
            .map_err(|e| Error::Invalid(format!("server certificate verifier: {e}")))?;
        Ok(Self { inner, expected })
    }
}

impl ServerCertVerifier for AmphoraNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            &self.expected,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}
