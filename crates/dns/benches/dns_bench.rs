//! DNS benchmark: Neutrino's responder and Debian's dnsmasq serving the same
//! hosts file, loaded by the same generator in the same run.
//!
//!     cargo bench -p neutrino-dns --bench dns-bench -- [--hosts 1000]
//!         [--queries 200000] [--senders 4] [--window 8] [--rounds 3]
//!         [--threads 1,2] [--dnsmasq dnsmasq]
//!
//! The load generator runs on this thread (a current-thread tokio runtime):
//! `senders` UDP sockets, each keeping `window` queries in flight, asking
//! for the A record of a host and the PTR record of an address in turn,
//! until `queries` answers have arrived (or 120 s have passed). Every
//! answer is checked (id, NOERROR, one record). A query unanswered after 1 s
//! counts as lost and is sent again. The responder runs in a separate
//! multi-thread runtime, once per entry of `--threads`; dnsmasq runs as a
//! child process started and killed by PID. Each round measures every
//! server once, alternating; the table shows the round with the median
//! throughput per server. CPU is the server's user+system time per answer,
//! from /proc.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use neutrino_dns::{HostEntry, RecordSet, Responder, ResponderConfig, ResponderHandle, Zone};
use tokio::net::UdpSocket;

struct Args {
    hosts: usize,
    queries: usize,
    senders: usize,
    window: usize,
    rounds: usize,
    threads: Vec<usize>,
    dnsmasq: String,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        hosts: 1000,
        queries: 200_000,
        senders: 4,
        window: 8,
        rounds: 3,
        threads: vec![1, 2],
        dnsmasq: "dnsmasq".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` passes --bench.
        if flag == "--bench" {
            continue;
        }
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--hosts" => args.hosts = value()?.parse()?,
            "--queries" => args.queries = value()?.parse()?,
            "--senders" => args.senders = value()?.parse()?,
            "--window" => args.window = value()?.parse()?,
            "--rounds" => args.rounds = value()?.parse()?,
            "--threads" => {
                args.threads = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--dnsmasq" => args.dnsmasq = value()?,
            other => bail!("unknown argument {other}"),
        }
    }
    ensure!(
        args.hosts >= 1 && args.hosts <= 60_000,
        "--hosts must be 1..=60000"
    );
    ensure!(args.senders >= 1 && args.window >= 1 && args.window <= 1024);
    Ok(args)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let load_before = loadavg();
    let dir = tempfile::tempdir()?;
    // dnsmasq started as root drops to `nobody` and must still read the file.
    set_mode(dir.path(), 0o755)?;
    let hosts_file = dir.path().join("hosts");
    let mut text = String::new();
    for i in 0..args.hosts {
        writeln!(
            text,
            "172.17.{}.{} node-{i:05}.internalapi",
            i / 250,
            i % 250 + 1
        )?;
    }
    std::fs::write(&hosts_file, &text)?;
    set_mode(&hosts_file, 0o644)?;
    let zone = read_hosts(&hosts_file)?;
    let queries = encode_queries(&zone)?;

    let loadgen = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut results: BTreeMap<String, Vec<Measurement>> = BTreeMap::new();

    let mut dnsmasq = Dnsmasq::start(&args.dnsmasq, &hosts_file)?;
    loadgen.block_on(wait_ready(dnsmasq.addr, &queries))?;
    let mut servers: Vec<Server> = Vec::new();
    for &threads in &args.threads {
        servers.push(Server::neutrino(threads, &zone)?);
    }
    loadgen.block_on(async {
        for s in &servers {
            wait_ready(s.addr(), &queries).await?;
        }
        anyhow::Ok(())
    })?;

    for round in 1..=args.rounds {
        let dm = measure(&loadgen, &args, &queries, dnsmasq.addr, || dnsmasq.cpu())?;
        eprintln!("round {round}: dnsmasq {}", dm.summary());
        results
            .entry("dnsmasq 2.90 (Debian)".into())
            .or_default()
            .push(dm);
        for s in &servers {
            let m = measure(&loadgen, &args, &queries, s.addr(), || s.cpu())?;
            eprintln!("round {round}: {} {}", s.label(), m.summary());
            results.entry(s.label()).or_default().push(m);
        }
    }

    for s in servers {
        s.stop();
    }
    dnsmasq.stop();

    println!(
        "\n{} hosts, {} answers per run, {} senders x {} in flight, {} rounds (median shown); \
         {} CPUs, load average {} before, {} after\n",
        args.hosts,
        args.queries,
        args.senders,
        args.window,
        args.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        loadavg(),
    );
    println!(
        "| server | queries/s | p50 latency | p99 latency | server CPU per answer | lost | bad |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (label, mut runs) in results {
        runs.sort_by(|a, b| a.qps.total_cmp(&b.qps));
        let m = &runs[runs.len() / 2];
        let all: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.qps)).collect();
        println!(
            "| {label} | {:.0} | {} µs | {} µs | {:.1} µs | {} | {} |",
            m.qps, m.p50_us, m.p99_us, m.cpu_us_per_answer, m.lost, m.bad
        );
        eprintln!(
            "{label}: queries/s of all rounds (sorted): {}",
            all.join(", ")
        );
    }
    Ok(())
}

/// The 1-minute load average.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// The hosts file as the DNSData hosts the infra layer would pass.
fn read_hosts(path: &Path) -> Result<Zone> {
    let mut hosts = Vec::new();
    for line in std::fs::read_to_string(path)?.lines() {
        let mut fields = line.split_whitespace();
        let Some(ip) = fields.next() else { continue };
        hosts.push(HostEntry {
            ip: ip.parse()?,
            hostnames: fields.map(str::to_owned).collect(),
        });
    }
    Ok(Zone { hosts })
}

/// One A query per hostname and one PTR query per address, interleaved,
/// encoded once (the generator only rewrites the id).
fn encode_queries(zone: &Zone) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for host in &zone.hosts {
        for (name, rtype) in [
            (
                Name::from_ascii(format!("{}.", host.hostnames[0]))?,
                RecordType::A,
            ),
            (Name::from(host.ip), RecordType::PTR),
        ] {
            let mut m = Message::query();
            m.metadata.recursion_desired = true;
            m.add_query(Query::query(name, rtype));
            out.push(m.to_vec()?);
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------ servers

struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
}

impl Dnsmasq {
    fn start(bin: &str, hosts: &Path) -> Result<Self> {
        let addr = free_port()?;
        let child = Command::new(bin)
            .args([
                "--no-daemon",
                "--no-resolv",
                "--no-hosts",
                &format!("--addn-hosts={}", hosts.display()),
                &format!("--port={}", addr.port()),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                // Not in the reference command line, but keep a stray
                // /etc/dnsmasq.conf and the default pid file out of it.
                "--conf-file=/dev/null",
                "--pid-file",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("start {bin} (Debian package dnsmasq-base; scripts/setup.sh installs it)")
            })?;
        Ok(Self { child, addr })
    }

    fn cpu(&self) -> Duration {
        proc_cpu(&format!("/proc/{}/stat", self.child.id()))
    }

    /// Kills exactly the child this bench started.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Server {
    threads: usize,
    runtime: tokio::runtime::Runtime,
    handle: ResponderHandle,
}

impl Server {
    fn neutrino(threads: usize, zone: &Zone) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("dns-responder")
            .enable_all()
            .build()?;
        let records = RecordSet::from_zones(std::slice::from_ref(zone));
        ensure!(
            records.rejected().is_empty(),
            "hosts rejected: {:?}",
            records.rejected()
        );
        let handle = runtime.block_on(Responder::start(
            ResponderConfig {
                listen: "127.0.0.1:0".parse()?,
                upstreams: vec![],
                local_domains: vec![],
                ttl: 0,
            },
            records,
        ))?;
        Ok(Self {
            threads,
            runtime,
            handle,
        })
    }

    fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    fn label(&self) -> String {
        let s = if self.threads == 1 { "" } else { "s" };
        format!("neutrino-dns ({} runtime thread{s})", self.threads)
    }

    /// CPU of this responder's runtime threads (they carry its name; only
    /// one runtime is loaded at a time, the others idle).
    fn cpu(&self) -> Duration {
        let mut total = Duration::ZERO;
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
                if comm.trim() == "dns-responder" {
                    total += proc_cpu(&task.path().join("stat").to_string_lossy());
                }
            }
        }
        total
    }

    fn stop(self) {
        self.runtime.block_on(self.handle.shutdown());
    }
}

/// utime + stime of a /proc stat file.
fn proc_cpu(stat_path: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(stat_path) else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, i.e. the 12th and 13th after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    let ticks: u64 = fields.iter().sum();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn free_port() -> Result<SocketAddr> {
    let udp = StdUdpSocket::bind("127.0.0.1:0")?;
    let addr = udp.local_addr()?;
    // dnsmasq binds TCP on the same port: make sure it is free too.
    let _tcp = std::net::TcpListener::bind(addr)?;
    Ok(addr)
}

async fn wait_ready(addr: SocketAddr, queries: &[Vec<u8>]) -> Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    socket.connect(addr).await?;
    let mut buf = [0u8; 1500];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        socket.send(&queries[0]).await?;
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(100), socket.recv(&mut buf)).await
            && n >= 12
        {
            let answer = Message::from_vec(&buf[..n])?;
            ensure!(
                answer.answers.len() == 1,
                "{addr} gave no answer for the first host: {answer:?}"
            );
            return Ok(());
        }
    }
    bail!("{addr} did not answer within 10 s")
}

// ------------------------------------------------------------------ load

struct Measurement {
    qps: f64,
    p50_us: u64,
    p99_us: u64,
    cpu_us_per_answer: f64,
    lost: u64,
    bad: u64,
}

impl Measurement {
    fn summary(&self) -> String {
        format!(
            "{:.0} q/s, p50 {} µs, p99 {} µs, cpu {:.1} µs/answer, lost {}, bad {}",
            self.qps, self.p50_us, self.p99_us, self.cpu_us_per_answer, self.lost, self.bad
        )
    }
}

fn measure(
    rt: &tokio::runtime::Runtime,
    args: &Args,
    queries: &[Vec<u8>],
    addr: SocketAddr,
    cpu: impl Fn() -> Duration,
) -> Result<Measurement> {
    // Warm-up, not measured.
    rt.block_on(load(addr, queries, args.senders, args.window, 5_000))?;
    let cpu_before = cpu();
    let started = Instant::now();
    let run = rt.block_on(load(addr, queries, args.senders, args.window, args.queries))?;
    let elapsed = started.elapsed();
    let cpu_used = cpu().saturating_sub(cpu_before);
    let mut latencies = run.latencies_us;
    ensure!(!latencies.is_empty(), "no answers from {addr}");
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Ok(Measurement {
        qps: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_us: u64::from(pct(0.50)),
        p99_us: u64::from(pct(0.99)),
        cpu_us_per_answer: cpu_used.as_secs_f64() * 1e6 / latencies.len() as f64,
        lost: run.lost,
        bad: run.bad,
    })
}

struct LoadRun {
    latencies_us: Vec<u32>,
    lost: u64,
    bad: u64,
}

async fn load(
    addr: SocketAddr,
    queries: &[Vec<u8>],
    senders: usize,
    window: usize,
    total: usize,
) -> Result<LoadRun> {
    let queries: Arc<Vec<Vec<u8>>> = Arc::new(queries.to_vec());
    let answered = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..senders {
        let (queries, answered, next) = (queries.clone(), answered.clone(), next.clone());
        tasks.spawn(sender(
            addr, queries, answered, next, window, total, deadline,
        ));
    }
    let mut run = LoadRun {
        latencies_us: Vec::with_capacity(total + senders * window),
        lost: 0,
        bad: 0,
    };
    while let Some(result) = tasks.join_next().await {
        let part = result??;
        run.latencies_us.extend(part.latencies_us);
        run.lost += part.lost;
        run.bad += part.bad;
    }
    Ok(run)
}

/// The queries in flight on one socket. Slot `k` uses id `k` plus a
/// generation in the high bits, so a late answer to a resent query is not
/// mistaken for the new one.
struct Window {
    sent_at: Vec<Instant>,
    ids: Vec<u16>,
    slot_bits: u32,
    queries: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicU64>,
    buf: Vec<u8>,
}

impl Window {
    /// The next query for `slot`, ready to send.
    fn prepare(&mut self, slot: usize) -> &[u8] {
        let generation = (self.ids[slot] >> self.slot_bits).wrapping_add(1);
        let id = (generation << self.slot_bits) | slot as u16;
        self.ids[slot] = id;
        let i = self.next.fetch_add(1, Ordering::Relaxed) as usize % self.queries.len();
        self.buf.clear();
        self.buf.extend_from_slice(&self.queries[i]);
        self.buf[0..2].copy_from_slice(&id.to_be_bytes());
        self.sent_at[slot] = Instant::now();
        &self.buf
    }

    /// The slot `id` answers, if it is the query now in flight there.
    fn slot_of(&self, id: u16) -> Option<usize> {
        let slot = usize::from(id & ((1u16 << self.slot_bits) - 1));
        (slot < self.ids.len() && self.ids[slot] == id).then_some(slot)
    }
}

async fn sender(
    addr: SocketAddr,
    queries: Arc<Vec<Vec<u8>>>,
    answered: Arc<AtomicUsize>,
    next: Arc<AtomicU64>,
    window: usize,
    total: usize,
    deadline: Instant,
) -> Result<LoadRun> {
    let bind: SocketAddr = match addr.ip() {
        IpAddr::V4(_) => "127.0.0.1:0".parse()?,
        IpAddr::V6(_) => "[::1]:0".parse()?,
    };
    let socket = UdpSocket::bind(bind).await?;
    socket.connect(addr).await?;
    let mut run = LoadRun {
        latencies_us: Vec::with_capacity(total / 2),
        lost: 0,
        bad: 0,
    };
    let mut w = Window {
        sent_at: vec![Instant::now(); window],
        ids: vec![0; window],
        slot_bits: window.next_power_of_two().trailing_zeros().max(1),
        queries,
        next,
        buf: Vec::with_capacity(512),
    };
    for slot in 0..window {
        socket.send(w.prepare(slot)).await?;
    }
    let mut buf = vec![0u8; 1500];
    loop {
        if answered.load(Ordering::Relaxed) >= total || Instant::now() > deadline {
            return Ok(run);
        }
        match tokio::time::timeout(Duration::from_millis(100), socket.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                if n < 12 {
                    run.bad += 1;
                    continue;
                }
                let Some(slot) = w.slot_of(u16::from_be_bytes([buf[0], buf[1]])) else {
                    continue; // a late answer to a query already counted lost
                };
                let latency = w.sent_at[slot].elapsed();
                let rcode = buf[3] & 0x0F;
                let ancount = u16::from_be_bytes([buf[6], buf[7]]);
                if rcode != 0 || ancount != 1 {
                    run.bad += 1;
                } else if answered.fetch_add(1, Ordering::Relaxed) < total {
                    run.latencies_us
                        .push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
                }
                socket.send(w.prepare(slot)).await?;
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                for slot in 0..window {
                    if w.sent_at[slot].elapsed() > Duration::from_secs(1) {
                        run.lost += 1;
                        socket.send(w.prepare(slot)).await?;
                    }
                }
            }
        }
    }
}
