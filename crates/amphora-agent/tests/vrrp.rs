//! keepalived through the agent, against Debian's keepalived and haproxy.
//!
//! `keepalived_lifecycle`: upload (checked with `keepalived -t` in the
//! inner namespace), start, reload, stop, in a namespace of the test's; a
//! refused config starts nothing and replaces nothing.
//!
//! `failover_*`: an ACTIVE_STANDBY pair as the controller drives it. Each
//! amphora is a namespace pair (outer: the agent, a process of its own,
//! this test binary started again as the ignored test `vrrp_agent_process`;
//! inner: eth1 with the VRRP address, haproxy, keepalived), its VRRP port a
//! veth into a bridge in a "switch" namespace, where a client namespace is
//! plugged too. The agents plug the VIP (ACTIVE_STANDBY: only the VRRP
//! address), run an haproxy on the VIP that answers its amphora's name, and
//! keepalived with the config `neutrino_lbaas::render::keepalived` renders
//! (MASTER priority 100, BACKUP 90). The client then reaches the VIP
//! through a failure of the MASTER and the test prints how long it went
//! unanswered.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use neutrino_amphora_agent::{AgentConfig, Hooks, vrrp_check_script_path};
use neutrino_lbaas::render;
use serde_json::{Value, json};

use common::{Namespaces, alive, in_netns, ip, netns_pids, signal, tag, wait_until};

const LB: &str = "9b8f0c2e-7e0e-4d39-8e3e-0f4e5d6c7b8a";
const LISTENER: &str = "3f2a1b0c-1111-2222-3333-444455556666";
const VIP: &str = "203.0.113.10";
const CIDR: &str = "203.0.113.0/24";
const GATEWAY: &str = "203.0.113.1";
const CLIENT: &str = "203.0.113.50/24";
const AUTH_PASS: &str = "5e1f0a9";
const AGENT_PORT: u16 = 9443;

/// Set for the agent process: the path of its TOML configuration.
const AGENT_CONFIG_ENV: &str = "NEUTRINO_TEST_VRRP_AGENT_CONFIG";

/// An agent of the failover tests, in its own process (started by them,
/// with [`AGENT_CONFIG_ENV`] set), serving plain HTTP until SIGTERM.
#[test]
#[ignore = "an agent process of the failover tests, started by them"]
fn vrrp_agent_process() {
    let Ok(path) = std::env::var(AGENT_CONFIG_ENV) else {
        eprintln!("{AGENT_CONFIG_ENV} is not set: nothing to serve");
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        neutrino_amphora_agent::run(Path::new(&path), None, Hooks::default(), async move {
            term.recv().await;
        })
        .await
    })
    .unwrap_or_else(|e| panic!("amphora agent: {e}"));
}

// ------------------------------------------------------------------ helpers

/// The addresses on `dev` in `ns`.
fn addrs(ns: &str, dev: &str) -> Vec<String> {
    let out = ip(&["-j", "-n", ns, "addr", "show", "dev", dev]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["addr_info"].as_array().into_iter().flatten())
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect()
}

fn holds_vip(ns: &str) -> bool {
    addrs(ns, "eth1").contains(&format!("{VIP}/32"))
}

fn pids_in(file: &Path) -> Vec<i32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Processes whose session is `sid` (a daemon and what it started).
fn session(sid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
                s.rsplit_once(')').is_some_and(|(_, rest)| {
                    rest.split_whitespace().nth(3) == Some(&sid.to_string())
                })
            })
        })
        .filter(|p| alive(*p))
        .collect()
}

/// The inode of a network namespace, to tell which one a process is in.
fn netns_inode(ns: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(Path::new("/run/netns").join(ns))
        .unwrap()
        .ino()
}

fn process_netns(pid: i32) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    let s = link.to_string_lossy();
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// One HTTP/1.1 request from inside `ns`: (status, headers, body).
fn http(
    ns: &str,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String, String)> {
    let mut s = in_netns(ns, || TcpStream::connect_timeout(&addr, timeout))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let bad = || std::io::Error::other(format!("not an HTTP answer: {text:?}"));
    let (head, rest) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, head.to_string(), body))
}

/// An amphora of the failover tests.
struct Amp {
    name: &'static str,
    id: &'static str,
    mac: &'static str,
    vrrp_ip: &'static str,
    priority: i64,
    outer: String,
    inner: String,
    base: PathBuf,
    agent: Option<Child>,
}

impl Amp {
    fn call(&self, method: &str, path: &str, body: &str) -> (u16, Value, String) {
        let addr = SocketAddr::from(([127, 0, 0, 1], AGENT_PORT));
        let (status, head, text) = http(
            &self.outer,
            addr,
            method,
            path,
            body,
            Duration::from_secs(60),
        )
        .unwrap_or_else(|e| panic!("{} {method} {path}: {e}", self.name));
        let v = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, v, head)
    }

    fn keepalived_pid_file(&self) -> PathBuf {
        self.base.join("vrrp/octavia-keepalived.pid")
    }

    /// keepalived's processes: the parent of the pid file and its session.
    fn keepalived_pids(&self) -> Vec<i32> {
        pids_in(&self.keepalived_pid_file())
            .into_iter()
            .filter(|p| alive(*p))
            .flat_map(session)
            .collect()
    }

    fn haproxy_pids(&self) -> Vec<i32> {
        pids_in(&self.base.join(format!("lb/{LB}/{LB}.pid")))
            .into_iter()
            .filter(|p| alive(*p))
            .collect()
    }
}

/// The switch, the client and the amphorae; dropped in that order's
/// reverse: agents stopped, then every namespace emptied and deleted.
struct Site {
    amps: Vec<Amp>,
    client: String,
    // Dropped after Drop::drop, in this order: the namespaces (and what
    // runs in them) before the directory those processes use.
    _ns: Namespaces,
    _dir: tempfile::TempDir,
}

impl Drop for Site {
    fn drop(&mut self) {
        for a in &mut self.amps {
            if let Some(mut c) = a.agent.take() {
                signal(c.id() as i32, rustix::process::Signal::KILL);
                let _ = c.wait();
            }
        }
    }
}

fn site(test: &str) -> Site {
    let t = tag();
    let mut ns = Namespaces::default();
    let switch = ns.add_with_lo(format!("nt-vrrp-{test}-sw-{t}"));
    ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"]);
    ip(&["-n", &switch, "link", "set", "br0", "up"]);
    let client = ns.add_with_lo(format!("nt-vrrp-{test}-cl-{t}"));
    ip(&[
        "-n", &client, "link", "add", "eth0", "type", "veth", "peer", "name", "client", "netns",
        &switch,
    ]);
    ip(&[
        "-n", &switch, "link", "set", "client", "master", "br0", "up",
    ]);
    ip(&["-n", &client, "addr", "add", CLIENT, "dev", "eth0"]);
    ip(&["-n", &client, "link", "set", "eth0", "up"]);

    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let specs = [
        (
            "amphora-1",
            "a1a1a1a1-0000-4000-8000-000000000001",
            "fa:16:3e:5a:00:01",
            "203.0.113.11",
            render::ROLE_MASTER_PRIORITY,
        ),
        (
            "amphora-2",
            "a2a2a2a2-0000-4000-8000-000000000002",
            "fa:16:3e:5a:00:02",
            "203.0.113.12",
            render::ROLE_BACKUP_PRIORITY,
        ),
    ];
    let mut amps = Vec::new();
    for (i, (name, id, mac, vrrp_ip, priority)) in specs.into_iter().enumerate() {
        // The local backend makes both namespaces before the agent runs.
        let outer = ns.add_with_lo(format!("nt-vrrp-{test}-o{i}-{t}"));
        let inner = ns.add_with_lo(format!("nt-vrrp-{test}-i{i}-{t}"));
        // The VRRP port, as hot-plugged into the amphora: its other end
        // on the switch.
        let peer = format!("amp{i}");
        ip(&[
            "-n", &outer, "link", "add", "vrrp0", "address", mac, "type", "veth", "peer", "name",
            &peer, "netns", &switch,
        ]);
        ip(&["-n", &switch, "link", "set", &peer, "master", "br0", "up"]);

        let base = dir.path().join(name);
        std::fs::create_dir_all(&base).unwrap();
        let mut cfg = AgentConfig::new(id, &base);
        cfg.bind = SocketAddr::from(([127, 0, 0, 1], AGENT_PORT));
        cfg.inner_namespace = Some(inner.clone());
        cfg.topology = "ACTIVE_STANDBY".into();
        let cfg_path = base.join("amphora-agent.toml");
        std::fs::write(&cfg_path, toml::to_string(&cfg).unwrap()).unwrap();
        let agent = Command::new("ip")
            .args(["netns", "exec", &outer])
            .arg(&exe)
            .args(["vrrp_agent_process", "--exact", "--ignored", "--nocapture"])
            .env(AGENT_CONFIG_ENV, &cfg_path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(base.join("agent.out")).unwrap())
            .stderr(std::fs::File::create(base.join("agent.err")).unwrap())
            .spawn()
            .expect("start the agent");
        amps.push(Amp {
            name,
            id,
            mac,
            vrrp_ip,
            priority,
            outer,
            inner,
            base,
            agent: Some(agent),
        });
    }
    let site = Site {
        amps,
        client,
        _ns: ns,
        _dir: dir,
    };
    for a in &site.amps {
        let addr = SocketAddr::from(([127, 0, 0, 1], AGENT_PORT));
        assert!(
            wait_until(Duration::from_secs(30), || {
                http(&a.outer, addr, "GET", "/", "", Duration::from_secs(2))
                    .is_ok_and(|(s, _, _)| s == 200)
            }),
            "agent of {} does not answer: {}",
            a.name,
            std::fs::read_to_string(a.base.join("agent.err")).unwrap_or_default()
        );
    }
    site
}

/// An haproxy that answers every HTTP request on the VIP with its
/// amphora's name; its stats socket is what the VRRP check asks.
fn responder(a: &Amp) -> String {
    format!(
        "global\n    daemon\n    maxconn 100\n    stats socket {sock} mode 0666 level user\n\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend {LISTENER}\n    mode http\n    bind {VIP}:80\n\
         \x20   http-request return status 200 content-type text/plain string {name}\n",
        sock = a.base.join(format!("{LB}.sock")).display(),
        name = a.name,
    )
}

fn keepalived_conf(a: &Amp, peers: &[&str]) -> String {
    let check = vrrp_check_script_path(&a.base).display().to_string();
    let group = render::vrrp_group_name(LB);
    render::keepalived(&render::KeepalivedInput {
        vrrp_group: render::VrrpGroup {
            name: &group,
            auth_type: render::VRRP_AUTH_DEFAULT,
            auth_pass: AUTH_PASS,
            advert_int: render::DEFAULT_VRRP_ADVERT_INT,
        },
        interface: "eth1",
        vrrp_id: render::VRRP_ID,
        priority: a.priority,
        vrrp_ip: a.vrrp_ip,
        peers: peers.to_vec(),
        vip: render::KeepalivedVip {
            ip_address: VIP,
            subnet_cidr: CIDR,
            gateway: Some(GATEWAY),
            host_routes: Vec::new(),
        },
        additional_vips: Vec::new(),
        check_script_path: &check,
        options: render::KeepalivedOptions::default(),
    })
}

/// The client's GET of the VIP: the name of the amphora that answered.
fn ask_vip(client: &str) -> Option<String> {
    let addr: SocketAddr = format!("{VIP}:80").parse().unwrap();
    match http(client, addr, "GET", "/", "", Duration::from_millis(500)) {
        Ok((200, _, body)) => Some(body.trim().to_string()),
        _ => None,
    }
}

/// Both amphorae plugged, serving, and running keepalived, the MASTER
/// holding the VIP and answering the client.
fn active_standby(test: &str) -> Site {
    let s = site(test);
    let peers: Vec<&str> = s.amps.iter().map(|a| a.vrrp_ip).collect();
    for a in &s.amps {
        let body = json!({
            "subnet_cidr": CIDR, "gateway": GATEWAY, "mac_address": a.mac,
            "vrrp_ip": a.vrrp_ip, "host_routes": [], "mtu": 1500,
        });
        let (st, v, _) = a.call("POST", &format!("/1.0/plug/vip/{VIP}"), &body.to_string());
        assert_eq!(st, 202, "{}: {v}", a.name);
        // ACTIVE_STANDBY: the VRRP address only (and the kernel's IPv6
        // link-local one); the VIP is keepalived's.
        let v4: Vec<String> = addrs(&a.inner, "eth1")
            .into_iter()
            .filter(|a| !a.contains(':'))
            .collect();
        assert_eq!(v4, [format!("{}/24", a.vrrp_ip)]);
        let sysctl = Command::new("ip")
            .args(["netns", "exec", &a.inner, "sysctl", "-n"])
            .arg("net.ipv4.ip_nonlocal_bind")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&sysctl.stdout).trim(), "1");
        // What the controller asks for the amphora's vrrp_interface.
        let (st, v, _) = a.call("GET", &format!("/1.0/interface/{}", a.vrrp_ip), "");
        assert_eq!((st, v["interface"].as_str()), (200, Some("eth1")), "{v}");

        // haproxy binds the VIP it does not hold (ip_nonlocal_bind).
        let path = format!("/1.0/loadbalancer/{}/{LB}/haproxy", a.id);
        let (st, v, _) = a.call("PUT", &path, &responder(a));
        assert_eq!(st, 202, "{}: {v}", a.name);
        let (st, v, _) = a.call("PUT", &format!("/1.0/loadbalancer/{LB}/start"), "");
        assert_eq!(st, 202, "{}: {v}", a.name);

        let (st, v, head) = a.call("PUT", "/1.0/vrrp/upload", &keepalived_conf(a, &peers));
        assert_eq!((st, &v), (200, &json!({"message": "OK"})), "{}", a.name);
        assert!(head.to_ascii_lowercase().contains("etag:"), "{head}");
        // The VRRP check asks this load balancer's haproxy.
        let hc = std::fs::read_to_string(a.base.join("vrrp/check_scripts/haproxy_check_script.sh"))
            .unwrap();
        let sock = a.base.join(format!("{LB}.sock"));
        assert!(hc.contains(&*sock.to_string_lossy()), "{hc}");
        let ok = Command::new("ip")
            .args(["netns", "exec", &a.inner, "bash"])
            .arg(vrrp_check_script_path(&a.base))
            .output()
            .unwrap();
        assert!(ok.status.success(), "{}: the check fails", a.name);
    }
    let (master, backup) = (&s.amps[0], &s.amps[1]);

    // The MASTER first: nobody advertises, it takes the VIP (its check
    // has to pass first).
    let (st, v, _) = master.call("PUT", "/1.0/vrrp/start", "");
    assert_eq!(
        (st, &v),
        (
            202,
            &json!({"message": "OK", "details": "keepalived started"})
        )
    );
    assert!(
        wait_until(Duration::from_secs(30), || holds_vip(&master.inner)),
        "the MASTER never took the VIP: {:?}",
        addrs(&master.inner, "eth1")
    );
    let (st, v, _) = backup.call("PUT", "/1.0/vrrp/start", "");
    assert_eq!(
        (st, v["details"].as_str()),
        (202, Some("keepalived started"))
    );
    assert!(
        wait_until(Duration::from_secs(10), || ask_vip(&s.client).as_deref()
            == Some(master.name)),
        "the VIP does not answer from {}",
        master.name
    );
    // The BACKUP hears the MASTER and stays BACKUP (nopreempt, lower
    // priority): the VIP stays where it is.
    std::thread::sleep(Duration::from_secs(5));
    assert!(!holds_vip(&backup.inner));
    assert!(holds_vip(&master.inner));
    assert_eq!(ask_vip(&s.client).as_deref(), Some(master.name));
    s
}

/// Asks the VIP until the BACKUP answers: the time it took.
fn gap_until_backup_answers(s: &Site, since: Instant) -> Duration {
    let backup = &s.amps[1];
    let mut last = None;
    while since.elapsed() < Duration::from_secs(60) {
        last = ask_vip(&s.client);
        if last.as_deref() == Some(backup.name) {
            return since.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "no answer from {} 60 s after the MASTER failed (last: {last:?}); VIP on it: {}",
        backup.name,
        holds_vip(&backup.inner)
    );
}

/// The BACKUP's keepalived stops through the agent, leaving nothing and
/// giving the VIP up.
fn stop_backup(s: &Site) {
    let backup = &s.amps[1];
    let pids = backup.keepalived_pids();
    assert!(pids.len() >= 2, "parent and VRRP child: {pids:?}");
    let (st, v, _) = backup.call("PUT", "/1.0/vrrp/stop", "");
    assert_eq!(
        (st, &v),
        (
            202,
            &json!({"message": "OK", "details": "keepalived stoped"})
        )
    );
    let left: Vec<i32> = pids.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "keepalived processes left: {left:?}");
    assert!(!backup.keepalived_pid_file().exists());
    assert!(!holds_vip(&backup.inner));
}

// -------------------------------------------------------------------- tests

#[test]
fn failover_when_the_master_dies() {
    let s = active_standby("die");
    let master = &s.amps[0];

    // The MASTER amphora's processes die (SIGKILL: no goodbye
    // advertisement, its VIP address stays behind on its eth1).
    let mut pids = master.keepalived_pids();
    pids.extend(master.haproxy_pids());
    assert!(
        pids.len() >= 3,
        "keepalived parent, VRRP child, haproxy: {pids:?}"
    );
    // Frozen first, all of them: a VRRP child that outlived its parent
    // even briefly would get SIGTERM (its parent-death signal) and say
    // goodbye with a priority 0 advertisement, a graceful handover
    // instead of a crash.
    let since = Instant::now();
    for &p in &pids {
        signal(p, rustix::process::Signal::STOP);
    }
    for &p in &pids {
        signal(p, rustix::process::Signal::KILL);
    }
    let gap = gap_until_backup_answers(&s, since);
    eprintln!(
        "failover (MASTER's keepalived and haproxy killed): the VIP answered from the \
         BACKUP {:.2} s after the kill",
        gap.as_secs_f64()
    );
    assert!(pids.iter().all(|p| !alive(*p)));
    assert!(holds_vip(&s.amps[1].inner));
    // Three missed advertisements and the BACKUP's skew (3.65 s), then
    // its gratuitous ARPs: well within 10 s.
    assert!(gap < Duration::from_secs(10), "{gap:?}");
    stop_backup(&s);
}

#[test]
fn failover_when_the_masters_haproxy_dies() {
    let s = active_standby("chk");
    let master = &s.amps[0];
    let keepalived = master.keepalived_pids();
    let haproxy = master.haproxy_pids();
    assert!(!haproxy.is_empty());

    // Only haproxy dies: the check script fails (twice, 5 s apart), the
    // MASTER's keepalived goes to FAULT and gives the VIP up.
    let since = Instant::now();
    for &p in &haproxy {
        signal(p, rustix::process::Signal::KILL);
    }
    let gap = gap_until_backup_answers(&s, since);
    eprintln!(
        "failover (MASTER's haproxy killed, keepalived's check notices): the VIP answered \
         from the BACKUP {:.2} s after the kill",
        gap.as_secs_f64()
    );
    assert!(
        wait_until(Duration::from_secs(5), || !holds_vip(&master.inner)),
        "the MASTER in FAULT still holds the VIP"
    );
    assert!(
        keepalived.iter().all(|p| alive(*p)),
        "keepalived itself runs on"
    );
    // interval 5 × fall 2, plus the BACKUP's takeover.
    assert!(gap < Duration::from_secs(20), "{gap:?}");

    // The agent's stop ends the FAULT keepalived too.
    let (st, v, _) = master.call("PUT", "/1.0/vrrp/stop", "");
    assert_eq!(st, 202, "{v}");
    assert!(keepalived.iter().all(|p| !alive(*p)));
    stop_backup(&s);
}

// ------------------------------------------------- lifecycle, in-process

#[tokio::test]
async fn keepalived_lifecycle() {
    let mut ns = Namespaces::default();
    let inner = ns.add_with_lo(format!("nt-vrrp-life-{}", tag()));
    // The VRRP port, already plugged as eth1 (keepalived -t wants it).
    ip(&[
        "-n", &inner, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
    ]);
    ip(&[
        "-n",
        &inner,
        "addr",
        "add",
        "203.0.113.11/24",
        "dev",
        "eth1",
    ]);
    ip(&["-n", &inner, "link", "set", "eth1", "up"]);

    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("agent");
    let mut cfg = AgentConfig::new("a1a1a1a1-0000-4000-8000-000000000001", &base);
    cfg.inner_namespace = Some(inner.clone());
    cfg.topology = "ACTIVE_STANDBY".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (_stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(neutrino_amphora_agent::serve(
        cfg,
        listener,
        None,
        async move {
            let _ = rx.await;
        },
    ));
    let http = reqwest::Client::new();
    let put = |path: &str, body: String| {
        let req = http.put(format!("{url}{path}")).body(body);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let etag = r
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            let v: Value = r.json().await.unwrap();
            (status, v, etag)
        }
    };
    let vrrp = base.join("vrrp");
    let conf_file = vrrp.join("octavia-keepalived.conf");
    let pid_file = vrrp.join("octavia-keepalived.pid");
    let keepalived_in_ns = || {
        netns_pids(&inner)
            .into_iter()
            .filter(|p| alive(*p))
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "keepalived")
            })
            .collect::<Vec<i32>>()
    };

    // Nothing uploaded: nothing to start.
    let (s, v, _) = put("/1.0/vrrp/start", String::new()).await;
    assert_eq!(s, 500, "{v}");
    assert_eq!(v["message"], "Failed to start octavia-keepalived service");
    // Not running: a reload is an error, a stop is not.
    let (s, v, _) = put("/1.0/vrrp/reload", String::new()).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (500, Some("Failed to reload octavia-keepalived service"))
    );
    let (s, v, _) = put("/1.0/vrrp/stop", String::new()).await;
    assert_eq!((s, v["details"].as_str()), (202, Some("keepalived stoped")));
    let (s, v, _) = put("/1.0/vrrp/frob", String::new()).await;
    assert_eq!(
        (s, &v),
        (
            400,
            &json!({"message": "Invalid Request", "details": "Unknown action: frob"})
        )
    );

    let peers = ["203.0.113.11", "203.0.113.12"];
    let check = vrrp_check_script_path(&base).display().to_string();
    let group = render::vrrp_group_name(LB);
    let good = render::keepalived(&render::KeepalivedInput {
        vrrp_group: render::VrrpGroup {
            name: &group,
            auth_type: render::VRRP_AUTH_DEFAULT,
            auth_pass: AUTH_PASS,
            advert_int: 1,
        },
        interface: "eth1",
        vrrp_id: 1,
        priority: 100,
        vrrp_ip: "203.0.113.11",
        peers: peers.to_vec(),
        vip: render::KeepalivedVip {
            ip_address: VIP,
            subnet_cidr: CIDR,
            gateway: Some(GATEWAY),
            host_routes: vec![render::HostRoute {
                destination: "10.20.0.0/16",
                nexthop: "203.0.113.254",
            }],
        },
        additional_vips: Vec::new(),
        check_script_path: &check,
        options: render::KeepalivedOptions::default(),
    });

    // Refused configs (keepalived -t in the inner namespace) store and
    // start nothing.
    for bad in [
        good.replace("    nopreempt\n", "    nopreemt\n"),
        good.replace("interface eth1", "interface eth7"),
        "vrrp_instance x {\n".to_string(),
    ] {
        let (s, v, _) = put("/1.0/vrrp/upload", bad.clone()).await;
        assert_eq!(s, 400, "{bad}\n{v}");
        assert_eq!(v["message"], "Invalid request");
        assert!(!v["details"].as_str().unwrap().is_empty(), "{v}");
        assert!(!conf_file.exists());
        assert!(!Path::new(&check).exists());
    }
    let (s, _, _) = put("/1.0/vrrp/start", String::new()).await;
    assert_eq!(s, 500);
    assert!(keepalived_in_ns().is_empty());
    assert!(!pid_file.exists());

    // Upload: stored as sent, ETag its md5, the check scripts written.
    let (s, v, etag) = put("/1.0/vrrp/upload", good.clone()).await;
    assert_eq!((s, &v), (200, &json!({"message": "OK"})));
    assert_eq!(etag.map(|e| e.len()), Some(32));
    assert_eq!(std::fs::read_to_string(&conf_file).unwrap(), good);
    let check_script = std::fs::metadata(&check).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&check_script.permissions()) & 0o111,
        0o111
    );
    // No load balancer here: the haproxy check fails, as upstream's.
    assert_eq!(
        std::fs::read_to_string(vrrp.join("check_scripts/haproxy_check_script.sh")).unwrap(),
        "exit 1"
    );
    let status = Command::new("bash").arg(&check).output().unwrap().status;
    assert!(!status.success());

    // Start: keepalived runs as a daemon in the inner namespace.
    let (s, v, _) = put("/1.0/vrrp/start", String::new()).await;
    assert_eq!(
        (s, &v),
        (
            202,
            &json!({"message": "OK", "details": "keepalived started"})
        )
    );
    let parent = pids_in(&pid_file)[0];
    assert!(alive(parent));
    let cmdline = std::fs::read(format!("/proc/{parent}/cmdline")).unwrap();
    assert!(
        cmdline
            .split(|b| *b == 0)
            .any(|a| a == conf_file.as_os_str().as_encoded_bytes())
    );
    assert!(
        wait_until(Duration::from_secs(5), || session(parent).len() >= 2),
        "no VRRP child"
    );
    let procs = session(parent);
    let inode = netns_inode(&inner);
    for p in &procs {
        assert_eq!(process_netns(*p), Some(inode), "{p} is not in {inner}");
    }
    // Every keepalived in there is this daemon's (its session also holds
    // the check script while it runs).
    let found = keepalived_in_ns();
    assert!(found.len() >= 2, "{found:?}");
    assert!(
        found.iter().all(|p| procs.contains(p)),
        "{found:?} {procs:?}"
    );

    // Start again: a reload (SIGHUP), the same daemon.
    let (s, v, _) = put("/1.0/vrrp/start", String::new()).await;
    assert_eq!(
        (s, v["details"].as_str()),
        (202, Some("keepalived reloaded"))
    );
    let (s, v, _) = put("/1.0/vrrp/reload", String::new()).await;
    assert_eq!(
        (s, v["details"].as_str()),
        (202, Some("keepalived reloaded"))
    );
    assert_eq!(pids_in(&pid_file), [parent]);
    assert!(alive(parent));

    // A refused config while it runs: the stored one and the daemon stay.
    let (s, _, _) = put("/1.0/vrrp/upload", "garbage {\n".into()).await;
    assert_eq!(s, 400);
    assert_eq!(std::fs::read_to_string(&conf_file).unwrap(), good);
    assert!(alive(parent));

    // Stop: every process of it gone (verified in /proc), pid files too.
    let (s, v, _) = put("/1.0/vrrp/stop", String::new()).await;
    assert_eq!(
        (s, &v),
        (
            202,
            &json!({"message": "OK", "details": "keepalived stoped"})
        )
    );
    let left: Vec<i32> = procs.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "left: {left:?}");
    assert!(keepalived_in_ns().is_empty());
    assert!(!pid_file.exists());
    drop(ns);
}
