//! End-to-end tests: the `neutrino` binary driven by the stock OpenStack
//! clients (python-openstackclient and openstacksdk from the venv that
//! `scripts/setup.sh` makes) and by plain HTTP.
//!
//! Every test name contains `e2e_`, so nextest runs them one at a time
//! (`.config/nextest.toml`). Each test starts its own server on free ports
//! with its state in a temp dir, and reuses it for all its steps: the CLI
//! costs about a second per command.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use neutrino_testkit::{ChildGuard, free_tcp_port, venv_bin, wait_for_tcp};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_neutrino");
/// How long a server may take to become ready (debug build, cold SQLite).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

// ------------------------------------------------------------------ helpers

/// Two distinct free ports: identity, network.
fn two_ports() -> (u16, u16) {
    let a = free_tcp_port();
    loop {
        let b = free_tcp_port();
        if b != a {
            return (a, b);
        }
    }
}

/// The `neutrino` command with a clean environment: no `NEUTRINO_*`
/// settings of the developer's shell, no colours in the log.
fn neutrino(cwd: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd).stdin(Stdio::null()).env("NO_COLOR", "1");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NEUTRINO_") {
            c.env_remove(k);
        }
    }
    c
}

/// A running `neutrino up` / `neutrino serve` whose stderr goes to `log`.
struct Server {
    child: ChildGuard,
    identity_port: u16,
    network_port: u16,
    log: PathBuf,
}

impl Server {
    fn spawn(
        cwd: &Path,
        log: &Path,
        (identity_port, network_port): (u16, u16),
        args: &[&str],
    ) -> Result<Server> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut cmd = neutrino(cwd);
        cmd.args(args)
            .arg("--identity-listen")
            .arg(format!("127.0.0.1:{identity_port}"))
            .arg("--network-listen")
            .arg(format!("127.0.0.1:{network_port}"))
            .stdout(Stdio::null())
            .stderr(log_file);
        Ok(Server {
            child: ChildGuard::spawn(&mut cmd)?,
            identity_port,
            network_port,
            log: log.to_path_buf(),
        })
    }

    /// `neutrino up --data-dir DIR ARGS...`, ready once it has written
    /// clouds.yaml. A file left by an earlier run stays until the new server
    /// gets to it, so readiness is a file other than that one (inode and
    /// mtime: a freed inode may be reused).
    fn up(dir: &Path, log: &Path, ports: (u16, u16), extra: &[&str]) -> Result<Server> {
        use std::os::unix::fs::MetadataExt;
        // No OVS/OVN: these tests carry no packets and must not need the
        // host-wide userspace datapath.
        let mut args = vec![
            "up",
            "--no-data-plane",
            "--data-dir",
            dir.to_str().context("data dir path")?,
        ];
        args.extend_from_slice(extra);
        let clouds = dir.join("clouds.yaml");
        let inode = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.ino(), m.mtime(), m.mtime_nsec()))
        };
        let stale = inode(&clouds);
        let mut s = Server::spawn(dir.parent().unwrap_or(dir), log, ports, &args)?;
        s.wait_until("clouds.yaml to be written", || {
            inode(&clouds).is_some_and(|i| Some(i) != stale)
        })?;
        Ok(s)
    }

    /// `neutrino serve ARGS...`, ready once both ports accept connections.
    async fn serve(cwd: &Path, log: &Path, ports: (u16, u16), args: &[&str]) -> Result<Server> {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let mut s = Server::spawn(cwd, log, ports, &all)?;
        let deadline = Instant::now() + READY_TIMEOUT;
        for port in [s.identity_port, s.network_port] {
            loop {
                if let Some(status) = s.child.try_wait()? {
                    bail!("neutrino serve exited early ({status}):\n{}", s.log_text());
                }
                let left = deadline.saturating_duration_since(Instant::now());
                ensure!(
                    !left.is_zero(),
                    "neutrino serve is not listening on {port}:\n{}",
                    s.log_text()
                );
                if wait_for_tcp(("127.0.0.1", port), Duration::from_millis(200))
                    .await
                    .is_ok()
                {
                    break;
                }
            }
        }
        Ok(s)
    }

    /// Polls `ready` while the server runs; fails with the log if the server
    /// exits or `READY_TIMEOUT` passes.
    fn wait_until(&mut self, what: &str, ready: impl Fn() -> bool) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if ready() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "neutrino exited ({status}) while waiting for {what}:\n{}",
                    self.log_text()
                );
            }
            ensure!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn identity_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.identity_port)
    }

    fn network_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.network_port)
    }

    /// SIGTERM; the server must exit with status 0 within `STOP_TIMEOUT`.
    fn stop(mut self) -> Result<Duration> {
        let started = Instant::now();
        // A longer grace than allowed, so that a slow stop shows up as a
        // measured time rather than as a SIGKILL.
        let status = self.child.terminate(STOP_TIMEOUT * 2)?;
        let took = started.elapsed();
        ensure!(
            status.success(),
            "neutrino exited with {status} after SIGTERM:\n{}",
            self.log_text()
        );
        ensure!(
            took < STOP_TIMEOUT,
            "neutrino took {took:?} to stop after SIGTERM"
        );
        Ok(took)
    }
}

/// Writes a clouds.yaml for a `serve` (which writes none) and returns its path.
fn write_clouds_yaml(dir: &Path, identity_port: u16, password: &str) -> Result<PathBuf> {
    let path = dir.join("clouds.yaml");
    std::fs::write(
        &path,
        format!(
            "clouds:\n  neutrino:\n    auth:\n      auth_url: 'http://127.0.0.1:{identity_port}/v3'\n      \
             username: 'admin'\n      password: '{password}'\n      project_name: 'admin'\n      \
             user_domain_name: Default\n      project_domain_name: Default\n    \
             region_name: 'RegionOne'\n    interface: public\n    identity_api_version: 3\n"
        ),
    )?;
    Ok(path)
}

/// The `openstack` CLI of the venv, pointed at one clouds.yaml.
struct Cli {
    openstack: PathBuf,
    clouds: PathBuf,
}

impl Cli {
    fn new(clouds: &Path) -> Result<Cli> {
        Ok(Cli {
            openstack: venv_bin("openstack")?,
            clouds: clouds.to_path_buf(),
        })
    }

    fn output(&self, args: &[&str]) -> Result<Output> {
        let mut c = Command::new(&self.openstack);
        c.args(args).stdin(Stdio::null());
        // Only the clouds.yaml decides where to go and who we are.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("OS_") {
                c.env_remove(k);
            }
        }
        c.env("OS_CLOUD", "neutrino")
            .env("OS_CLIENT_CONFIG_FILE", &self.clouds);
        c.output()
            .with_context(|| format!("running openstack {}", args.join(" ")))
    }

    /// Runs a command that must succeed; its stdout.
    fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.output(args)?;
        ensure!(
            out.status.success(),
            "`openstack {}` failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Runs a command with `-f json` and parses its output.
    fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = args.to_vec();
        all.extend(["-f", "json"]);
        let text = self.run(&all)?;
        serde_json::from_str(&text)
            .with_context(|| format!("`openstack {}` printed no JSON: {text}", all.join(" ")))
    }

    /// Runs a command that must fail; its stderr.
    fn fails(&self, args: &[&str]) -> Result<String> {
        let out = self.output(args)?;
        ensure!(
            !out.status.success(),
            "`openstack {}` should have failed but printed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Checks every key of `expected` (an object) against `actual`, reporting
/// all mismatches at once.
fn expect_fields(what: &str, actual: &Value, expected: &Value) -> Result<()> {
    let mut bad = Vec::new();
    for (k, want) in expected.as_object().context("expected must be an object")? {
        let have = actual.get(k).unwrap_or(&Value::Null);
        if have != want {
            bad.push(format!("  {k}: expected {want}, got {have}"));
        }
    }
    ensure!(
        bad.is_empty(),
        "{what} differs from the reference:\n{}\nwhole object: {actual:#}",
        bad.join("\n")
    );
    Ok(())
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .with_context(|| format!("no string {key:?} in {v}"))
}

/// `2026-11-22T01:56:22Z`, as Neutron prints timestamps.
fn is_neutron_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// A Keystone project id: 32 lowercase hex digits.
fn is_project_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// A MAC Neutron generates with the default base MAC `fa:16:3e:00:00:00`.
fn is_neutron_mac(s: &str) -> bool {
    s.len() == 17
        && s.starts_with("fa:16:3e:")
        && s.split(':')
            .all(|p| p.len() == 2 && p.bytes().all(|c| c.is_ascii_hexdigit()))
}

fn ipv4(s: &str) -> Result<std::net::Ipv4Addr> {
    s.parse()
        .with_context(|| format!("{s:?} is not an IPv4 address"))
}

/// `req-` and a UUID, as OpenStack services name requests.
fn is_request_id(s: &str) -> bool {
    s.strip_prefix("req-")
        .is_some_and(|u| u.len() == 36 && uuid::Uuid::parse_str(u).is_ok())
}

/// Sorts `(id, ...)` rows by id: Neutron lists without a sort key come in
/// primary-key order, as the reference output shows.
fn by_id<T: Clone>(mut rows: Vec<(String, T)>) -> Vec<(String, T)> {
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

// ------------------------------------------------------------------ 1. the document, by CLI

/// The commands of the source document (Octavia provider and management
/// networks), run with the real `openstack` CLI against `neutrino up`, and
/// their output compared with what Neutron prints
/// (`../shared/peer/smoke-reference.txt`). The reference cloud runs ML2
/// with VXLAN tenant networks, so this server does too.
#[tokio::test]
async fn e2e_openstack_cli_document_000_sqlite() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let server = Server::up(
        &dir,
        &tmp.path().join("neutrino.log"),
        two_ports(),
        &["--tenant-network-type", "vxlan"],
    )?;
    let cli = Cli::new(&dir.join("clouds.yaml"))?;

    // ---- networks
    let pnet = cli.json(&[
        "network",
        "create",
        "--provider-network-type",
        "flat",
        "--provider-physical-network",
        "octavia",
        "--external",
        "octavia-provider-net",
    ])?;
    expect_fields(
        "octavia-provider-net",
        &pnet,
        &json!({
            "admin_state_up": true,
            "availability_zone_hints": [],
            "availability_zones": [],
            "description": "",
            "dns_domain": "",
            "l2_adjacency": true,
            "mtu": 1500,
            "name": "octavia-provider-net",
            "port_security_enabled": true,
            "provider:network_type": "flat",
            "provider:physical_network": "octavia",
            "provider:segmentation_id": null,
            "revision_number": 1,
            "router:external": true,
            "shared": false,
            "status": "ACTIVE",
            "subnets": [],
            "tags": [],
        }),
    )?;
    let project = str_of(&pnet, "project_id")?.to_string();
    ensure!(is_project_id(&project), "project_id {project:?}");
    let created = str_of(&pnet, "created_at")?;
    ensure!(is_neutron_timestamp(created), "created_at {created:?}");
    ensure!(
        pnet["updated_at"] == pnet["created_at"],
        "updated_at {} != created_at {}",
        pnet["updated_at"],
        pnet["created_at"]
    );
    let pnet_id = str_of(&pnet, "id")?.to_string();

    let psub = cli.json(&[
        "subnet",
        "create",
        "--network",
        "octavia-provider-net",
        "--subnet-range",
        "172.23.0.0/24",
        "--allocation-pool",
        "start=172.23.0.71,end=172.23.0.96",
        "--gateway",
        "none",
        "--no-dhcp",
        "octavia-provider-subnet",
    ])?;
    expect_fields(
        "octavia-provider-subnet",
        &psub,
        &json!({
            "allocation_pools": [{"start": "172.23.0.71", "end": "172.23.0.96"}],
            "cidr": "172.23.0.0/24",
            "description": "",
            "dns_nameservers": [],
            "dns_publish_fixed_ip": false,
            "enable_dhcp": false,
            "gateway_ip": null,
            "host_routes": [],
            "ip_version": 4,
            "ipv6_address_mode": null,
            "ipv6_ra_mode": null,
            "name": "octavia-provider-subnet",
            "network_id": pnet_id,
            "project_id": project,
            "revision_number": 0,
            "router:external": true,
            "segment_id": null,
            "service_types": [],
            "subnetpool_id": null,
            "tags": [],
        }),
    )?;
    ensure!(is_neutron_timestamp(str_of(&psub, "created_at")?));
    let psub_id = str_of(&psub, "id")?.to_string();

    let mnet = cli.json(&["network", "create", "lb-mgmt-net"])?;
    expect_fields(
        "lb-mgmt-net",
        &mnet,
        &json!({
            "admin_state_up": true,
            "description": "",
            "mtu": 1450,
            "name": "lb-mgmt-net",
            "port_security_enabled": true,
            "project_id": project,
            "provider:network_type": "vxlan",
            "provider:physical_network": null,
            "provider:segmentation_id": 1,
            "revision_number": 1,
            "router:external": false,
            "shared": false,
            "status": "ACTIVE",
            "subnets": [],
            "tags": [],
        }),
    )?;
    let mnet_id = str_of(&mnet, "id")?.to_string();

    let msub = cli.json(&[
        "subnet",
        "create",
        "--network",
        "lb-mgmt-net",
        "--subnet-range",
        "172.24.0.0/16",
        "--gateway",
        "none",
        "lb-mgmt-subnet",
    ])?;
    // Without a gateway the default pool starts right after the network
    // address (Neutron's ipam_utils.generate_pools).
    expect_fields(
        "lb-mgmt-subnet",
        &msub,
        &json!({
            "allocation_pools": [{"start": "172.24.0.1", "end": "172.24.255.254"}],
            "cidr": "172.24.0.0/16",
            "enable_dhcp": true,
            "gateway_ip": null,
            "host_routes": [],
            "ip_version": 4,
            "name": "lb-mgmt-subnet",
            "network_id": mnet_id,
            "revision_number": 0,
            "router:external": false,
            "tags": [],
        }),
    )?;
    let msub_id = str_of(&msub, "id")?.to_string();

    // ---- the port
    let port = cli.json(&[
        "port",
        "create",
        "--network",
        "lb-mgmt-net",
        "--fixed-ip",
        "subnet=lb-mgmt-subnet",
        "lb-mgmt-router-port",
    ])?;
    expect_fields(
        "lb-mgmt-router-port",
        &port,
        &json!({
            "admin_state_up": true,
            "allowed_address_pairs": [],
            "binding_host_id": "",
            "binding_profile": {},
            "binding_vif_details": {},
            "binding_vif_type": "unbound",
            "binding_vnic_type": "normal",
            "description": "",
            "device_id": "",
            "device_owner": "",
            "dns_name": "",
            "name": "lb-mgmt-router-port",
            "network_id": mnet_id,
            "port_security_enabled": true,
            "project_id": project,
            "revision_number": 1,
            "status": "DOWN",
            "tags": [],
        }),
    )?;
    let port_id = str_of(&port, "id")?.to_string();
    let mac = str_of(&port, "mac_address")?.to_string();
    ensure!(is_neutron_mac(&mac), "mac_address {mac:?}");
    let fixed = port["fixed_ips"].as_array().context("fixed_ips")?;
    ensure!(fixed.len() == 1, "fixed_ips {fixed:?}");
    ensure!(
        fixed[0]["subnet_id"] == json!(msub_id),
        "fixed_ips {fixed:?}"
    );
    let ip = str_of(&fixed[0], "ip_address")?.to_string();
    let octets = ipv4(&ip)?.octets();
    ensure!(
        octets[..2] == [172, 24] && ip != "172.24.0.0" && ip != "172.24.255.255",
        "{ip} is not a host address of 172.24.0.0/16"
    );
    let host = format!("host-{}", ip.replace('.', "-"));
    expect_fields(
        "lb-mgmt-router-port dns_assignment",
        &port,
        &json!({"dns_assignment": [
            {"hostname": host, "ip_address": ip, "fqdn": format!("{host}.openstacklocal.")}
        ]}),
    )?;

    // ---- host route towards the provider network via the port
    cli.run(&[
        "subnet",
        "set",
        "lb-mgmt-subnet",
        "--host-route",
        &format!("destination=172.23.0.0/24,gateway={ip}"),
    ])?;

    // ---- the document's show commands, compared as YAML text
    let expected: String = by_id(vec![
        (pnet_id.clone(), ("octavia-provider-net", psub_id.clone())),
        (mnet_id.clone(), ("lb-mgmt-net", msub_id.clone())),
    ])
    .into_iter()
    .map(|(id, (name, sub))| format!("- ID: {id}\n  Name: {name}\n  Subnets:\n  - {sub}\n"))
    .collect();
    assert_eq!(cli.run(&["network", "list", "-f", "yaml"])?, expected);

    let expected: String = by_id(vec![
        (
            psub_id.clone(),
            ("octavia-provider-subnet", pnet_id.clone(), "172.23.0.0/24"),
        ),
        (
            msub_id.clone(),
            ("lb-mgmt-subnet", mnet_id.clone(), "172.24.0.0/16"),
        ),
    ])
    .into_iter()
    .map(|(id, (name, net, cidr))| {
        format!("- ID: {id}\n  Name: {name}\n  Network: {net}\n  Subnet: {cidr}\n")
    })
    .collect();
    assert_eq!(cli.run(&["subnet", "list", "-f", "yaml"])?, expected);

    assert_eq!(
        cli.run(&[
            "subnet",
            "show",
            "lb-mgmt-subnet",
            "-c",
            "host_routes",
            "-f",
            "yaml"
        ])?,
        format!("host_routes:\n- destination: 172.23.0.0/24\n  nexthop: {ip}\n")
    );

    let shown = cli.run(&["port", "show", "lb-mgmt-router-port", "-f", "yaml"])?;
    let lines: Vec<&str> = shown.lines().collect();
    // No router in this server yet: the port keeps revision 1 and no
    // device (the reference shows 2 and the router after `router add port`).
    for want in [
        "admin_state_up: true".to_string(),
        "allowed_address_pairs: []".into(),
        "binding_host_id: ''".into(),
        "binding_profile: {}".into(),
        "binding_vif_details: {}".into(),
        "binding_vif_type: unbound".into(),
        "binding_vnic_type: normal".into(),
        "description: ''".into(),
        "device_id: ''".into(),
        "device_owner: ''".into(),
        "dns_name: ''".into(),
        format!("id: {port_id}"),
        format!("mac_address: {mac}"),
        "name: lb-mgmt-router-port".into(),
        format!("network_id: {mnet_id}"),
        "port_security_enabled: true".into(),
        format!("project_id: {project}"),
        "revision_number: 1".into(),
        "status: DOWN".into(),
        "tags: []".into(),
    ] {
        ensure!(
            lines.contains(&want.as_str()),
            "`port show -f yaml` lacks the line {want:?}:\n{shown}"
        );
    }
    for block in [
        format!(
            "dns_assignment:\n- fqdn: {host}.openstacklocal.\n  hostname: {host}\n  ip_address: {ip}\n"
        ),
        format!("fixed_ips:\n- ip_address: {ip}\n  subnet_id: {msub_id}\n"),
    ] {
        ensure!(
            shown.contains(&block),
            "`port show -f yaml` lacks\n{block}in:\n{shown}"
        );
    }

    // ---- set / unset, tags
    cli.run(&[
        "network",
        "set",
        "--description",
        "Octavia management",
        "--mtu",
        "1400",
        "--tag",
        "x",
        "lb-mgmt-net",
    ])?;
    let n = cli.json(&["network", "show", "lb-mgmt-net"])?;
    // Revision 1 at create, then one each for the subnet create and the
    // host-route update (a Subnet, and its routes, revise the network in
    // Neutron), the network update, and the tags (a Tag revises its
    // resource).
    expect_fields(
        "lb-mgmt-net after set",
        &n,
        &json!({"description": "Octavia management", "mtu": 1400, "tags": ["x"], "revision_number": 5,
                "subnets": [msub_id]}),
    )?;
    let tagged = cli.json(&["network", "list", "--tags", "x"])?;
    assert_eq!(
        tagged,
        json!([{"ID": mnet_id, "Name": "lb-mgmt-net", "Subnets": [msub_id]}])
    );
    cli.run(&["network", "unset", "--tag", "x", "lb-mgmt-net"])?;
    let n = cli.json(&[
        "network",
        "show",
        "lb-mgmt-net",
        "-c",
        "tags",
        "-c",
        "revision_number",
    ])?;
    assert_eq!(n, json!({"tags": [], "revision_number": 6}));
    assert_eq!(cli.json(&["network", "list", "--tags", "x"])?, json!([]));

    cli.run(&[
        "port",
        "set",
        "--name",
        "lb-mgmt-port-renamed",
        "--tag",
        "p1",
        "lb-mgmt-router-port",
    ])?;
    let p = cli.json(&["port", "show", "lb-mgmt-port-renamed"])?;
    expect_fields(
        "port after set",
        &p,
        &json!({"id": port_id, "name": "lb-mgmt-port-renamed", "tags": ["p1"], "revision_number": 3,
                "mac_address": mac, "fixed_ips": [{"subnet_id": msub_id, "ip_address": ip}]}),
    )?;
    let listed = cli.json(&["port", "list", "--tags", "p1"])?;
    ensure!(
        listed.as_array().map(Vec::len) == Some(1) && listed[0]["ID"] == json!(port_id),
        "port list --tags p1: {listed}"
    );

    cli.run(&["subnet", "set", "--tag", "s1", "lb-mgmt-subnet"])?;
    let s = cli.json(&["subnet", "show", "lb-mgmt-subnet"])?;
    expect_fields(
        "subnet after set",
        &s,
        &json!({"tags": ["s1"], "revision_number": 2,
                "host_routes": [{"destination": "172.23.0.0/24", "nexthop": ip}]}),
    )?;

    // ---- deletes
    let err = cli.fails(&["subnet", "delete", "lb-mgmt-subnet"])?;
    ensure!(
        err.contains("One or more ports have an IP allocation from this subnet"),
        "subnet delete with a port on it: {err}"
    );
    cli.run(&["port", "delete", "lb-mgmt-port-renamed"])?;
    cli.run(&[
        "subnet",
        "delete",
        "lb-mgmt-subnet",
        "octavia-provider-subnet",
    ])?;
    cli.run(&["network", "delete", "lb-mgmt-net", "octavia-provider-net"])?;
    for kind in ["network", "subnet", "port"] {
        assert_eq!(cli.json(&[kind, "list"])?, json!([]), "{kind} list");
    }

    // ---- a wrong password is refused
    let good = std::fs::read_to_string(&cli.clouds)?;
    let bad: String = good
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("password:") {
                "      password: 'not-the-password'\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    ensure!(bad != good, "no password line in clouds.yaml:\n{good}");
    let bad_path = tmp.path().join("bad-clouds.yaml");
    std::fs::write(&bad_path, bad)?;
    let err = Cli::new(&bad_path)?.fails(&["network", "list"])?;
    ensure!(
        err.contains("HTTP 401"),
        "wrong password should give HTTP 401: {err}"
    );

    server.stop()?;
    Ok(())
}

// ------------------------------------------------------------------ 2. openstacksdk

const SDK_SCRIPT: &str = r#"
import json
import openstack

conn = openstack.connect(cloud="neutrino")
out = {}

net = conn.network.create_network(name="sdk-net", description="made by the sdk")
other = conn.network.create_network(name="sdk-other")
sub = conn.network.create_subnet(
    network_id=net.id, name="sdk-subnet", ip_version=4, cidr="10.77.0.0/24"
)
ports = [conn.network.create_port(network_id=net.id, name="sdk-port-%d" % i) for i in range(5)]
out["network"] = {
    "id": net.id, "name": net.name, "description": net.description, "status": net.status,
    "mtu": net.mtu, "revision_number": net.revision_number, "project_id": net.project_id,
    "type": net.provider_network_type, "external": net.is_router_external, "shared": net.is_shared,
}
out["subnet"] = {
    "id": sub.id, "network_id": sub.network_id, "cidr": sub.cidr, "gateway_ip": sub.gateway_ip,
    "allocation_pools": sub.allocation_pools, "dhcp": sub.is_dhcp_enabled,
}
out["ports"] = [
    {"id": p.id, "name": p.name, "mac": p.mac_address, "fixed_ips": p.fixed_ips,
     "status": p.status, "network_id": p.network_id}
    for p in ports
]

# list with filters
out["ports_named_3"] = [p.name for p in conn.network.ports(network_id=net.id, name="sdk-port-3")]
out["networks_named"] = [n.id for n in conn.network.networks(name="sdk-net")]
out["subnets_on_net"] = [s.id for s in conn.network.subnets(network_id=net.id)]
out["subnets_on_other"] = [s.id for s in conn.network.subnets(network_id=other.id)]
out["found"] = conn.network.find_network("sdk-net").id

# update
p = conn.network.update_port(ports[1], name="sdk-renamed", description="changed")
out["updated_port"] = {"name": p.name, "description": p.description,
                       "revision_number": p.revision_number, "fixed_ips": p.fixed_ips}
n = conn.network.update_network(net, description="changed too", mtu=1300)
out["updated_network"] = {"description": n.description, "mtu": n.mtu,
                          "revision_number": n.revision_number}
conn.network.set_tags(ports[0], ["blue"])
out["tagged_port"] = {"tags": conn.network.get_port(ports[0].id).tags,
                      "revision_number": conn.network.get_port(ports[0].id).revision_number}
out["blue_ports"] = [p.id for p in conn.network.ports(tags="blue")]

# pagination: record every page the sdk fetches
pages = []
real_get = conn.network.get
def recording_get(url, *args, **kwargs):
    resp = real_get(url, *args, **kwargs)
    if "ports" in url:
        pages.append({"url": url, "params": kwargs.get("params"),
                      "count": len(resp.json().get("ports", []))})
    return resp
conn.network.get = recording_get
out["paged_ids"] = [p.id for p in conn.network.ports(limit=2)]
conn.network.get = real_get
out["pages"] = pages

try:
    conn.network.get_network("00000000-0000-0000-0000-000000000000")
    out["missing"] = "found"
except openstack.exceptions.ResourceNotFound:
    out["missing"] = "not found"

# delete
for p in ports:
    conn.network.delete_port(p)
conn.network.delete_subnet(sub)
conn.network.delete_network(net)
conn.network.delete_network(other)
out["after"] = {
    "networks": len(list(conn.network.networks())),
    "subnets": len(list(conn.network.subnets())),
    "ports": len(list(conn.network.ports())),
}
print(json.dumps(out))
"#;

/// openstacksdk against `neutrino up`: create, filtered lists, updates,
/// tags, pagination and deletes, reported as JSON by the script.
#[tokio::test]
async fn e2e_openstacksdk_sqlite() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let server = Server::up(&dir, &tmp.path().join("neutrino.log"), two_ports(), &[])?;
    let script = tmp.path().join("sdk_check.py");
    std::fs::write(&script, SDK_SCRIPT)?;
    let mut cmd = Command::new(venv_bin("python")?);
    cmd.arg(&script).stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("OS_CLOUD", "neutrino")
        .env("OS_CLIENT_CONFIG_FILE", dir.join("clouds.yaml"))
        .output()?;
    ensure!(
        out.status.success(),
        "sdk script failed ({}):\n{}\n--- server log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        server.log_text()
    );
    let stdout = String::from_utf8(out.stdout)?;
    let r: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .with_context(|| format!("sdk script printed no JSON: {stdout}"))?;

    let net_id = str_of(&r["network"], "id")?;
    expect_fields(
        "sdk network",
        &r["network"],
        &json!({"name": "sdk-net", "description": "made by the sdk", "status": "ACTIVE",
                "mtu": 1442, "revision_number": 1, "type": "geneve", "external": false, "shared": false}),
    )?;
    ensure!(is_project_id(str_of(&r["network"], "project_id")?));
    let sub_id = str_of(&r["subnet"], "id")?;
    expect_fields(
        "sdk subnet",
        &r["subnet"],
        &json!({"network_id": net_id, "cidr": "10.77.0.0/24", "gateway_ip": "10.77.0.1",
                "allocation_pools": [{"start": "10.77.0.2", "end": "10.77.0.254"}], "dhcp": true}),
    )?;
    let ports = r["ports"].as_array().context("ports")?;
    ensure!(ports.len() == 5);
    let mut port_ids: Vec<&str> = Vec::new();
    let mut ips = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        expect_fields(
            "sdk port",
            p,
            &json!({"name": format!("sdk-port-{i}"), "status": "DOWN", "network_id": net_id}),
        )?;
        ensure!(is_neutron_mac(str_of(p, "mac")?), "mac of {p}");
        let f = &p["fixed_ips"][0];
        ensure!(f["subnet_id"] == json!(sub_id), "fixed_ips of {p}");
        let ip = ipv4(str_of(f, "ip_address")?)?;
        ensure!(
            ip.octets()[..3] == [10, 77, 0] && (2..=254).contains(&ip.octets()[3]),
            "{ip} outside the pool"
        );
        ips.push(ip);
        port_ids.push(str_of(p, "id")?);
    }
    ips.sort();
    ips.dedup();
    ensure!(ips.len() == 5, "ports share addresses: {ports:?}");

    assert_eq!(r["ports_named_3"], json!(["sdk-port-3"]));
    assert_eq!(r["networks_named"], json!([net_id]));
    assert_eq!(r["subnets_on_net"], json!([sub_id]));
    assert_eq!(r["subnets_on_other"], json!([]));
    assert_eq!(r["found"], json!(net_id));
    expect_fields(
        "updated port",
        &r["updated_port"],
        &json!({"name": "sdk-renamed", "description": "changed", "revision_number": 2,
                "fixed_ips": ports[1]["fixed_ips"]}),
    )?;
    expect_fields(
        "updated network",
        &r["updated_network"],
        // 1 at create, 2 once the subnet was added, 3 after the update.
        &json!({"description": "changed too", "mtu": 1300, "revision_number": 3}),
    )?;
    assert_eq!(
        r["tagged_port"],
        json!({"tags": ["blue"], "revision_number": 2})
    );
    assert_eq!(r["blue_ports"], json!([port_ids[0]]));

    // limit=2 over 5 ports: every port once, in pages of at most two.
    let mut paged: Vec<&str> = r["paged_ids"]
        .as_array()
        .context("paged_ids")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    paged.sort();
    let mut want = port_ids.clone();
    want.sort();
    assert_eq!(paged, want, "ports(limit=2) must yield all 5 ports once");
    let pages = r["pages"].as_array().context("pages")?;
    ensure!(
        pages.len() >= 3 && pages.iter().all(|p| p["count"].as_u64() <= Some(2)),
        "expected pages of at most 2 ports: {pages:#?}"
    );

    assert_eq!(r["missing"], json!("not found"));
    assert_eq!(r["after"], json!({"networks": 0, "subnets": 0, "ports": 0}));
    server.stop()?;
    Ok(())
}

// ------------------------------------------------------------------ 3. PostgreSQL

/// `neutrino serve` on a fresh PostgreSQL database: the CLI creates and
/// lists resources, and they survive a restart on the same database.
#[tokio::test]
async fn e2e_serve_on_postgres() -> Result<()> {
    let Some(url) = neutrino_testkit::postgres_database_or_skip().await? else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let log = tmp.path().join("neutrino.log");
    let ports = two_ports();
    let password = "e2e-Pg-Secret-1";
    // No --token-secret-file: the default file lands in the working directory.
    let args = ["--database-url", url.as_str(), "--admin-password", password];
    let server = Server::serve(tmp.path(), &log, ports, &args).await?;
    ensure!(
        !tmp.path().join("clouds.yaml").exists(),
        "serve must not write clouds.yaml"
    );
    let cli = Cli::new(&write_clouds_yaml(tmp.path(), ports.0, password)?)?;

    let net = cli.json(&["network", "create", "pg-net"])?;
    expect_fields(
        "pg-net",
        &net,
        &json!({"name": "pg-net", "status": "ACTIVE", "revision_number": 1, "mtu": 1442,
                "provider:network_type": "geneve"}),
    )?;
    let net_id = str_of(&net, "id")?.to_string();
    let seg = net["provider:segmentation_id"].clone();
    ensure!(seg.is_u64(), "segmentation id {seg}");
    let sub = cli.json(&[
        "subnet",
        "create",
        "--network",
        "pg-net",
        "--subnet-range",
        "10.20.0.0/24",
        "pg-subnet",
    ])?;
    let sub_id = str_of(&sub, "id")?.to_string();
    expect_fields(
        "pg-subnet",
        &sub,
        &json!({"network_id": net_id, "gateway_ip": "10.20.0.1",
                "allocation_pools": [{"start": "10.20.0.2", "end": "10.20.0.254"}]}),
    )?;
    let port = cli.json(&["port", "create", "--network", "pg-net", "pg-port"])?;
    let port_id = str_of(&port, "id")?.to_string();
    let mac = str_of(&port, "mac_address")?.to_string();
    let fixed = port["fixed_ips"].clone();
    ensure!(fixed[0]["subnet_id"] == json!(sub_id), "fixed_ips {fixed}");

    let expect_lists = |cli: &Cli| -> Result<()> {
        assert_eq!(
            cli.json(&["network", "list"])?,
            json!([{"ID": net_id, "Name": "pg-net", "Subnets": [sub_id]}])
        );
        assert_eq!(
            cli.json(&["subnet", "list"])?,
            json!([{"ID": sub_id, "Name": "pg-subnet", "Network": net_id, "Subnet": "10.20.0.0/24"}])
        );
        assert_eq!(
            cli.json(&["port", "list"])?,
            json!([{"ID": port_id, "Name": "pg-port", "MAC Address": mac,
                    "Fixed IP Addresses": fixed, "Status": "DOWN"}])
        );
        Ok(())
    };
    expect_lists(&cli)?;

    server.stop()?;
    ensure!(
        tmp.path().join("token-secret").is_file(),
        "serve should create token-secret in its working directory"
    );
    let server = Server::serve(tmp.path(), &log, ports, &args).await?;
    expect_lists(&cli)?;
    // The segment allocation survived too: a new network gets another id.
    let net2 = cli.json(&["network", "create", "pg-net-2"])?;
    ensure!(
        net2["provider:segmentation_id"].is_u64() && net2["provider:segmentation_id"] != seg,
        "segmentation id {} reused after restart (first network has {seg})",
        net2["provider:segmentation_id"]
    );
    server.stop()?;
    Ok(())
}

// ------------------------------------------------------------------ 4. `neutrino up` lifecycle

fn help(args: &[&str]) -> Result<String> {
    let out = neutrino(Path::new(".")).args(args).output()?;
    ensure!(
        out.status.success(),
        "neutrino {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

/// The single-quoted `password:` of a clouds.yaml `neutrino` writes.
fn clouds_password(dir: &Path) -> Result<String> {
    let text = std::fs::read_to_string(dir.join("clouds.yaml"))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .map(|p| p.trim_matches('\'').replace("''", "'"))
        .with_context(|| format!("no password in clouds.yaml:\n{text}"))
}

fn request_id(resp: &reqwest::Response) -> Result<String> {
    let id = resp
        .headers()
        .get("x-openstack-request-id")
        .context("no x-openstack-request-id header")?
        .to_str()?
        .to_string();
    ensure!(is_request_id(&id), "request id {id:?}");
    Ok(id)
}

/// A token for admin, or the HTTP status of the refusal.
async fn login(
    http: &reqwest::Client,
    server: &Server,
    password: &str,
) -> Result<std::result::Result<String, u16>> {
    let resp = http
        .post(format!("{}/v3/auth/tokens", server.identity_url()))
        .json(&json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}
        }}))
        .send()
        .await
        .with_context(|| format!("POST /v3/auth/tokens; server log:\n{}", server.log_text()))?;
    request_id(&resp)?;
    if resp.status().as_u16() != 201 {
        return Ok(Err(resp.status().as_u16()));
    }
    Ok(Ok(resp
        .headers()
        .get("x-subject-token")
        .context("no X-Subject-Token")?
        .to_str()?
        .to_string()))
}

/// Waits for a process that must exit by itself, killing it after `limit`.
fn wait_exit(mut child: ChildGuard, limit: Duration) -> Result<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("process still running after {limit:?}")
}

/// `neutrino up`: help texts, clouds.yaml, request ids, a second instance on
/// busy ports, SIGTERM, and a restart keeping data and password.
#[tokio::test]
async fn e2e_up_lifecycle() -> Result<()> {
    // ---- help
    let top = help(&["--help"])?;
    for want in ["Usage:", "serve", "up", "--log-format"] {
        ensure!(top.contains(want), "neutrino --help lacks {want:?}:\n{top}");
    }
    let up_help = help(&["up", "--help"])?;
    for want in [
        "Usage:",
        "--data-dir",
        "--identity-listen",
        "--network-listen",
    ] {
        ensure!(
            up_help.contains(want),
            "neutrino up --help lacks {want:?}:\n{up_help}"
        );
    }
    let serve_help = help(&["serve", "--help"])?;
    for want in ["Usage:", "--database-url", "--admin-password", "--config"] {
        ensure!(
            serve_help.contains(want),
            "neutrino serve --help lacks {want:?}:\n{serve_help}"
        );
    }

    // ---- first start
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let log = tmp.path().join("neutrino.log");
    let ports = two_ports();
    let server = Server::up(&dir, &log, ports, &[])?;
    let clouds = dir.join("clouds.yaml");
    assert_eq!(mode_of(&clouds)?, 0o600, "clouds.yaml holds a password");
    assert_eq!(mode_of(&dir.join("admin-password"))?, 0o600);
    let password = std::fs::read_to_string(dir.join("admin-password"))?
        .trim()
        .to_string();
    ensure!(!password.is_empty());
    assert_eq!(clouds_password(&dir)?, password);
    let text = std::fs::read_to_string(&clouds)?;
    ensure!(
        text.contains(&format!("auth_url: 'http://127.0.0.1:{}/v3'", ports.0)),
        "clouds.yaml auth_url:\n{text}"
    );

    // ---- request ids on both APIs, and in the log
    let http = reqwest::Client::new();
    let resp = http.get(server.identity_url() + "/v3").send().await?;
    assert_eq!(resp.status().as_u16(), 200);
    request_id(&resp)?;
    assert_eq!(
        login(&http, &server, "wrong-password").await?,
        Err(401),
        "a wrong password must be refused"
    );
    let token = login(&http, &server, &password)
        .await?
        .map_err(|s| anyhow::anyhow!("login failed with {s}"))?;
    let resp = http
        .post(server.network_url() + "/v2.0/networks")
        .header("x-auth-token", &token)
        .json(&json!({"network": {"name": "persist-me"}}))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 201);
    let rid = request_id(&resp)?;
    let body: Value = resp.json().await?;
    let net_id = str_of(&body["network"], "id")?.to_string();
    let resp = http
        .get(server.network_url() + "/v2.0/networks")
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 401, "no token, no networks");
    request_id(&resp)?;
    let in_log = || {
        server
            .log_text()
            .lines()
            .any(|l| l.contains(&rid) && l.contains("/v2.0/networks"))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !in_log() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    ensure!(
        in_log(),
        "the log has no line with request id {rid}:\n{}",
        server.log_text()
    );

    // ---- a second `up` on the same ports (and dir) fails clearly, and
    // leaves the running server and its clouds.yaml alone
    let second_log = tmp.path().join("second.log");
    let second = Server::spawn(
        tmp.path(),
        &second_log,
        ports,
        &[
            "up",
            "--no-data-plane",
            "--data-dir",
            dir.to_str().context("dir")?,
        ],
    )?;
    let status = wait_exit(second.child, Duration::from_secs(30))?;
    let err = std::fs::read_to_string(&second_log)?;
    ensure!(!status.success(), "second up exited with {status}");
    ensure!(
        err.contains(&format!("cannot listen on 127.0.0.1:{}", ports.0))
            && err.contains("Address already in use"),
        "second up should say which address is in use:\n{err}"
    );
    ensure!(
        clouds.is_file(),
        "the failed second up removed the running server's clouds.yaml"
    );
    let resp = http
        .get(format!("{}/v2.0/networks/{net_id}", server.network_url()))
        .header("x-auth-token", &token)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200, "first server still serves");

    // ---- SIGTERM, with the client's keep-alive connections still open
    let log_before = server.log_text();
    server.stop()?;
    let log_after = std::fs::read_to_string(&log)?;
    let tail = &log_after[log_before.len()..];
    ensure!(
        tail.contains("SIGTERM received") && tail.contains("stopped"),
        "log after SIGTERM:\n{tail}"
    );
    ensure!(
        !dir.join("clouds.yaml").exists(),
        "clouds.yaml must go with the server, so its presence means ready"
    );

    // ---- restart on the same dir (and ports): same password, same data
    let server = Server::up(&dir, &log, ports, &[])?;
    assert_eq!(
        std::fs::read_to_string(dir.join("admin-password"))?.trim(),
        password
    );
    assert_eq!(clouds_password(&dir)?, password);
    assert_eq!(mode_of(&clouds)?, 0o600);
    let http = reqwest::Client::new();
    let token = login(&http, &server, &password)
        .await?
        .map_err(|s| anyhow::anyhow!("login after restart failed with {s}"))?;
    let resp = http
        .get(server.network_url() + "/v2.0/networks?name=persist-me")
        .header("x-auth-token", &token)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await?;
    let ids: Vec<&str> = body["networks"]
        .as_array()
        .context("networks")?
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(ids, vec![net_id.as_str()], "network lost over the restart");
    server.stop()?;
    Ok(())
}

// ------------------------------------------------------------------ 5. routers, security groups, floating IPs, quotas, RBAC

/// A clouds.yaml for another user of the same cloud: `base` with the
/// username, password and project replaced.
fn clouds_yaml_for(
    base: &Path,
    out: &Path,
    user: &str,
    password: &str,
    project: &str,
) -> Result<PathBuf> {
    let text = std::fs::read_to_string(base)?;
    let mut replaced = 0;
    let new: String = text
        .lines()
        .map(|l| {
            let indent = &l[..l.len() - l.trim_start().len()];
            let key = l.trim_start().split(':').next().unwrap_or("");
            let value = match key {
                "username" => user,
                "password" => password,
                "project_name" => project,
                _ => return format!("{l}\n"),
            };
            replaced += 1;
            format!("{indent}{key}: '{value}'\n")
        })
        .collect();
    ensure!(
        replaced == 3,
        "clouds.yaml without user/password/project:\n{text}"
    );
    std::fs::write(out, new)?;
    Ok(out.to_path_buf())
}

/// The `Limit` of one `Resource` in `openstack quota show -f json`.
fn quota_limit(rows: &Value, resource: &str) -> Result<Value> {
    rows.as_array()
        .context("quota show prints a list")?
        .iter()
        .find(|r| r["Resource"] == json!(resource))
        .map(|r| r["Limit"].clone())
        .with_context(|| format!("no {resource} in {rows}"))
}

/// Ensures the YAML text `shown` (the output of `what`) contains every line
/// of `lines` and every block of `blocks`.
fn expect_yaml(what: &str, shown: &str, lines: &[String], blocks: &[String]) -> Result<()> {
    let have: Vec<&str> = shown.lines().collect();
    let mut bad = Vec::new();
    for l in lines {
        if !have.contains(&l.as_str()) {
            bad.push(format!("the line {l:?}"));
        }
    }
    for b in blocks {
        if !shown.contains(b.as_str()) {
            bad.push(format!("the block\n{b}"));
        }
    }
    ensure!(
        bad.is_empty(),
        "`{what}` lacks {}\nin:\n{shown}",
        bad.join("\n")
    );
    Ok(())
}

/// Document 000 completed: the Octavia management topology with its router
/// (`octavia-link-router`, SNAT off, a fixed external IP, the interface added
/// by port, the host route back), the security groups of document 003, then
/// floating IPs on a tenant router, quotas and network RBAC, all through the
/// real `openstack` CLI against `neutrino up`. Expected values come from the
/// recorded upstream run (`../shared/peer/smoke-reference.txt`) and
/// issue 3's "Done means".
#[tokio::test]
async fn e2e_openstack_cli_document_000_routers() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let server = Server::up(
        &dir,
        &tmp.path().join("neutrino.log"),
        two_ports(),
        &["--tenant-network-type", "vxlan"],
    )?;
    let cli = Cli::new(&dir.join("clouds.yaml"))?;

    // ---- networks and subnets, as in the document-000 test
    let pnet = cli.json(&[
        "network",
        "create",
        "--provider-network-type",
        "flat",
        "--provider-physical-network",
        "octavia",
        "--external",
        "octavia-provider-net",
    ])?;
    let pnet_id = str_of(&pnet, "id")?.to_string();
    let project = str_of(&pnet, "project_id")?.to_string();
    ensure!(is_project_id(&project), "project_id {project:?}");
    let psub = cli.json(&[
        "subnet",
        "create",
        "--network",
        "octavia-provider-net",
        "--subnet-range",
        "172.23.0.0/24",
        "--allocation-pool",
        "start=172.23.0.71,end=172.23.0.96",
        "--gateway",
        "none",
        "--no-dhcp",
        "octavia-provider-subnet",
    ])?;
    let psub_id = str_of(&psub, "id")?.to_string();
    let mnet = cli.json(&["network", "create", "lb-mgmt-net"])?;
    let mnet_id = str_of(&mnet, "id")?.to_string();
    let msub = cli.json(&[
        "subnet",
        "create",
        "--network",
        "lb-mgmt-net",
        "--subnet-range",
        "172.24.0.0/16",
        "--gateway",
        "none",
        "lb-mgmt-subnet",
    ])?;
    let msub_id = str_of(&msub, "id")?.to_string();

    // ---- the router, its gateway, the interface by port, the host route
    let router = cli.json(&["router", "create", "octavia-link-router"])?;
    expect_fields(
        "octavia-link-router",
        &router,
        &json!({
            "admin_state_up": true,
            "availability_zone_hints": [],
            "availability_zones": [],
            "description": "",
            "external_gateway_info": null,
            "name": "octavia-link-router",
            "project_id": project,
            "revision_number": 1,
            "routes": [],
            "status": "ACTIVE",
            "tags": [],
        }),
    )?;
    ensure!(is_neutron_timestamp(str_of(&router, "created_at")?));
    let router_id = str_of(&router, "id")?.to_string();
    cli.run(&[
        "router",
        "set",
        "octavia-link-router",
        "--external-gateway",
        "octavia-provider-net",
        "--fixed-ip",
        "subnet=octavia-provider-subnet,ip-address=172.23.0.150",
        "--disable-snat",
    ])?;
    let port = cli.json(&[
        "port",
        "create",
        "--network",
        "lb-mgmt-net",
        "--fixed-ip",
        "subnet=lb-mgmt-subnet",
        "lb-mgmt-router-port",
    ])?;
    let port_id = str_of(&port, "id")?.to_string();
    let fixed = port["fixed_ips"].as_array().context("fixed_ips")?;
    ensure!(
        fixed.len() == 1 && fixed[0]["subnet_id"] == json!(msub_id),
        "fixed_ips {fixed:?}"
    );
    let ip = str_of(&fixed[0], "ip_address")?.to_string();
    ensure!(
        ipv4(&ip)?.octets()[..2] == [172, 24],
        "{ip} not in 172.24.0.0/16"
    );
    cli.run(&[
        "router",
        "add",
        "port",
        "octavia-link-router",
        "lb-mgmt-router-port",
    ])?;
    cli.run(&[
        "subnet",
        "set",
        "lb-mgmt-subnet",
        "--host-route",
        &format!("destination=172.23.0.0/24,gateway={ip}"),
    ])?;

    // ---- the document's show commands
    let shown = cli.run(&["router", "show", "-f", "yaml", "octavia-link-router"])?;
    expect_yaml(
        "router show -f yaml octavia-link-router",
        &shown,
        &[
            "admin_state_up: true".into(),
            format!("id: {router_id}"),
            "name: octavia-link-router".into(),
            format!("project_id: {project}"),
            "routes: []".into(),
            "status: ACTIVE".into(),
        ],
        &[
            format!(
                "external_gateway_info:\n  enable_snat: false\n  external_fixed_ips:\n  \
                 - ip_address: 172.23.0.150\n    subnet_id: {psub_id}\n  network_id: {pnet_id}\n"
            ),
            format!(
                "interfaces_info:\n- ip_address: {ip}\n  port_id: {port_id}\n  subnet_id: {msub_id}\n"
            ),
        ],
    )?;
    assert_eq!(
        cli.run(&[
            "subnet",
            "show",
            "lb-mgmt-subnet",
            "-c",
            "host_routes",
            "-f",
            "yaml"
        ])?,
        format!("host_routes:\n- destination: 172.23.0.0/24\n  nexthop: {ip}\n")
    );
    let groups = cli.json(&["security", "group", "list"])?;
    let default_sg = groups
        .as_array()
        .context("security group list")?
        .iter()
        .find(|g| g["Name"] == json!("default") && g["Project"] == json!(project))
        .and_then(|g| g["ID"].as_str())
        .with_context(|| format!("no default group of {project} in {groups}"))?
        .to_string();
    let shown = cli.run(&["port", "show", "lb-mgmt-router-port", "-f", "yaml"])?;
    expect_yaml(
        "port show lb-mgmt-router-port -f yaml",
        &shown,
        &[
            format!("device_id: {router_id}"),
            "device_owner: network:router_interface".into(),
            format!("id: {port_id}"),
            "name: lb-mgmt-router-port".into(),
            format!("network_id: {mnet_id}"),
            "port_security_enabled: true".into(),
            format!("project_id: {project}"),
            // One revision more than at create: the router took it.
            "revision_number: 2".into(),
            "status: DOWN".into(),
        ],
        &[
            format!("fixed_ips:\n- ip_address: {ip}\n  subnet_id: {msub_id}\n"),
            format!("security_group_ids:\n- {default_sg}\n"),
        ],
    )?;

    // The gateway port: the router's, in no project (admin sees it).
    let gw_ports = cli.json(&[
        "port",
        "list",
        "--device-owner",
        "network:router_gateway",
        "--long",
    ])?;
    let gw_ports = gw_ports.as_array().context("port list")?;
    ensure!(gw_ports.len() == 1, "gateway ports: {gw_ports:?}");
    assert_eq!(
        gw_ports[0]["Fixed IP Addresses"],
        json!([{"ip_address": "172.23.0.150", "subnet_id": psub_id}])
    );
    let gw_port = cli.json(&["port", "show", str_of(&gw_ports[0], "ID")?])?;
    expect_fields(
        "gateway port",
        &gw_port,
        &json!({"device_id": router_id, "device_owner": "network:router_gateway",
                "network_id": pnet_id, "project_id": ""}),
    )?;
    let by_router = cli.json(&["port", "list", "--router", "octavia-link-router"])?;
    ensure!(
        by_router.as_array().map(Vec::len) == Some(2),
        "port list --router: {by_router}"
    );

    // Router ports are the router's to manage.
    let err = cli.fails(&["port", "delete", "lb-mgmt-router-port"])?;
    ensure!(
        err.contains(&format!(
            "Port {port_id} cannot be deleted directly via the port API: has device owner network:router_interface"
        )),
        "port delete of a router interface: {err}"
    );
    let err = cli.fails(&["router", "delete", "octavia-link-router"])?;
    ensure!(
        err.contains(&format!("Router {router_id} still has ports")),
        "router delete with an interface: {err}"
    );

    // ---- the security groups of document 003 / domain-facts §1.1
    let mut rule_ids = Vec::new();
    let mut sg_ids = Vec::new();
    for (group, proto, ports) in [
        ("lb-mgmt-sec-grp", "tcp", &["22", "9443"][..]),
        ("lb-health-mgr-sec-grp", "udp", &["5555"][..]),
    ] {
        let sg = cli.json(&["security", "group", "create", group])?;
        expect_fields(
            group,
            &sg,
            &json!({"name": group, "project_id": project, "stateful": true, "tags": []}),
        )?;
        sg_ids.push(str_of(&sg, "id")?.to_string());
        for port in ports {
            for ethertype in ["IPv4", "IPv6"] {
                let rule = cli.json(&[
                    "security",
                    "group",
                    "rule",
                    "create",
                    "--protocol",
                    proto,
                    "--dst-port",
                    port,
                    "--ethertype",
                    ethertype,
                    group,
                ])?;
                let n: u64 = port.parse()?;
                expect_fields(
                    &format!("{group} rule {proto} {port} {ethertype}"),
                    &rule,
                    &json!({"direction": "ingress", "ether_type": ethertype, "protocol": proto,
                            "port_range_min": n, "port_range_max": n, "remote_group_id": null,
                            "security_group_id": sg["id"]}),
                )?;
                rule_ids.push((group, str_of(&rule, "id")?.to_string()));
            }
        }
        // The same rule again is refused.
        let err = cli.fails(&[
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            proto,
            "--dst-port",
            ports[0],
            group,
        ])?;
        ensure!(
            err.contains("Security group rule already exists"),
            "duplicate rule: {err}"
        );
    }
    for (group, want) in [
        (
            "lb-mgmt-sec-grp",
            vec![
                ("IPv4", "tcp", 22),
                ("IPv6", "tcp", 22),
                ("IPv4", "tcp", 9443),
                ("IPv6", "tcp", 9443),
            ],
        ),
        (
            "lb-health-mgr-sec-grp",
            vec![("IPv4", "udp", 5555), ("IPv6", "udp", 5555)],
        ),
    ] {
        let shown = cli.run(&["security", "group", "show", "-f", "yaml", group])?;
        ensure!(
            shown.lines().any(|l| l == format!("name: {group}")),
            "security group show {group}:\n{shown}"
        );
        let sg = cli.json(&["security", "group", "show", group])?;
        let mut ingress: Vec<(String, String, u64)> = Vec::new();
        let mut egress: Vec<String> = Vec::new();
        for r in sg["rules"].as_array().context("rules")? {
            let ethertype = str_of(r, "ethertype")?.to_string();
            if r["direction"] == json!("egress") {
                ensure!(r["protocol"].is_null(), "default egress rule {r}");
                egress.push(ethertype);
                continue;
            }
            ensure!(
                r["port_range_min"] == r["port_range_max"] && r["remote_group_id"].is_null(),
                "rule {r}"
            );
            let id = str_of(r, "id")?;
            ensure!(
                rule_ids.iter().any(|(g, i)| *g == group && i == id),
                "rule {id} of {group} was not created here"
            );
            ingress.push((
                ethertype,
                str_of(r, "protocol")?.to_string(),
                r["port_range_min"].as_u64().context("port")?,
            ));
        }
        ingress.sort();
        egress.sort();
        let mut want: Vec<(String, String, u64)> = want
            .into_iter()
            .map(|(e, p, n)| (e.to_string(), p.to_string(), n))
            .collect();
        want.sort();
        assert_eq!(ingress, want, "ingress rules of {group}");
        assert_eq!(egress, ["IPv4", "IPv6"], "egress rules of {group}");
    }
    // The router port takes the two groups, as octavia-operator creates it.
    cli.run(&[
        "port",
        "set",
        "--no-security-group",
        "--security-group",
        "lb-mgmt-sec-grp",
        "--security-group",
        "lb-health-mgr-sec-grp",
        "lb-mgmt-router-port",
    ])?;
    let p = cli.json(&["port", "show", "lb-mgmt-router-port"])?;
    let mut have: Vec<&str> = p["security_group_ids"]
        .as_array()
        .context("security_group_ids")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    have.sort();
    let mut want: Vec<&str> = sg_ids.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(have, want, "security groups of lb-mgmt-router-port");
    expect_fields(
        "lb-mgmt-router-port with its groups",
        &p,
        &json!({"device_owner": "network:router_interface", "device_id": router_id,
                "status": "DOWN", "revision_number": 3}),
    )?;

    // ---- network RBAC: the wildcard access_as_external policy, re-targeted
    let rbacs = cli.json(&["network", "rbac", "list", "--long"])?;
    let rbacs = rbacs.as_array().context("network rbac list")?;
    let pnet_rbac: Vec<&Value> = rbacs
        .iter()
        .filter(|r| r["Object ID"] == json!(pnet_id))
        .collect();
    ensure!(
        pnet_rbac.len() == 1,
        "policies of the provider net: {rbacs:?}"
    );
    expect_fields(
        "provider net policy in the list",
        pnet_rbac[0],
        &json!({"Object Type": "network", "Action": "access_as_external"}),
    )?;
    let rbac_id = str_of(pnet_rbac[0], "ID")?.to_string();
    expect_fields(
        "provider net policy",
        &cli.json(&["network", "rbac", "show", &rbac_id])?,
        &json!({"action": "access_as_external", "object_id": pnet_id, "object_type": "network",
                "project_id": project, "target_project_id": "*"}),
    )?;

    // ---- a tenant: project, user, member role, its own clouds.yaml
    let demo_project = cli.json(&["project", "create", "demo"])?;
    let demo_project_id = str_of(&demo_project, "id")?.to_string();
    cli.run(&[
        "user",
        "create",
        "--project",
        "demo",
        "--password",
        "demo-Secret-1",
        "demo",
    ])?;
    cli.run(&[
        "role",
        "add",
        "--project",
        "demo",
        "--user",
        "demo",
        "member",
    ])?;
    let demo = Cli::new(&clouds_yaml_for(
        &cli.clouds,
        &tmp.path().join("demo-clouds.yaml"),
        "demo",
        "demo-Secret-1",
        "demo",
    )?)?;
    let visible = |cli: &Cli| -> Result<Vec<String>> {
        let mut names: Vec<String> = cli
            .json(&["network", "list"])?
            .as_array()
            .context("network list")?
            .iter()
            .filter_map(|n| n["Name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    };
    assert_eq!(
        visible(&demo)?,
        ["octavia-provider-net"],
        "the wildcard policy shows the external network to every project"
    );
    cli.run(&[
        "network",
        "rbac",
        "set",
        "--target-project",
        &project,
        &rbac_id,
    ])?;
    expect_fields(
        "re-targeted policy",
        &cli.json(&["network", "rbac", "show", &rbac_id])?,
        &json!({"action": "access_as_external", "object_id": pnet_id, "target_project_id": project}),
    )?;
    assert_eq!(
        visible(&demo)?,
        Vec::<String>::new(),
        "re-targeted to the admin project, the provider net is the admin's alone"
    );

    // ---- floating IPs: an external network `public` (admin), a tenant router
    cli.run(&["network", "create", "--external", "public"])?;
    let pubsub = cli.json(&[
        "subnet",
        "create",
        "--network",
        "public",
        "--subnet-range",
        "203.0.113.0/24",
        "public-subnet",
    ])?;
    let public_id = str_of(&pubsub, "network_id")?.to_string();
    assert_eq!(visible(&demo)?, ["public"]);
    demo.run(&["network", "create", "demo-net"])?;
    demo.run(&[
        "subnet",
        "create",
        "--network",
        "demo-net",
        "--subnet-range",
        "10.10.0.0/24",
        "demo-subnet",
    ])?;
    let demo_router = demo.json(&["router", "create", "demo-router"])?;
    let demo_router_id = str_of(&demo_router, "id")?.to_string();
    demo.run(&[
        "router",
        "set",
        "demo-router",
        "--external-gateway",
        "public",
    ])?;
    let gw = demo.json(&[
        "router",
        "show",
        "demo-router",
        "-c",
        "external_gateway_info",
    ])?;
    let gwi = &gw["external_gateway_info"];
    ensure!(
        gwi["network_id"] == json!(public_id)
            && gwi["enable_snat"] == json!(true)
            && gwi["external_fixed_ips"].as_array().map(Vec::len) == Some(1),
        "demo-router gateway: {gw}"
    );
    // SNAT is the admin's to turn off.
    let err = demo.fails(&[
        "router",
        "set",
        "demo-router",
        "--external-gateway",
        "public",
        "--disable-snat",
    ])?;
    ensure!(err.contains("403"), "non-admin --disable-snat: {err}");
    demo.run(&["router", "add", "subnet", "demo-router", "demo-subnet"])?;
    let vm = demo.json(&["port", "create", "--network", "demo-net", "demo-vm-port"])?;
    let vm_id = str_of(&vm, "id")?.to_string();
    let vm_ip = str_of(&vm["fixed_ips"][0], "ip_address")?.to_string();

    let fip = demo.json(&["floating", "ip", "create", "public"])?;
    expect_fields(
        "floating ip",
        &fip,
        &json!({"floating_network_id": public_id, "port_id": null, "fixed_ip_address": null,
                "router_id": null, "status": "DOWN", "project_id": demo_project_id}),
    )?;
    let fip_id = str_of(&fip, "id")?.to_string();
    let fip_ip = ipv4(str_of(&fip, "floating_ip_address")?)?;
    ensure!(
        fip_ip.octets()[..3] == [203, 0, 113],
        "{fip_ip} not on public"
    );
    demo.run(&["floating", "ip", "set", "--port", "demo-vm-port", &fip_id])?;
    expect_fields(
        "associated floating ip",
        &demo.json(&["floating", "ip", "show", &fip_id])?,
        &json!({"port_id": vm_id, "fixed_ip_address": vm_ip, "router_id": demo_router_id,
                "floating_ip_address": fip_ip.to_string()}),
    )?;
    let listed = demo.json(&["floating", "ip", "list"])?;
    ensure!(
        listed.as_array().map(Vec::len) == Some(1)
            && listed[0]["Port"] == json!(vm_id)
            && listed[0]["Fixed IP Address"] == json!(vm_ip),
        "floating ip list: {listed}"
    );
    // While the address is in use, the gateway and the interface stay.
    let err = demo.fails(&["router", "unset", "--external-gateway", "demo-router"])?;
    ensure!(
        err.contains("required by one or more floating IPs"),
        "gateway removal under a floating IP: {err}"
    );
    let err = demo.fails(&["router", "remove", "subnet", "demo-router", "demo-subnet"])?;
    ensure!(
        err.contains("required by one or more floating IPs"),
        "interface removal under a floating IP: {err}"
    );
    demo.run(&["floating", "ip", "unset", "--port", &fip_id])?;
    expect_fields(
        "disassociated floating ip",
        &demo.json(&["floating", "ip", "show", &fip_id])?,
        &json!({"port_id": null, "fixed_ip_address": null, "router_id": null}),
    )?;
    demo.run(&["floating", "ip", "delete", &fip_id])?;
    assert_eq!(demo.json(&["floating", "ip", "list"])?, json!([]));

    // Remove the interface by its port (the port goes with it), the gateway, the router.
    let intf = demo.json(&[
        "port",
        "list",
        "--router",
        "demo-router",
        "--device-owner",
        "network:router_interface",
    ])?;
    let intf = intf.as_array().context("port list")?;
    ensure!(intf.len() == 1, "demo-router interfaces: {intf:?}");
    let intf_id = str_of(&intf[0], "ID")?.to_string();
    assert_eq!(
        intf[0]["Fixed IP Addresses"][0]["ip_address"],
        json!("10.10.0.1"),
        "an interface by subnet takes the subnet's gateway IP"
    );
    demo.run(&["router", "remove", "port", "demo-router", &intf_id])?;
    let err = demo.fails(&["port", "show", &intf_id])?;
    ensure!(
        err.contains("No Port found"),
        "removed interface port: {err}"
    );
    demo.run(&["router", "unset", "--external-gateway", "demo-router"])?;
    let r = demo.json(&["router", "show", "demo-router"])?;
    expect_fields(
        "demo-router after unset",
        &r,
        &json!({"external_gateway_info": null, "interfaces_info": []}),
    )?;
    demo.run(&["router", "delete", "demo-router"])?;
    assert_eq!(demo.json(&["router", "list"])?, json!([]));

    // ---- quotas
    let q = cli.json(&["quota", "show"])?;
    for (resource, limit) in [
        ("networks", 100),
        ("subnets", 100),
        ("ports", 500),
        ("routers", 10),
        ("floating_ips", 50),
        ("security_groups", 10),
        ("security_group_rules", 100),
        ("rbac_policies", 10),
    ] {
        assert_eq!(
            quota_limit(&q, resource)?,
            json!(limit),
            "default quota of {resource}"
        );
    }
    cli.run(&["quota", "set", "--networks", "2", "demo"])?;
    assert_eq!(
        quota_limit(&cli.json(&["quota", "show", "demo"])?, "networks")?,
        json!(2)
    );
    demo.run(&["network", "create", "demo-net-2"])?;
    let err = demo.fails(&["network", "create", "demo-net-3"])?;
    ensure!(
        err.contains("Quota exceeded for resources: ['network']"),
        "third network over a quota of 2: {err}"
    );
    assert_eq!(
        visible(&demo)?,
        ["demo-net", "demo-net-2", "public"],
        "the refused create stored nothing"
    );
    // Below the usage only with --force.
    let err = cli.fails(&["quota", "set", "--networks", "1", "demo"])?;
    ensure!(
        err.contains("Quota limit 1 for network must be greater than or equal to already used 2"),
        "quota below usage: {err}"
    );
    cli.run(&["quota", "set", "--networks", "1", "--force", "demo"])?;
    assert_eq!(
        quota_limit(&cli.json(&["quota", "show", "demo"])?, "networks")?,
        json!(1)
    );

    // ---- the document's router taken apart again
    cli.run(&[
        "router",
        "remove",
        "port",
        "octavia-link-router",
        "lb-mgmt-router-port",
    ])?;
    let err = cli.fails(&["port", "show", "lb-mgmt-router-port"])?;
    ensure!(
        err.contains("No Port found"),
        "removal by port deletes the port: {err}"
    );
    cli.run(&[
        "router",
        "unset",
        "--external-gateway",
        "octavia-link-router",
    ])?;
    let r = cli.json(&["router", "show", "octavia-link-router"])?;
    expect_fields(
        "octavia-link-router after unset",
        &r,
        &json!({"external_gateway_info": null, "interfaces_info": []}),
    )?;
    assert_eq!(
        cli.json(&["port", "list", "--device-owner", "network:router_gateway"])?,
        json!([]),
        "the gateway port goes with the gateway"
    );
    cli.run(&["router", "delete", "octavia-link-router"])?;
    cli.run(&[
        "security",
        "group",
        "delete",
        "lb-mgmt-sec-grp",
        "lb-health-mgr-sec-grp",
    ])?;
    cli.run(&[
        "subnet",
        "delete",
        "lb-mgmt-subnet",
        "octavia-provider-subnet",
        "public-subnet",
    ])?;
    cli.run(&[
        "network",
        "delete",
        "lb-mgmt-net",
        "octavia-provider-net",
        "public",
    ])?;
    assert_eq!(cli.json(&["router", "list"])?, json!([]));
    assert_eq!(
        cli.json(&["network", "rbac", "list"])?,
        json!([]),
        "policies go with their networks"
    );

    server.stop()?;
    Ok(())
}
