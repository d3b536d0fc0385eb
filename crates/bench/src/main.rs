//! `neutrino-bench`: starts a `neutrino serve` process on a database of your
//! choice and measures, over real HTTP on loopback, what docs/benchmarks.md
//! records. Scenarios (`--scenario`):
//!
//! - `ports` (default): port creates per second with 1 and 16 clients, the
//!   latency of listing 10,000 ports, and the server's resident memory
//!   afterwards;
//! - `l3`: router create + interface add (by subnet) per second, each router
//!   on its own network and subnet made beforehand (untimed), and security
//!   group rule creates per second on one group, with 1 and 8 clients.
//!
//! - `ovn`: with its own NB/SB ovsdb-servers, the time from a port create
//!   to its row in the northbound DB (1 client, `--single` ports), then
//!   creates up to `--concurrent` + `--single` ports and times a full audit
//!   (NB in sync, and NB empty).
//!
//! - `plug`: `neutrino up` with its data plane; the time from
//!   `neutrino port plug` to the port reading ACTIVE (root needed).
//!
//! - `lb`: the Load-balancer API on the noop provider: load balancer
//!   create → ACTIVE (1 client, `--lbs`), full trees (load balancer,
//!   listener, pool, 10 members, health monitor, each waiting for ACTIVE)
//!   with 8 clients (`--trees`), the list of `--members` members of one
//!   pool, and the server's RSS afterwards.
//!
//! - `amphora`: `neutrino up` with the local amphora provider (root
//!   needed): create → ACTIVE with a real amphora, full trees until the
//!   first 200 through the VIP, requests/s through the VIP vs haproxy
//!   reached directly, `--amp-lbs` load balancers at once with their RSS.
//!
//! Run it against a release build:
//! `cargo build --release -p neutrino -p neutrino-bench &&
//!  target/release/neutrino-bench --neutrino target/release/neutrino --database-url sqlite`

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use futures::stream::{self, StreamExt};
use neutrino_testkit::{ChildGuard, free_tcp_port, wait_for_tcp};
use serde_json::{Value, json};

mod amphora;
mod lb;
mod ovn;
mod plug;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Port creates (1 and 16 clients), a list of all ports, RSS.
    Ports,
    /// Router create + interface add, security group rule creates (1 and 8 clients).
    L3,
    /// API create → row in the OVN NB (1,000 ports), full audit at 10,000 ports.
    Ovn,
    /// `neutrino up` with its data plane: `port plug` → ACTIVE (`--plugs` ports).
    Plug,
    /// Load-balancer API (noop provider): create → ACTIVE, full trees, member lists, RSS.
    Lb,
    /// `neutrino up` with real amphorae: create → ACTIVE, tree → first 200, req/s, RSS.
    Amphora,
}

#[derive(Parser, Debug)]
#[command(about = "Benchmark a neutrino server over HTTP")]
struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::Ports)]
    scenario: Scenario,
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
    /// `l3`: routers (each with one interface) per client count.
    #[arg(long, default_value_t = 300)]
    routers: usize,
    /// `l3`: security group rules per client count, all on one group.
    #[arg(long, default_value_t = 1000)]
    rules: usize,
    /// `plug`: ports plugged one after the other.
    #[arg(long, default_value_t = 50)]
    plugs: usize,
    /// `lb`: load balancers created one after the other, each timed to ACTIVE.
    #[arg(long, default_value_t = 200)]
    lbs: usize,
    /// `lb`: full trees (LB + listener + pool + 10 members + health monitor).
    #[arg(long, default_value_t = 80)]
    trees: usize,
    /// `lb`: concurrent clients building trees.
    #[arg(long, default_value_t = 8)]
    tree_clients: usize,
    /// `lb`: members of the one pool that is listed.
    #[arg(long, default_value_t = 1000)]
    members: usize,
    /// `amphora`: load balancers created (and deleted) one after the other.
    #[arg(long, default_value_t = 20)]
    amp_creates: usize,
    /// `amphora`: full trees, one at a time, each until a 200 through its VIP.
    #[arg(long, default_value_t = 5)]
    amp_trees: usize,
    /// `amphora`: load balancers (with a listener each) alive at once.
    #[arg(long, default_value_t = 50)]
    amp_lbs: usize,
    /// `amphora`: concurrent clients creating those.
    #[arg(long, default_value_t = 8)]
    amp_clients: usize,
    /// `amphora`: keep-alive connections of the HTTP load.
    #[arg(long, default_value_t = 8)]
    amp_connections: usize,
    /// `amphora`: seconds of HTTP load per target.
    #[arg(long, default_value_t = 10)]
    amp_seconds: u64,
    /// `amphora`: keep the server's log (info, neutrino_lbaas=debug) here.
    #[arg(long)]
    amp_log: Option<PathBuf>,
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("x-auth-token", &self.token);
        // `Value::Null`: no body (a GET).
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await?;
        let status = r.status();
        let v: Value = r.json().await?;
        if !status.is_success() {
            bail!("{method} {path} failed with {status}: {v}");
        }
        Ok(v)
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn put(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(reqwest::Method::PUT, path, body).await
    }

    /// The `id` of the `key` object `POST path` returns.
    async fn create(&self, path: &str, key: &str, body: Value) -> anyhow::Result<String> {
        let v = self.post(path, json!({ key: body })).await?;
        Ok(v[key]["id"]
            .as_str()
            .with_context(|| format!("no {key} id in {v}"))?
            .to_string())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Runs `op(0..n)` with `clients` concurrent callers; returns (operations
/// per second, sorted latencies). Each latency starts when its operation
/// first runs, not when it was queued.
async fn timed<F, Fut>(n: usize, clients: usize, op: F) -> anyhow::Result<(f64, Vec<Duration>)>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let started = Instant::now();
    let results: Vec<anyhow::Result<Duration>> = stream::iter(0..n)
        .map(|i| {
            let fut = op(i);
            async move {
                let t = Instant::now();
                fut.await?;
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

/// Creates `n` ports with `clients` concurrent callers; returns (rate, latencies).
async fn create_ports(
    api: &Arc<Api>,
    net: &str,
    n: usize,
    clients: usize,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    timed(n, clients, |_| {
        let api = api.clone();
        let net = net.to_string();
        async move {
            api.post("/v2.0/ports", json!({"port": {"network_id": net}}))
                .await?;
            Ok(())
        }
    })
    .await
}

/// One table row: `| backend | what | rate | p50 · p99 |`.
fn row(backend: &str, what: &str, rate: f64, lat: &[Duration]) {
    println!(
        "| {backend} | {what} | {rate:.0}/s | p50 {} · p99 {} |",
        ms(percentile(lat, 0.5)),
        ms(percentile(lat, 0.99))
    );
}

/// `/proc/loadavg`'s first three fields, for the record.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The `l3` scenario: router create + interface add by subnet, and security
/// group rule creates, each with 1 and 8 clients.
async fn l3(api: &Arc<Api>, args: &Args, backend: &str) -> anyhow::Result<()> {
    // Untimed: one network with one /24 subnet per router of both phases,
    // made with 8 clients. Subnet k is 10.(k / 256).(k % 256).0/24.
    let total = 2 * args.routers;
    if total > 256 * 256 {
        bail!("--routers {} needs more than 65,536 subnets", args.routers);
    }
    let subnets = Arc::new(std::sync::Mutex::new(vec![String::new(); total]));
    timed(total, 8, |k| {
        let api = api.clone();
        let subnets = subnets.clone();
        async move {
            let net = api
                .create(
                    "/v2.0/networks",
                    "network",
                    json!({"name": format!("l3-{k}")}),
                )
                .await?;
            let cidr = format!("10.{}.{}.0/24", k / 256, k % 256);
            let sub = api
                .create(
                    "/v2.0/subnets",
                    "subnet",
                    json!({"network_id": net, "ip_version": 4, "cidr": cidr}),
                )
                .await?;
            subnets.lock().expect("not poisoned")[k] = sub;
            Ok(())
        }
    })
    .await?;
    let subnets: Vec<String> = std::mem::take(&mut *subnets.lock().expect("not poisoned"));

    for (phase, clients) in [1usize, 8].into_iter().enumerate() {
        let base = phase * args.routers;
        let (rate, lat) = timed(args.routers, clients, |i| {
            let api = api.clone();
            let subnet = subnets[base + i].clone();
            async move {
                let router = api
                    .create(
                        "/v2.0/routers",
                        "router",
                        json!({"name": format!("r-{subnet}")}),
                    )
                    .await?;
                api.put(
                    &format!("/v2.0/routers/{router}/add_router_interface"),
                    json!({"subnet_id": subnet}),
                )
                .await?;
                Ok(())
            }
        })
        .await?;
        let noun = if clients == 1 { "client" } else { "clients" };
        row(
            backend,
            &format!(
                "router create + interface add, {clients} {noun} ({} routers)",
                args.routers
            ),
            rate,
            &lat,
        );
    }

    for clients in [1usize, 8] {
        let group = api
            .create(
                "/v2.0/security-groups",
                "security_group",
                json!({"name": format!("bench-{clients}")}),
            )
            .await?;
        let (rate, lat) = timed(args.rules, clients, |i| {
            let api = api.clone();
            let group = group.clone();
            async move {
                // Distinct ports, so no rule duplicates another.
                let port = 1 + i;
                api.post(
                    "/v2.0/security-group-rules",
                    json!({"security_group_rule": {
                        "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
                        "protocol": "tcp", "port_range_min": port, "port_range_max": port}}),
                )
                .await?;
                Ok(())
            }
        })
        .await?;
        let noun = if clients == 1 { "client" } else { "clients" };
        row(
            backend,
            &format!(
                "security group rule create, {clients} {noun} ({} rules, one group)",
                args.rules
            ),
            rate,
            &lat,
        );
    }
    Ok(())
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmRSS")
}

/// A `kB` field of `/proc/PID/status`.
fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
        .with_context(|| format!("no {field}"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .with_context(|| format!("bad {field}"))?
        .parse()?)
}

/// VmRSS, and how much of it is anonymous memory (heap) rather than
/// mapped files (the binary's own pages).
fn rss_breakdown(pid: u32) -> anyhow::Result<String> {
    let mib = |k: u64| k as f64 / 1024.0;
    Ok(format!(
        "{:.1} MiB (heap {:.1}, files {:.1})",
        mib(status_kib(pid, "VmRSS")?),
        mib(status_kib(pid, "RssAnon")?),
        mib(status_kib(pid, "RssFile")?)
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile_dir()?;
    if args.scenario == Scenario::Plug {
        let r = plug::run(&args.neutrino, &dir, args.plugs).await;
        let _ = std::fs::remove_dir_all(&dir);
        return r;
    }
    if args.scenario == Scenario::Amphora {
        let sizes = amphora::Sizes {
            creates: args.amp_creates,
            trees: args.amp_trees,
            lbs: args.amp_lbs,
            clients: args.amp_clients,
            connections: args.amp_connections,
            seconds: args.amp_seconds,
            log: args.amp_log.clone(),
        };
        let r = amphora::run(&args.neutrino, &dir, &sizes).await;
        let _ = std::fs::remove_dir_all(&dir);
        return r;
    }
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
    let (id_port, net_port, lb_port) = (free_tcp_port(), free_tcp_port(), free_tcp_port());
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
    .args(["--load-balancer-listen", &format!("127.0.0.1:{lb_port}")])
    .arg("--token-secret-file")
    .arg(dir.join("secret"))
    .env("NEUTRINO_LOG", "warn");
    let ovn_dbs = if args.scenario == Scenario::Ovn {
        let o = ovn::start()?;
        cmd.arg("--ovn-nb")
            .arg(o.nb.endpoint().to_string())
            .arg("--ovn-sb")
            .arg(o.sb.endpoint().to_string());
        Some(o)
    } else {
        None
    };
    let server = ChildGuard::spawn(&mut cmd)?;
    let pid = server.id();
    wait_for_tcp(format!("127.0.0.1:{net_port}"), Duration::from_secs(30)).await?;
    wait_for_tcp(format!("127.0.0.1:{id_port}"), Duration::from_secs(30)).await?;
    wait_for_tcp(format!("127.0.0.1:{lb_port}"), Duration::from_secs(30)).await?;

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
    let project = token_body["token"]["project"]["id"]
        .as_str()
        .context("project-scoped token")?
        .to_string();
    let lb_api = Arc::new(Api {
        http: http.clone(),
        base: format!("http://127.0.0.1:{lb_port}"),
        token: token.clone(),
    });
    let api = Arc::new(Api {
        http,
        base: format!("http://127.0.0.1:{net_port}"),
        token,
    });
    // The loads are beyond the default quotas (500 ports, 10 routers, 100
    // rules...); lift them, as an operator running this load would.
    let lifted = match args.scenario {
        // `plug` and `amphora` run `up` and returned above.
        Scenario::Ports | Scenario::Ovn | Scenario::Plug | Scenario::Amphora => {
            json!({"port": -1})
        }
        Scenario::L3 => json!({"router": -1, "network": -1, "subnet": -1, "port": -1,
                               "security_group_rule": -1}),
        // One VIP port per load balancer. The Load-balancer API's own
        // quotas are unlimited by default.
        Scenario::Lb => json!({"port": -1}),
    };
    api.put(
        &format!("/v2.0/quotas/{project}"),
        json!({ "quota": lifted }),
    )
    .await
    .context("lifting the quotas")?;

    if let Some(o) = &ovn_dbs {
        ovn::run(
            &api,
            o,
            &db_url,
            backend,
            args.single.min(1000),
            args.single.min(1000) + args.concurrent,
        )
        .await?;
        drop(server);
        return Ok(());
    }
    if args.scenario == Scenario::Lb {
        println!(
            "| {backend} | server RSS before the run | {} | |",
            rss_breakdown(pid)?
        );
        eprintln!("load average before: {}", load_average());
        let sizes = lb::Sizes {
            lbs: args.lbs,
            trees: args.trees,
            tree_clients: args.tree_clients,
            tree_members: 10,
            members: args.members,
            lists: args.lists,
        };
        lb::run(&api, &lb_api, backend, &sizes).await?;
        eprintln!("load average after: {}", load_average());
        println!(
            "| {backend} | server RSS after the run | {} | |",
            rss_breakdown(pid)?
        );
        println!(
            "| {backend} | server peak RSS (VmHWM) | {:.1} MiB | |",
            status_kib(pid, "VmHWM")? as f64 / 1024.0
        );
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }
    if args.scenario == Scenario::L3 {
        eprintln!("load average before: {}", load_average());
        l3(&api, &args, backend).await?;
        eprintln!("load average after: {}", load_average());
        println!(
            "| {backend} | server RSS after the run | {:.1} MiB | |",
            rss_kib(pid)? as f64 / 1024.0
        );
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
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
    let rss_created = rss_breakdown(pid)?;

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
    let rss = rss_breakdown(pid)?;

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
    println!("| {backend} | server RSS after the creates | {rss_created} | |");
    println!("| {backend} | server RSS after the run | {rss} | |");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("neutrino-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
