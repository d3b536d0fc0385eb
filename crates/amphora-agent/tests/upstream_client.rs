//! Wire compatibility (design load-balancing.md §9.2): upstream Octavia
//! 19.0.0's own amphora REST client (`AmphoraAPIClient1_0` behind
//! `CustomHostNameCheckingAdapter`, and the `HaproxyAmphoraLoadBalancerDriver`
//! methods that build the plug bodies, from the wheel `scripts/setup.sh`
//! unpacks) drives the agent over mTLS: `tests/upstream/octavia_client.py`.
//!
//! The agent runs as `neutrino amphora-agent` does (`run_mtls` on its TOML
//! file), in a process of its own inside a fresh network namespace, the
//! amphora's: this test binary started again as the ignored test
//! `agent_process`. The VIP and member ports are veths with Neutron-style
//! MACs in that namespace; the agent moves them into its inner namespace
//! (upstream's `amphora-haproxy`). Their other ends stay outside, holding
//! the VIP subnet's gateway address and a member that answers, so traffic
//! through the VIP proves the plugging as well as the checks of the
//! interfaces, addresses, routes and rules after the script.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use md5::Digest;
use neutrino_amphora_agent::{AgentConfig, HeartbeatConfig, TlsFiles};
use neutrino_pki::Ca;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

use common::{Namespaces, ip, netns_pids, tag};

const AMP: &str = "5d1c6f0e-4a63-4f4e-9a7b-1a2b3c4d5e6f";
const WRONG_AMP: &str = "0a0b0c0d-1111-2222-3333-444455556666";
const LB: &str = "9b8f0c2e-7e0e-4d39-8e3e-0f4e5d6c7b8a";
const LISTENER: &str = "3f2a1b0c-1111-2222-3333-444455556666";
const POOL: &str = "7c1d2e3f-aaaa-bbbb-cccc-ddddeeeeffff";
const MEMBER: &str = "1e2d3c4b-5a69-4788-9aab-bccddeeff001";
const VIP_PORT: &str = "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901";
const MEMBER_PORT: &str = "3c4d5e6f-7081-4293-a4b5-c6d7e8f90a12";
const VIP_MAC: &str = "fa:16:3e:4e:01:10";
const MEMBER_MAC: &str = "fa:16:3e:4e:01:20";
const AGENT_PORT: u16 = 9443;
const VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);

/// Set for the agent process: the path of its TOML configuration.
const AGENT_CONFIG_ENV: &str = "NEUTRINO_TEST_UPSTREAM_AGENT_CONFIG";

/// The agent of [`upstream_client_drives_the_agent`], in its own process
/// (started by it, with [`AGENT_CONFIG_ENV`] set): `neutrino amphora-agent
/// --config <file>` minus the CLI, until SIGTERM.
#[test]
#[ignore = "the agent process of upstream_client_drives_the_agent, started by it"]
fn agent_process() {
    let Ok(path) = std::env::var(AGENT_CONFIG_ENV) else {
        eprintln!("{AGENT_CONFIG_ENV} is not set: nothing to serve");
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        neutrino_amphora_agent::run_mtls(Path::new(&path), async move {
            term.recv().await;
        })
        .await
    })
    .unwrap_or_else(|e| panic!("amphora agent: {e}"));
}

fn venv_dir() -> PathBuf {
    match std::env::var("NEUTRINO_TEST_VENV") {
        Ok(v) if !v.trim().is_empty() => PathBuf::from(v),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
    }
}

fn ip_json(args: &[&str]) -> Value {
    let mut all = vec!["-j"];
    all.extend_from_slice(args);
    let out = ip(&all);
    if out.trim().is_empty() {
        return json!([]);
    }
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("ip -j {}: {e}: {out}", args.join(" ")))
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// The two namespaces of the amphora; on drop, the processes left in them
/// (the agent, haproxy: all started by this test, as the namespaces are
/// its own) are killed by PID and the namespaces deleted.
struct Amphora {
    outer: String,
    inner: String,
    agent: Option<Child>,
    /// Dropped after the agent is killed.
    _namespaces: Namespaces,
}

impl Amphora {
    fn new() -> Self {
        let t = tag();
        let mut ns = Namespaces::default();
        let outer = ns.add_with_lo(format!("nt-upc-amp-{t}"));
        // Upstream's amphora-haproxy namespace exists (amphora-netns unit)
        // before the agent starts; the agent moves the ports into it.
        let inner = ns.add_with_lo(format!("nt-upc-hap-{t}"));
        Amphora {
            outer,
            inner,
            agent: None,
            _namespaces: ns,
        }
    }

    /// A port as Nova hot-plugs it: `name` with `mac` in the amphora's
    /// namespace, its veth peer `peer` (with `peer_addr`) standing for the
    /// network beyond.
    fn hotplug(&self, name: &str, mac: &str, peer: &str, peer_addr: &str) {
        let o = self.outer.as_str();
        ip(&[
            "-n", o, "link", "add", name, "address", mac, "type", "veth", "peer", "name", peer,
        ]);
        ip(&["-n", o, "addr", "add", peer_addr, "dev", peer]);
        ip(&["-n", o, "link", "set", "dev", peer, "up"]);
    }
}

impl Drop for Amphora {
    fn drop(&mut self) {
        if let Some(mut c) = self.agent.take() {
            signal(c.id(), rustix::process::Signal::KILL);
            let _ = c.wait();
        }
    }
}

/// Runs `cmd` to completion (at most `limit`, then SIGKILL by PID):
/// (success, stdout, stderr).
fn run_with_limit(cmd: &mut Command, limit: Duration) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            signal(child.id(), rustix::process::Signal::KILL);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (
        status.is_some_and(|s| s.success()),
        read(&out_path),
        read(&err_path)
            + if status.is_none() {
                "\n(killed: timed out)"
            } else {
                ""
            },
    )
}

fn md5_hex(data: &[u8]) -> String {
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `major.minor` of the installed haproxy, as upstream's driver reads it.
fn haproxy_major_minor() -> String {
    let out = Command::new("haproxy")
        .arg("-v")
        .output()
        .expect("haproxy -v");
    let text = String::from_utf8_lossy(&out.stdout);
    let re = regex::Regex::new(r"version (\d+)\.(\d+)").unwrap();
    let c = re
        .captures(&text)
        .unwrap_or_else(|| panic!("no version in {text:?}"));
    format!("{}.{}", &c[1], &c[2])
}

#[test]
fn upstream_client_drives_the_agent() {
    let t0 = Instant::now();
    let venv = venv_dir();
    let python = venv.join("bin/python");
    let octavia_src = venv.join("share/octavia-19.0.0");
    assert!(
        octavia_src
            .join("octavia/amphorae/drivers/haproxy/rest_api_driver.py")
            .is_file()
            && python.is_file(),
        "upstream Octavia 19.0.0's source is not at {} (or no {}): run scripts/setup.sh \
         (it downloads the octavia wheel from PyPI and unpacks it there)",
        octavia_src.display(),
        python.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upstream/octavia_client.py");

    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(&dir.path().join("lb-ca")).unwrap();
    let controller = ca.issue_controller().unwrap();
    let served = ca.issue_amphora(AMP, VALIDITY).unwrap();
    let rotated = ca.issue_amphora(AMP, VALIDITY).unwrap();
    let listener_pem = ca
        .issue_amphora("listener.example", VALIDITY)
        .unwrap()
        .bundle_pem();
    let base = dir.path().join("amp");
    std::fs::create_dir_all(&base).unwrap();
    let files = [
        ("server.pem", served.bundle_pem()),
        ("client_ca.pem", ca.cert_pem().to_owned()),
        ("controller.pem", controller.bundle_pem()),
        ("server_ca.pem", ca.cert_pem().to_owned()),
        ("rotated.pem", rotated.bundle_pem()),
    ];
    for (name, text) in &files {
        std::fs::write(base.join(name), text).unwrap();
    }

    let mut amp = Amphora::new();
    amp.hotplug("ens4", VIP_MAC, "vip-net", "203.0.113.1/24");
    amp.hotplug("ens5", MEMBER_MAC, "member-net", "198.51.100.20/24");

    let mut cfg = AgentConfig::new(AMP, &base);
    cfg.bind = format!("127.0.0.1:{AGENT_PORT}").parse().unwrap();
    cfg.inner_namespace = Some(amp.inner.clone());
    cfg.tls = Some(TlsFiles {
        server_cert: base.join("server.pem"),
        client_ca: base.join("client_ca.pem"),
    });
    cfg.heartbeat = HeartbeatConfig {
        controller_ip_port_list: vec!["192.0.2.250:5555".into()],
        heartbeat_key: Some("old-key".into()),
        heartbeat_interval: Some(10),
    };
    let cfg_path = base.join("amphora-agent.toml");
    std::fs::write(&cfg_path, toml::to_string(&cfg).unwrap()).unwrap();

    let exe = std::env::current_exe().unwrap();
    let agent_log = dir.path().join("agent.log");
    amp.agent = Some(
        Command::new("ip")
            .args(["netns", "exec", &amp.outer])
            .arg(&exe)
            .args(["agent_process", "--exact", "--ignored", "--nocapture"])
            .env(AGENT_CONFIG_ENV, &cfg_path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&agent_log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("agent.err")).unwrap())
            .spawn()
            .expect("start the agent"),
    );

    let plan = json!({
        "octavia_src": octavia_src,
        "lb_network_ip": "127.0.0.1",
        "bind_port": AGENT_PORT,
        "amphora_id": AMP,
        "wrong_amphora_id": WRONG_AMP,
        "client_cert": base.join("controller.pem"),
        "server_ca": base.join("server_ca.pem"),
        "new_server_bundle": base.join("rotated.pem"),
        "lb_id": LB, "listener_id": LISTENER, "pool_id": POOL, "member_id": MEMBER,
        "listener_port": 80,
        "vip": {
            "ip": "203.0.113.10", "vrrp_ip": "203.0.113.11", "port_id": VIP_PORT,
            "mac": VIP_MAC, "mtu": 1450,
            "cidr": "203.0.113.0/24", "gateway": "203.0.113.1",
            "host_routes": [{"destination": "10.20.0.0/16", "nexthop": "203.0.113.254"}],
        },
        "additional_vips": [
            {"ip": "192.0.2.10", "cidr": "192.0.2.0/24", "gateway": "192.0.2.1", "host_routes": []},
        ],
        "member_port": {
            "port_id": MEMBER_PORT, "mac": MEMBER_MAC, "mtu": 1400,
            "ip": "198.51.100.5", "new_ip": "198.51.100.6",
            "subnet": {
                "cidr": "198.51.100.0/24", "gateway": "198.51.100.1",
                "host_routes": [{"destination": "10.30.0.0/16", "nexthop": "198.51.100.254"}],
            },
        },
        "member_server": {"ip": "198.51.100.20", "port": 8080, "answer": "member says hi"},
        "listener_pem": listener_pem,
        "heartbeat": {
            "controller_ip_port_list": ["192.0.2.5:5555", "192.0.2.6:5555"],
            "heartbeat_interval": 3,
            "heartbeat_key": "new-key",
        },
    });
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).unwrap();

    let t_script = Instant::now();
    let (ok, stdout, stderr) = run_with_limit(
        Command::new("ip")
            .args(["netns", "exec", &amp.outer])
            .arg(&python)
            .arg(&script)
            .arg(&plan_path),
        Duration::from_secs(180),
    );
    let script_time = t_script.elapsed();
    let agent_err = std::fs::read_to_string(dir.path().join("agent.err")).unwrap_or_default();
    let context = format!(
        "--- script stdout\n{stdout}--- script stderr\n{stderr}\n--- agent stderr\n{agent_err}"
    );

    let rotated_der = CertificateDer::from_pem_slice(rotated.cert_pem.as_bytes()).unwrap();
    let expected = [
        "api_version: 1.0".to_string(),
        format!("haproxy version: {}", haproxy_major_minor()),
        "post_vip_plug: 202 VIPs plugged on interface eth1: 203.0.113.10, 192.0.2.10".into(),
        "post_vip_plug again: 409 Interface already exists".into(),
        "post_network_plug: 202 Plugged on interface eth2".into(),
        "post_network_plug (new fixed IP): 202 Updated existing interface eth2".into(),
        "get_interface_from_ip 203.0.113.11: eth1".into(),
        "get_interface_from_ip 198.51.100.6: eth2".into(),
        "upload_config: 202".into(),
        format!(
            "reload_listener: 202 \"Configuration file is valid\\nhaproxy daemon for {LB} started\""
        ),
        "through the VIP: member says hi".into(),
        format!(
            "get_all_listeners: [{{\"status\": \"ACTIVE\", \"type\": \"TCP\", \"uuid\": \"{LISTENER}\"}}]"
        ),
        "upload_config (invalid): 400 Invalid request".into(),
        "through the VIP after the refused config: member says hi".into(),
        "upload_cert_pem: 200".into(),
        format!("get_cert_md5sum: {}", md5_hex(listener_pem.as_bytes())),
        "update_amphora_agent_config: 202".into(),
        "upload_cert_amp: 202".into(),
        format!("served certificate md5: {}", md5_hex(&rotated_der)),
        "get_info after rotation: 1.0".into(),
        "wrong amphora id: refused, certificate name mismatch".into(),
        "no client certificate: refused".into(),
        "delete_cert_pem: 200".into(),
        "get_cert_md5sum after delete: None".into(),
        "delete_listener: 200".into(),
        "through the VIP after delete_listener: refused".into(),
        "ALL OK".into(),
    ];
    let got: Vec<&str> = stdout.lines().collect();
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(
            got.get(i).copied(),
            Some(want.as_str()),
            "line {} of the script's output\n{context}",
            i + 1
        );
    }
    assert_eq!(got.len(), expected.len(), "extra output\n{context}");
    assert!(ok, "the script failed\n{context}");

    check_interfaces(&amp);

    // PUT /config with upstream's INI: the heartbeat settings taken over,
    // the file still the agent's TOML.
    let after = AgentConfig::load(&cfg_path).unwrap();
    assert_eq!(after.amphora_id, AMP);
    assert_eq!(after.inner_namespace.as_deref(), Some(amp.inner.as_str()));
    assert_eq!(
        after.heartbeat.controller_ip_port_list,
        ["192.0.2.5:5555", "192.0.2.6:5555"]
    );
    assert_eq!(after.heartbeat.heartbeat_interval, Some(3));
    assert_eq!(after.heartbeat.heartbeat_key.as_deref(), Some("new-key"));
    // PUT /certificate kept the new certificate for a restarted agent.
    assert_eq!(
        std::fs::read_to_string(base.join("server.pem")).unwrap(),
        rotated.bundle_pem()
    );

    // delete_listener stopped haproxy: the agent is all that runs.
    let mut agent = amp.agent.take().unwrap();
    assert_eq!(netns_pids(&amp.inner), Vec::<i32>::new(), "{context}");
    assert_eq!(netns_pids(&amp.outer), vec![agent.id() as i32], "{context}");
    signal(agent.id(), rustix::process::Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = agent.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the agent ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "agent exit: {status}\n{context}");
    eprintln!(
        "upstream client run: {:.1} s (script {:.1} s)",
        t0.elapsed().as_secs_f64(),
        script_time.as_secs_f64()
    );
}

fn link<'a>(links: &'a Value, mac: &str) -> Option<&'a Value> {
    links
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["address"] == mac)
}

/// IPv4 addresses (`a.b.c.d/len`) of a link in `ip -j addr` output.
fn v4_addrs(l: &Value) -> BTreeSet<String> {
    l["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["family"] == "inet")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect()
}

/// What upstream's interface files ask for, checked in the namespaces.
fn check_interfaces(amp: &Amphora) {
    let outer = ip_json(&["-n", &amp.outer, "addr", "show"]);
    for mac in [VIP_MAC, MEMBER_MAC] {
        assert!(
            link(&outer, mac).is_none(),
            "{mac} still in the amphora's namespace: {outer}"
        );
    }
    let inner = ip_json(&["-n", &amp.inner, "addr", "show"]);
    let eth1 = link(&inner, VIP_MAC).unwrap_or_else(|| panic!("no VIP port inside: {inner}"));
    assert_eq!(eth1["ifname"], "eth1");
    assert_eq!(eth1["mtu"], 1450);
    assert_eq!(eth1["operstate"], "UP", "{eth1}");
    assert_eq!(
        v4_addrs(eth1),
        BTreeSet::from([
            "203.0.113.11/24".to_string(),
            "203.0.113.10/32".into(),
            "192.0.2.10/32".into()
        ])
    );
    let eth2 = link(&inner, MEMBER_MAC).unwrap_or_else(|| panic!("no member port inside: {inner}"));
    assert_eq!(eth2["ifname"], "eth2");
    assert_eq!(eth2["mtu"], 1400);
    assert_eq!(eth2["operstate"], "UP", "{eth2}");
    // The second plug replaced the first address.
    assert_eq!(
        v4_addrs(eth2),
        BTreeSet::from(["198.51.100.6/24".to_string()])
    );

    // The routes the agent added (proto static), in every table: upstream's
    // VIPInterfaceFile and PortInterfaceFile for SINGLE. The additional
    // VIP's default route collides with the first one's and is skipped, as
    // upstream's is.
    let routes: BTreeSet<String> = ip_json(&[
        "-n", &amp.inner, "-4", "route", "show", "table", "all", "proto", "static",
    ])
    .as_array()
    .unwrap()
    .iter()
    .map(|r| {
        let mut s = r["dst"].as_str().unwrap().to_string();
        if let Some(g) = r["gateway"].as_str() {
            s += &format!(" via {g}");
        }
        s += &format!(" dev {}", r["dev"].as_str().unwrap());
        if let Some(p) = r["prefsrc"].as_str() {
            s += &format!(" src {p}");
        }
        if let Some(t) = r["table"].as_str() {
            s += &format!(" table {t}");
        }
        s
    })
    .collect();
    let want: BTreeSet<String> = [
        "default via 203.0.113.1 dev eth1",
        "192.0.2.0/24 dev eth1",
        "10.20.0.0/16 via 203.0.113.254 dev eth1",
        "default via 203.0.113.1 dev eth1 table 1",
        "203.0.113.0/24 dev eth1 src 203.0.113.10 table 1",
        "192.0.2.0/24 dev eth1 src 192.0.2.10 table 1",
        "10.20.0.0/16 via 203.0.113.254 dev eth1 table 1",
        "10.30.0.0/16 via 198.51.100.254 dev eth2",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(routes, want);

    // Answers from a VIP leave by table 1.
    let rules: BTreeSet<String> = ip_json(&["-n", &amp.inner, "-4", "rule", "show"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["protocol"] == "static")
        .map(|r| {
            format!(
                "from {} lookup {}",
                r["src"].as_str().unwrap(),
                r["table"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        rules,
        BTreeSet::from([
            "from 203.0.113.10 lookup 1".to_string(),
            "from 192.0.2.10 lookup 1".into()
        ])
    );
}
