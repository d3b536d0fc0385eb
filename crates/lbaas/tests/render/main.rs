//! `render::haproxy` against upstream (octavia 19's `JinjaTemplater`
//! output for the same records, generated once by `fixtures/gen.py`) and
//! against the real `haproxy -c`.
//!
//! Fixture comparison is line by line after dropping blank lines and
//! trailing whitespace (upstream's jinja leaves blank lines where blocks
//! render nothing), with one normalisation: the alternatives of
//! `http-check expect rstatus a|b|c` are compared as a set (upstream joins
//! a Python set, so its order is hash order; ours is numeric).

mod keepalived;

use neutrino_lb_types::model::{
    HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool,
};
use neutrino_lbaas::render::{self, HaproxyInput, HaproxyOptions, HaproxyPaths, Peer};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: &[&str] = &[
    "http_cookie_l7",
    "tcp_source_ip_active_standby",
    "terminated_https_sni",
    "proxy_pools",
];

#[derive(Deserialize)]
struct PeerJson {
    amphora_id: String,
    address: String,
}

#[derive(Deserialize)]
struct PathsJson {
    stats_socket: String,
    base_path: String,
    cert_dir: String,
}

#[derive(Deserialize)]
struct Scenario {
    load_balancer: LoadBalancer,
    listeners: Vec<Listener>,
    pools: Vec<Pool>,
    members: Vec<Member>,
    health_monitors: Vec<HealthMonitor>,
    l7policies: Vec<L7Policy>,
    l7rules: Vec<L7Rule>,
    amphora_id: String,
    peers: Vec<PeerJson>,
    paths: PathsJson,
    tls_files: BTreeMap<String, String>,
}

impl Scenario {
    fn load(name: &str) -> Scenario {
        let text = std::fs::read_to_string(fixture_dir().join(format!("{name}.json"))).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}.json: {e}"))
    }

    fn input<'a>(&'a self, paths: HaproxyPaths<'a>) -> HaproxyInput<'a> {
        HaproxyInput {
            load_balancer: &self.load_balancer,
            listeners: &self.listeners,
            pools: &self.pools,
            members: &self.members,
            health_monitors: &self.health_monitors,
            l7policies: &self.l7policies,
            l7rules: &self.l7rules,
            amphora_id: &self.amphora_id,
            peers: self
                .peers
                .iter()
                .map(|p| Peer {
                    amphora_id: &p.amphora_id,
                    address: &p.address,
                })
                .collect(),
            paths,
            tls_files: self.tls_files.clone(),
            options: HaproxyOptions::default(),
        }
    }

    fn fixture_paths(&self) -> HaproxyPaths<'_> {
        HaproxyPaths {
            stats_socket: &self.paths.stats_socket,
            base_path: &self.paths.base_path,
            cert_dir: &self.paths.cert_dir,
        }
    }
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render/fixtures")
}

fn normalise(cfg: &str) -> Vec<String> {
    cfg.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_once("http-check expect rstatus ") {
            Some((head, codes)) => {
                let mut c: Vec<&str> = codes.split('|').collect();
                c.sort_unstable();
                format!("{head}http-check expect rstatus {}", c.join("|"))
            }
            None => l.to_string(),
        })
        .collect()
}

#[test]
fn matches_upstream_fixtures() {
    for name in FIXTURES {
        let sc = Scenario::load(name);
        let ours = render::haproxy(&sc.input(sc.fixture_paths()));
        let theirs = std::fs::read_to_string(fixture_dir().join(format!("{name}.cfg"))).unwrap();
        let (a, b) = (normalise(&ours), normalise(&theirs));
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{name}: line {i} differs\n--- ours\n{ours}");
        }
        assert_eq!(
            a.len(),
            b.len(),
            "{name}: line counts differ\n--- ours\n{ours}"
        );
    }
}

#[test]
fn peer_names_are_upstreams() {
    // base64_sha1_string(id) with "=" removed, as in the ACTIVE_STANDBY fixture.
    assert_eq!(render::peer_name("amp-1"), "nb4_5hKf-EYlJ2pGnOD7IGY2jng");
    assert_eq!(render::peer_name("amp-2"), "5KP9wwqh73eWHdC1RJHl-HKOujI");
    assert_eq!(
        render::peers_section_name("b1b2c3d4-0000-4000-8000-000000000002"),
        "b1b2c3d4000040008000000000000002_peers"
    );
}

#[test]
fn global_maxconn_rule() {
    let mut sc = Scenario::load("proxy_pools");
    let maxconn = |sc: &Scenario| {
        let cfg = render::haproxy(&sc.input(sc.fixture_paths()));
        let line = cfg
            .lines()
            .find(|l| l.trim_start().starts_with("maxconn"))
            .unwrap();
        line.trim().to_string()
    };
    // -1 and 0 both count 50000.
    assert_eq!(maxconn(&sc), "maxconn 100000");
    sc.listeners[0].connection_limit = 10;
    sc.listeners[1].connection_limit = 20;
    assert_eq!(maxconn(&sc), "maxconn 30");
    sc.listeners[1].admin_state_up = false;
    assert_eq!(maxconn(&sc), "maxconn 10");
    sc.listeners[0].connection_limit = 999_990;
    sc.listeners[1].admin_state_up = true;
    assert_eq!(maxconn(&sc), "maxconn 1000000");
}

#[test]
fn default_connection_limit_is_an_option() {
    let sc = Scenario::load("proxy_pools");
    let mut input = sc.input(sc.fixture_paths());
    input.options.default_connection_limit = 5000;
    let cfg = render::haproxy(&input);
    let limits: Vec<&str> = cfg
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("maxconn") || l.starts_with("fullconn"))
        .collect();
    // Global: the two listeners' -1 count 5000 each; each frontend and
    // backend gets 5000 (upstream's `default_connection_limit`).
    assert_eq!(limits[0], "maxconn 10000", "{cfg}");
    assert!(
        limits[1..].iter().all(|l| l.ends_with(" 5000")),
        "{limits:?}"
    );
    assert!(limits.len() > 2, "{cfg}");
}

#[test]
fn udp_and_sctp_listeners_are_not_rendered() {
    let mut sc = Scenario::load("proxy_pools");
    let mut udp = sc.listeners[1].clone();
    udp.id = "l-udp".into();
    udp.protocol = neutrino_lb_types::enums::Protocol::Udp;
    udp.connection_limit = 5;
    sc.listeners.push(udp);
    let cfg = render::haproxy(&sc.input(sc.fixture_paths()));
    assert!(!cfg.contains("l-udp"), "{cfg}");
    assert!(cfg.contains("maxconn 100000\n"), "{cfg}");
}

#[test]
fn disabled_load_balancer_renders_no_proxies() {
    let mut sc = Scenario::load("http_cookie_l7");
    sc.load_balancer.admin_state_up = false;
    let cfg = render::haproxy(&sc.input(sc.fixture_paths()));
    assert!(
        !cfg.contains("frontend") && !cfg.contains("backend"),
        "{cfg}"
    );
    assert!(cfg.contains("defaults"));
}

// ------------------------------------------------------------- haproxy -c

fn haproxy_bin() -> Option<PathBuf> {
    let found = [
        "/usr/sbin/haproxy",
        "/usr/bin/haproxy",
        "/usr/local/sbin/haproxy",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("haproxy is not installed and CI=true (scripts/setup.sh installs it)");
        }
        eprintln!(
            "\n!!!!!!!! SKIPPING haproxy -c CHECKS: haproxy is not installed \
             (run scripts/setup.sh) !!!!!!!!\n"
        );
    }
    found
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate with its key (`cert.pem`, one PEM file, as
/// haproxy wants for `crt`) and a CRL it signs (`crl.pem`).
fn make_certs(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("key.pem");
    let cert = dir.join("crt.pem");
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=neutrino-render-test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    std::fs::write(dir.join("index.txt"), "").unwrap();
    let conf = dir.join("ca.cnf");
    std::fs::write(
        &conf,
        format!(
            "[ca]\ndefault_ca = d\n[d]\ndatabase = {}\ndefault_md = sha256\n\
             default_crl_days = 2\n",
            dir.join("index.txt").display()
        ),
    )
    .unwrap();
    let crl = dir.join("crl.pem");
    run(Command::new("openssl")
        .args(["ca", "-gencrl", "-batch"])
        .arg("-config")
        .arg(&conf)
        .arg("-keyfile")
        .arg(&key)
        .arg("-cert")
        .arg(&cert)
        .arg("-out")
        .arg(&crl));
    let both = dir.join("cert.pem");
    let mut pem = std::fs::read_to_string(&cert).unwrap();
    pem.push_str(&std::fs::read_to_string(&key).unwrap());
    std::fs::write(&both, pem).unwrap();
    (both, crl)
}

#[test]
fn every_rendered_config_passes_haproxy_check() {
    let Some(bin) = haproxy_bin() else { return };
    // The check itself must be able to fail.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(
        bad.path().join("bad.cfg"),
        "global\n    no-such-keyword 1\n",
    )
    .unwrap();
    let out = Command::new(&bin)
        .arg("-c")
        .arg("-f")
        .arg(bad.path().join("bad.cfg"))
        .output();
    assert!(
        !out.unwrap().status.success(),
        "haproxy -c accepted a bad file"
    );
    for name in FIXTURES {
        let sc = Scenario::load(name);
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("amp");
        let cert_dir = base.join("certs");
        let lb_dir = cert_dir.join(&sc.load_balancer.id);
        std::fs::create_dir_all(&lb_dir).unwrap();
        let (cert, crl) = make_certs(tmp.path());
        // Every secret file the listeners and pools name, and each TLS
        // listener's crt-list (default certificate, then SNI ones).
        for (reff, file) in &sc.tls_files {
            let src = if reff.contains("crl") { &crl } else { &cert };
            std::fs::copy(src, lb_dir.join(file)).unwrap();
        }
        for l in &sc.listeners {
            if l.default_tls_container_ref.is_some() {
                let n = 1 + l.sni_container_refs.len();
                let paths: Vec<String> = (0..n)
                    .map(|i| {
                        let p = lb_dir.join(format!("{}-{i}.pem", l.id));
                        std::fs::copy(&cert, &p).unwrap();
                        p.display().to_string()
                    })
                    .collect();
                let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
                std::fs::write(
                    lb_dir.join(format!("{}.pem", l.id)),
                    render::crt_list(&refs),
                )
                .unwrap();
            }
        }
        let (sock, base_s, cert_s) = (
            base.join("lb.sock").display().to_string(),
            base.display().to_string(),
            cert_dir.display().to_string(),
        );
        let paths = HaproxyPaths {
            stats_socket: &sock,
            base_path: &base_s,
            cert_dir: &cert_s,
        };
        let cfg = render::haproxy(&sc.input(paths));
        let file = tmp.path().join("haproxy.cfg");
        std::fs::write(&file, &cfg).unwrap();
        let out = Command::new(&bin)
            .arg("-c")
            .arg("-L")
            .arg(render::peer_name(&sc.amphora_id))
            .arg("-f")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: haproxy -c failed:\n{}{}\n--- config\n{cfg}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
