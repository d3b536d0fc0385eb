//! The agent against real processes: Debian's haproxy, `ip`.

mod common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use neutrino_amphora_agent::{AgentConfig, serve};
use serde_json::Value;

use common::{Namespaces, netns_pids, tag};

struct Agent {
    url: String,
    base: PathBuf,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
    http: reqwest::Client,
}

async fn agent() -> Agent {
    agent_with(|_| {}).await
}

async fn agent_with(f: impl FnOnce(&mut AgentConfig)) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("agent");
    let mut cfg = AgentConfig::new("5d1c6f0e-4a63-4f4e-9a7b-1a2b3c4d5e6f", &base);
    cfg.config_file = Some(base.join("amphora-agent.toml"));
    f(&mut cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(cfg, listener, None, async move {
        let _ = rx.await;
    }));
    Agent {
        url,
        base,
        _dir: dir,
        _stop: tx,
        http: reqwest::Client::new(),
    }
}

impl Agent {
    async fn call(&self, method: reqwest::Method, path: &str, body: &str) -> (u16, Value, String) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.url))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = r.text().await.unwrap();
        let json = if ct.starts_with("application/json") {
            serde_json::from_str(&text).unwrap()
        } else {
            Value::Null
        };
        (status, json, text)
    }
    async fn put(&self, path: &str, body: &str) -> (u16, Value, String) {
        self.call(reqwest::Method::PUT, path, body).await
    }
    async fn get(&self, path: &str) -> (u16, Value, String) {
        self.call(reqwest::Method::GET, path, "").await
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn haproxy_cfg(listener: &str, port: u16) -> String {
    format!(
        "global\n    daemon\n    maxconn 100\n    group nogroup\n\n\
         defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend {listener}\n    mode http\n    bind 127.0.0.1:{port}\n    default_backend pool\n\n\
         backend pool\n    mode http\n    server m1 127.0.0.1:9\n"
    )
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

const LB: &str = "9b8f0c2e-7e0e-4d39-8e3e-0f4e5d6c7b8a";
const AMP: &str = "5d1c6f0e-4a63-4f4e-9a7b-1a2b3c4d5e6f";

#[tokio::test]
async fn version_info_details() {
    let a = agent().await;
    let (s, v, _) = a.get("/").await;
    assert_eq!((s, v), (200, serde_json::json!({"api_version": "1.0"})));
    let (s, v, _) = a.get("/1.0/info").await;
    assert_eq!(s, 200);
    assert_eq!(v["api_version"], "1.0");
    assert!(
        v["haproxy_version"].as_str().unwrap().starts_with("2."),
        "{v}"
    );
    let (s, v, _) = a.get("/1.0/details").await;
    assert_eq!(s, 200);
    assert_eq!(v["active"], true);
    assert!(v["networks"]["lo"].is_object(), "{v}");
    assert!(v["memory"]["total"].as_u64().unwrap() > 0);
    assert_eq!(v["topology"], "SINGLE");
}

#[tokio::test]
async fn haproxy_lifecycle() {
    let a = agent().await;
    let (p1, p2) = (free_port(), free_port());
    let lid = "3f2a1b0c-1111-2222-3333-444455556666";

    // Unknown LB: JSON 404s.
    let (s, v, _) = a.get(&format!("/1.0/loadbalancer/{LB}/haproxy")).await;
    assert_eq!(s, 404);
    assert_eq!(v["message"], "Loadbalancer Not Found");
    assert_eq!(v["details"], format!("No loadbalancer with UUID: {LB}"));
    let (s, v, _) = a.put(&format!("/1.0/loadbalancer/{LB}/start"), "").await;
    assert_eq!(
        (s, v["message"].as_str()),
        (404, Some("Loadbalancer Not Found"))
    );

    // Upload and start.
    let good = haproxy_cfg(lid, p1);
    let (s, v, _) = a
        .put(&format!("/1.0/loadbalancer/{AMP}/{LB}/haproxy"), &good)
        .await;
    assert_eq!((s, v), (202, serde_json::json!({"message": "OK"})));
    let (s, v, _) = a.put(&format!("/1.0/loadbalancer/{LB}/start"), "").await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(
        v["details"],
        format!("Configuration file is valid\nhaproxy daemon for {LB} started")
    );
    assert!(
        eventually(|| listening(p1)).await,
        "haproxy does not listen on {p1}"
    );
    let pid_file = a.base.join("lb").join(LB).join(format!("{LB}.pid"));
    let pid1: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // The stored config: text, ETag = md5, `group` lines stripped.
    let r = a
        .http
        .get(format!("{}/1.0/loadbalancer/{LB}/haproxy", a.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let text = r.text().await.unwrap();
    assert!(!text.contains("group nogroup"));
    assert_eq!(etag.len(), 32);

    // Listeners.
    let (s, v, _) = a.get("/1.0/listeners").await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        serde_json::json!([{"status": "ACTIVE", "uuid": lid, "type": "HTTP"}])
    );

    // A bad config is refused with haproxy's output; the old one stays.
    let (s, v, _) = a
        .put(
            &format!("/1.0/loadbalancer/{AMP}/{LB}/haproxy"),
            "frontend broken\n    bind 127.0.0.1:notaport\n    frobnicate yes\n",
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["message"], "Invalid request");
    assert!(v["details"].as_str().unwrap().contains("ALERT"), "{v}");
    let (_, _, now) = a.get(&format!("/1.0/loadbalancer/{LB}/haproxy")).await;
    assert_eq!(now, text);
    assert!(listening(p1));

    // Reload picks up a new config (new port, old process gone).
    let (s, _, _) = a
        .put(
            &format!("/1.0/loadbalancer/{AMP}/{LB}/haproxy"),
            &haproxy_cfg(lid, p2),
        )
        .await;
    assert_eq!(s, 202);
    let (s, v, _) = a.put(&format!("/1.0/loadbalancer/{LB}/reload"), "").await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["details"], format!("Listener {LB} reloaded"));
    assert!(
        eventually(|| listening(p2)).await,
        "no listener on {p2} after reload"
    );
    assert!(
        eventually(|| !listening(p1)).await,
        "old port {p1} still open"
    );
    let pid2: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(pid1, pid2);

    // Unknown action.
    let (s, v, _) = a.put(&format!("/1.0/loadbalancer/{LB}/frob"), "").await;
    assert_eq!(s, 400);
    assert_eq!(v["details"], "Unknown action: frob");

    // Stop: the process is gone.
    let (s, v, _) = a.put(&format!("/1.0/loadbalancer/{LB}/stop"), "").await;
    assert_eq!(s, 202);
    assert_eq!(v["details"], format!("Listener {LB} stoped"));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid2}/cmdline")).exists() || {
            let st = std::fs::read_to_string(format!("/proc/{pid2}/stat")).unwrap_or_default();
            st.contains(") Z")
        }
    );
    assert!(!listening(p2));

    // Reload of a stopped haproxy starts it.
    let (s, v, _) = a.put(&format!("/1.0/loadbalancer/{LB}/reload"), "").await;
    assert_eq!(s, 202);
    assert!(v["details"].as_str().unwrap().ends_with("started"));
    assert!(eventually(|| listening(p2)).await);

    // Delete stops it and forgets the LB; deleting again is fine.
    let (s, v, _) = a
        .call(reqwest::Method::DELETE, &format!("/1.0/listeners/{LB}"), "")
        .await;
    assert_eq!((s, v), (200, serde_json::json!({"message": "OK"})));
    assert!(eventually(|| !listening(p2)).await);
    let (s, _, _) = a.get(&format!("/1.0/loadbalancer/{LB}/haproxy")).await;
    assert_eq!(s, 404);
    let (s, _, _) = a
        .call(reqwest::Method::DELETE, &format!("/1.0/listeners/{LB}"), "")
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn certificates() {
    let a = agent().await;
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let path = format!("/1.0/loadbalancer/{LB}/certificates/abc123.pem");
    let (s, v, _) = a.get(&path).await;
    assert_eq!(s, 404);
    assert_eq!(v["message"], "Certificate Not Found");
    let (s, v, _) = a.put(&path, pem).await;
    assert_eq!((s, v), (200, serde_json::json!({"message": "OK"})));
    let (s, v, _) = a.get(&path).await;
    assert_eq!(s, 200);
    // md5 of the PEM above, as Python's hashlib computes it.
    let expected = {
        let out = std::process::Command::new("md5sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(pem.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..32].to_string()
    };
    assert_eq!(v["md5sum"], expected);
    let stored = a.base.join("certs").join(LB).join("abc123.pem");
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), pem);
    let (s, _, _) = a.call(reqwest::Method::DELETE, &path, "").await;
    assert_eq!(s, 200);
    assert!(!stored.exists());
    let (s, v, _) = a
        .put(&format!("/1.0/loadbalancer/{LB}/certificates/nopem"), pem)
        .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("Filename has wrong format"))
    );
    let (s, _, _) = a
        .put(&format!("/1.0/loadbalancer/{LB}/certificates/..pem"), pem)
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn interfaces_config_vrrp_and_404s() {
    let a = agent().await;
    let (s, v, _) = a.get("/1.0/interface/127.0.0.1").await;
    assert_eq!(
        (s, v),
        (200, serde_json::json!({"message": "OK", "interface": "lo"}))
    );
    let (s, v, _) = a.get("/1.0/interface/203.0.113.77").await;
    assert_eq!(s, 404);
    assert_eq!(v["message"], "Error interface not found for IP address");
    let (s, v, _) = a.get("/1.0/interface/not-an-ip").await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("Invalid IP address"))
    );

    // Unknown paths: JSON 404.
    let (s, v, _) = a.get("/1.0/nothing/here").await;
    assert_eq!(s, 404);
    assert!(v.is_object());

    // Plugging: bad body, unknown MAC.
    let (s, v, _) = a
        .call(reqwest::Method::POST, "/1.0/plug/vip/203.0.113.10", "{}")
        .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("Invalid subnet information"))
    );
    let body = r#"{"subnet_cidr":"203.0.113.0/24","gateway":"203.0.113.1","mac_address":"fa:16:3e:00:00:99"}"#;
    let (s, v, _) = a
        .call(reqwest::Method::POST, "/1.0/plug/vip/203.0.113.10", body)
        .await;
    assert_eq!(s, 404);
    assert_eq!(v["details"], "No suitable network interface found");
    let (s, v, _) = a
        .call(reqwest::Method::POST, "/1.0/plug/vip/nope", body)
        .await;
    assert_eq!(s, 400);
    assert!(v["message"].as_str().unwrap().starts_with("Invalid VIP"));
    let (s, _, _) = a
        .call(
            reqwest::Method::POST,
            "/1.0/plug/network",
            r#"{"mac_address":"fa:16:3e:00:00:98"}"#,
        )
        .await;
    assert_eq!(s, 404);

    // Agent config rewrite: a whole TOML config is written as sent.
    let conf = a.base.join("amphora-agent.toml");
    let text = "amphora_id = \"x\"\nbase_dir = \"/var/lib/x\"\n";
    let (s, v, _) = a.put("/1.0/config", text).await;
    assert_eq!((s, v), (202, serde_json::json!({"message": "OK"})));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), text);
    // What the agent could not start from is refused; the file stays.
    for bad in [
        "amphora_id = \"x\"\n",
        "garbage",
        "[health_manager]\nheartbeat_interval = soon\n",
    ] {
        let (s, v, _) = a.put("/1.0/config", bad).await;
        assert_eq!(
            (s, v["message"].as_str()),
            (400, Some("Unable to update amphora-agent configuration.")),
            "{bad:?}"
        );
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), text);
    }

    // Server certificate.
    let (s, _, _) = a.put("/1.0/certificate", "PEM").await;
    assert_eq!(s, 202);
    assert!(a.base.join("agent/server.pem").exists());

    // keepalived: a config `keepalived -t` refuses is not stored (the
    // whole lifecycle is tests/vrrp.rs).
    let (s, v, _) = a.put("/1.0/vrrp/upload", "vrrp_instance x {}\n").await;
    assert_eq!((s, v["message"].as_str()), (400, Some("Invalid request")));
    assert!(!a.base.join("vrrp/octavia-keepalived.conf").exists());
    let (s, v, _) = a.put("/1.0/vrrp/frob", "").await;
    assert_eq!(
        (s, v["details"].as_str()),
        (400, Some("Unknown action: frob"))
    );
}

#[tokio::test]
async fn haproxy_runs_in_the_inner_namespace_the_agent_creates() {
    // The agent creates it; killed and deleted on drop.
    let mut namespaces = Namespaces::default();
    let ns = namespaces.adopt(format!("nt-agent-hap-{}", tag()));
    let a = agent_with(|c| c.inner_namespace = Some(ns.clone())).await;
    assert!(!std::path::Path::new("/run/netns").join(&ns).exists());
    let port = free_port();
    let lid = "3f2a1b0c-1111-2222-3333-444455556666";
    let (s, _, body) = a
        .put(
            &format!("/1.0/loadbalancer/{AMP}/{LB}/haproxy"),
            &haproxy_cfg(lid, port),
        )
        .await;
    assert_eq!(s, 202, "{body}");
    let (s, _, body) = a.put(&format!("/1.0/loadbalancer/{LB}/start"), "").await;
    assert_eq!(s, 202, "{body}");

    // Created, with its loopback up (as upstream's amphora-netns unit
    // leaves amphora-haproxy): haproxy listens on 127.0.0.1 in there.
    let lo = std::process::Command::new("ip")
        .args(["-n", &ns, "-j", "link", "show", "dev", "lo"])
        .output()
        .unwrap();
    let lo: Value = serde_json::from_slice(&lo.stdout).unwrap();
    assert!(
        lo[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "{lo}"
    );
    let inside = |port: u16| {
        std::process::Command::new("ip")
            .args(["netns", "exec", &ns, "bash", "-c"])
            .arg(format!("exec 3<>/dev/tcp/127.0.0.1/{port}"))
            .status()
            .unwrap()
            .success()
    };
    assert!(inside(port), "haproxy does not answer inside {ns}");
    assert!(!listening(port), "haproxy listens outside its namespace");
    assert!(!netns_pids(&ns).is_empty());

    let (s, _, _) = a
        .call(reqwest::Method::DELETE, &format!("/1.0/listeners/{LB}"), "")
        .await;
    assert_eq!(s, 200);
    assert!(eventually(|| netns_pids(&ns).is_empty()).await);
}
