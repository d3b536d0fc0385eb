//! Real mTLS handshakes over loopback (tokio-rustls), both ends built by
//! this crate.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use neutrino_pki::{
    Ca, Issued, ReloadableServerCert, client_config, client_config_for, server_config,
    server_config_with,
};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const AMP: &str = "4a1f6c2e-8f3b-4d6a-9c1e-0b2d3e4f5a6b";
const OTHER_AMP: &str = "9b8c7d6e-5f4a-4b3c-8d2e-1f0a9b8c7d6e";
const DAY: Duration = Duration::from_secs(24 * 3600);

struct Pki {
    _dir: tempfile::TempDir,
    ca: Ca,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(dir.path()).unwrap();
    Pki { _dir: dir, ca }
}

/// What each side saw of one connection.
#[derive(Debug)]
struct Outcome {
    /// The server accepted the handshake and read the client's "ping".
    server: Result<(), String>,
    /// The client completed the handshake and read the server's "pong".
    client: Result<(), String>,
    /// DER of the certificate the server presented, when the client saw one.
    presented: Option<CertificateDer<'static>>,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.server.is_ok() && self.client.is_ok()
    }
}

/// One connection: client connects by IP (as the controller does), with
/// `server_name` as the connect-time name.
async fn exchange(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    server_name: ServerName<'static>,
) -> Outcome {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server);
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        if &buf != b"ping" {
            return Err(format!("server read {buf:?}"));
        }
        tls.write_all(b"pong").await.map_err(|e| e.to_string())?;
        tls.shutdown().await.map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    });
    let connector = tokio_rustls::TlsConnector::from(client);
    let mut presented = None;
    let client_result = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let mut tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        presented = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.clone().into_owned());
        tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        if &buf != b"pong" {
            return Err(format!("client read {buf:?}"));
        }
        Ok::<(), String>(())
    };
    let client = tokio::time::timeout(Duration::from_secs(10), client_result)
        .await
        .unwrap_or_else(|_| Err("client timed out".into()));
    let server = tokio::time::timeout(Duration::from_secs(10), server_task)
        .await
        .map(|j| j.unwrap())
        .unwrap_or_else(|_| Err("server timed out".into()));
    Outcome {
        server,
        client,
        presented,
    }
}

fn ip() -> ServerName<'static> {
    ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into())
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn amphora(p: &Pki, id: &str) -> Issued {
    p.ca.issue_amphora(id, 30 * DAY).unwrap()
}

#[tokio::test]
async fn right_client_cert_and_expected_name_succeed() {
    let p = pki();
    let amp = amphora(&p, AMP);
    let server = server_config(&amp, p.ca.cert_pem()).unwrap();
    let controller = p.ca.issue_controller().unwrap();
    let client = client_config_for(&controller, p.ca.cert_pem(), AMP).unwrap();
    let out = exchange(server, client, ip()).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.presented, Some(der(&amp.cert_pem)));
}

#[tokio::test]
async fn plain_client_config_checks_the_connect_time_name() {
    let p = pki();
    let amp = amphora(&p, AMP);
    let server = server_config(&amp, p.ca.cert_pem()).unwrap();
    let controller = p.ca.issue_controller().unwrap();
    let client = client_config(&controller, p.ca.cert_pem()).unwrap();
    let right = ServerName::try_from(AMP.to_owned()).unwrap();
    let out = exchange(server.clone(), client.clone(), right).await;
    assert!(out.ok(), "{out:?}");
    // By IP, the certificate (SAN DNS only) does not match.
    let out = exchange(server, client, ip()).await;
    assert!(out.client.is_err(), "{out:?}");
}

#[tokio::test]
async fn no_client_cert_is_refused() {
    let p = pki();
    let server = server_config(&amphora(&p, AMP), p.ca.cert_pem()).unwrap();
    // Trusts the CA, checks the name, but presents no client certificate.
    let verifier = Arc::new(neutrino_pki::AmphoraNameVerifier::new(p.ca.cert_pem(), AMP).unwrap());
    let client = ClientConfig::builder_with_provider(neutrino_pki::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let out = exchange(server, Arc::new(client), ip()).await;
    let err = out.server.clone().expect_err("server must refuse");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(out.client.is_err(), "{out:?}");
}

#[tokio::test]
async fn client_cert_from_another_ca_is_refused() {
    let p = pki();
    let rogue = pki();
    let server = server_config(&amphora(&p, AMP), p.ca.cert_pem()).unwrap();
    // The client trusts the right CA but holds a certificate of another.
    let controller = rogue.ca.issue_controller().unwrap();
    let client = client_config_for(&controller, p.ca.cert_pem(), AMP).unwrap();
    let out = exchange(server, client, ip()).await;
    let err = out.server.clone().expect_err("server must refuse");
    // Same CA name, other key: webpki finds the issuer by name and the
    // signature fails (UnknownIssuer when the names differ).
    assert!(
        err.contains("BadSignature") || err.contains("UnknownIssuer"),
        "{err}"
    );
    assert!(out.client.is_err(), "{out:?}");
}

#[tokio::test]
async fn another_amphoras_cert_is_rejected_by_the_controller() {
    let p = pki();
    // Chains to the same CA, but names another amphora.
    let server = server_config(&amphora(&p, OTHER_AMP), p.ca.cert_pem()).unwrap();
    let controller = p.ca.issue_controller().unwrap();
    let client = client_config_for(&controller, p.ca.cert_pem(), AMP).unwrap();
    let out = exchange(server.clone(), client, ip()).await;
    let err = out.client.clone().expect_err("controller must reject");
    assert!(err.contains("not valid for name"), "{err}");
    // The same server is fine for a controller expecting that amphora.
    let client = client_config_for(&controller, p.ca.cert_pem(), OTHER_AMP).unwrap();
    let out = exchange(server, client, ip()).await;
    assert!(out.ok(), "{out:?}");
}

#[tokio::test]
async fn server_cert_from_unknown_ca_is_rejected() {
    let p = pki();
    let rogue = pki();
    let rogue_amp = rogue.ca.issue_amphora(AMP, 30 * DAY).unwrap();
    // The rogue server accepts our controller (it trusts our CA) but
    // presents a certificate of its own CA with the right name.
    let server = server_config(&rogue_amp, p.ca.cert_pem()).unwrap();
    let controller = p.ca.issue_controller().unwrap();
    let client = client_config_for(&controller, p.ca.cert_pem(), AMP).unwrap();
    let out = exchange(server, client, ip()).await;
    let err = out.client.clone().expect_err("controller must reject");
    assert!(
        err.contains("BadSignature") || err.contains("UnknownIssuer"),
        "{err}"
    );
}

#[tokio::test]
async fn expired_server_cert_is_rejected() {
    let p = pki();
    let now = SystemTime::now();
    let expired =
        p.ca.issue_amphora_between(AMP, now - 10 * DAY, now - DAY)
            .unwrap();
    let server = server_config(&expired, p.ca.cert_pem()).unwrap();
    let controller = p.ca.issue_controller().unwrap();
    let client = client_config_for(&controller, p.ca.cert_pem(), AMP).unwrap();
    let out = exchange(server, client, ip()).await;
    let err = out.client.clone().expect_err("controller must reject");
    assert!(err.contains("certificate expired"), "{err}");
}

#[tokio::test]
async fn replace_takes_effect_for_new_connections() {
    let p = pki();
    let old = amphora(&p, OTHER_AMP);
    let holder = ReloadableServerCert::from_pem(&old.cert_pem, &old.key_pem).unwrap();
    let server = server_config_with(holder.clone(), p.ca.cert_pem()).unwrap();
    let controller = p.ca.issue_controller().unwrap();
    let client = client_config_for(&controller, p.ca.cert_pem(), AMP).unwrap();

    let out = exchange(server.clone(), client.clone(), ip()).await;
    assert!(
        out.client.is_err(),
        "old certificate names another amphora: {out:?}"
    );

    let new = amphora(&p, AMP);
    // A key that does not match is refused and the old cert stays.
    assert!(holder.replace(&new.cert_pem, &old.key_pem).is_err());
    assert_eq!(holder.current_cert_der(), der(&old.cert_pem));

    // The body of PUT /certificate: certificate + key in one PEM.
    let bundle = new.bundle_pem();
    holder.replace(&bundle, &bundle).unwrap();
    let out = exchange(server, client, ip()).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.presented, Some(der(&new.cert_pem)));
}

#[tokio::test]
async fn reloaded_ca_issues_certificates_the_old_one_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let first = Ca::load_or_create(dir.path()).unwrap();
    let again = Ca::load(dir.path()).unwrap();
    // Amphora cert from the reloaded CA, controller from the first.
    let server = server_config(&again.issue_amphora(AMP, DAY).unwrap(), first.cert_pem()).unwrap();
    let client =
        client_config_for(&first.issue_controller().unwrap(), again.cert_pem(), AMP).unwrap();
    let out = exchange(server, client, ip()).await;
    assert!(out.ok(), "{out:?}");
}

#[test]
fn tls_versions_are_at_least_1_2() {
    let p = pki();
    let cfg = server_config(&amphora(&p, AMP), p.ca.cert_pem()).unwrap();
    // Both supported suites' versions are TLS 1.2 or 1.3.
    for suite in &cfg.crypto_provider().cipher_suites {
        let v = suite.version().version;
        assert!(
            v == rustls::ProtocolVersion::TLSv1_2 || v == rustls::ProtocolVersion::TLSv1_3,
            "{v:?}"
        );
    }
    assert!(
        client_config_for(
            &p.ca.issue_controller().unwrap(),
            p.ca.cert_pem(),
            "10.0.0.1"
        )
        .is_err()
    );
}
