//! End-to-end: `neutrino serve` answers the real python-octaviaclient
//! (`openstack loadbalancer ...` from the venv of `scripts/setup.sh`),
//! which finds the Load-balancer API through the identity catalog.
//!
//! The expected answers are the peer's (octavia 19), recorded in
//! crates/lb-api/tests/lb_api/fixtures/peer.json.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use neutrino_testkit::{ChildGuard, free_tcp_port, venv_bin, wait_for_tcp};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_neutrino");
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const PASSWORD: &str = "e2e-Lb-Secret-1";

fn peer() -> Value {
    serde_json::from_str(include_str!("../../lb-api/tests/lb_api/fixtures/peer.json"))
        .expect("fixture is JSON")
}

/// Three distinct free ports: identity, network, load balancer.
fn three_ports() -> [u16; 3] {
    let mut ports = Vec::new();
    while ports.len() < 3 {
        let p = free_tcp_port();
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    [ports[0], ports[1], ports[2]]
}

fn openstack(clouds: &Path, args: &[&str]) -> Result<Output> {
    let mut c = Command::new(venv_bin("openstack")?);
    c.args(args).stdin(Stdio::null());
    // Only the clouds.yaml decides where to go and who we are.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OS_") {
            c.env_remove(k);
        }
    }
    c.env("OS_CLOUD", "neutrino")
        .env("OS_CLIENT_CONFIG_FILE", clouds);
    c.output()
        .with_context(|| format!("running openstack {}", args.join(" ")))
}

fn openstack_json(clouds: &Path, args: &[&str]) -> Result<Value> {
    let mut all = args.to_vec();
    all.extend(["-f", "json"]);
    let out = openstack(clouds, &all)?;
    ensure!(
        out.status.success(),
        "`openstack {}` failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).context("CLI output is JSON")
}

#[tokio::test]
async fn e2e_octaviaclient_lists_providers_and_capabilities() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let log = tmp.path().join("neutrino.log");
    let [identity, network, lb] = three_ports();
    let mut server = ChildGuard::spawn(
        serve_command(tmp.path(), &log, identity, network)?
            // The environment variable, to prove it is read.
            .env("NEUTRINO_LOAD_BALANCER_LISTEN", format!("127.0.0.1:{lb}")),
    )?;
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + READY_TIMEOUT;
    for port in [identity, network, lb] {
        while wait_for_tcp(("127.0.0.1", port), Duration::from_millis(200))
            .await
            .is_err()
        {
            if let Some(status) = server.try_wait()? {
                bail!("neutrino serve exited early ({status}):\n{}", log_text());
            }
            ensure!(
                Instant::now() < deadline,
                "neutrino serve is not listening on {port}:\n{}",
                log_text()
            );
        }
    }

    let clouds = tmp.path().join("clouds.yaml");
    std::fs::write(
        &clouds,
        format!(
            "clouds:\n  neutrino:\n    auth:\n      auth_url: 'http://127.0.0.1:{identity}/v3'\n      \
             username: 'admin'\n      password: '{PASSWORD}'\n      project_name: 'admin'\n      \
             user_domain_name: Default\n      project_domain_name: Default\n    \
             region_name: 'RegionOne'\n    interface: public\n    identity_api_version: 3\n"
        ),
    )?;

    // The catalog names the listener, without a version.
    let catalog = openstack_json(&clouds, &["catalog", "show", "load-balancer"])?;
    let endpoints = catalog["endpoints"].to_string();
    ensure!(
        endpoints.contains(&format!("http://127.0.0.1:{lb}")) && !endpoints.contains("/v2"),
        "catalog: {catalog}"
    );

    let peer = peer();
    let providers = openstack_json(&clouds, &["loadbalancer", "provider", "list"])?;
    assert_eq!(
        providers, peer["GET /v2/lbaas/providers"]["body"]["providers"],
        "provider list"
    );

    let typed = |key: &str, kind: &str| -> Vec<Value> {
        peer[key]["body"][kind.to_string() + "_capabilities"]
            .as_array()
            .expect("recorded capabilities")
            .iter()
            .map(|c| json!({"type": kind, "name": c["name"], "description": c["description"]}))
            .collect()
    };
    let mut expected = typed(
        "GET /v2/lbaas/providers/amphora/flavor_capabilities",
        "flavor",
    );
    expected.extend(typed(
        "GET /v2/lbaas/providers/amphora/availability_zone_capabilities",
        "availability_zone",
    ));
    let caps = openstack_json(
        &clouds,
        &["loadbalancer", "provider", "capability", "list", "amphora"],
    )?;
    assert_eq!(caps, Value::Array(expected), "capability list");

    let out = openstack(
        &clouds,
        &["loadbalancer", "provider", "capability", "list", "nope"],
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success() && stderr.contains("Provider 'nope' is not enabled. (HTTP 400)"),
        "unknown provider: {stderr}"
    );

    // Version discovery needs no token, and links to this listener.
    let doc: Value = reqwest::get(format!("http://127.0.0.1:{lb}/"))
        .await?
        .json()
        .await?;
    assert_eq!(
        doc["versions"][30],
        json!({"id": "v2.30", "status": "CURRENT", "updated": "2025-02-26T00:00:00Z",
               "links": [{"href": format!("http://127.0.0.1:{lb}/v2"), "rel": "self"}]})
    );

    let status = server.terminate(Duration::from_secs(10))?;
    ensure!(status.success(), "exit {status}:\n{}", log_text());
    Ok(())
}

/// `neutrino serve` on the given identity and network ports, SQLite in
/// `dir`, stderr to `log`, and none of the caller's `NEUTRINO_*` settings.
fn serve_command(dir: &Path, log: &Path, identity: u16, network: u16) -> Result<Command> {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .env("NO_COLOR", "1");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NEUTRINO_") {
            cmd.env_remove(k);
        }
    }
    let db = format!("sqlite://{}?mode=rwc", dir.join("n.db").display());
    cmd.args(["serve", "--database-url", &db, "--admin-password", PASSWORD])
        .args(["--identity-listen", &format!("127.0.0.1:{identity}")])
        .args(["--network-listen", &format!("127.0.0.1:{network}")]);
    Ok(cmd)
}

#[tokio::test]
async fn e2e_default_load_balancer_address_in_use_is_skipped_but_a_chosen_one_is_fatal()
-> Result<()> {
    // Hold the default address (or find it held, e.g. by an Octavia).
    let _holder = std::net::TcpListener::bind("127.0.0.1:9876").ok();
    ensure!(
        std::net::TcpListener::bind("127.0.0.1:9876").is_err(),
        "127.0.0.1:9876 should be taken now"
    );
    let tmp = tempfile::tempdir()?;
    let log = tmp.path().join("default.log");
    let [identity, network, _] = three_ports();
    let mut server = ChildGuard::spawn(&mut serve_command(tmp.path(), &log, identity, network)?)?;
    let log_text = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    for port in [identity, network] {
        wait_for_tcp(("127.0.0.1", port), READY_TIMEOUT)
            .await
            .with_context(|| log_text(&log))?;
    }
    ensure!(
        server.try_wait()?.is_none(),
        "serve exited:\n{}",
        log_text(&log)
    );
    let text = log_text(&log);
    ensure!(
        text.contains("serving without the Load-balancer API"),
        "no warning in the log:\n{text}"
    );
    // Without the API, the catalog does not offer it.
    let token: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{identity}/v3/auth/tokens"))
        .json(
            &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}),
        )
        .send()
        .await?
        .json()
        .await?;
    let types: Vec<&str> = token["token"]["catalog"]
        .as_array()
        .context("catalog")?
        .iter()
        .filter_map(|s| s["type"].as_str())
        .collect();
    ensure!(
        types.contains(&"network") && !types.contains(&"load-balancer"),
        "catalog types {types:?}"
    );
    let status = server.terminate(Duration::from_secs(10))?;
    ensure!(status.success(), "exit {status}:\n{}", log_text(&log));

    // An address the operator chose must be free.
    let log = tmp.path().join("chosen.log");
    let [identity, network, _] = three_ports();
    let mut server = ChildGuard::spawn(
        serve_command(tmp.path(), &log, identity, network)?
            .args(["--load-balancer-listen", "127.0.0.1:9876"]),
    )?;
    let deadline = Instant::now() + READY_TIMEOUT;
    let status = loop {
        if let Some(status) = server.try_wait()? {
            break status;
        }
        ensure!(
            Instant::now() < deadline,
            "serve kept running:\n{}",
            log_text(&log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    ensure!(!status.success(), "serve succeeded on a taken address");
    let text = log_text(&log);
    ensure!(
        text.contains("cannot listen on 127.0.0.1:9876"),
        "log:\n{text}"
    );
    Ok(())
}

/// Starts `neutrino serve` with the Load-balancer API on a free port and
/// writes a clouds.yaml for its admin; returns the server, the
/// clouds.yaml path and the ports.
async fn serve_with_lb(dir: &Path) -> Result<(ChildGuard, std::path::PathBuf, [u16; 3])> {
    let log = dir.join("neutrino.log");
    let ports = three_ports();
    let [identity, network, lb] = ports;
    let mut server = ChildGuard::spawn(
        serve_command(dir, &log, identity, network)?
            .args(["--load-balancer-listen", &format!("127.0.0.1:{lb}")]),
    )?;
    for port in ports {
        if let Err(e) = wait_for_tcp(("127.0.0.1", port), READY_TIMEOUT).await {
            let _ = server.try_wait();
            bail!(
                "{e}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    }
    let clouds = dir.join("clouds.yaml");
    std::fs::write(
        &clouds,
        format!(
            "clouds:\n  neutrino:\n    auth:\n      auth_url: 'http://127.0.0.1:{identity}/v3'\n      \
             username: 'admin'\n      password: '{PASSWORD}'\n      project_name: 'admin'\n      \
             user_domain_name: Default\n      project_domain_name: Default\n    \
             region_name: 'RegionOne'\n    interface: public\n    identity_api_version: 3\n"
        ),
    )?;
    Ok((server, clouds, ports))
}

/// Replaces every value of an `id`-like key by a placeholder, so trees
/// from two clouds compare by shape and statuses.
fn without_ids(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = if k == "id" || k.ends_with("_id") {
                        json!("<id>")
                    } else {
                        without_ids(x)
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_ids).collect()),
        other => other.clone(),
    }
}

/// Document 003's load-balancer walk-through with the stock client, as
/// the peer's recorded smoke run (shared/peer/smoke-reference.txt) does
/// it, then L7, stats, failover, amphorae, quotas, flavors and zones, and
/// a cascade delete that leaves nothing.
#[tokio::test]
async fn e2e_document_003_walkthrough_with_openstack_loadbalancer() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let (mut server, clouds, _) = serve_with_lb(tmp.path()).await?;
    let os = |args: &[&str]| openstack_json(&clouds, args);
    let ok = |args: &[&str]| -> Result<()> {
        let out = openstack(&clouds, args)?;
        ensure!(
            out.status.success(),
            "`openstack {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };

    os(&["network", "create", "private"])?;
    let subnet = os(&[
        "subnet",
        "create",
        "private-subnet",
        "--network",
        "private",
        "--subnet-range",
        "172.24.0.0/24",
    ])?;
    let subnet_id = subnet["id"].as_str().context("subnet id")?.to_string();

    let lb = os(&[
        "loadbalancer",
        "create",
        "--name",
        "lbaas",
        "--vip-subnet-id",
        &subnet_id,
        "--wait",
    ])?;
    ensure!(
        lb["provisioning_status"] == "ACTIVE" && lb["operating_status"] == "OFFLINE",
        "{lb}"
    );
    ensure!(
        lb["provider"] == "amphora" && lb["vip_subnet_id"] == subnet_id.as_str(),
        "{lb}"
    );
    let vip_port = lb["vip_port_id"].as_str().context("vip port")?.to_string();
    let port = os(&["port", "show", &vip_port])?;
    ensure!(
        port["device_owner"] == "Octavia"
            && port["name"] == format!("octavia-lb-{}", lb["id"].as_str().unwrap_or("")),
        "{port}"
    );

    let listener = os(&[
        "loadbalancer",
        "listener",
        "create",
        "--name",
        "lbaas-listener",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "80",
        "--wait",
        "lbaas",
    ])?;
    ensure!(
        listener["provisioning_status"] == "ACTIVE" && listener["connection_limit"] == -1,
        "{listener}"
    );
    let pool = os(&[
        "loadbalancer",
        "pool",
        "create",
        "--name",
        "lbaas-pool",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        "lbaas-listener",
        "--protocol",
        "HTTP",
        "--wait",
    ])?;
    ensure!(pool["provisioning_status"] == "ACTIVE", "{pool}");
    let hm = os(&[
        "loadbalancer",
        "healthmonitor",
        "create",
        "--name",
        "lbaas-hm",
        "--type",
        "HTTP",
        "--delay",
        "5",
        "--timeout",
        "4",
        "--max-retries",
        "3",
        "--url-path",
        "/healthz",
        "--expected-codes",
        "200",
        "--wait",
        "lbaas-pool",
    ])?;
    ensure!(
        hm["provisioning_status"] == "ACTIVE" && hm["operating_status"] == "ONLINE",
        "{hm}"
    );
    for (name, address) in [("member-1", "172.24.0.10"), ("member-2", "172.24.0.11")] {
        let m = os(&[
            "loadbalancer",
            "member",
            "create",
            "--name",
            name,
            "--subnet-id",
            &subnet_id,
            "--address",
            address,
            "--protocol-port",
            "8080",
            "--wait",
            "lbaas-pool",
        ])?;
        ensure!(
            m["provisioning_status"] == "ACTIVE" && m["operating_status"] == "OFFLINE",
            "{m}"
        );
    }

    // The status tree has the peer's shape and statuses.
    let out = openstack(&clouds, &["loadbalancer", "status", "show", "lbaas"])?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: Value = serde_json::from_slice(&out.stdout)?;
    let reference = std::fs::read_to_string(
        neutrino_testkit::workspace_root().join("../shared/peer/smoke-reference.txt"),
    );
    if let Ok(text) = reference {
        let start = text
            .find("$ openstack loadbalancer status show lbaas\n")
            .context("recorded")?;
        let json_start = start + text[start..].find('{').context("json")?;
        let mut de = serde_json::Deserializer::from_str(&text[json_start..]).into_iter::<Value>();
        let peer_tree = de.next().context("recorded tree")??;
        assert_eq!(without_ids(&ours), without_ids(&peer_tree), "status tree");
    }

    // L7: a policy sending /api to a second pool, one rejecting the rest.
    os(&[
        "loadbalancer",
        "pool",
        "create",
        "--name",
        "api-pool",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--loadbalancer",
        "lbaas",
        "--protocol",
        "HTTP",
        "--wait",
    ])?;
    let redirect = os(&[
        "loadbalancer",
        "l7policy",
        "create",
        "--name",
        "to-api",
        "--action",
        "REDIRECT_TO_POOL",
        "--redirect-pool",
        "api-pool",
        "--wait",
        "lbaas-listener",
    ])?;
    ensure!(
        redirect["provisioning_status"] == "ACTIVE" && redirect["position"] == 1,
        "{redirect}"
    );
    let rule = os(&[
        "loadbalancer",
        "l7rule",
        "create",
        "--type",
        "PATH",
        "--compare-type",
        "STARTS_WITH",
        "--value",
        "/api",
        "--wait",
        "to-api",
    ])?;
    ensure!(
        rule["provisioning_status"] == "ACTIVE" && rule["operating_status"] == "ONLINE",
        "{rule}"
    );
    let reject = os(&[
        "loadbalancer",
        "l7policy",
        "create",
        "--name",
        "reject",
        "--action",
        "REJECT",
        "--wait",
        "lbaas-listener",
    ])?;
    ensure!(reject["position"] == 2, "{reject}");

    let stats = os(&["loadbalancer", "stats", "show", "lbaas"])?;
    ensure!(
        stats["bytes_in"] == 0 && stats["total_connections"] == 0,
        "{stats}"
    );

    // Failover replaces the amphora; the admin sees it.
    let before = os(&["loadbalancer", "amphora", "list", "--loadbalancer", "lbaas"])?;
    ensure!(before.as_array().map(Vec::len) == Some(1), "{before}");
    ok(&["loadbalancer", "failover", "--wait", "lbaas"])?;
    let after = os(&["loadbalancer", "amphora", "list", "--loadbalancer", "lbaas"])?;
    ensure!(
        after.as_array().map(Vec::len) == Some(1) && after[0]["id"] != before[0]["id"],
        "{after}"
    );
    ensure!(after[0]["status"] == "ALLOCATED", "{after}");

    // Quotas, flavors, availability zones.
    ok(&["loadbalancer", "quota", "set", "--member", "5", "admin"])?;
    let q = os(&["loadbalancer", "quota", "show", "admin"])?;
    ensure!(q["member"] == 5, "{q}");
    let fp = os(&[
        "loadbalancer",
        "flavorprofile",
        "create",
        "--name",
        "single",
        "--provider",
        "amphora",
        "--flavor-data",
        r#"{"loadbalancer_topology": "SINGLE"}"#,
    ])?;
    let flavor = os(&[
        "loadbalancer",
        "flavor",
        "create",
        "--name",
        "small",
        "--flavorprofile",
        fp["id"].as_str().context("profile id")?,
        "--enable",
    ])?;
    ensure!(flavor["enabled"] == true, "{flavor}");
    os(&[
        "loadbalancer",
        "availabilityzoneprofile",
        "create",
        "--name",
        "azp",
        "--provider",
        "amphora",
        "--availability-zone-data",
        r#"{"compute_zone": "nova"}"#,
    ])?;
    os(&[
        "loadbalancer",
        "availabilityzone",
        "create",
        "--name",
        "az1",
        "--availabilityzoneprofile",
        "azp",
    ])?;
    let small = os(&[
        "loadbalancer",
        "create",
        "--name",
        "small-lb",
        "--vip-subnet-id",
        &subnet_id,
        "--flavor",
        "small",
        "--availability-zone",
        "az1",
        "--wait",
    ])?;
    ensure!(
        small["provisioning_status"] == "ACTIVE" && small["availability_zone"] == "az1",
        "{small}"
    );
    ok(&["loadbalancer", "delete", "--wait", "small-lb"])?;

    // Cascade delete: everything goes, the VIP port too.
    ok(&["loadbalancer", "delete", "--cascade", "--wait", "lbaas"])?;
    let lbs = os(&["loadbalancer", "list"])?;
    ensure!(lbs == json!([]), "{lbs}");
    let ports = os(&["port", "list", "--network", "private"])?;
    ensure!(ports == json!([]), "ports left: {ports}");
    let amps = os(&["loadbalancer", "amphora", "list"])?;
    ensure!(amps == json!([]), "amphorae left: {amps}");

    let status = server.terminate(Duration::from_secs(10))?;
    ensure!(status.success(), "exit {status}");
    Ok(())
}

/// The same tree through openstacksdk's load-balancer proxy (what Ansible's
/// openstack.cloud modules call): create and wait, read back, cascade
/// delete.
#[tokio::test]
async fn e2e_openstacksdk_builds_and_deletes_a_load_balancer_tree() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let (mut server, clouds, _) = serve_with_lb(tmp.path()).await?;
    let script = r#"
import json, openstack
c = openstack.connect(cloud="neutrino")
net = c.network.create_network(name="private")
sub = c.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.60.0.0/24")
lb = c.load_balancer.create_load_balancer(name="sdk-lb", vip_subnet_id=sub.id)
lb = c.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
li = c.load_balancer.create_listener(name="l", protocol="HTTP", protocol_port=80, load_balancer_id=lb.id)
c.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
pool = c.load_balancer.create_pool(name="p", protocol="HTTP", lb_algorithm="ROUND_ROBIN", listener_id=li.id)
c.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
m = c.load_balancer.create_member(pool, address="10.60.0.10", protocol_port=80, subnet_id=sub.id)
c.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
hm = c.load_balancer.create_health_monitor(pool_id=pool.id, type="HTTP", delay=5, timeout=4, max_retries=3)
c.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
out = {
  "lb": c.load_balancer.get_load_balancer(lb.id).provisioning_status,
  "vip_port_owner": c.network.get_port(lb.vip_port_id).device_owner,
  "members": [x.address for x in c.load_balancer.members(pool)],
  "hm": c.load_balancer.get_health_monitor(hm.id).operating_status,
  "listeners": [x.name for x in c.load_balancer.listeners()],
}
c.load_balancer.delete_load_balancer(lb.id, cascade=True)
c.load_balancer.wait_for_delete(c.load_balancer.get_load_balancer(lb.id), interval=0.2, wait=60)
out["left"] = [x.id for x in c.load_balancer.load_balancers()]
out["ports"] = [p.id for p in c.network.ports(network_id=net.id)]
print(json.dumps(out))
"#;
    let out = Command::new(venv_bin("python")?)
        .args(["-c", script])
        .env("OS_CLIENT_CONFIG_FILE", &clouds)
        .stdin(Stdio::null())
        .output()?;
    ensure!(
        out.status.success(),
        "openstacksdk: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(
        v,
        json!({"lb": "ACTIVE", "vip_port_owner": "Octavia", "members": ["10.60.0.10"],
               "hm": "ONLINE", "listeners": ["l"], "left": [], "ports": []})
    );
    let status = server.terminate(Duration::from_secs(10))?;
    ensure!(status.success(), "exit {status}");
    Ok(())
}
