//! End to end: `neutrino up`, then `neutrino infra apply/get/delete` finding
//! it through clouds.yaml, and `dig` asking the DNS responder a DNSMasq
//! started. Test names contain `e2e_`, so nextest runs them one at a time.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use neutrino_testkit::{ChildGuard, free_tcp_port, workspace_root};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_neutrino");

/// `neutrino` with none of the developer's NEUTRINO_* or OS_* settings.
fn neutrino(cwd: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd).stdin(Stdio::null()).env("NO_COLOR", "1");
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("NEUTRINO_") || k.starts_with("OS_") {
            c.env_remove(k);
        }
    }
    c
}

struct Up {
    _child: ChildGuard,
    dir: tempfile::TempDir,
    log: std::path::PathBuf,
}

impl Up {
    fn start() -> Result<Up> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log)?;
        let (a, mut b) = (free_tcp_port(), free_tcp_port());
        while b == a {
            b = free_tcp_port();
        }
        let mut cmd = neutrino(dir.path());
        cmd.args(["up", "--no-data-plane", "--data-dir"])
            .arg(&data)
            .arg("--identity-listen")
            .arg(format!("127.0.0.1:{a}"))
            .arg("--network-listen")
            .arg(format!("127.0.0.1:{b}"))
            .stdout(Stdio::null())
            .stderr(log_file);
        let mut child = ChildGuard::spawn(&mut cmd)?;
        let clouds = data.join("clouds.yaml");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !clouds.is_file() {
            if let Some(st) = child.try_wait()? {
                bail!(
                    "neutrino up exited ({st}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            ensure!(Instant::now() < deadline, "neutrino up not ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Up {
            _child: child,
            dir,
            log,
        })
    }

    /// `neutrino infra ARGS...` as a user of the written clouds.yaml.
    fn infra(&self, args: &[&str]) -> Result<Output> {
        let out = neutrino(self.dir.path())
            .arg("infra")
            .args(args)
            .env(
                "OS_CLIENT_CONFIG_FILE",
                self.dir.path().join("data/clouds.yaml"),
            )
            .env("OS_CLOUD", "neutrino")
            .output()
            .context("running neutrino infra")?;
        Ok(out)
    }

    fn infra_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.infra(args)?;
        ensure!(
            out.status.success(),
            "neutrino infra {args:?} failed ({}):\n{}\n{}\nserver log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        workspace_root()
            .join("crates/infra/tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

fn dig_short(port: u16, args: &[&str]) -> Vec<String> {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+short",
            "+time=2",
            "+tries=1",
        ])
        .args(args)
        .output()
        .expect("dig (Debian's dnsutils; scripts/setup.sh installs it)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(String::from)
        .collect()
}

#[test]
fn e2e_infra_cli_applies_document_001_and_serves_its_dns() -> Result<()> {
    let up = Up::start()?;
    let dns_port = free_tcp_port();
    let file = up.dir.path().join("infra.yaml");
    let masq = format!(
        "apiVersion: network.openstack.org/v1beta1\nkind: DNSMasq\nmetadata:\n  name: dns\n  annotations:\n    \
         dnsmasq.neutrino.openstack.org/listen: \"127.0.0.1:{dns_port}\"\nspec:\n  options:\n  - key: server\n    values:\n    - 127.0.0.1#9\n"
    );
    std::fs::write(
        &file,
        format!(
            "{}---\n{}---\n{masq}",
            fixture("doc001.yaml"),
            fixture("dnsdata001.yaml")
        ),
    )?;

    let out = up.infra_ok(&["apply", "-f", file.to_str().unwrap()])?;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "netconfig.network.openstack.org/netconfig created",
            "ipset.network.openstack.org/edpm-compute-0 created",
            "dnsdata.network.openstack.org/somehosts created",
            "dnsmasq.network.openstack.org/dns created",
        ],
        "{out}"
    );

    // The status, as YAML.
    let yaml = up.infra_ok(&["get", "ipset", "edpm-compute-0", "-o", "yaml"])?;
    let set: Value = serde_saphyr::from_str(&yaml).context("get -o yaml prints YAML")?;
    let res = set["status"]["reservations"]
        .as_array()
        .context("reservations")?;
    let got: Vec<(&str, &str)> = res
        .iter()
        .map(|r| {
            (
                r["network"].as_str().unwrap(),
                r["address"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("CtlPlane", "192.168.122.100"),
            ("External", "10.0.0.10"),
            ("InternalApi", "172.17.0.150"),
            ("Storage", "172.18.0.10"),
            ("Tenant", "172.20.0.10"),
        ],
        "{yaml}"
    );
    assert_eq!(res[1]["routes"][0]["destination"], "10.0.1.0/24", "{yaml}");
    assert_eq!(res[2]["vlan"], 20);
    assert_eq!(set["status"]["conditions"][0]["status"], "True");

    // The table and JSON forms, the short name, the Reservation.
    let table = up.infra_ok(&["get", "ipsets"])?;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("edpm-compute-0") && table.contains("CtlPlane=192.168.122.100"),
        "{table}"
    );
    let json = up.infra_ok(&["get", "netcfg", "-o", "json"])?;
    let list: Value = serde_json::from_str(&json)?;
    assert_eq!(list["items"][0]["metadata"]["name"], "netconfig");
    let res_yaml = up.infra_ok(&[
        "get",
        "reservation",
        "edpm-compute-0",
        "-o",
        "yaml",
        "-n",
        "openstack",
    ])?;
    assert!(res_yaml.contains("172.17.0.150"), "{res_yaml}");

    // Applying the same file again changes nothing.
    let again = up.infra_ok(&["apply", "-f", file.to_str().unwrap()])?;
    assert!(again.lines().all(|l| l.ends_with(" unchanged")), "{again}");

    // The DNSMasq's responder answers for the DNSData, in `neutrino up`.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if dig_short(dns_port, &["edpm-compute-0.internalapi", "A"]) == ["172.17.0.100"] {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "no DNS answer on 127.0.0.1:{dns_port}; DNSMasq:\n{}\nserver log:\n{}",
            up.infra_ok(&["get", "dnsmasq", "dns", "-o", "yaml"])
                .unwrap_or_default(),
            std::fs::read_to_string(&up.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        dig_short(dns_port, &["-x", "192.168.122.101"]),
        ["edpm-compute-1.ctlplane."]
    );
    let masq_yaml = up.infra_ok(&["get", "dnsmasq", "dns", "-o", "yaml"])?;
    assert!(
        masq_yaml.contains(&format!("127.0.0.1:{dns_port}")),
        "{masq_yaml}"
    );

    // Rejections reach the user with the server's message.
    let bad = up.dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "kind: IPSet\nmetadata:\n  name: bad\nspec:\n  networks:\n  - name: Nope\n    subnetName: subnet1\n",
    )?;
    let out = up.infra(&["apply", "-f", bad.to_str().unwrap()])?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error from server (Invalid)") && err.contains("spec.networks[0].name"),
        "{err}"
    );

    // Delete, then it is gone.
    let out = up.infra_ok(&["delete", "ipset", "edpm-compute-0"])?;
    assert_eq!(
        out.trim(),
        "ipset.network.openstack.org/edpm-compute-0 deleted"
    );
    let out = up.infra(&["get", "ipset", "edpm-compute-0"])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NotFound"));
    let out = up.infra(&["get", "pods"])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("doesn't have a resource type"));
    Ok(())
}

// ------------------------------------------------------------------ render

fn render_fixture(name: &str) -> String {
    workspace_root()
        .join("crates/infra/tests/fixtures/render")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .expect("render prints YAML")
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// A NAD with its `config` parsed, to compare as JSON.
fn parsed_nad(doc: &Value) -> Value {
    let mut d = doc.clone();
    d["spec"]["config"] = serde_json::from_str(d["spec"]["config"].as_str().unwrap()).unwrap();
    d
}

/// `neutrino infra render -f` needs no server: documents 000 and 001 from
/// their NetConfigs and node descriptions.
#[test]
fn infra_render_prints_the_documents_manifests() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = neutrino(dir.path())
        .args(["infra", "render", "-f"])
        .arg(render_fixture("doc001-netconfig.yaml"))
        .arg("--nodes")
        .arg(render_fixture("doc001-nodes.yaml"))
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = yaml_docs(&stdout);
    let expected = yaml_docs(&std::fs::read_to_string(render_fixture(
        "doc001-expected.yaml",
    ))?);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "NodeNetworkConfigurationPolicy",
            "NetworkAttachmentDefinition",
            "NetworkAttachmentDefinition",
            "NetworkAttachmentDefinition",
            "IPAddressPool",
            "L2Advertisement",
        ]
    );
    assert_eq!(docs[0], expected[0], "{stdout}");
    assert_eq!(docs[4], expected[3], "{stdout}");

    // Document 000 from standard input.
    let mut child = neutrino(dir.path())
        .args(["infra", "render", "-f", "-", "--nodes"])
        .arg(render_fixture("doc000-nodes.yaml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().context("stdin")?;
        stdin.write_all(&std::fs::read(render_fixture("doc000-netconfig.yaml"))?)?;
    }
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = yaml_docs(&stdout);
    let expected = yaml_docs(&std::fs::read_to_string(render_fixture(
        "doc000-expected.yaml",
    ))?);
    assert_eq!(docs.len(), 5, "{stdout}");
    assert_eq!(
        docs[0]["spec"]["desiredState"]["interfaces"],
        expected[0]["spec"]["desiredState"]["interfaces"]
    );
    assert_eq!(parsed_nad(&docs[3]), parsed_nad(&expected[1]));
    assert_eq!(docs[4]["kind"], "OpenStackControlPlane");
    assert_eq!(docs[4]["spec"], expected[2]["spec"]);
    assert!(
        stdout.contains("# A patch, naming only what it sets"),
        "{stdout}"
    );
    Ok(())
}

#[test]
fn infra_render_names_the_bad_field() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let run = |nodes: &str| -> Result<(bool, String)> {
        let file = dir.path().join("nodes.yaml");
        std::fs::write(&file, nodes)?;
        let out = neutrino(dir.path())
            .args(["infra", "render", "-f"])
            .arg(render_fixture("doc001-netconfig.yaml"))
            .arg("--nodes")
            .arg(&file)
            .output()?;
        assert!(out.stdout.is_empty(), "nothing printed on failure");
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    };
    let (ok, err) = run("baseInterface: enp6s0\nnodes:\n- name: w0\n  nodeSelektor: {}\n")?;
    assert!(!ok);
    assert!(
        err.contains("nodes[0].nodeSelektor") && err.contains("unknown field"),
        "{err}"
    );
    let (ok, err) = run(
        "baseInterface: enp6s0\nnodes:\n- name: w0\nnetworks:\n  storagemgmt:\n    range: 172.20.0.30-172.20.0.70\n",
    )?;
    assert!(!ok);
    assert!(
        err.contains("networks.storagemgmt: Not found") && err.contains("no such network"),
        "{err}"
    );
    let (ok, err) = run("nodes:\n- name: w0\n")?;
    assert!(!ok);
    assert!(err.contains("baseInterface: Required value"), "{err}");
    Ok(())
}

/// From the server: the NetConfig and the IPSet's addresses it holds, and
/// the IPSet's os-net-config document with the DNS responder as name
/// server.
#[test]
fn e2e_infra_render_reads_the_server() -> Result<()> {
    let up = Up::start()?;
    let file = up.dir.path().join("infra.yaml");
    // Port 53 on a loopback address of its own, so the responder's address
    // is one os-net-config can use.
    let masq = "apiVersion: network.openstack.org/v1beta1\nkind: DNSMasq\nmetadata:\n  name: dns\n  annotations:\n    \
         dnsmasq.neutrino.openstack.org/listen: \"127.53.0.1\"\nspec:\n  options:\n  - key: server\n    values:\n    - 127.0.0.1#9\n";
    std::fs::write(&file, format!("{}---\n{masq}", fixture("doc001.yaml")))?;
    up.infra_ok(&["apply", "-f", file.to_str().unwrap()])?;

    let nodes = up.dir.path().join("nodes.yaml");
    std::fs::write(
        &nodes,
        "baseInterface: enp6s0\nnodes:\n- name: edpm-compute-0\nnetworks:\n  internalapi:\n    range: 172.17.0.30-172.17.0.70\n",
    )?;
    let out = up.infra(&["render", "--nodes", nodes.to_str().unwrap()])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "{stdout}\n{stderr}");
    // .30-.70 lies in the NetConfig's allocation range .10-.250.
    assert!(
        stderr.contains("warning: networks.internalapi.range"),
        "{stderr}"
    );
    let docs = yaml_docs(&stdout);
    let ifaces = &docs[0]["spec"]["desiredState"]["interfaces"];
    assert_eq!(ifaces[0]["name"], "enp6s0.20");
    assert_eq!(
        ifaces[0]["ipv4"]["address"][0]["ip"], "172.17.0.150",
        "{stdout}"
    );
    assert_eq!(docs[1]["kind"], "NetworkAttachmentDefinition");

    // The os-net-config document; the responder reports its address once
    // it runs. Port 53 needs root (as CI runs); without it the responder
    // reports the bind error and the document names no DNS server.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (doc, bound) = loop {
        let json = up.infra_ok(&["render", "--os-net-config", "edpm-compute-0"])?;
        let doc: Value = serde_json::from_str(&json).context("JSON")?;
        if !doc["network_config"][0]["dns_servers"].is_null() {
            break (doc, true);
        }
        let masq = up.infra_ok(&["get", "dnsmasq", "dns", "-o", "json"])?;
        if masq.contains("ermission denied") {
            break (doc, false);
        }
        ensure!(
            Instant::now() < deadline,
            "no DNS server in {doc:#}; DNSMasq:\n{masq}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let nic1 = &doc["network_config"][0];
    assert_eq!(nic1["name"], "nic1");
    assert_eq!(
        nic1["addresses"],
        serde_json::json!([{"ip_netmask": "192.168.122.100/24"}])
    );
    assert_eq!(
        nic1["routes"],
        serde_json::json!([{"default": true, "next_hop": "192.168.122.1"}])
    );
    if bound {
        assert_eq!(nic1["dns_servers"], serde_json::json!(["127.53.0.1"]));
    }
    assert_eq!(nic1["mtu"], 9000, "Tenant's VLAN sits on nic1");
    let vlans: Vec<i64> = doc["network_config"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "vlan")
        .map(|e| e["vlan_id"].as_i64().unwrap())
        .collect();
    assert_eq!(vlans, [20, 30, 50]);

    let out = up.infra(&["render", "--os-net-config", "nope"])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NotFound"));
    let out = up.infra(&["render", "-n", "empty", "--nodes", nodes.to_str().unwrap()])?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no NetConfig in namespace empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
