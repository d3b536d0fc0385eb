//! DNSMasq + DNSData through the API, answered by the DNS responder, asked
//! by a real DNS client (`dig`, Debian's dnsutils).

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use neutrino_dns::{HostEntry, RecordSet, Responder, ResponderConfig, Zone};
use serde_json::{Value, json};

use crate::support::{Cloud, backends, fixture};

fn dig(server: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .arg("-p")
        .arg(server.port().to_string())
        .args(["+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig runs (install Debian's dnsutils: scripts/setup.sh)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn short(server: SocketAddr, args: &[&str]) -> Vec<String> {
    let mut a = vec!["+short"];
    a.extend_from_slice(args);
    dig(server, &a)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(String::from)
        .collect()
}

fn rcode(server: SocketAddr, name: &str) -> String {
    let out = dig(server, &["+noall", "+comments", name, "A"]);
    out.split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("no answer")
        .to_string()
}

/// Polls `check` for up to 20 s.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn served_at(cloud: &Cloud) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, m) = cloud.get("dnsmasqs", "dns").await;
        if let Some(a) = m["status"]["dnsAddresses"][0].as_str() {
            assert_eq!(m["status"]["readyCount"], 1, "{m}");
            assert_eq!(m["status"]["conditions"][0]["status"], "True", "{m}");
            return a.parse().expect("IP:PORT for a port other than 53");
        }
        assert!(Instant::now() < deadline, "DNSMasq never served: {m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// Multi-threaded: `dig` runs synchronously while the responders serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dnsmasq_serves_dnsdata_forwards_and_follows_changes() {
    for cloud in backends().await {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let reconciler = tokio::spawn(neutrino_infra::dns::run(cloud.infra.clone(), stop_rx));

        // A second responder stands in for the upstream server.
        let upstream = Responder::start(
            ResponderConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                upstreams: vec![],
                local_domains: vec![],
                ttl: 60,
            },
            RecordSet::from_zones(&[Zone {
                hosts: vec![HostEntry {
                    ip: "10.9.9.9".parse::<IpAddr>().unwrap(),
                    hostnames: vec![
                        "forwarded.example.org".into(),
                        "hidden.openstack.svc".into(),
                    ],
                }],
            }]),
        )
        .await
        .expect("upstream responder");
        let up = upstream.local_addr();

        cloud.apply(&fixture("dnsdata001.yaml")[0]).await;
        // DNSData with another selector value is not served by this DNSMasq.
        cloud
            .apply(
                &json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "DNSData",
                "metadata": {"name": "other"},
                "spec": {"dnsDataLabelSelectorValue": "elsewhere",
                         "hosts": [{"ip": "172.17.0.99", "hostnames": ["not-here.internalapi"]}]}}),
            )
            .await;
        let masq = json!({
            "apiVersion": "network.openstack.org/v1beta1", "kind": "DNSMasq",
            "metadata": {"name": "dns", "annotations": {"dnsmasq.neutrino.openstack.org/listen": "127.0.0.1:0"}},
            "spec": {"options": [{"key": "server", "values": [format!("127.0.0.1#{}", up.port())]}]},
        });
        let stored = cloud.apply(&masq).await;
        // The defaulting webhook's local=/openstack.svc/.
        assert_eq!(
            stored["spec"]["options"][1],
            json!({"key": "local", "values": ["/openstack.svc/"]})
        );
        assert_eq!(stored["spec"]["dnsDataLabelSelectorValue"], "dnsdata");
        let addr = served_at(&cloud).await;

        assert_eq!(
            short(addr, &["edpm-compute-0.internalapi", "A"]),
            ["172.17.0.100"],
            "[{}]",
            cloud.backend
        );
        assert_eq!(
            short(addr, &["EDPM-compute-1.ctlplane", "A"]),
            ["192.168.122.101"]
        );
        assert_eq!(
            short(addr, &["-x", "172.17.0.100"]),
            ["edpm-compute-0.internalapi."]
        );
        assert_eq!(
            short(addr, &["forwarded.example.org", "A"]),
            ["10.9.9.9"],
            "forwarded upstream"
        );
        assert_eq!(
            rcode(addr, "hidden.openstack.svc"),
            "NXDOMAIN",
            "local=/openstack.svc/ is never forwarded"
        );
        assert!(
            short(addr, &["not-here.internalapi", "A"]).is_empty(),
            "other selector not served"
        );

        // A DNSData change is served without a restart (same address).
        let mut more = fixture("dnsdata001.yaml").remove(0);
        more["spec"]["hosts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"ip": "172.17.0.102", "hostnames": ["edpm-compute-2.internalapi"]}));
        cloud.apply(&more).await;
        eventually("the new host", || {
            (short(addr, &["edpm-compute-2.internalapi", "A"]) == ["172.17.0.102"]).then_some(())
        })
        .await;
        assert_eq!(served_at(&cloud).await, addr, "no restart");

        // Selector changes move DNSData in and out.
        let mut moved: Value = fixture("dnsdata001.yaml").remove(0);
        moved["spec"]["dnsDataLabelSelectorValue"] = json!("elsewhere");
        cloud.apply(&moved).await;
        eventually("the hosts to go", || {
            short(addr, &["edpm-compute-0.internalapi", "A"])
                .is_empty()
                .then_some(())
        })
        .await;
        assert_eq!(
            short(addr, &["not-here.internalapi", "A"]),
            Vec::<String>::new()
        );
        let mut masq2 = masq.clone();
        masq2["spec"]["dnsDataLabelSelectorValue"] = json!("Elsewhere");
        cloud.apply(&masq2).await;
        eventually("the other selector's hosts", || {
            (short(addr, &["not-here.internalapi", "A"]) == ["172.17.0.99"]).then_some(())
        })
        .await;
        assert_eq!(
            short(addr, &["edpm-compute-0.internalapi", "A"]),
            ["172.17.0.100"]
        );

        // Deleting the DNSMasq stops its responder.
        assert_eq!(cloud.delete("dnsmasqs", "dns").await.0, 200);
        eventually("the responder to stop", || {
            short(addr, &["edpm-compute-0.internalapi", "A"])
                .is_empty()
                .then_some(())
        })
        .await;

        let _ = stop_tx.send(true);
        reconciler.await.unwrap();
        upstream.shutdown().await;
    }
}

#[tokio::test]
async fn dnsmasq_without_listen_address_reports_why() {
    let cloud = crate::support::sqlite().await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let reconciler = tokio::spawn(neutrino_infra::dns::run(cloud.infra.clone(), stop_rx));
    cloud
        .apply(
            &json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "DNSMasq",
            "metadata": {"name": "dns"}, "spec": {}}),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, m) = cloud.get("dnsmasqs", "dns").await;
        if m["status"]["conditions"][0]["status"] == "False" {
            assert_eq!(m["status"]["readyCount"], 0);
            assert!(
                m["status"]["conditions"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("dnsmasq.neutrino.openstack.org/listen")
            );
            break;
        }
        assert!(Instant::now() < deadline, "{m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_tx.send(true);
    reconciler.await.unwrap();
}
