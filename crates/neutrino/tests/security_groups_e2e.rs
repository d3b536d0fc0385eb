//! End to end: the security groups Octavia needs (document 003) made and
//! shown with the stock `openstack` CLI against `neutrino up`. The test
//! name contains `e2e_`, so nextest runs it alone.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use neutrino_testkit::{ChildGuard, free_tcp_port, venv_bin};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_neutrino");

/// A `neutrino up` in a temp dir, stopped when dropped.
struct Up {
    child: ChildGuard,
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Up {
    fn start() -> Result<Up> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let log = dir.path().join("server.log");
        let (a, mut b) = (free_tcp_port(), free_tcp_port());
        while b == a {
            b = free_tcp_port();
        }
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir.path())
            .stdin(Stdio::null())
            .env("NO_COLOR", "1");
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("NEUTRINO_") || k.starts_with("OS_") {
                cmd.env_remove(k);
            }
        }
        cmd.args(["up", "--no-data-plane", "--data-dir"])
            .arg(&data)
            .arg("--identity-listen")
            .arg(format!("127.0.0.1:{a}"))
            .arg("--network-listen")
            .arg(format!("127.0.0.1:{b}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?);
        let mut child = ChildGuard::spawn(&mut cmd)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !data.join("clouds.yaml").is_file() {
            if let Some(st) = child.try_wait()? {
                bail!(
                    "neutrino up exited ({st}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            ensure!(Instant::now() < deadline, "neutrino up not ready after 60s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Up { child, dir, log })
    }

    fn clouds(&self) -> PathBuf {
        self.dir.path().join("data/clouds.yaml")
    }

    /// `openstack ARGS...` as the admin of the written clouds.yaml: its
    /// exit status, stdout and stderr.
    fn openstack(&self, args: &[&str]) -> Result<(bool, String, String)> {
        let mut c = Command::new(venv_bin("openstack")?);
        c.args(args).stdin(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("OS_") {
                c.env_remove(k);
            }
        }
        let out = c
            .env("OS_CLOUD", "neutrino")
            .env("OS_CLIENT_CONFIG_FILE", self.clouds())
            .output()
            .with_context(|| format!("running openstack {}", args.join(" ")))?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        let (ok, stdout, stderr) = self.openstack(args)?;
        ensure!(
            ok,
            "`openstack {}` failed:\n{stdout}{stderr}\nserver log:\n{}",
            args.join(" "),
            self.log_text()
        );
        Ok(stdout)
    }

    fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = args.to_vec();
        all.extend(["-f", "json"]);
        let text = self.run(&all)?;
        serde_json::from_str(&text).with_context(|| format!("no JSON from openstack: {text}"))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.terminate(Duration::from_secs(5));
    }
}

/// The value of a top-level `key: value` line of `-f yaml` output.
fn yaml_field<'a>(yaml: &'a str, key: &str) -> Option<&'a str> {
    yaml.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
}

/// The ingress rules of a shown group as "ethertype protocol min-max prefix".
fn ingress_rules(group: &Value) -> Result<Vec<String>> {
    let rules = group["rules"].as_array().context("no rules in group")?;
    let mut out: Vec<String> = rules
        .iter()
        .filter(|r| r["direction"] == "ingress")
        .map(|r| {
            format!(
                "{} {} {}-{} {}",
                r["ethertype"].as_str().unwrap_or("?"),
                r["protocol"].as_str().unwrap_or("any"),
                r["port_range_min"],
                r["port_range_max"],
                r["remote_ip_prefix"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

fn check_group(up: &Up, name: &str, want: &[&str]) -> Result<Value> {
    let shown = up.json(&["security", "group", "show", name])?;
    ensure!(shown["name"] == name, "wrong group shown: {shown}");
    ensure!(
        ingress_rules(&shown)? == want,
        "{name}: ingress rules {:?}, want {want:?}",
        ingress_rules(&shown)?
    );
    let egress = shown["rules"]
        .as_array()
        .context("rules")?
        .iter()
        .filter(|r| r["direction"] == "egress")
        .count();
    ensure!(
        egress == 2,
        "{name}: egress any (v4 and v6) expected: {shown}"
    );
    Ok(shown)
}

#[test]
fn e2e_openstack_cli_octavia_security_groups() -> Result<()> {
    let up = Up::start()?;

    // lb-mgmt-sec-grp: TCP 22 and 9443, IPv4 and IPv6.
    let mgmt = up.json(&["security", "group", "create", "lb-mgmt-sec-grp"])?;
    ensure!(mgmt["name"] == "lb-mgmt-sec-grp", "{mgmt}");
    ensure!(mgmt["stateful"] == true, "{mgmt}");
    for port in ["22", "9443"] {
        for ethertype in ["IPv4", "IPv6"] {
            let r = up.json(&[
                "security",
                "group",
                "rule",
                "create",
                "--protocol",
                "tcp",
                "--dst-port",
                port,
                "--ethertype",
                ethertype,
                "lb-mgmt-sec-grp",
            ])?;
            ensure!(r["security_group_id"] == mgmt["id"], "{r}");
            ensure!(r["port_range_min"].as_i64() == port.parse().ok(), "{r}");
        }
    }
    // lb-health-mgr-sec-grp: UDP 5555, IPv4 and IPv6.
    up.json(&["security", "group", "create", "lb-health-mgr-sec-grp"])?;
    for ethertype in ["IPv4", "IPv6"] {
        up.json(&[
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "udp",
            "--dst-port",
            "5555",
            "--ethertype",
            ethertype,
            "lb-health-mgr-sec-grp",
        ])?;
    }

    check_group(
        &up,
        "lb-mgmt-sec-grp",
        &[
            "IPv4 tcp 22-22 0.0.0.0/0",
            "IPv4 tcp 9443-9443 0.0.0.0/0",
            "IPv6 tcp 22-22 ::/0",
            "IPv6 tcp 9443-9443 ::/0",
        ],
    )?;
    check_group(
        &up,
        "lb-health-mgr-sec-grp",
        &["IPv4 udp 5555-5555 0.0.0.0/0", "IPv6 udp 5555-5555 ::/0"],
    )?;
    let yaml = up.run(&["security", "group", "show", "-f", "yaml", "lb-mgmt-sec-grp"])?;
    ensure!(
        yaml_field(&yaml, "name") == Some("lb-mgmt-sec-grp"),
        "{yaml}"
    );
    ensure!(yaml_field(&yaml, "revision_number") == Some("5"), "{yaml}");
    ensure!(yaml_field(&yaml, "stateful") == Some("true"), "{yaml}");
    ensure!(yaml.contains("port_range_min: 9443"), "{yaml}");

    // The same rule again is refused, and the listing has the default group.
    let (ok, _, stderr) = up.openstack(&[
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        "lb-mgmt-sec-grp",
    ])?;
    ensure!(
        !ok && stderr.contains("Security group rule already exists"),
        "{stderr}"
    );
    let groups = up.json(&["security", "group", "list"])?;
    let mut names: Vec<&str> = groups
        .as_array()
        .context("list")?
        .iter()
        .filter_map(|g| g["Name"].as_str())
        .collect();
    names.sort();
    ensure!(
        names == ["default", "lb-health-mgr-sec-grp", "lb-mgmt-sec-grp"],
        "{names:?}"
    );

    // A port bound to both groups, as lb-mgmt-router-port is; then in use.
    up.run(&["network", "create", "lb-mgmt-net"])?;
    up.run(&[
        "subnet",
        "create",
        "--network",
        "lb-mgmt-net",
        "--subnet-range",
        "172.24.0.0/16",
        "lb-mgmt-subnet",
    ])?;
    let port = up.json(&[
        "port",
        "create",
        "--network",
        "lb-mgmt-net",
        "--security-group",
        "lb-mgmt-sec-grp",
        "--security-group",
        "lb-health-mgr-sec-grp",
        "lb-mgmt-router-port",
    ])?;
    let bound = port["security_group_ids"]
        .as_array()
        .context("security_group_ids")?
        .len();
    ensure!(bound == 2, "{port}");
    let (ok, _, stderr) = up.openstack(&["security", "group", "delete", "lb-mgmt-sec-grp"])?;
    ensure!(!ok && stderr.contains("in use"), "{stderr}");
    Ok(())
}
