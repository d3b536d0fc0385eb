//! The agent's mutual TLS (design load-balancing.md §8.2 TLS, §8.4), over
//! loopback with real handshakes: the agent as `neutrino amphora-agent`
//! builds it from its config file ([`ServerTls::load`]), the CA from
//! `neutrino_pki::Ca`, the controller's end from `client_config_for`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use neutrino_amphora_agent::{AgentConfig, Hooks, ServerTls, TlsFiles, serve_with_hooks};
use neutrino_pki::{Ca, Issued};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const AMP: &str = "5d1c6f0e-4a63-4f4e-9a7b-1a2b3c4d5e6f";
const OTHER_AMP: &str = "0a0b0c0d-1111-2222-3333-444455556666";
const VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);

struct Agent {
    addr: std::net::SocketAddr,
    ca: Ca,
    controller: Issued,
    served: Issued,
    cert_file: PathBuf,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// An agent for `AMP` whose server certificate names `cert_name`, its
/// config file written as an operator would and loaded like the CLI does.
async fn agent(cert_name: &str) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(&dir.path().join("lb-ca")).unwrap();
    let controller = ca.issue_controller().unwrap();
    let served = ca.issue_amphora(cert_name, VALIDITY).unwrap();
    let base = dir.path().join("amp");
    std::fs::create_dir_all(&base).unwrap();
    let cert_file = base.join("server.pem");
    let ca_file = base.join("client_ca.pem");
    std::fs::write(&cert_file, served.bundle_pem()).unwrap();
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let mut cfg = AgentConfig::new(AMP, &base);
    cfg.tls = Some(TlsFiles {
        server_cert: cert_file.clone(),
        client_ca: ca_file,
    });
    let cfg_path = base.join("amphora-agent.toml");
    std::fs::write(&cfg_path, toml::to_string(&cfg).unwrap()).unwrap();
    let cfg = AgentConfig::load(&cfg_path).unwrap();

    let tls = ServerTls::load(&cfg).unwrap();
    let hooks = Hooks {
        on_certificate: Some(tls.certificate_hook()),
        on_config: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_with_hooks(
        cfg,
        hooks,
        listener,
        Some(tls.server_config),
        async move {
            let _ = rx.await;
        },
    ));
    Agent {
        addr,
        ca,
        controller,
        served,
        cert_file,
        _dir: dir,
        _stop: tx,
    }
}

struct Answer {
    status: u16,
    body: String,
    /// The end-entity certificate the agent presented.
    peer_cert: CertificateDer<'static>,
}

/// One HTTP/1.1 request over a fresh TLS connection to `addr` (by IP, as
/// the controller connects to `lb_network_ip`).
async fn call(
    config: Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<Answer> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::IpAddress(addr.ip().into());
    let fut = async {
        let mut tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        let peer_cert = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: Octavia HaProxy Rest Client/1.0 \
             (https://wiki.openstack.org/wiki/Octavia)\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(req.as_bytes()).await?;
        tls.flush().await?;
        let mut buf = Vec::new();
        match tls.read_to_end(&mut buf).await {
            Ok(_) => {}
            // A peer closing without close_notify after a full answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {}
            Err(e) => return Err(e),
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {text:?}")))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
        Ok(Answer {
            status,
            body: body.to_owned(),
            peer_cert: peer_cert.into_owned(),
        })
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .map_err(|_| std::io::Error::other("timed out"))?
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn controller_config(a: &Agent, expected: &str) -> Arc<rustls::ClientConfig> {
    neutrino_pki::client_config_for(&a.controller, a.ca.cert_pem(), expected).unwrap()
}

#[tokio::test]
async fn controller_client_gets_info_over_mtls() {
    let a = agent(AMP).await;
    let r = call(controller_config(&a, AMP), a.addr, "GET", "/1.0/info", "")
        .await
        .expect("the controller's client is accepted");
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["api_version"], "1.0");
    assert_eq!(r.peer_cert, der(&a.served.cert_pem));
    // Octavia's version probe (`GET https://ip:9443//`) over the same TLS.
    let r = call(controller_config(&a, AMP), a.addr, "GET", "//", "")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
}

fn no_client_cert_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der(ca_pem)).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(neutrino_pki::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let a = agent(AMP).await;
    // Trusts the agent (chain to our CA; connects by name so webpki's own
    // name check passes) but presents no client certificate.
    let config = no_client_cert_config(a.ca.cert_pem());
    let tcp = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    let res = async {
        let mut tls = tokio_rustls::TlsConnector::from(config)
            .connect(ServerName::try_from(AMP).unwrap(), tcp)
            .await?;
        // TLS 1.3: the server's verdict on the client arrives after the
        // client's side of the handshake, on the first read.
        tls.write_all(b"GET /1.0/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        tls.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    }
    .await;
    let err = res.expect_err("a client without a certificate must be refused");
    assert!(
        err.to_string().contains("CertificateRequired"),
        "unexpected error: {err}"
    );
    // The same agent still serves the controller.
    let r = call(controller_config(&a, AMP), a.addr, "GET", "/1.0/info", "")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn client_certificate_of_another_ca_is_refused() {
    let a = agent(AMP).await;
    let other_dir = tempfile::tempdir().unwrap();
    let other_ca = Ca::load_or_create(other_dir.path()).unwrap();
    assert_ne!(other_ca.cert_pem(), a.ca.cert_pem());
    let foreign = other_ca.issue_controller().unwrap();
    // Trusts our CA for the server, presents the foreign client cert.
    let config = neutrino_pki::client_config_for(&foreign, a.ca.cert_pem(), AMP).unwrap();
    let err = call(config, a.addr, "GET", "/1.0/info", "")
        .await
        .err()
        .expect("a client certificate of another CA must be refused");
    let msg = err.to_string();
    assert!(
        msg.contains("UnknownCA") || msg.contains("BadCertificate") || msg.contains("alert"),
        "unexpected error: {msg}"
    );
}

#[tokio::test]
async fn controller_rejects_agent_presenting_another_amphoras_certificate() {
    // The agent is AMP but presents a certificate (from the same CA)
    // naming OTHER_AMP.
    let a = agent(OTHER_AMP).await;
    let err = call(controller_config(&a, AMP), a.addr, "GET", "/1.0/info", "")
        .await
        .err()
        .expect("the controller must reject a certificate naming another amphora");
    let msg = err.to_string();
    assert!(
        msg.contains("NotValidForName") || msg.contains("not valid for name"),
        "unexpected error: {msg}"
    );
    // Expecting the name the certificate does carry succeeds: the refusal
    // above is the name check, not the chain.
    let r = call(
        controller_config(&a, OTHER_AMP),
        a.addr,
        "GET",
        "/1.0/info",
        "",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn put_certificate_changes_the_certificate_of_new_connections() {
    let a = agent(AMP).await;
    let old = der(&a.served.cert_pem);
    let r = call(controller_config(&a, AMP), a.addr, "GET", "/1.0/info", "")
        .await
        .unwrap();
    assert_eq!(r.peer_cert, old);

    // An invalid bundle (certificate without its key) is refused; the
    // old certificate stays.
    let r = call(
        controller_config(&a, AMP),
        a.addr,
        "PUT",
        "/1.0/certificate",
        &a.served.cert_pem,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    let r = call(controller_config(&a, AMP), a.addr, "GET", "/1.0/info", "")
        .await
        .unwrap();
    assert_eq!(r.peer_cert, old);

    let new = a.ca.issue_amphora(AMP, VALIDITY).unwrap();
    let new_der = der(&new.cert_pem);
    assert_ne!(new_der, old);
    let r = call(
        controller_config(&a, AMP),
        a.addr,
        "PUT",
        "/1.0/certificate",
        &new.bundle_pem(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    // The PUT's own connection was made with the old certificate.
    assert_eq!(r.peer_cert, old);

    for _ in 0..3 {
        let r = call(controller_config(&a, AMP), a.addr, "GET", "/1.0/info", "")
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.peer_cert, new_der,
            "new connections see the new certificate"
        );
        assert_ne!(r.peer_cert, old, "the old certificate is no longer served");
    }
    // Persisted where the config points, for a restarted agent.
    assert_eq!(read(&a.cert_file), new.bundle_pem());
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn bad_configuration_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.toml");
    std::fs::write(&p, "amphora_id = \"a1\"\nbase_dir = 1\n").unwrap();
    let e = AgentConfig::load(&p).unwrap_err();
    assert!(!e.contains('\n'), "{e}");
    assert!(e.contains("a.toml:2:"), "{e}");

    let mut cfg = AgentConfig::new(AMP, dir.path());
    let e = ServerTls::load(&cfg).unwrap_err();
    assert!(e.contains("[tls]"), "{e}");
    cfg.tls = Some(TlsFiles {
        server_cert: dir.path().join("server.pem"),
        client_ca: dir.path().join("ca.pem"),
    });
    std::fs::write(dir.path().join("server.pem"), "not PEM").unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not PEM").unwrap();
    let e = ServerTls::load(&cfg).unwrap_err();
    assert!(e.starts_with("tls.server_cert "), "{e}");
    assert!(!e.contains('\n'), "{e}");
}
