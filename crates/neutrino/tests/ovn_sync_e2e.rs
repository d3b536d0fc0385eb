//! `neutrino serve --ovn-nb --ovn-sb` against real ovsdb-servers holding
//! OVN's schemas: faults. A server killed with SIGKILL in the middle of a
//! burst of creates, then restarted, leaves the northbound DB equal to the
//! database; a northbound outage does not stop the API, and everything
//! converges when the DB returns; drift is repaired by the periodic audit.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use neutrino_ovsdb::Session;
use neutrino_ovsdb::testing::OvsdbServer;
use neutrino_testkit::{ChildGuard, free_tcp_port, wait_for_tcp};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_neutrino");

struct Api {
    http: reqwest::Client,
    network: String,
    token: String,
}

struct Server {
    child: ChildGuard,
    log: std::path::PathBuf,
}

async fn serve(
    dir: &Path,
    nb: &OvsdbServer,
    sb: &OvsdbServer,
    ports: (u16, u16),
) -> Result<Server> {
    let log = dir.join("server.log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)?;
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info,neutrino_ovn=debug")
        .args(["serve", "--database-url"])
        .arg(format!(
            "sqlite://{}?mode=rwc",
            dir.join("db.sqlite").display()
        ))
        .args(["--admin-password", "pw", "--ovn-audit-interval", "2"])
        .arg("--token-secret-file")
        .arg(dir.join("secret"))
        .arg("--identity-listen")
        .arg(format!("127.0.0.1:{}", ports.0))
        .arg("--network-listen")
        .arg(format!("127.0.0.1:{}", ports.1))
        .arg("--ovn-nb")
        .arg(nb.endpoint().to_string())
        .arg("--ovn-sb")
        .arg(sb.endpoint().to_string());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NEUTRINO_") {
            cmd.env_remove(k);
        }
    }
    let mut child = ChildGuard::spawn(&mut cmd)?;
    for port in [ports.0, ports.1] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = child.0.try_wait()? {
                bail!(
                    "server exited ({s}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if wait_for_tcp(("127.0.0.1", port), Duration::from_millis(200))
                .await
                .is_ok()
            {
                break;
            }
            ensure!(Instant::now() < deadline, "server not listening on {port}");
        }
    }
    Ok(Server { child, log })
}

impl Server {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

async fn api(ports: (u16, u16)) -> Result<Api> {
    let http = reqwest::Client::new();
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": "pw"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let resp = http
        .post(format!("http://127.0.0.1:{}/v3/auth/tokens", ports.0))
        .json(&body)
        .send()
        .await?;
    ensure!(resp.status().as_u16() == 201, "token: {}", resp.status());
    let token = resp
        .headers()
        .get("x-subject-token")
        .context("token header")?
        .to_str()?
        .to_string();
    Ok(Api {
        http,
        network: format!("http://127.0.0.1:{}", ports.1),
        token,
    })
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> Result<(u16, Value)> {
        let r = self
            .http
            .post(format!("{}{path}", self.network))
            .header("x-auth-token", &self.token)
            .json(&body)
            .send()
            .await?;
        let s = r.status().as_u16();
        Ok((s, r.json().await.unwrap_or(Value::Null)))
    }

    async fn get(&self, path: &str) -> Result<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.network))
            .header("x-auth-token", &self.token)
            .send()
            .await?;
        ensure!(r.status().is_success(), "GET {path}: {}", r.status());
        Ok(r.json().await?)
    }

    /// Port id → "MAC IP" as the API has them.
    async fn ports(&self) -> Result<BTreeMap<String, String>> {
        let v = self.get("/v2.0/ports").await?;
        Ok(v["ports"]
            .as_array()
            .context("ports")?
            .iter()
            .map(|p| {
                let ips: Vec<&str> = p["fixed_ips"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|f| f["ip_address"].as_str()).collect())
                    .unwrap_or_default();
                (
                    p["id"].as_str().unwrap_or_default().to_string(),
                    format!(
                        "{} {}",
                        p["mac_address"].as_str().unwrap_or_default(),
                        ips.join(" ")
                    ),
                )
            })
            .collect())
    }
}

fn nb_session(nb: &OvsdbServer) -> Session {
    Session::start(
        nb.endpoint(),
        "OVN_Northbound",
        vec![
            ("Logical_Switch_Port".into(), None),
            ("Logical_Switch".into(), None),
        ],
    )
}

/// Port id → addresses of every Neutron port in the NB.
fn nb_ports(s: &Session) -> BTreeMap<String, String> {
    s.replica()
        .table("Logical_Switch_Port")
        .filter(|p| {
            p.string_map("external_ids")
                .contains_key("neutron:device_owner")
        })
        .map(|p| {
            (
                p.str("name").unwrap_or_default().to_string(),
                p.strings("addresses").first().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

async fn converge(api: &Api, s: &Session, server: &Server, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let want = api.ports().await?;
        let have = nb_ports(s);
        if want == have {
            return Ok(());
        }
        if Instant::now() > deadline {
            let missing = want.keys().filter(|k| !have.contains_key(*k)).count();
            let extra = have.keys().filter(|k| !want.contains_key(*k)).count();
            bail!(
                "NB does not match the database: {} ports in the API, {} in the NB ({missing} missing, {extra} extra)\n{}",
                want.len(),
                have.len(),
                server.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ovn_servers() -> Result<(OvsdbServer, OvsdbServer)> {
    let nb = OvsdbServer::start_nb()?;
    let sb = OvsdbServer::start_sb()?;
    nb.nbctl(&["init"])?;
    Ok((nb, sb))
}

fn ports_pair() -> (u16, u16) {
    let a = free_tcp_port();
    loop {
        let b = free_tcp_port();
        if b != a {
            return (a, b);
        }
    }
}

async fn network(api: &Api) -> Result<String> {
    let (s, net) = api
        .post("/v2.0/networks", json!({"network": {"name": "burst"}}))
        .await?;
    ensure!(s == 201, "network: {net}");
    let id = net["network"]["id"].as_str().context("id")?.to_string();
    let (s, b) = api
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": id, "cidr": "10.20.0.0/20", "ip_version": 4}}),
        )
        .await?;
    ensure!(s == 201, "subnet: {b}");
    Ok(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ovn_sigkill_during_a_burst_then_restart_matches_exactly() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (nb, sb) = ovn_servers()?;
    let ports = ports_pair();
    let mut server = serve(dir.path(), &nb, &sb, ports).await?;
    let a = api(ports).await?;
    let net = network(&a).await?;
    // 200 creates from 8 clients; the server dies part-way.
    let created = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, token, net, created) = (
            a.http.clone(),
            a.network.clone(),
            a.token.clone(),
            net.clone(),
            created.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let r = http
                    .post(format!("{url}/v2.0/ports"))
                    .header("x-auth-token", &token)
                    .json(&json!({"port": {"network_id": net}}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => {
                        created.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    _ => return, // the server is gone
                }
            }
        }));
    }
    while created.load(std::sync::atomic::Ordering::SeqCst) < 60 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = server.child.0.id() as i32;
    // SIGKILL: no chance to finish the journal.
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()?;
    let _ = server.child.0.wait();
    for t in tasks {
        let _ = t.await;
    }
    let n = created.load(std::sync::atomic::Ordering::SeqCst);
    ensure!(n >= 60, "creates before the kill: {n}");

    let server = serve(dir.path(), &nb, &sb, ports).await?;
    let a = api(ports).await?;
    let s = nb_session(&nb);
    s.wait_connected(Duration::from_secs(10)).await?;
    converge(&a, &s, &server, Duration::from_secs(60)).await?;
    ensure!(
        nb_ports(&s).len() >= n,
        "every acknowledged port is in the NB"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ovn_northbound_outage_keeps_the_api_up_and_converges() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut nb, sb) = ovn_servers()?;
    let ports = ports_pair();
    let server = serve(dir.path(), &nb, &sb, ports).await?;
    let a = api(ports).await?;
    let net = network(&a).await?;
    let s = nb_session(&nb);
    converge(&a, &s, &server, Duration::from_secs(30)).await?;

    nb.stop();
    let down = Instant::now();
    let mut during = 0;
    while down.elapsed() < Duration::from_secs(10) {
        let (st, b) = a
            .post("/v2.0/ports", json!({"port": {"network_id": net}}))
            .await?;
        ensure!(st == 201, "create during the outage: {st} {b}");
        during += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ensure!(during >= 20, "the API kept answering: {during} creates");
    nb.restart()?;
    converge(&a, &s, &server, Duration::from_secs(60)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ovn_a_row_changed_behind_our_back_is_repaired_by_the_audit() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (nb, sb) = ovn_servers()?;
    let ports = ports_pair();
    let server = serve(dir.path(), &nb, &sb, ports).await?;
    let a = api(ports).await?;
    let net = network(&a).await?;
    let (st, p) = a
        .post("/v2.0/ports", json!({"port": {"network_id": net}}))
        .await?;
    ensure!(st == 201);
    let pid = p["port"]["id"].as_str().context("id")?.to_string();
    let s = nb_session(&nb);
    converge(&a, &s, &server, Duration::from_secs(30)).await?;
    nb.nbctl(&["lsp-set-addresses", &pid, "00:00:00:00:00:01 10.99.0.1"])?;
    nb.nbctl(&["lsp-set-port-security", &pid])?;
    // The audit runs every 2 s in this server.
    converge(&a, &s, &server, Duration::from_secs(20)).await?;
    let r = s.replica();
    let lsp = r
        .find_by("Logical_Switch_Port", "name", &pid)
        .context("lsp")?;
    ensure!(
        !lsp.strings("port_security").is_empty(),
        "port security restored"
    );
    Ok(())
}
