//! The `plug` scenario: `neutrino up` with its data plane, and the time
//! from `neutrino port plug` (veth into a fresh namespace, OVS port with
//! the port's iface-id) to the port reading ACTIVE in the Network API.
//! Needs root (namespaces, veths) and Debian's OVS/OVN.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use neutrino_testkit::{ChildGuard, free_tcp_port};
use serde_json::json;

use crate::{Api, ms, percentile};

pub async fn run(neutrino: &Path, dir: &Path, n: usize) -> anyhow::Result<()> {
    let data = dir.join("data");
    let (ip, np) = (free_tcp_port(), free_tcp_port());
    let sfx = format!("{:04x}", std::process::id() as u16);
    let mut cmd = Command::new(neutrino);
    cmd.args(["up", "--data-dir"])
        .arg(&data)
        .args(["--identity-listen", &format!("127.0.0.1:{ip}")])
        .args(["--network-listen", &format!("127.0.0.1:{np}")])
        .args(["--ovn-nb-listen", &format!("127.0.0.1:{}", free_tcp_port())])
        .args(["--ovn-sb-listen", &format!("127.0.0.1:{}", free_tcp_port())])
        .args(["--integration-bridge", &format!("bb{sfx}")])
        .args(["--chassis-name", &format!("bench-{sfx}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("up.log"))?)
        .env("NEUTRINO_LOG", "warn");
    let mut up = ChildGuard::spawn(&mut cmd)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !data.join("clouds.yaml").exists() {
        if let Some(s) = up.0.try_wait()? {
            bail!(
                "neutrino up exited ({s}); see {}",
                dir.join("up.log").display()
            );
        }
        ensure!(Instant::now() < deadline, "neutrino up not ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let password = std::fs::read_to_string(data.join("admin-password"))?;
    let http = reqwest::Client::new();
    let auth = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin",
        "domain": {"id": "default"}, "password": password.trim()}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let r = http
        .post(format!("http://127.0.0.1:{ip}/v3/auth/tokens"))
        .json(&auth)
        .send()
        .await?;
    let token = r
        .headers()
        .get("x-subject-token")
        .context("no token")?
        .to_str()?
        .to_string();
    let api = Arc::new(Api {
        http,
        base: format!("http://127.0.0.1:{np}"),
        token,
    });
    let net = api
        .post("/v2.0/networks", json!({"network": {"name": "plug-bench"}}))
        .await?;
    let net_id = net["network"]["id"]
        .as_str()
        .context("network id")?
        .to_string();
    api.post(
        "/v2.0/subnets",
        json!({"subnet": {"network_id": net_id, "ip_version": 4, "cidr": "10.50.0.0/24"}}),
    )
    .await?;

    let cli = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new(neutrino)
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .env("OS_CLOUD", "neutrino")
            .env("OS_CLIENT_CONFIG_FILE", data.join("clouds.yaml"))
            .output()?;
        ensure!(
            out.status.success(),
            "neutrino {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let p = api
            .post("/v2.0/ports", json!({"port": {"network_id": net_id}}))
            .await?;
        let id = p["port"]["id"].as_str().context("port id")?.to_string();
        let ns = format!("pb{sfx}{i}");
        let t = Instant::now();
        cli(&["port", "plug", &id, "--netns", &ns])?;
        loop {
            let v: serde_json::Value = api
                .http
                .get(format!("{}/v2.0/ports/{id}", api.base))
                .header("x-auth-token", &api.token)
                .send()
                .await?
                .json()
                .await?;
            if v["port"]["status"] == "ACTIVE" {
                break;
            }
            ensure!(
                t.elapsed() < Duration::from_secs(60),
                "port {id} never became ACTIVE"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lat.push(t.elapsed());
        cli(&["port", "unplug", &id])?;
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    }
    lat.sort();
    println!(
        "| SQLite | `neutrino port plug` → port ACTIVE ({n} ports, one at a time) | p50 {} · p99 {} |",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
    up.terminate(Duration::from_secs(30))?;
    Ok(())
}
