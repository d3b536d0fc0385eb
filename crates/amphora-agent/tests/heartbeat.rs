//! The heartbeat sender against a real haproxy on loopback ports (as
//! tests/agent.rs): a listener with a pool of two checked members, one a
//! web server of this test, one a closed port. The test is the
//! controller: it receives the datagrams on loopback UDP sockets.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use neutrino_amphora_agent::heartbeat::wire::{self, Message};
use neutrino_amphora_agent::{AgentConfig, HeartbeatConfig, serve};
use tokio::net::UdpSocket;

const AMP: &str = "5d1c6f0e-4a63-4f4e-9a7b-1a2b3c4d5e6f";
const LB: &str = "9b8f0c2e-7e0e-4d39-8e3e-0f4e5d6c7b8a";
const LISTENER: &str = "3f2a1b0c-1111-2222-3333-444455556666";
const POOL: &str = "7c1d2e3f-aaaa-bbbb-cccc-ddddeeeeffff";
const LIVE: &str = "1e2d3c4b-5a69-4788-9aab-bccddeeff001";
const DEAD: &str = "1e2d3c4b-5a69-4788-9aab-bccddeeff002";
const KEY: &str = "insecure-heartbeat-key";

struct Agent {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start_agent(cfg: AgentConfig) -> Agent {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(cfg, listener, None, async move {
        let _ = rx.await;
    }));
    Agent {
        url,
        stop: Some(tx),
        task,
    }
}

impl Agent {
    async fn put(&self, path: &str, body: String) -> (u16, String) {
        let r = reqwest::Client::new()
            .put(format!("{}{path}", self.url))
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Kills the haproxy of the pid file (started by this test's agent) if
/// the test ends before it deleted the load balancer.
struct HaproxyGuard(PathBuf);

impl Drop for HaproxyGuard {
    fn drop(&mut self) {
        for pid in std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
        {
            if let Some(p) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A web server answering every request with 200 (the live member).
async fn web_server() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = s
                    .write_all(
                        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    port
}

fn haproxy_cfg(socket: &Path, port: u16, live: u16, dead: u16) -> String {
    format!(
        "global\n    daemon\n    maxconn 100\n    stats socket {sock} mode 0666 level user\n\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend {LISTENER}\n    bind 127.0.0.1:{port}\n    default_backend {POOL}:{LISTENER}\n\n\
         backend {POOL}:{LISTENER}\n    option httpchk GET /\n\
         \x20   server {LIVE} 127.0.0.1:{live} check inter 200 fall 1 rise 1\n\
         \x20   server {DEAD} 127.0.0.1:{dead} check inter 200 fall 1 rise 1\n",
        sock = socket.display()
    )
}

/// One HTTP/1.0 request through the listener (one haproxy session).
fn request(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\nHost: lb\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The next datagram on `sock` within `wait`.
async fn recv(sock: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0; wire::MAX_DATAGRAM];
    match tokio::time::timeout(wait, sock.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// Heartbeats until `done` holds for one (all of them, `done`'s last),
/// at most `wait` long.
async fn until(
    sock: &UdpSocket,
    wait: Duration,
    mut done: impl FnMut(&Message) -> bool,
) -> Vec<(Vec<u8>, Message)> {
    let end = Instant::now() + wait;
    let mut got = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        let Some(d) = recv(sock, left).await else {
            break;
        };
        let m = wire::unwrap(&d, KEY).expect("a heartbeat under the agent's key");
        let stop = done(&m);
        got.push((d, m));
        if stop {
            return got;
        }
    }
    panic!(
        "no heartbeat matched within {wait:?}; got {:#?}",
        got.iter().map(|(_, m)| m).collect::<Vec<_>>()
    );
}

fn venv_dir() -> PathBuf {
    match std::env::var("NEUTRINO_TEST_VENV") {
        Ok(v) if !v.trim().is_empty() => PathBuf::from(v),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
    }
}

/// Upstream's receiver side: `status_message.unwrap_envelope` of the
/// octavia 19.0.0 source scripts/setup.sh unpacks (webob, which only its
/// exception module imports, stubbed). Ok(JSON) or Err(stderr).
fn upstream_unwrap(datagram: &[u8], key: &str) -> Result<serde_json::Value, String> {
    const SCRIPT: &str = r#"
import json, sys, types
sys.path.insert(0, sys.argv[1])
webob = types.ModuleType("webob")
webob.exc = types.ModuleType("webob.exc")
class HTTPClientError(Exception):
    def __init__(self, detail=None, **kwargs):
        super().__init__(detail)
webob.exc.HTTPClientError = HTTPClientError
sys.modules["webob"] = webob
sys.modules["webob.exc"] = webob.exc
from octavia.amphorae.backends.health_daemon import status_message
with open(sys.argv[2], "rb") as f:
    data = f.read()
print(json.dumps(status_message.unwrap_envelope(data, sys.argv[3])))
"#;
    let venv = venv_dir();
    let python = venv.join("bin/python");
    let src = venv.join("share/octavia-19.0.0");
    assert!(
        python.is_file()
            && src
                .join("octavia/amphorae/backends/health_daemon/status_message.py")
                .is_file(),
        "{} or octavia's source under {} is missing: run scripts/setup.sh",
        python.display(),
        src.display()
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), datagram).unwrap();
    let out = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&src)
        .arg(file.path())
        .arg(key)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap())
}

fn totconns(msgs: &[(Vec<u8>, Message)]) -> u64 {
    msgs.iter()
        .filter_map(|(_, m)| m.listeners.get(LISTENER))
        .map(|l| l.stats.totconns)
        .sum()
}

#[tokio::test]
async fn heartbeats_report_haproxy() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("agent");
    let rx1 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = AgentConfig::new(AMP, &base);
    cfg.config_file = Some(base.join("amphora-agent.toml"));
    cfg.heartbeat = HeartbeatConfig {
        controller_ip_port_list: vec![rx1.local_addr().unwrap().to_string()],
        heartbeat_key: Some(KEY.into()),
        heartbeat_interval: Some(1),
    };
    let agent = start_agent(cfg.clone()).await;
    let _haproxy = HaproxyGuard(base.join("lb").join(LB).join(format!("{LB}.pid")));

    // Before any load balancer: an empty report, seq from 0.
    let first = until(&rx1, Duration::from_secs(5), |_| true).await;
    let m = &first[0].1;
    assert_eq!((m.id.as_str(), m.seq, m.ver), (AMP, 0, wire::MSG_VER));
    assert!(m.listeners.is_empty() && m.pools.is_empty(), "{m:?}");

    // A listener whose pool has a live and a dead member.
    let (port, live, dead) = (free_port(), web_server().await, free_port());
    let sock = base.join(format!("{LB}.sock"));
    let (s, body) = agent
        .put(
            &format!("/1.0/loadbalancer/{AMP}/{LB}/haproxy"),
            haproxy_cfg(&sock, port, live, dead),
        )
        .await;
    assert_eq!(s, 202, "{body}");
    let (s, body) = agent
        .put(&format!("/1.0/loadbalancer/{LB}/start"), String::new())
        .await;
    assert_eq!(s, 202, "{body}");

    // haproxy's checks settle: the live member UP, the dead one DOWN.
    let pool_key = format!("{POOL}:{LISTENER}");
    let mut seen = first;
    seen.extend(
        until(&rx1, Duration::from_secs(20), |m| {
            m.pools.get(&pool_key).is_some_and(|p| {
                p.members.get(LIVE).map(String::as_str) == Some("UP")
                    && p.members.get(DEAD).map(String::as_str) == Some("DOWN")
            })
        })
        .await,
    );
    let m = &seen.last().unwrap().1;
    assert_eq!(m.pools[&pool_key].status, "UP", "{m:?}");
    assert_eq!(m.pools.len(), 1, "{m:?}");
    assert_eq!(m.listeners[LISTENER].status, "OPEN", "{m:?}");
    assert_eq!(totconns(&seen), 0, "no request yet");

    // Five requests: the deltas add up to five sessions, then stay.
    for _ in 0..5 {
        // Blocking: off the runtime, which serves the live member.
        let answer = tokio::task::spawn_blocking(move || request(port))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    }
    let end = Instant::now() + Duration::from_secs(10);
    while totconns(&seen) < 5 && Instant::now() < end {
        seen.extend(until(&rx1, Duration::from_secs(3), |_| true).await);
    }
    assert_eq!(
        totconns(&seen),
        5,
        "{:#?}",
        seen.iter().map(|(_, m)| m).collect::<Vec<_>>()
    );
    seen.extend(until(&rx1, Duration::from_secs(5), |_| true).await);
    let (last_datagram, last) = seen.last().unwrap().clone();
    assert_eq!(last.listeners[LISTENER].stats.totconns, 0, "{last:?}");
    assert_eq!(totconns(&seen), 5);
    let rx: u64 = seen
        .iter()
        .filter_map(|(_, m)| m.listeners.get(LISTENER))
        .map(|l| l.stats.rx)
        .sum();
    let tx: u64 = seen
        .iter()
        .filter_map(|(_, m)| m.listeners.get(LISTENER))
        .map(|l| l.stats.tx)
        .sum();
    assert!(rx >= 5 * 28 && tx >= 5 * 2, "rx {rx} tx {tx}");
    // One sender, one destination: seq counts up by one.
    for w in seen.windows(2) {
        assert_eq!(w[1].1.seq, w[0].1.seq + 1);
    }

    // The wrong key does not open it, at our receiver or upstream's.
    assert_eq!(
        wire::unwrap(&last_datagram, "another-key"),
        Err(wire::WireError::BadHmac)
    );
    assert!(upstream_unwrap(&last_datagram, "another-key").is_err());
    // Upstream's receiver reads what we read.
    let theirs = upstream_unwrap(&last_datagram, KEY).unwrap();
    assert_eq!(theirs, serde_json::to_value(&last).unwrap());
    assert_eq!(theirs["pools"][&pool_key]["members"][DEAD], "DOWN");

    // The counters are persisted as upstream's stats_counters.json.
    let counters: serde_json::Value =
        serde_json::from_slice(&std::fs::read(base.join("stats_counters.json")).unwrap()).unwrap();
    assert_eq!(counters[LISTENER]["stot"], 5, "{counters}");

    // Stopping the agent stops its heartbeats.
    agent.stop().await;
    while recv(&rx1, Duration::from_millis(100)).await.is_some() {}
    assert!(recv(&rx1, Duration::from_millis(2500)).await.is_none());

    // A restarted agent (haproxy still running) does not send the totals
    // again: its first report has no new session.
    let agent = start_agent(cfg.clone()).await;
    let again = until(&rx1, Duration::from_secs(5), |_| true).await;
    let m = &again[0].1;
    assert_eq!(m.seq, 0);
    assert_eq!(m.listeners[LISTENER].stats.totconns, 0, "{m:?}");
    assert_eq!(m.listeners[LISTENER].status, "OPEN");

    // PUT /1.0/config with two new controllers: heartbeats go to them in
    // turn, no more to the first.
    let rx2 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let rx3 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut new = cfg.clone();
    new.heartbeat.controller_ip_port_list = vec![
        rx2.local_addr().unwrap().to_string(),
        // Brackets are optional, for IPv6 and IPv4 alike.
        format!("[127.0.0.1]:{}", rx3.local_addr().unwrap().port()),
    ];
    let (s, body) = agent
        .put("/1.0/config", toml::to_string(&new).unwrap())
        .await;
    assert_eq!(s, 202, "{body}");
    let first_new = recv(&rx2, Duration::from_secs(5))
        .await
        .expect("a heartbeat at the new first controller");
    let seq0 = wire::unwrap(&first_new, KEY).unwrap().seq;
    while recv(&rx1, Duration::from_millis(50)).await.is_some() {}
    for (i, sock) in [&rx3, &rx2, &rx3].into_iter().enumerate() {
        let d = recv(sock, Duration::from_secs(3))
            .await
            .unwrap_or_else(|| panic!("heartbeat {} of the new list missing", i + 1));
        assert_eq!(wire::unwrap(&d, KEY).unwrap().seq, seq0 + 1 + i as u64);
    }
    assert!(
        recv(&rx1, Duration::from_millis(200)).await.is_none(),
        "the old controller still gets heartbeats"
    );

    let r = reqwest::Client::new()
        .delete(format!("{}/1.0/listeners/{LB}", agent.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    agent.stop().await;
}
