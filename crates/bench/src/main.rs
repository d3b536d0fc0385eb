//! `neutrino-bench`: starts a `neutrino serve` process on a database of your
//! choice and measures, over real HTTP on loopback, what docs/benchmarks.md
//! records: port creates per second with 1 and 16 clients, the latency of
//! listing 10,000 ports, and the server's resident memory afterwards.
//!
//! Run it against a release build:
//! `cargo build --release -p neutrino -p neutrino-bench &&
//!  target/release/neutrino-bench --neutrino target/release/neutrino --database-url sqlite`

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures::stream::{self, StreamExt};
use neutrino_testkit::{ChildGuard, free_tcp_port, wait_for_tcp};
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(about = "Benchmark a neutrino server over HTTP")]
struct Args {
    /// The neutrino binary to start (use a release build).
    #[arg(long)]
    neutrino: PathBuf,
    /// `sqlite` for a fresh SQLite file, or a postgres:// URL of an empty database.
    #[arg(long, default_value = "sqlite")]
    database_url: String,
    /// Port creates in the single-client phase.
    #[arg(long, default_value_t = 2000)]
    single: usize,
    /// Port creates in the 16-client phase.
    #[arg(long, default_value_t = 8000)]
    concurrent: usize,
    /// Number of list requests to time.
    #[arg(long, default_value_t = 30)]
    lists: usize,
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-auth-token", &self.token)
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await?;
        if !status.is_success() {
            bail!("POST {path} failed with {status}: {v}");
        }
        Ok(v)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Creates `n` ports with `clients` concurrent callers; returns (rate, latencies).
async fn create_ports(
    api: &Arc<Api>,
    net: &str,
    n: usize,
    clients: usize,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let started = Instant::now();
    let results: Vec<anyhow::Result<Duration>> = stream::iter(0..n)
        .map(|_| {
            let api = api.clone();
            let net = net.to_string();
            async move {
                let t = Instant::now();
                api.post("/v2.0/ports", json!({"port": {"network_id": net}}))
                    .await?;
                Ok(t.elapsed())
            }
        })
        .buffer_unordered(clients)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut lat = results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    lat.sort();
    Ok((n as f64 / elapsed.as_secs_f64(), lat))
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("bad VmRSS")?
        .parse()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile_dir()?;
    let db_url = if args.database_url == "sqlite" {
        format!("sqlite://{}/bench.db?mode=rwc", dir.display())
    } else {
        args.database_url.clone()
    };
    let backend = if db_url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let (id_port, net_port) = (free_tcp_port(), free_tcp_port());
    let mut cmd = Command::new(&args.neutrino);
    cmd.args([
        "serve",
        "--database-url",
        &db_url,
        "--admin-password",
        "bench",
    ])
    .args(["--identity-listen", &format!("127.0.0.1:{id_port}")])
    .args(["--network-listen", &format!("127.0.0.1:{net_port}")])
    .arg("--token-secret-file")
    .arg(dir.join("secret"))
    .env("NEUTRINO_LOG", "warn");
    let server = ChildGuard::spawn(&mut cmd)?;
    let pid = server.id();
    wait_for_tcp(format!("127.0.0.1:{net_port}"), Duration::from_secs(30)).await?;
    wait_for_tcp(format!("127.0.0.1:{id_port}"), Duration::from_secs(30)).await?;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(32)
        .build()?;
    let auth = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "bench"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let r = http
        .post(format!("http://127.0.0.1:{id_port}/v3/auth/tokens"))
        .json(&auth)
        .send()
        .await?;
    let token = r
        .headers()
        .get("x-subject-token")
        .context("no token issued")?
        .to_str()?
        .to_string();
    let token_body: Value = r.json().await?;
    let project = token_body["token"]["project"]["id"].as_str().context("project-scoped token")?.to_string();
    let api = Arc::new(Api { http, base: format!("http://127.0.0.1:{net_port}"), token });
    // 10,000 ports is beyond the default quota of 500; lift it, as an
    // operator running this load would.
    let r = api
        .http
        .put(format!("{}/v2.0/quotas/{project}", api.base))
        .header("x-auth-token", &api.token)
        .json(&json!({"quota": {"port": -1}}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("lifting the port quota failed: {}", r.status());
    }

    let net = api
        .post("/v2.0/networks", json!({"network": {"name": "bench"}}))
        .await?;
    let net_id = net["network"]["id"]
        .as_str()
        .context("network id")?
        .to_string();
    api.post(
        "/v2.0/subnets",
        json!({"subnet": {"network_id": net_id, "ip_version": 4, "cidr": "10.0.0.0/16"}}),
    )
    .await?;

    let (rate1, lat1) = create_ports(&api, &net_id, args.single, 1).await?;
    let (rate16, lat16) = create_ports(&api, &net_id, args.concurrent, 16).await?;
    let total = args.single + args.concurrent;

    let mut list_lat = Vec::new();
    for _ in 0..args.lists {
        let t = Instant::now();
        let r = api
            .http
            .get(format!("{}/v2.0/ports", api.base))
            .header("x-auth-token", &api.token)
            .send()
            .await?;
        let v: Value = r.json().await?;
        list_lat.push(t.elapsed());
        let n = v["ports"].as_array().map(Vec::len).unwrap_or(0);
        if n != total {
            bail!("listed {n} ports, expected {total}");
        }
    }
    list_lat.sort();
    let rss = rss_kib(pid)?;

    println!(
        "| {backend} | port create, 1 client ({} ports) | {rate1:.0}/s | p50 {} · p99 {} |",
        args.single,
        ms(percentile(&lat1, 0.5)),
        ms(percentile(&lat1, 0.99))
    );
    println!(
        "| {backend} | port create, 16 clients ({} ports) | {rate16:.0}/s | p50 {} · p99 {} |",
        args.concurrent,
        ms(percentile(&lat16, 0.5)),
        ms(percentile(&lat16, 0.99))
    );
    println!(
        "| {backend} | list {total} ports ({} requests) | — | p50 {} · p99 {} |",
        args.lists,
        ms(percentile(&list_lat, 0.5)),
        ms(percentile(&list_lat, 0.99))
    );
    println!(
        "| {backend} | server RSS after the run | {:.1} MiB | |",
        rss as f64 / 1024.0
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("neutrino-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
