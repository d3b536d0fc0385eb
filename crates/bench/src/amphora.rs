//! The `amphora` scenario: `neutrino up` with its data plane and the local
//! amphora backend (issue 12), so every load balancer gets a real amphora:
//! two network namespaces (`amp-{id}`: management port and
//! `neutrino amphora-agent`; `amp-{id}-haproxy`: VRRP port, VIP and
//! haproxy) plugged into the integration bridge.
//!
//! Topology (untimed): one network with a /22 subnet and no router; two
//! "web servers" (namespaces running haproxy that answers `GET /` with a
//! fixed 200, so the backends are not what limits the rate) in a security
//! group open on TCP 80, and a client namespace. Then, over HTTP on
//! loopback against the APIs:
//!
//! 1. load balancer create → ACTIVE, one at a time (polled every 20 ms),
//!    then their deletes (DELETE → 404), one at a time;
//! 2. full trees one at a time: LB, HTTP listener, ROUND_ROBIN pool, the
//!    two web servers as members, each waiting for ACTIVE, then `GET
//!    http://VIP/` from the client namespace until it answers 200;
//! 3. requests/s from the client namespace through the last tree's VIP,
//!    and through a haproxy started in the client namespace with the
//!    amphora's own configuration (bind moved to 127.0.0.1), to the same
//!    web servers: the difference is the cost of the path (OVN twice more
//!    and the amphora's namespaces);
//! 4. `--amp-lbs` load balancers with a listener each, `--amp-clients` at
//!    a time; every amphora's RSS (agent and haproxy), the server's; then
//!    deletes, and a check that nothing of this run's amphorae is left.
//!
//! The load generator is in this process: threads that entered the
//! client's namespace (setns) make their sockets there.
//!
//! Cleanup, also on failure: web servers and the direct haproxy (children,
//! by PID), the namespaces this run made, then whatever amphorae of this
//! run's data directory are left (their processes by PID, from `ip netns
//! pids` of their namespaces), then `neutrino up`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use futures::stream::{self, StreamExt};
use neutrino_testkit::{ChildGuard, free_tcp_port, wait_for_tcp};
use serde_json::{Value, json};

use crate::{Api, ms, percentile, rss_breakdown, status_kib};

/// How often scenario 1 and 2 poll an object's status.
const POLL: Duration = Duration::from_millis(20);
/// Phase 4 polls less often: 8 clients at 20 ms would be 400 requests/s
/// on the 2 cores the amphorae boot on.
const POLL_MANY: Duration = Duration::from_millis(100);
/// How long anything may stay PENDING.
const PATIENCE: Duration = Duration::from_secs(120);

pub struct Sizes {
    pub creates: usize,
    pub trees: usize,
    pub lbs: usize,
    pub clients: usize,
    pub connections: usize,
    pub seconds: u64,
    pub log: Option<PathBuf>,
}

/// What this run made on the host, removed by [`Host::clean`].
#[derive(Default)]
struct Host {
    /// Namespaces (removed last).
    netns: Vec<String>,
    /// Ports plugged with `neutrino port plug` (unplugged before their
    /// namespace goes).
    plugged: Vec<String>,
    /// Web servers and the direct haproxy.
    children: Vec<ChildGuard>,
}

impl Host {
    fn clean(&mut self, neutrino: &Path, data: &Path) {
        for mut c in self.children.drain(..) {
            let _ = c.terminate(Duration::from_secs(5));
        }
        for id in self.plugged.drain(..) {
            let _ = Command::new(neutrino)
                .args(["port", "unplug", &id, "--data-dir"])
                .arg(data)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        for ns in self.netns.drain(..).rev() {
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

fn sh(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", args.join(" ")))?;
    ensure!(
        out.status.success(),
        "`{}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn netns_exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// Every process whose network namespace is `ns` (none when it is gone).
fn netns_pids(ns: &str) -> Vec<u32> {
    if !netns_exists(ns) {
        return Vec::new();
    }
    sh(&["ip", "netns", "pids", ns])
        .map(|o| {
            o.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether any process's command line names `id` (the agent's and
/// haproxy's name files under the amphora's directory).
fn procs_naming(id: &str) -> bool {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|c| String::from_utf8_lossy(&c).contains(id))
}

/// Kills what the amphorae of this run's data directory left (only after
/// a failure is there anything): by PID, only in their namespaces.
fn reap(data: &Path) -> Vec<String> {
    let mut reaped = Vec::new();
    let Ok(rd) = std::fs::read_dir(data.join("amphorae")) else {
        return reaped;
    };
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        for ns in [format!("amp-{id}-haproxy"), format!("amp-{id}")] {
            for p in netns_pids(&ns) {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            }
            if netns_exists(&ns) {
                let _ = Command::new("ip").args(["netns", "del", &ns]).status();
            }
        }
        let _ = std::fs::remove_dir_all(Path::new("/run/neutrino-lb").join(&id));
        reaped.push(id);
    }
    reaped
}

// ------------------------------------------------------------ HTTP client

/// Runs `f` on a new thread that first enters network namespace `ns`:
/// sockets it makes live there. (Not a tokio blocking thread: those are
/// reused, and a namespace, once entered, stays.)
async fn in_netns<T, F>(ns: &str, f: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> anyhow::Result<T> + Send + 'static,
{
    let name = ns.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("netns-{ns}"))
        .spawn(move || {
            let r = enter_netns(&name).and_then(|()| f());
            let _ = tx.send(r);
        })?;
    rx.await.map_err(|_| anyhow!("thread in {ns} panicked"))?
}

fn enter_netns(ns: &str) -> anyhow::Result<()> {
    let f = std::fs::File::open(Path::new("/run/netns").join(ns))
        .with_context(|| format!("namespace {ns}"))?;
    rustix::thread::move_into_link_name_space(
        f.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .with_context(|| format!("entering namespace {ns}"))?;
    Ok(())
}

/// One HTTP/1.1 keep-alive connection, blocking.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    request: Vec<u8>,
}

struct Response {
    status: u16,
    body: Vec<u8>,
    close: bool,
}

fn bad(what: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.into())
}

impl Conn {
    fn open(addr: SocketAddr, timeout: Duration) -> std::io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
            request: format!(
                "GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: neutrino-bench\r\n\r\n"
            )
            .into_bytes(),
        })
    }

    fn fill(&mut self) -> std::io::Result<usize> {
        let mut tmp = [0u8; 8192];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    /// `GET /`; the response's head must carry Content-Length (or close).
    fn get(&mut self) -> std::io::Result<Response> {
        self.stream.write_all(&self.request)?;
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if self.fill()? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| bad("head"))?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| bad(format!("status line of {head:?}")))?;
        let (mut len, mut close) = (None, false);
        for l in lines {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                len = Some(v.parse::<usize>().map_err(|_| bad("content-length"))?);
            } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
                close = true;
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                return Err(bad("chunked responses are not supported"));
            }
        }
        let end = match len {
            Some(n) => {
                while self.buf.len() < head_end + n {
                    if self.fill()? == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                }
                head_end + n
            }
            None if close => {
                while self.fill()? > 0 {}
                self.buf.len()
            }
            None => return Err(bad("neither content-length nor close")),
        };
        let body = self.buf[head_end..end].to_vec();
        self.buf.drain(..end);
        Ok(Response {
            status,
            body,
            close,
        })
    }
}

/// `GET http://addr/` on a fresh connection every `POLL` until a 200;
/// returns the body. Runs inside the caller's namespace thread.
fn first_200(addr: SocketAddr, within: Duration) -> anyhow::Result<String> {
    let deadline = Instant::now() + within;
    loop {
        let last = match Conn::open(addr, Duration::from_millis(500)).and_then(|mut c| c.get()) {
            Ok(r) if r.status == 200 => return Ok(String::from_utf8_lossy(&r.body).into()),
            Ok(r) => format!("status {}", r.status),
            Err(e) => e.to_string(),
        };
        ensure!(
            Instant::now() < deadline,
            "http://{addr}/ gave no 200 within {within:?} (last: {last})"
        );
        std::thread::sleep(POLL);
    }
}

struct Load {
    /// Busy CPUs of the machine, and ovs-vswitchd's CPUs, over the run.
    cpu: (f64, Option<f64>),
    requests: u64,
    errors: u64,
    secs: f64,
    /// Sorted.
    lat: Vec<Duration>,
    bodies: BTreeMap<String, u64>,
}

/// `conns` keep-alive connections to `addr`, each on its own thread in
/// namespace `ns`, sending `GET /` back to back: `warmup` unrecorded,
/// then `secs` recorded.
async fn drive(
    ns: &str,
    addr: SocketAddr,
    conns: usize,
    warmup: Duration,
    secs: u64,
    vswitchd: Option<u32>,
) -> anyhow::Result<Load> {
    let start = Instant::now() + warmup;
    let cpu = CpuWindow::start(vswitchd);
    let end = start + Duration::from_secs(secs);
    let workers: Vec<_> = (0..conns)
        .map(|_| {
            in_netns(ns, move || {
                let mut lat: Vec<u32> = Vec::with_capacity(1 << 16);
                let (mut errors, mut bodies) = (0u64, BTreeMap::<String, u64>::new());
                let mut conn: Option<Conn> = None;
                loop {
                    let t = Instant::now();
                    if t >= end {
                        break;
                    }
                    let c = match conn.as_mut() {
                        Some(c) => c,
                        None => match Conn::open(addr, Duration::from_secs(2)) {
                            Ok(c) => conn.insert(c),
                            Err(_) => {
                                errors += u64::from(t >= start);
                                std::thread::sleep(Duration::from_millis(10));
                                continue;
                            }
                        },
                    };
                    let r = c.get();
                    let done = Instant::now();
                    let measured = t >= start && done <= end;
                    match r {
                        Ok(r) => {
                            if r.close {
                                conn = None;
                            }
                            if !measured {
                                continue;
                            }
                            if r.status == 200 {
                                lat.push(done.duration_since(t).as_micros() as u32);
                                *bodies
                                    .entry(String::from_utf8_lossy(&r.body).trim().to_string())
                                    .or_default() += 1;
                            } else {
                                errors += 1;
                            }
                        }
                        Err(_) => {
                            conn = None;
                            errors += u64::from(measured);
                        }
                    }
                }
                Ok((lat, errors, bodies))
            })
        })
        .collect();
    let mut load = Load {
        cpu: (0.0, None),
        requests: 0,
        errors: 0,
        secs: secs as f64,
        lat: Vec::new(),
        bodies: BTreeMap::new(),
    };
    for r in futures::future::join_all(workers).await {
        let (lat, errors, bodies) = r?;
        load.requests += lat.len() as u64;
        load.errors += errors;
        load.lat
            .extend(lat.into_iter().map(|u| Duration::from_micros(u.into())));
        for (b, n) in bodies {
            *load.bodies.entry(b).or_default() += n;
        }
    }
    load.cpu = cpu.end();
    load.lat.sort();
    ensure!(!load.lat.is_empty(), "no request to {addr} succeeded");
    Ok(load)
}

// ------------------------------------------------------------ memory

fn kib_of(pid: u32, field: &str) -> u64 {
    status_kib(pid, field).unwrap_or(0)
}

/// Proportional set size: shared pages (the `neutrino` and haproxy
/// binaries' text) divided among the processes that map them.
fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[derive(Clone, Copy, Default)]
struct AmpMem {
    agent: u64,
    /// Of which anonymous memory (heap, stacks), not mapped files.
    agent_anon: u64,
    haproxy: u64,
    haproxy_anon: u64,
    haproxy_procs: usize,
    pss: u64,
}

impl AmpMem {
    fn rss(&self) -> u64 {
        self.agent + self.haproxy
    }
}

fn amphora_mem(id: &str) -> anyhow::Result<AmpMem> {
    let agent = netns_pids(&format!("amp-{id}"));
    let haproxy = netns_pids(&format!("amp-{id}-haproxy"));
    ensure!(!agent.is_empty(), "no process in amp-{id}");
    let mut m = AmpMem {
        haproxy_procs: haproxy.len(),
        ..AmpMem::default()
    };
    for &p in &agent {
        m.agent += kib_of(p, "VmRSS");
        m.agent_anon += kib_of(p, "RssAnon");
        m.pss += pss_kib(p);
    }
    for &p in &haproxy {
        m.haproxy += kib_of(p, "VmRSS");
        m.haproxy_anon += kib_of(p, "RssAnon");
        m.pss += pss_kib(p);
    }
    Ok(m)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// One row per amphora set: mean and max RSS, agent vs haproxy, PSS.
fn mem_rows(what: &str, mems: &[AmpMem]) {
    let n = mems.len().max(1) as u64;
    let sum = |f: fn(&AmpMem) -> u64| mems.iter().map(f).sum::<u64>();
    let max = mems.iter().map(AmpMem::rss).max().unwrap_or(0);
    println!(
        "| RSS per amphora, {what} ({} amphorae) | mean {} (agent {}, haproxy {}) · max {} | ≤ 20 MiB |",
        mems.len(),
        mib(sum(AmpMem::rss) / n),
        mib(sum(|m| m.agent) / n),
        mib(sum(|m| m.haproxy) / n),
        mib(max)
    );
    println!(
        "| … of which heap (RssAnon) | agent {}, haproxy {} | |",
        mib(sum(|m| m.agent_anon) / n),
        mib(sum(|m| m.haproxy_anon) / n)
    );
    println!(
        "| PSS per amphora, {what} (shared pages split among the amphorae) | mean {} | |",
        mib(sum(|m| m.pss) / n)
    );
}

/// The OVS/OVN daemons among the direct children of `pid` (not the
/// amphora agents, also its children), by name, with their VmRSS.
fn children_rss(pid: u32) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (child, comm) in daemons(pid) {
        *out.entry(comm).or_default() += kib_of(child, "VmRSS");
    }
    out
}

/// The fields of /proc/PID/stat after the command name (which is in
/// parentheses and may hold spaces): the state first.
fn stat_fields(pid: u32) -> Option<(String, Vec<String>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    Some((
        stat[open + 1..close].to_string(),
        stat[close + 1..]
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    ))
}

/// User + system time of `pid` in clock ticks (utime, stime: fields 14
/// and 15 of /proc/PID/stat).
fn proc_ticks(pid: u32) -> u64 {
    stat_fields(pid)
        .map(|(_, f)| {
            f.get(11..13)
                .into_iter()
                .flatten()
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

/// All CPUs' busy and total clock ticks (/proc/stat's `cpu` line: idle
/// and iowait are not busy), and the number of CPUs.
fn machine_ticks() -> (u64, u64, usize) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpus = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total, cpus.max(1))
}

/// Where the CPU went during a load: busy CPUs of the machine, and of
/// them ovs-vswitchd's share (the userspace datapath every packet of the
/// namespaces crosses), both in CPUs.
struct CpuWindow {
    machine: (u64, u64, usize),
    vswitchd: Option<(u32, u64)>,
}

impl CpuWindow {
    fn start(vswitchd: Option<u32>) -> CpuWindow {
        CpuWindow {
            machine: machine_ticks(),
            vswitchd: vswitchd.map(|p| (p, proc_ticks(p))),
        }
    }

    /// (busy CPUs of the machine, CPUs ovs-vswitchd used).
    fn end(&self) -> (f64, Option<f64>) {
        let (busy0, total0, cpus) = self.machine;
        let (busy1, total1, _) = machine_ticks();
        // Ticks of one CPU in the window.
        let per_cpu = (total1.saturating_sub(total0)) as f64 / cpus as f64;
        let busy = busy1.saturating_sub(busy0) as f64 / per_cpu.max(1.0);
        let vs = self
            .vswitchd
            .map(|(p, t0)| proc_ticks(p).saturating_sub(t0) as f64 / per_cpu.max(1.0));
        (busy, vs)
    }
}

/// The OVS/OVN daemons among the direct children of `pid`: (pid, name).
fn daemons(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Some((comm, fields)) = stat_fields(child) else {
            continue;
        };
        let ppid = fields.get(1).and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) && (comm.starts_with("ovs") || comm.starts_with("ovn")) {
            out.push((child, comm));
        }
    }
    out
}

// ------------------------------------------------------------ the API

struct Ctx {
    neutrino: PathBuf,
    data: PathBuf,
    sfx: String,
    up_pid: u32,
    net: Arc<Api>,
    lb: Arc<Api>,
    /// Every amphora id this run saw.
    amphorae: Mutex<BTreeSet<String>>,
}

async fn get(api: &Api, path: &str) -> anyhow::Result<(reqwest::StatusCode, Value)> {
    let r = api
        .http
        .get(format!("{}{path}", api.base))
        .header("x-auth-token", &api.token)
        .send()
        .await?;
    let status = r.status();
    let v = r.json().await.unwrap_or(Value::Null);
    Ok((status, v))
}

/// Polls `path` every `poll` until its `key` object is ACTIVE.
async fn wait_active(api: &Api, path: &str, key: &str, poll: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let (status, v) = get(api, path).await?;
        ensure!(status.is_success(), "GET {path}: {status} {v}");
        match v[key]["provisioning_status"].as_str() {
            Some("ACTIVE") => return Ok(()),
            Some("ERROR") => bail!("{path} went to ERROR: {v}"),
            Some(_) => {}
            None => bail!("no provisioning_status in {v}"),
        }
        ensure!(
            started.elapsed() < PATIENCE,
            "{path} not ACTIVE after {PATIENCE:?}: {v}"
        );
        tokio::time::sleep(poll).await;
    }
}

/// DELETE `path` (with `?cascade=true` for a load balancer with
/// children), then polls until a GET answers 404 (or DELETED).
async fn delete_gone(api: &Api, path: &str, query: &str, poll: Duration) -> anyhow::Result<()> {
    let r = api
        .http
        .delete(format!("{}{path}{query}", api.base))
        .header("x-auth-token", &api.token)
        .send()
        .await?;
    let status = r.status();
    ensure!(
        status.is_success(),
        "DELETE {path}: {status} {}",
        r.text().await.unwrap_or_default()
    );
    let started = Instant::now();
    loop {
        let (status, v) = get(api, path).await?;
        if status == reqwest::StatusCode::NOT_FOUND
            || v["loadbalancer"]["provisioning_status"] == "DELETED"
        {
            return Ok(());
        }
        ensure!(
            v["loadbalancer"]["provisioning_status"] != "ERROR",
            "{path} went to ERROR while deleting: {v}"
        );
        ensure!(
            started.elapsed() < PATIENCE,
            "{path} not gone after {PATIENCE:?}: {v}"
        );
        tokio::time::sleep(poll).await;
    }
}

fn lb_path(id: &str) -> String {
    format!("/v2/lbaas/loadbalancers/{id}")
}

impl Ctx {
    /// The amphorae of every load balancer: load balancer id → amphora ids.
    async fn amphorae_by_lb(&self) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
        let (status, v) = get(&self.lb, "/v2/octavia/amphorae").await?;
        ensure!(status.is_success(), "amphora list: {status} {v}");
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for a in v["amphorae"].as_array().context("amphorae")? {
            let (Some(id), Some(lb)) = (a["id"].as_str(), a["loadbalancer_id"].as_str()) else {
                continue;
            };
            out.entry(lb.to_string()).or_default().push(id.to_string());
            self.amphorae
                .lock()
                .expect("not poisoned")
                .insert(id.to_string());
        }
        Ok(out)
    }

    /// The one amphora of load balancer `lb`.
    async fn amphora_of(&self, lb: &str) -> anyhow::Result<String> {
        let mut all = self.amphorae_by_lb().await?;
        let amps = all.remove(lb).unwrap_or_default();
        ensure!(amps.len() == 1, "load balancer {lb} has amphorae {amps:?}");
        Ok(amps[0].clone())
    }

    /// Amphora directories of this run's data directory.
    fn amphora_dirs(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.data.join("amphorae"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What amphora `id` left on the host: namespaces, processes naming
    /// it, its directory, its socket directory.
    fn traces_of(&self, id: &str) -> Vec<String> {
        let mut left = Vec::new();
        for ns in [format!("amp-{id}"), format!("amp-{id}-haproxy")] {
            if netns_exists(&ns) {
                left.push(format!("namespace {ns}"));
            }
        }
        if procs_naming(id) {
            left.push(format!("a process naming {id}"));
        }
        for d in [
            self.data.join("amphorae").join(id),
            Path::new("/run/neutrino-lb").join(id),
        ] {
            if d.exists() {
                left.push(d.display().to_string());
            }
        }
        left
    }

    async fn create_lb(&self, subnet: &str, name: &str) -> anyhow::Result<String> {
        self.lb
            .create(
                "/v2/lbaas/loadbalancers",
                "loadbalancer",
                json!({"vip_subnet_id": subnet, "name": name}),
            )
            .await
    }

    async fn listener(&self, lb: &str, poll: Duration) -> anyhow::Result<String> {
        let id = self
            .lb
            .create(
                "/v2/lbaas/listeners",
                "listener",
                json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80}),
            )
            .await?;
        wait_active(
            &self.lb,
            &format!("/v2/lbaas/listeners/{id}"),
            "listener",
            poll,
        )
        .await?;
        Ok(id)
    }

    /// A port on `network` plugged into a new namespace `ns` with its
    /// address; returns the address.
    async fn workload(
        &self,
        host: &mut Host,
        network: &str,
        groups: &[&str],
        ns: &str,
    ) -> anyhow::Result<String> {
        let mut body = json!({"network_id": network, "name": ns});
        if !groups.is_empty() {
            body["security_groups"] = json!(groups);
        }
        let p = self
            .net
            .post("/v2.0/ports", json!({ "port": body }))
            .await?;
        let id = p["port"]["id"].as_str().context("port id")?.to_string();
        let mac = p["port"]["mac_address"].as_str().context("mac")?;
        let ip = p["port"]["fixed_ips"][0]["ip_address"]
            .as_str()
            .context("address")?
            .to_string();
        sh(&["ip", "netns", "add", ns])?;
        host.netns.push(ns.to_string());
        let data = self.data.display().to_string();
        sh(&[
            &self.neutrino.display().to_string(),
            "port",
            "plug",
            &id,
            "--netns",
            ns,
            "--mac",
            mac,
            "--data-dir",
            &data,
        ])?;
        host.plugged.push(id.clone());
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        sh(&[
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            &format!("{ip}/22"),
            "dev",
            "eth0",
        ])?;
        let started = Instant::now();
        loop {
            let (_, v) = get(&self.net, &format!("/v2.0/ports/{id}")).await?;
            if v["port"]["status"] == "ACTIVE" {
                break;
            }
            ensure!(started.elapsed() < PATIENCE, "port {id} not ACTIVE: {v}");
            tokio::time::sleep(POLL).await;
        }
        Ok(ip)
    }
}

/// haproxy in `ns`, in the foreground (`-db`), with configuration `cfg`.
fn haproxy(host: &mut Host, dir: &Path, ns: &str, name: &str, cfg: &str) -> anyhow::Result<()> {
    let file = dir.join(format!("{name}.cfg"));
    std::fs::write(&file, cfg)?;
    sh(&["haproxy", "-c", "-q", "-f", &file.display().to_string()])
        .with_context(|| format!("checking {}", file.display()))?;
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "haproxy", "-db", "-f"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut child = ChildGuard::spawn(&mut cmd)?;
    // A configuration haproxy -c accepts can still fail at start (the
    // file descriptor limit it needs for `maxconn`).
    std::thread::sleep(Duration::from_millis(300));
    if let Some(st) = child.0.try_wait()? {
        bail!(
            "haproxy {name} in {ns} exited ({st}): {}",
            std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
        );
    }
    host.children.push(child);
    Ok(())
}

/// A web server answering every request with 200 and its name: haproxy
/// itself, so the backends are not the bottleneck (python's http.server
/// is single-threaded). `maxconn` small enough for a 20,000 descriptor
/// limit (haproxy wants two per connection, and fails to start without).
fn web_config(name: &str) -> String {
    format!(
        "global\n    maxconn 4096\n\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    \
         timeout server 30s\n    option http-keep-alive\n\n\
         frontend web\n    bind 0.0.0.0:80\n    \
         http-request return status 200 content-type text/plain string {name}\n"
    )
}

/// The amphora's own haproxy.cfg with its bind moved to `bind` and its
/// stats socket and server-state file moved into `dir` (they name the
/// amphora's, which must not be touched).
fn direct_config(amphora_cfg: &str, bind: &str, dir: &Path) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut binds = 0;
    for line in amphora_cfg.lines() {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        if t.starts_with("bind ") {
            binds += 1;
            out.push_str(&format!("{indent}bind {bind}\n"));
        } else if t.starts_with("stats socket ") {
            out.push_str(&format!(
                "{indent}stats socket {} mode 0600 level user\n",
                dir.join("direct.sock").display()
            ));
        } else if t.starts_with("server-state-file ") {
            out.push_str(&format!(
                "{indent}server-state-file {}\n",
                dir.join("direct-servers-state").display()
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    ensure!(
        binds == 1,
        "expected one bind line in the amphora's config, found {binds}:\n{amphora_cfg}"
    );
    Ok(out)
}

fn load_row(what: &str, l: &Load) {
    let vswitchd = l
        .cpu
        .1
        .map(|c| format!(", ovs-vswitchd {c:.2}"))
        .unwrap_or_default();
    println!(
        "| {what} | {:.0} req/s (p50 {} · p99 {}; {} requests, {} errors; {}; CPUs busy {:.2}{vswitchd}) | |",
        l.requests as f64 / l.secs,
        ms(percentile(&l.lat, 0.5)),
        ms(percentile(&l.lat, 0.99)),
        l.requests,
        l.errors,
        l.bodies
            .iter()
            .map(|(b, n)| format!("{b} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        l.cpu.0,
    );
}

// ------------------------------------------------------------ the run

pub async fn run(neutrino: &Path, dir: &Path, s: &Sizes) -> anyhow::Result<()> {
    // The userspace datapath's devices are host-wide: wait for the data
    // plane tests of other people (they hold the same lock).
    eprintln!(
        "waiting for {} (data plane tests)",
        neutrino_chassis::testing::HOST_LOCK
    );
    let _lock = tokio::task::spawn_blocking(neutrino_chassis::testing::HostLock::acquire).await??;
    eprintln!("load average before: {}", crate::load_average());
    let data = dir.join("data");
    let log_path = dir.join("up.log");
    let (ip, np, lp) = (free_tcp_port(), free_tcp_port(), free_tcp_port());
    let sfx = format!("{:04x}", std::process::id() as u16);
    let mut cmd = Command::new(neutrino);
    cmd.args(["up", "--data-dir"])
        .arg(&data)
        .args(["--identity-listen", &format!("127.0.0.1:{ip}")])
        .args(["--network-listen", &format!("127.0.0.1:{np}")])
        .args(["--load-balancer-listen", &format!("127.0.0.1:{lp}")])
        .args(["--ovn-nb-listen", &format!("127.0.0.1:{}", free_tcp_port())])
        .args(["--ovn-sb-listen", &format!("127.0.0.1:{}", free_tcp_port())])
        .args(["--integration-bridge", &format!("ba{sfx}")])
        .args(["--chassis-name", &format!("amp-bench-{sfx}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path)?)
        .env("NO_COLOR", "1")
        .env("NEUTRINO_LOG", "info,neutrino_lbaas=debug");
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("OS_") || (k.starts_with("NEUTRINO_") && k != "NEUTRINO_LOG") {
            cmd.env_remove(k);
        }
    }
    let mut up = ChildGuard::spawn(&mut cmd)?;
    let up_pid = up.id();
    let mut host = Host::default();
    let result = async {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !data.join("clouds.yaml").exists() {
            if let Some(st) = up.0.try_wait()? {
                bail!("neutrino up exited ({st})");
            }
            ensure!(Instant::now() < deadline, "neutrino up not ready");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        wait_for_tcp(format!("127.0.0.1:{lp}"), Duration::from_secs(30)).await?;
        let password = std::fs::read_to_string(data.join("admin-password"))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(32)
            .build()?;
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
        let body: Value = r.json().await?;
        let project = body["token"]["project"]["id"]
            .as_str()
            .context("project id")?
            .to_string();
        let ctx = Ctx {
            neutrino: neutrino.to_path_buf(),
            data: data.clone(),
            sfx: sfx.clone(),
            up_pid,
            net: Arc::new(Api {
                http: http.clone(),
                base: format!("http://127.0.0.1:{np}"),
                token: token.clone(),
            }),
            lb: Arc::new(Api {
                http,
                base: format!("http://127.0.0.1:{lp}"),
                token,
            }),
            amphorae: Mutex::new(BTreeSet::new()),
        };
        ctx.net
            .put(
                &format!("/v2.0/quotas/{project}"),
                json!({"quota": {"port": -1}}),
            )
            .await?;
        let r = scenario(&ctx, &mut host, dir, s).await;
        // Whatever happened: every amphora this run saw must be gone.
        if r.is_ok() {
            let seen = ctx.amphorae.lock().expect("not poisoned").clone();
            let left: Vec<String> = seen.iter().flat_map(|id| ctx.traces_of(id)).collect();
            ensure!(left.is_empty(), "left after the deletes: {left:?}");
            let dirs = ctx.amphora_dirs();
            ensure!(dirs.is_empty(), "amphora directories left: {dirs:?}");
            println!(
                "| left behind by {} amphorae after their deletes | nothing (namespaces, processes, directories) | |",
                seen.len()
            );
        }
        r
    }
    .await;
    host.clean(neutrino, &data);
    let reaped = reap(&data);
    if !reaped.is_empty() {
        eprintln!("reaped the amphorae {reaped:?} (only after a failure)");
    }
    let stopped = up.terminate(Duration::from_secs(30));
    eprintln!("load average after: {}", crate::load_average());
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let retry = |l: &str| l.contains("step failed; retrying");
    let others = |l: &str| (l.contains(" WARN ") || l.contains(" ERROR ")) && !retry(l);
    for (what, lines) in [
        (
            "flow step retries",
            log.lines().filter(|l| retry(l)).collect::<Vec<_>>(),
        ),
        (
            "other WARN/ERROR lines",
            log.lines().filter(|l| others(l)).collect(),
        ),
    ] {
        let more = if lines.is_empty() {
            ""
        } else {
            ", first ones:"
        };
        eprintln!("server log: {} {what}{more}", lines.len());
        for l in lines.iter().take(15) {
            eprintln!("  {l}");
        }
    }
    if let Some(keep) = &s.log {
        std::fs::copy(&log_path, keep)
            .with_context(|| format!("copying the server log to {}", keep.display()))?;
        eprintln!("server log kept at {}", keep.display());
    }
    if let Err(e) = &result {
        let tail: Vec<&str> = log.lines().collect();
        eprintln!(
            "neutrino up log (tail):\n{}",
            tail[tail.len().saturating_sub(40)..].join("\n")
        );
        eprintln!("failed: {e:#}");
    }
    result?;
    stopped?;
    Ok(())
}

/// Times of one create, from the POST: its answer, the amphora's
/// directory (the flow's boot step has begun), the agent started (its log
/// file appears just before), ACTIVE.
#[derive(Clone, Copy)]
struct Milestones {
    answer: Duration,
    dir: Duration,
    agent: Duration,
    active: Duration,
}

/// Creates a load balancer and polls, every [`POLL`], both its status and
/// the amphora's files, for [`Milestones`].
async fn create_watched(
    ctx: &Ctx,
    subnet: &str,
    name: &str,
) -> anyhow::Result<(String, Milestones)> {
    let before = ctx.amphora_dirs();
    let t = Instant::now();
    let id = ctx.create_lb(subnet, name).await?;
    let answer = t.elapsed();
    let (mut dir, mut agent) = (None::<Duration>, None::<Duration>);
    let mut amp: Option<String> = None;
    loop {
        if amp.is_none() {
            amp = ctx.amphora_dirs().difference(&before).next().cloned();
        }
        if let Some(a) = &amp {
            dir.get_or_insert(t.elapsed());
            if agent.is_none() && ctx.data.join("amphorae").join(a).join("agent.log").exists() {
                agent = Some(t.elapsed());
            }
        }
        let (status, v) = get(&ctx.lb, &lb_path(&id)).await?;
        ensure!(status.is_success(), "GET {id}: {status} {v}");
        match v["loadbalancer"]["provisioning_status"].as_str() {
            Some("ACTIVE") => break,
            Some("ERROR") => bail!("load balancer {id} went to ERROR: {v}"),
            _ => {}
        }
        ensure!(t.elapsed() < PATIENCE, "{id} not ACTIVE: {v}");
        tokio::time::sleep(POLL).await;
    }
    let active = t.elapsed();
    Ok((
        id,
        Milestones {
            answer,
            dir: dir.unwrap_or(active),
            agent: agent.unwrap_or(active),
            active,
        },
    ))
}

fn p50_p99(v: &mut [Duration]) -> String {
    if v.is_empty() {
        return "—".into();
    }
    v.sort();
    format!(
        "p50 {} · p99 {}",
        ms(percentile(v, 0.5)),
        ms(percentile(v, 0.99))
    )
}

async fn scenario(ctx: &Ctx, host: &mut Host, dir: &Path, s: &Sizes) -> anyhow::Result<()> {
    let sfx = &ctx.sfx;
    // Topology, untimed.
    let network = ctx
        .net
        .create("/v2.0/networks", "network", json!({"name": "amp-bench"}))
        .await?;
    let subnet = ctx
        .net
        .create(
            "/v2.0/subnets",
            "subnet",
            json!({"network_id": network, "ip_version": 4, "cidr": "10.70.0.0/22",
                   "name": "amp-bench"}),
        )
        .await?;
    let web = ctx
        .net
        .create(
            "/v2.0/security-groups",
            "security_group",
            json!({"name": "amp-bench-web"}),
        )
        .await?;
    ctx.net
        .post(
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": web, "direction": "ingress",
                "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80}}),
        )
        .await?;
    let (w1_ns, w2_ns, cl_ns) = (
        format!("ab-w1-{sfx}"),
        format!("ab-w2-{sfx}"),
        format!("ab-cl-{sfx}"),
    );
    let web1 = ctx.workload(host, &network, &[&web], &w1_ns).await?;
    let web2 = ctx.workload(host, &network, &[&web], &w2_ns).await?;
    ctx.workload(host, &network, &[], &cl_ns).await?;
    haproxy(host, dir, &w1_ns, "web1", &web_config("web1"))?;
    haproxy(host, dir, &w2_ns, "web2", &web_config("web2"))?;
    for (ip, name) in [(&web1, "web1"), (&web2, "web2")] {
        let addr: SocketAddr = format!("{ip}:80").parse()?;
        let body = in_netns(&cl_ns, move || first_200(addr, Duration::from_secs(60))).await?;
        ensure!(body == name, "{addr} answered {body:?}");
    }

    // The first amphora also makes the management network (`up` makes
    // it when the first amphora boots): one untimed create and delete.
    let t = Instant::now();
    let (warm, m) = create_watched(ctx, &subnet, "warm-up").await?;
    ctx.amphora_of(&warm).await?;
    delete_gone(&ctx.lb, &lb_path(&warm), "", POLL).await?;
    eprintln!(
        "first load balancer (makes lb-mgmt-net): ACTIVE after {}, deleted after {} (not in the table)",
        ms(m.active),
        ms(t.elapsed())
    );

    // 1. Create → ACTIVE, one at a time; then the deletes.
    let mut ids = Vec::new();
    let mut marks = Vec::new();
    for i in 0..s.creates {
        let (id, m) = create_watched(ctx, &subnet, &format!("single-{i}")).await?;
        ctx.amphora_of(&id).await?;
        ids.push(id);
        marks.push(m);
    }
    let mut active: Vec<Duration> = marks.iter().map(|m| m.active).collect();
    println!(
        "| load balancer create → ACTIVE, one amphora, 1 client ({} load balancers) | {} | p50 ≤ 1 s (upstream: a VM boot, 30-90 s) |",
        s.creates,
        p50_p99(&mut active)
    );
    let mut answer: Vec<Duration> = marks.iter().map(|m| m.answer).collect();
    let mut to_dir: Vec<Duration> = marks.iter().map(|m| m.dir - m.answer).collect();
    let mut to_agent: Vec<Duration> = marks.iter().map(|m| m.agent - m.dir).collect();
    let mut to_active: Vec<Duration> = marks.iter().map(|m| m.active - m.agent).collect();
    println!(
        "| … POST answered (PENDING_CREATE) | {} | |",
        p50_p99(&mut answer)
    );
    println!(
        "| … answer → amphora directory made (flow picked up, amphora row) | {} | |",
        p50_p99(&mut to_dir)
    );
    println!(
        "| … → agent started (namespaces, management port made and plugged, certificate) | {} | |",
        p50_p99(&mut to_agent)
    );
    println!(
        "| … → ACTIVE (agent answers over mTLS, VRRP port, VIP plugged, settled) | {} | |",
        p50_p99(&mut to_active)
    );
    let mut deletes = Vec::new();
    for id in &ids {
        let amp = ctx.amphora_of(id).await?;
        let t = Instant::now();
        delete_gone(&ctx.lb, &lb_path(id), "", POLL).await?;
        deletes.push(t.elapsed());
        // The final check (at the end) decides; this only says when.
        let left = ctx.traces_of(&amp);
        if !left.is_empty() {
            eprintln!("load balancer {id} reads deleted, but amphora {amp} still has {left:?}");
        }
    }
    println!(
        "| load balancer delete → 404, amphora gone, 1 client ({} load balancers) | {} | |",
        ids.len(),
        p50_p99(&mut deletes)
    );

    // 2. Full trees, one at a time, until the first 200 through the VIP.
    let (mut totals, mut lb_t, mut listener_t, mut pool_t, mut members_t, mut traffic_t) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut trees = Vec::new();
    for i in 0..s.trees {
        let t = Instant::now();
        let lb_id = ctx.create_lb(&subnet, &format!("tree-{i}")).await?;
        wait_active(&ctx.lb, &lb_path(&lb_id), "loadbalancer", POLL).await?;
        let t_lb = t.elapsed();
        let listener = ctx.listener(&lb_id, POLL).await?;
        let t_listener = t.elapsed();
        let pool = ctx
            .lb
            .create(
                "/v2/lbaas/pools",
                "pool",
                json!({"listener_id": listener, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
            )
            .await?;
        wait_active(&ctx.lb, &format!("/v2/lbaas/pools/{pool}"), "pool", POLL).await?;
        let t_pool = t.elapsed();
        let members = format!("/v2/lbaas/pools/{pool}/members");
        for ip in [&web1, &web2] {
            let m = ctx
                .lb
                .create(
                    &members,
                    "member",
                    json!({"address": ip, "protocol_port": 80, "subnet_id": subnet}),
                )
                .await?;
            wait_active(&ctx.lb, &format!("{members}/{m}"), "member", POLL).await?;
        }
        let t_members = t.elapsed();
        let (_, v) = get(&ctx.lb, &lb_path(&lb_id)).await?;
        let vip: SocketAddr = format!(
            "{}:80",
            v["loadbalancer"]["vip_address"].as_str().context("vip")?
        )
        .parse()?;
        in_netns(&cl_ns, move || first_200(vip, Duration::from_secs(60))).await?;
        let total = t.elapsed();
        totals.push(total);
        lb_t.push(t_lb);
        listener_t.push(t_listener - t_lb);
        pool_t.push(t_pool - t_listener);
        members_t.push(t_members - t_pool);
        traffic_t.push(total - t_members);
        let amp = ctx.amphora_of(&lb_id).await?;
        trees.push((lb_id, amp, vip));
    }
    println!(
        "| full tree (LB + HTTP listener + ROUND_ROBIN pool + 2 members, each waiting for ACTIVE) → first 200 through the VIP, 1 client ({} trees) | {} | |",
        s.trees,
        p50_p99(&mut totals)
    );
    for (what, v) in [
        ("load balancer ACTIVE", &mut lb_t),
        ("listener ACTIVE (haproxy started)", &mut listener_t),
        ("pool ACTIVE", &mut pool_t),
        ("2 members ACTIVE", &mut members_t),
        ("→ first 200 through the VIP", &mut traffic_t),
    ] {
        println!("| … {what} | {} | |", p50_p99(v));
    }
    let tree_mems = trees
        .iter()
        .map(|(_, amp, _)| amphora_mem(amp))
        .collect::<anyhow::Result<Vec<_>>>()?;
    mem_rows("LB + listener + pool + 2 members", &tree_mems);

    // 3. Requests/s through the last tree's VIP, and through a haproxy
    // with the same configuration in the client's own namespace.
    let (last_lb, last_amp, vip) = trees.last().cloned().context("no tree")?;
    let amp_cfg_path = ctx
        .data
        .join("amphorae")
        .join(&last_amp)
        .join("agent/lb")
        .join(&last_lb)
        .join("haproxy.cfg");
    let amp_cfg = std::fs::read_to_string(&amp_cfg_path)
        .with_context(|| format!("the amphora's config {}", amp_cfg_path.display()))?;
    // The agent starts haproxy with a second file (group, `no
    // strict-limits`): the direct haproxy gets it too.
    let user_group_path = ctx
        .data
        .join("amphorae")
        .join(&last_amp)
        .join("agent/haproxy-user-group.cfg");
    let user_group = std::fs::read_to_string(&user_group_path)
        .with_context(|| format!("the agent's {}", user_group_path.display()))?;
    let direct_port = free_tcp_port();
    haproxy(
        host,
        dir,
        &cl_ns,
        "direct",
        &(direct_config(&amp_cfg, &format!("127.0.0.1:{direct_port}"), dir)? + &user_group),
    )?;
    let direct: SocketAddr = format!("127.0.0.1:{direct_port}").parse()?;
    in_netns(&cl_ns, move || first_200(direct, Duration::from_secs(10))).await?;
    let warmup = Duration::from_secs(1);
    let vswitchd = daemons(ctx.up_pid)
        .into_iter()
        .find(|(_, c)| c == "ovs-vswitchd")
        .map(|(p, _)| p);
    let (n, secs) = (s.connections, s.seconds);
    let through_vip = drive(&cl_ns, vip, n, warmup, secs, vswitchd).await?;
    let direct_load = drive(&cl_ns, direct, n, warmup, secs, vswitchd).await?;
    // For scale: one web server straight over OVN, no haproxy at all.
    let web1_addr: SocketAddr = format!("{web1}:80").parse()?;
    let bare = drive(&cl_ns, web1_addr, n, warmup, secs, vswitchd).await?;
    load_row(
        &format!(
            "GET / through the VIP (client → OVN → amphora haproxy → OVN → web), {} keep-alive connections, {} s",
            s.connections, s.seconds
        ),
        &through_vip,
    );
    load_row(
        &format!(
            "GET / through haproxy in the client's namespace, same config (client → haproxy → OVN → web), {} connections, {} s",
            s.connections, s.seconds
        ),
        &direct_load,
    );
    load_row(
        &format!(
            "GET / straight to one web server (client → OVN → web), {} connections, {} s",
            s.connections, s.seconds
        ),
        &bare,
    );
    let after_load = amphora_mem(&last_amp)?;
    println!(
        "| RSS of that amphora after the load | {} (agent {}, haproxy {}) | |",
        mib(after_load.rss()),
        mib(after_load.agent),
        mib(after_load.haproxy)
    );
    for (lb_id, _, _) in &trees {
        delete_gone(&ctx.lb, &lb_path(lb_id), "?cascade=true", POLL).await?;
    }

    // 4. Many load balancers with a listener each, `clients` at a time.
    let server_before = rss_breakdown(ctx.up_pid)?;
    let started = Instant::now();
    let subnet = &subnet;
    let results: Vec<anyhow::Result<(String, Duration)>> = stream::iter(0..s.lbs)
        .map(|i| async move {
            let t = Instant::now();
            let id = ctx.create_lb(subnet, &format!("many-{i}")).await?;
            let r = async {
                wait_active(&ctx.lb, &lb_path(&id), "loadbalancer", POLL_MANY).await?;
                ctx.listener(&id, POLL_MANY).await
            }
            .await;
            match r {
                Ok(_) => Ok((id, t.elapsed())),
                Err(e) => Err(e.context(format!("load balancer {id} (many-{i})"))),
            }
        })
        .buffer_unordered(s.clients)
        .collect()
        .await;
    let all_active = started.elapsed();
    let mut made = Vec::new();
    let mut each = Vec::new();
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok((id, d)) => {
                made.push(id);
                each.push(d);
            }
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    // Whatever failed still has to be deleted: every load balancer of the
    // project named many-*.
    let (_, v) = get(&ctx.lb, "/v2/lbaas/loadbalancers").await?;
    let doomed: Vec<String> = v["loadbalancers"]
        .as_array()
        .context("loadbalancers")?
        .iter()
        .filter(|l| l["name"].as_str().is_some_and(|n| n.starts_with("many-")))
        .filter_map(|l| l["id"].as_str().map(str::to_string))
        .collect();
    println!(
        "| {} load balancers with a listener each, {} clients: all ACTIVE after | {} ({} per LB + listener: {}) | |",
        s.lbs,
        s.clients,
        ms(all_active),
        made.len(),
        p50_p99(&mut each)
    );
    let by_lb = ctx.amphorae_by_lb().await?;
    let mut mems = Vec::new();
    for id in &made {
        let amps = by_lb.get(id).cloned().unwrap_or_default();
        ensure!(amps.len() == 1, "load balancer {id} has amphorae {amps:?}");
        let m = amphora_mem(&amps[0])?;
        ensure!(
            m.haproxy_procs > 0,
            "no haproxy in amp-{}-haproxy though {id} has a listener",
            amps[0]
        );
        mems.push(m);
    }
    mem_rows("LB + listener", &mems);
    let total: u64 = mems.iter().map(AmpMem::rss).sum();
    let total_pss: u64 = mems.iter().map(|m| m.pss).sum();
    println!(
        "| all {} amphorae together | RSS {} · PSS {} | |",
        mems.len(),
        mib(total),
        mib(total_pss)
    );
    println!(
        "| `neutrino up` server RSS: before these / with them | {server_before} / {} | |",
        rss_breakdown(ctx.up_pid)?
    );
    let daemons = children_rss(ctx.up_pid);
    println!(
        "| `up`'s OVS/OVN daemons (RSS) with them | {} | |",
        daemons
            .iter()
            .map(|(n, k)| format!("{n} {}", mib(*k)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let started = Instant::now();
    let deleted: Vec<anyhow::Result<Duration>> = stream::iter(doomed.iter())
        .map(|id| async move {
            let t = Instant::now();
            delete_gone(&ctx.lb, &lb_path(id), "?cascade=true", POLL_MANY)
                .await
                .with_context(|| format!("deleting {id}"))?;
            Ok(t.elapsed())
        })
        .buffer_unordered(s.clients)
        .collect()
        .await;
    let all_gone = started.elapsed();
    let mut del = Vec::new();
    for r in deleted {
        match r {
            Ok(d) => del.push(d),
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    if !del.is_empty() {
        println!(
            "| their cascade deletes, {} clients: all gone after | {} (each: {}) | |",
            s.clients,
            ms(all_gone),
            p50_p99(&mut del)
        );
    }
    ensure!(
        failures.is_empty(),
        "phase 4 failures:\n{}",
        failures.join("\n")
    );
    Ok(())
}
