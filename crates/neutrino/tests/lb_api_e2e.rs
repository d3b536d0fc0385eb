//! End-to-end: `neutrino serve` answers the real python-octaviaclient
//! (`openstack loadbalancer ...` from the venv of `scripts/setup.sh`),
//! which finds the Load-balancer API through the identity catalog.
//!
//! The expected answers are the peer's (octavia 19), recorded in
//! crates/lb-api/tests/lb_api/fixtures/peer.json.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use neutrino_testkit::{ChildGuard, free_tcp_port, venv_bin, wait_for_tcp};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_neutrino");
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const PASSWORD: &str = "e2e-Lb-Secret-1";

fn peer() -> Value {
    serde_json::from_str(include_str!("../../lb-api/tests/lb_api/fixtures/peer.json"))
        .expect("fixture is JSON")
}

/// Three distinct free ports: identity, network, load balancer.
fn three_ports() -> [u16; 3] {
    let mut ports = Vec::new();
    while ports.len() < 3 {
        let p = free_tcp_port();
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    [ports[0], ports[1], ports[2]]
}

fn openstack(clouds: &Path, args: &[&str]) -> Result<Output> {
    let mut c = Command::new(venv_bin("openstack")?);
    c.args(args).stdin(Stdio::null());
    // Only the clouds.yaml decides where to go and who we are.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OS_") {
            c.env_remove(k);
        }
    }
    c.env("OS_CLOUD", "neutrino")
        .env("OS_CLIENT_CONFIG_FILE", clouds);
    c.output()
        .with_context(|| format!("running openstack {}", args.join(" ")))
}

fn openstack_json(clouds: &Path, args: &[&str]) -> Result<Value> {
    let mut all = args.to_vec();
    all.extend(["-f", "json"]);
    let out = openstack(clouds, &all)?;
    ensure!(
        out.status.success(),
        "`openstack {}` failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).context("CLI output is JSON")
}

#[tokio::test]
async fn e2e_octaviaclient_lists_providers_and_capabilities() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let log = tmp.path().join("neutrino.log");
    let [identity, network, lb] = three_ports();
    let mut server = ChildGuard::spawn(
        serve_command(tmp.path(), &log, identity, network)?
            // The environment variable, to prove it is read.
            .env("NEUTRINO_LOAD_BALANCER_LISTEN", format!("127.0.0.1:{lb}")),
    )?;
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + READY_TIMEOUT;
    for port in [identity, network, lb] {
        while wait_for_tcp(("127.0.0.1", port), Duration::from_millis(200))
            .await
            .is_err()
        {
            if let Some(status) = server.try_wait()? {
                bail!("neutrino serve exited early ({status}):\n{}", log_text());
            }
            ensure!(
                Instant::now() < deadline,
                "neutrino serve is not listening on {port}:\n{}",
                log_text()
            );
        }
    }

    let clouds = tmp.path().join("clouds.yaml");
    std::fs::write(
        &clouds,
        format!(
            "clouds:\n  neutrino:\n    auth:\n      auth_url: 'http://127.0.0.1:{identity}/v3'\n      \
             username: 'admin'\n      password: '{PASSWORD}'\n      project_name: 'admin'\n      \
             user_domain_name: Default\n      project_domain_name: Default\n    \
             region_name: 'RegionOne'\n    interface: public\n    identity_api_version: 3\n"
        ),
    )?;

    // The catalog names the listener, without a version.
    let catalog = openstack_json(&clouds, &["catalog", "show", "load-balancer"])?;
    let endpoints = catalog["endpoints"].to_string();
    ensure!(
        endpoints.contains(&format!("http://127.0.0.1:{lb}")) && !endpoints.contains("/v2"),
        "catalog: {catalog}"
    );

    let peer = peer();
    let providers = openstack_json(&clouds, &["loadbalancer", "provider", "list"])?;
    assert_eq!(
        providers, peer["GET /v2/lbaas/providers"]["body"]["providers"],
        "provider list"
    );

    let typed = |key: &str, kind: &str| -> Vec<Value> {
        peer[key]["body"][kind.to_string() + "_capabilities"]
            .as_array()
            .expect("recorded capabilities")
            .iter()
            .map(|c| json!({"type": kind, "name": c["name"], "description": c["description"]}))
            .collect()
    };
    let mut expected = typed(
        "GET /v2/lbaas/providers/amphora/flavor_capabilities",
        "flavor",
    );
    expected.extend(typed(
        "GET /v2/lbaas/providers/amphora/availability_zone_capabilities",
        "availability_zone",
    ));
    let caps = openstack_json(
        &clouds,
        &["loadbalancer", "provider", "capability", "list", "amphora"],
    )?;
    assert_eq!(caps, Value::Array(expected), "capability list");

    let out = openstack(
        &clouds,
        &["loadbalancer", "provider", "capability", "list", "nope"],
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success() && stderr.contains("Provider 'nope' is not enabled. (HTTP 400)"),
        "unknown provider: {stderr}"
    );

    // Version discovery needs no token, and links to this listener.
    let doc: Value = reqwest::get(format!("http://127.0.0.1:{lb}/"))
        .await?
        .json()
        .await?;
    assert_eq!(
        doc["versions"][30],
        json!({"id": "v2.30", "status": "CURRENT", "updated": "2025-02-26T00:00:00Z",
               "links": [{"href": format!("http://127.0.0.1:{lb}/v2"), "rel": "self"}]})
    );

    let status = server.terminate(Duration::from_secs(10))?;
    ensure!(status.success(), "exit {status}:\n{}", log_text());
    Ok(())
}

/// `neutrino serve` on the given identity and network ports, SQLite in
/// `dir`, stderr to `log`, and none of the caller's `NEUTRINO_*` settings.
fn serve_command(dir: &Path, log: &Path, identity: u16, network: u16) -> Result<Command> {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .env("NO_COLOR", "1");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NEUTRINO_") {
            cmd.env_remove(k);
        }
    }
    let db = format!("sqlite://{}?mode=rwc", dir.join("n.db").display());
    cmd.args(["serve", "--database-url", &db, "--admin-password", PASSWORD])
        .args(["--identity-listen", &format!("127.0.0.1:{identity}")])
        .args(["--network-listen", &format!("127.0.0.1:{network}")]);
    Ok(cmd)
}

#[tokio::test]
async fn e2e_default_load_balancer_address_in_use_is_skipped_but_a_chosen_one_is_fatal()
-> Result<()> {
    // Hold the default address (or find it held, e.g. by an Octavia).
    let _holder = std::net::TcpListener::bind("127.0.0.1:9876").ok();
    ensure!(
        std::net::TcpListener::bind("127.0.0.1:9876").is_err(),
        "127.0.0.1:9876 should be taken now"
    );
    let tmp = tempfile::tempdir()?;
    let log = tmp.path().join("default.log");
    let [identity, network, _] = three_ports();
    let mut server = ChildGuard::spawn(&mut serve_command(tmp.path(), &log, identity, network)?)?;
    let log_text = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    for port in [identity, network] {
        wait_for_tcp(("127.0.0.1", port), READY_TIMEOUT)
            .await
            .with_context(|| log_text(&log))?;
    }
    ensure!(
        server.try_wait()?.is_none(),
        "serve exited:\n{}",
        log_text(&log)
    );
    let text = log_text(&log);
    ensure!(
        text.contains("serving without the Load-balancer API"),
        "no warning in the log:\n{text}"
    );
    // Without the API, the catalog does not offer it.
    let token: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{identity}/v3/auth/tokens"))
        .json(
            &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}),
        )
        .send()
        .await?
        .json()
        .await?;
    let types: Vec<&str> = token["token"]["catalog"]
        .as_array()
        .context("catalog")?
        .iter()
        .filter_map(|s| s["type"].as_str())
        .collect();
    ensure!(
        types.contains(&"network") && !types.contains(&"load-balancer"),
        "catalog types {types:?}"
    );
    let status = server.terminate(Duration::from_secs(10))?;
    ensure!(status.success(), "exit {status}:\n{}", log_text(&log));

    // An address the operator chose must be free.
    let log = tmp.path().join("chosen.log");
    let [identity, network, _] = three_ports();
    let mut server = ChildGuard::spawn(
        serve_command(tmp.path(), &log, identity, network)?
            .args(["--load-balancer-listen", "127.0.0.1:9876"]),
    )?;
    let deadline = Instant::now() + READY_TIMEOUT;
    let status = loop {
        if let Some(status) = server.try_wait()? {
            break status;
        }
        ensure!(
            Instant::now() < deadline,
            "serve kept running:\n{}",
            log_text(&log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    ensure!(!status.success(), "serve succeeded on a taken address");
    let text = log_text(&log);
    ensure!(
        text.contains("cannot listen on 127.0.0.1:9876"),
        "log:\n{text}"
    );
    Ok(())
}
