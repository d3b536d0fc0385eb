//! `neutrino dns`, the DNS responders alone, asked with `dig`: from YAML
//! files (re-read on SIGHUP) and from a database another process writes.
//! Test names contain `e2e_`, so nextest runs them one at a time.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use neutrino_infra::resources::Kind;
use neutrino_infra::{Actor, Infra, Mode};
use neutrino_store::Db;
use neutrino_testkit::{ChildGuard, free_tcp_port, sqlite_url, workspace_root};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_neutrino");

/// `neutrino dns ARGS` with none of the developer's NEUTRINO_* settings,
/// its log in `log`.
fn start(dir: &Path, args: &[&str], log: &Path) -> Result<ChildGuard> {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .arg("dns")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("NEUTRINO_") {
            c.env_remove(k);
        }
    }
    ChildGuard::spawn(&mut c)
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
            "+time=1",
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

/// Waits until `dig` gives `want`, failing with the log after 30 s.
fn wait_for_answer(port: u16, args: &[&str], want: &[&str], log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = dig_short(port, args);
        if got == want {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "dig {args:?} on port {port} gave {got:?}, not {want:?}; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn masq_yaml(port: u16) -> String {
    format!(
        "apiVersion: network.openstack.org/v1beta1\nkind: DNSMasq\nmetadata:\n  name: dns\n  annotations:\n    \
         dnsmasq.neutrino.openstack.org/listen: \"127.0.0.1:{port}\"\nspec:\n  options:\n  - key: server\n    values:\n    - 127.0.0.1#9\n"
    )
}

fn hup(child: &ChildGuard) -> Result<()> {
    let ok = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()?
        .success();
    ensure!(ok, "kill -HUP failed");
    Ok(())
}

#[test]
fn e2e_dns_serves_yaml_files_and_rereads_them_on_sighup() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let port = free_tcp_port();
    let file = dir.path().join("infra.yaml");
    let log = dir.path().join("dns.log");
    // The whole of document 001: NetConfig and IPSet are skipped.
    let base = format!(
        "{}---\n{}---\n{}",
        fixture("doc001.yaml"),
        fixture("dnsdata001.yaml"),
        masq_yaml(port)
    );
    std::fs::write(&file, &base)?;
    let mut child = start(dir.path(), &["-f", file.to_str().unwrap()], &log)?;

    wait_for_answer(
        port,
        &["edpm-compute-0.internalapi", "A"],
        &["172.17.0.100"],
        &log,
    )?;
    assert_eq!(
        dig_short(port, &["-x", "192.168.122.101"]),
        ["edpm-compute-1.ctlplane."]
    );

    // A new DNSData, then SIGHUP: served without a restart.
    let extra = "---\napiVersion: network.openstack.org/v1beta1\nkind: DNSData\nmetadata:\n  name: more\n\
                 spec:\n  hosts:\n  - hostnames:\n    - new.internalapi\n    ip: 172.17.0.200\n";
    std::fs::write(&file, format!("{base}{extra}"))?;
    hup(&child)?;
    wait_for_answer(port, &["new.internalapi", "A"], &["172.17.0.200"], &log)?;

    // A broken edit is refused and the last good set keeps serving.
    std::fs::write(
        &file,
        format!(
            "{base}---\nkind: DNSData\nmetadata:\n  name: bad\nspec:\n  hosts:\n  - hostnames: [x.internalapi]\n    ip: 999.1.1.1\n"
        ),
    )?;
    hup(&child)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)?.contains("files not applied") {
        ensure!(Instant::now() < deadline, "no refusal logged");
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&log)?;
    assert!(
        text.contains("DNSData openstack/bad: spec.hosts[0].ip: Invalid value"),
        "{text}"
    );
    assert_eq!(dig_short(port, &["new.internalapi", "A"]), ["172.17.0.200"]);
    let status = child.terminate(Duration::from_secs(10))?;
    assert!(status.success(), "exit {status}");
    // Nothing listens any more.
    assert!(dig_short(port, &["edpm-compute-0.internalapi", "A"]).is_empty());
    Ok(())
}

#[test]
fn e2e_dns_refuses_invalid_files_at_start() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "kind: DNSMasq\nmetadata:\n  name: dns\nspec:\n  options:\n  - key: server\n    values: [not-an-ip]\n",
    )?;
    let out = Command::new(BIN)
        .args(["dns", "-f", file.to_str().unwrap()])
        .env_remove("NEUTRINO_DATABASE_URL")
        .output()?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DNSMasq openstack/dns: spec.options[0].values"),
        "{err}"
    );
    Ok(())
}

async fn put(infra: &Infra, kind: Kind, ns: &str, body: Value) -> Result<()> {
    let name = body["metadata"]["name"].as_str().unwrap().to_string();
    infra
        .apply(
            &Actor::system(),
            kind,
            ns,
            &name,
            body,
            Mode::CreateOrReplace,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

fn masq_json(name: &str, port: u16) -> Value {
    json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "DNSMasq",
           "metadata": {"name": name, "annotations": {"dnsmasq.neutrino.openstack.org/listen": format!("127.0.0.1:{port}")}},
           "spec": {"options": [{"key": "server", "values": ["127.0.0.1#9"]}]}})
}

fn hosts_json(hosts: Value) -> Value {
    json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "DNSData",
           "metadata": {"name": "hosts"}, "spec": {"hosts": hosts}})
}

/// The database of a deployment, written by another process (here the
/// test, through the infra layer, as `serve` would): `neutrino dns` serves
/// its namespace's DNSMasq, follows changes and writes the status.
#[tokio::test(flavor = "multi_thread")]
async fn e2e_dns_serves_a_database_namespace_and_follows_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = sqlite_url(dir.path());
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    let infra = Infra::new(db.clone());
    let (port, other_port) = (free_tcp_port(), free_tcp_port());
    put(&infra, Kind::DNSMasq, "openstack", masq_json("dns", port)).await?;
    put(
        &infra,
        Kind::DNSData,
        "openstack",
        hosts_json(json!([{"ip": "172.17.0.100", "hostnames": ["edpm-compute-0.internalapi"]}])),
    )
    .await?;
    // Another namespace's DNSMasq is not this responder's business.
    put(&infra, Kind::DNSMasq, "other", masq_json("dns", other_port)).await?;

    let log = dir.path().join("dns.log");
    let mut child = start(
        dir.path(),
        &["--database-url", &url, "--namespace", "openstack"],
        &log,
    )?;
    let wait = |args: &'static [&'static str], want: &'static [&'static str]| {
        let log = log.clone();
        tokio::task::spawn_blocking(move || wait_for_answer(port, args, want, &log))
    };
    wait(&["edpm-compute-0.internalapi", "A"], &["172.17.0.100"]).await??;

    // A change written meanwhile reaches the responder (the 2 s poll).
    put(
        &infra,
        Kind::DNSData,
        "openstack",
        hosts_json(json!([
            {"ip": "172.17.0.100", "hostnames": ["edpm-compute-0.internalapi"]},
            {"ip": "172.17.0.101", "hostnames": ["edpm-compute-1.internalapi"]},
        ])),
    )
    .await?;
    wait(&["edpm-compute-1.internalapi", "A"], &["172.17.0.101"]).await??;

    // The status went into the database; the other namespace stayed as
    // it was (no responder, no status written).
    let masq = infra
        .get(&Actor::system(), Kind::DNSMasq, "openstack", "dns")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(
        masq["status"]["dnsAddresses"],
        json!([format!("127.0.0.1:{port}")]),
        "{masq}"
    );
    assert_eq!(masq["status"]["conditions"][0]["status"], "True");
    let other = infra
        .get(&Actor::system(), Kind::DNSMasq, "other", "dns")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(other["status"].get("dnsAddresses").is_none(), "{other}");
    let unanswered =
        tokio::task::spawn_blocking(move || dig_short(other_port, &["edpm-compute-0.internalapi"]))
            .await?;
    assert!(unanswered.is_empty(), "{unanswered:?}");

    let status = child.terminate(Duration::from_secs(10))?;
    assert!(status.success(), "exit {status}");
    db.close().await;
    Ok(())
}
