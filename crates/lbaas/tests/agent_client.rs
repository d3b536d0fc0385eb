//! `AgentClient` against the real amphora agent (`neutrino-amphora-agent`)
//! served over mutual TLS with certificates of a real CA, driving Debian's
//! haproxy. Without `/usr/sbin/haproxy` the haproxy tests are skipped
//! loudly, except under `CI=true` where they fail.

use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::path::Path;
use std::time::Duration;

use md5::Digest;
use neutrino_amphora_agent::{AgentConfig, serve};
use neutrino_lbaas::backend::agent_client::{AgentClient, HaproxyAction};
use neutrino_lbaas::engine::StepError;
use neutrino_pki::{AMPHORA_VALIDITY, Ca, Issued};

const HAPROXY: &str = "/usr/sbin/haproxy";
const AMP: &str = "5d1c6f0e-4a63-4f4e-9a7b-1a2b3c4d5e6f";
const OTHER_AMP: &str = "0a0b0c0d-1111-4222-8333-444455556666";
const LB: &str = "9b8f0c2e-7e0e-4d39-8e3e-0f4e5d6c7b8a";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Whether haproxy is there; panics in CI when it is not.
fn have_haproxy(test: &str) -> bool {
    if Path::new(HAPROXY).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{HAPROXY} is missing: install Debian's haproxy (CI=true, not skipping {test})");
    }
    eprintln!(
        "\n\n!!!!!!!! SKIPPING {test}: {HAPROXY} is missing (apt-get install haproxy); \
         this would fail under CI=true !!!!!!!!\n\n"
    );
    false
}

struct Agent {
    port: u16,
    ca: Ca,
    controller: Issued,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// An agent for amphora `AMP` whose server certificate names `cert_name`.
async fn agent_presenting(cert_name: &str) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(&dir.path().join("ca")).unwrap();
    let server = ca.issue_amphora(cert_name, AMPHORA_VALIDITY).unwrap();
    let controller = ca.issue_controller().unwrap();
    let tls = neutrino_pki::server_config(&server, ca.cert_pem()).unwrap();
    let base = dir.path().join("agent");
    let mut cfg = AgentConfig::new(AMP, &base);
    cfg.config_file = Some(base.join("amphora-agent.toml"));
    cfg.haproxy_cmd = HAPROXY.into();
    let listener = tokio::net::TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(cfg, listener, Some(tls), async move {
        let _ = rx.await;
    }));
    Agent {
        port,
        ca,
        controller,
        _dir: dir,
        _stop: tx,
    }
}

async fn agent() -> Agent {
    agent_presenting(AMP).await
}

impl Agent {
    fn client(&self) -> AgentClient {
        AgentClient::with_port(
            AMP,
            LOCALHOST,
            self.port,
            &self.controller,
            self.ca.cert_pem(),
        )
        .unwrap()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind((LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn haproxy_cfg(port: u16) -> String {
    format!(
        "global\n    daemon\n    maxconn 100\n    group nogroup\n\n\
         defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend 3f2a1b0c-1111-2222-3333-444455556666\n    mode http\n    bind 127.0.0.1:{port}\n    default_backend pool\n\n\
         backend pool\n    mode http\n    server m1 127.0.0.1:9\n"
    )
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&(LOCALHOST, port).into(), Duration::from_millis(500)).is_ok()
}

async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn md5_hex(data: &[u8]) -> String {
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn info_details_version() {
    if !have_haproxy("info_details_version") {
        return;
    }
    let a = agent().await;
    let c = a.client();
    assert_eq!(c.base_url(), format!("https://127.0.0.1:{}/1.0/", a.port));
    assert_eq!(c.api_version().await.unwrap(), "1.0");
    let info = c.info().await.unwrap();
    assert_eq!(info.api_version, "1.0");
    let (major, _) = info.haproxy_major_minor().expect("haproxy version");
    assert!(major >= 2, "{info:?}");
    let d = c.details().await.unwrap();
    assert_eq!(d["active"], true, "{d}");
    assert_eq!(d["topology"], "SINGLE");
}

#[tokio::test]
async fn haproxy_good_then_bad_config() {
    if !have_haproxy("haproxy_good_then_bad_config") {
        return;
    }
    let a = agent().await;
    let c = a.client();
    let port = free_port();

    assert_eq!(c.get_haproxy(LB).await.unwrap(), None);
    // An action on an LB the agent does not know: a JSON 404, permanent.
    match c.haproxy_action(LB, HaproxyAction::Start).await {
        Err(StepError::Permanent(m)) => assert!(m.contains("Loadbalancer Not Found"), "{m}"),
        other => panic!("{other:?}"),
    }

    c.upload_haproxy(LB, &haproxy_cfg(port)).await.unwrap();
    // Reload of a stopped haproxy starts it.
    let details = c.haproxy_action(LB, HaproxyAction::Reload).await.unwrap();
    assert!(details.contains(LB), "{details}");
    assert!(
        eventually(|| listening(port)).await,
        "haproxy does not listen on {port}"
    );
    let served = c.get_haproxy(LB).await.unwrap().expect("config stored");
    assert!(served.text.contains(&format!("bind 127.0.0.1:{port}")));
    assert_eq!(
        served.etag.as_deref(),
        Some(md5_hex(served.text.as_bytes()).as_str())
    );

    // A config haproxy refuses: Permanent with haproxy's ALERT output;
    // the old config stays stored and served.
    let bad = "frontend broken\n    bind 127.0.0.1:notaport\n    frobnicate yes\n";
    match c.upload_haproxy(LB, bad).await {
        Err(StepError::Permanent(m)) => {
            assert!(m.contains("Invalid request"), "{m}");
            assert!(m.contains("ALERT"), "{m}");
        }
        other => panic!("bad config accepted? {other:?}"),
    }
    let still = c.get_haproxy(LB).await.unwrap().expect("config kept");
    assert_eq!(still.text, served.text);
    assert!(listening(port));
    c.haproxy_action(LB, HaproxyAction::Reload).await.unwrap();
    assert!(eventually(|| listening(port)).await);

    // Delete stops it; again is fine.
    c.delete_listener(LB).await.unwrap();
    assert!(
        eventually(|| !listening(port)).await,
        "{port} still open after delete"
    );
    c.delete_listener(LB).await.unwrap();
    assert_eq!(c.get_haproxy(LB).await.unwrap(), None);
}

#[tokio::test]
async fn certificates() {
    if !have_haproxy("certificates") {
        return;
    }
    let a = agent().await;
    let c = a.client();
    let pem = a.ca.issue_amphora("tls.example", AMPHORA_VALIDITY).unwrap();
    let bundle = pem.bundle_pem();
    let name = "7d5f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b.pem";

    assert_eq!(c.cert_md5(LB, name).await.unwrap(), None);
    c.upload_cert(LB, name, &bundle).await.unwrap();
    assert_eq!(
        c.cert_md5(LB, name).await.unwrap(),
        Some(md5_hex(bundle.as_bytes()))
    );
    // Wrong file name: the agent's 400, permanent.
    match c.upload_cert(LB, "no-extension", &bundle).await {
        Err(StepError::Permanent(m)) => assert!(m.contains("Filename has wrong format"), "{m}"),
        other => panic!("{other:?}"),
    }
    c.delete_cert(LB, name).await.unwrap();
    assert_eq!(c.cert_md5(LB, name).await.unwrap(), None);
    c.delete_cert(LB, name).await.unwrap();
}

/// An agent whose certificate chains to the CA but names another amphora
/// (a recycled management address, a mix-up): the handshake is refused
/// before any request is sent. Transient, as every transport failure: the
/// address may still be held by an amphora being replaced, and the step's
/// attempt budget bounds the retries (upstream retries SSL errors too).
#[tokio::test]
async fn refuses_agent_of_another_amphora() {
    if !have_haproxy("refuses_agent_of_another_amphora") {
        return;
    }
    let a = agent_presenting(OTHER_AMP).await;
    let c = a.client();
    match c.info().await {
        Err(StepError::Transient(m)) => {
            assert!(m.contains("cannot connect"), "{m}");
            assert!(m.to_lowercase().contains("certificate"), "{m}");
        }
        other => panic!("accepted an agent naming {OTHER_AMP}: {other:?}"),
    }
    // The same agent is fine for a client expecting that amphora.
    let ok = AgentClient::with_port(OTHER_AMP, LOCALHOST, a.port, &a.controller, a.ca.cert_pem())
        .unwrap();
    assert_eq!(ok.info().await.unwrap().api_version, "1.0");
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(dir.path()).unwrap();
    let controller = ca.issue_controller().unwrap();
    let port = free_port();
    let c = AgentClient::with_port(AMP, LOCALHOST, port, &controller, ca.cert_pem()).unwrap();
    match c.info().await {
        Err(StepError::Transient(m)) => assert!(m.contains("cannot connect"), "{m}"),
        other => panic!("{other:?}"),
    }
    // IPv6 addresses are bracketed.
    let v6 = AgentClient::new(AMP, "fd00::5".parse().unwrap(), &controller, ca.cert_pem()).unwrap();
    assert_eq!(v6.base_url(), "https://[fd00::5]:9443/1.0/");
}
