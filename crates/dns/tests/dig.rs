//! The responder as a real client sees it: every query here is made by
//! `dig` (Debian's dnsutils, installed by scripts/setup.sh) against
//! responders on 127.0.0.1 with free ports.

use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::time::{Duration, Instant};

use neutrino_dns::{HostEntry, RecordSet, Responder, ResponderConfig, ResponderHandle, Zone};

// ------------------------------------------------------------------ support

/// Is `dig` here? Under CI it must be; elsewhere a test without it is
/// skipped with a note.
fn dig_available() -> bool {
    let found = std::process::Command::new("dig")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`dig` is missing: the DNS tests need Debian's dnsutils (scripts/setup.sh installs it)"
        );
        eprintln!("skipping: `dig` not found (install dnsutils, or run scripts/setup.sh)");
    }
    found
}

macro_rules! require_dig {
    () => {
        if !dig_available() {
            return;
        }
    };
}

/// What dig printed, parsed.
#[derive(Debug)]
struct Dig {
    status: String,
    flags: Vec<String>,
    /// (owner, ttl, type, data)
    answers: Vec<(String, u32, String, String)>,
    elapsed: Duration,
    output: String,
}

impl Dig {
    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn data(&self) -> Vec<&str> {
        self.answers.iter().map(|a| a.3.as_str()).collect()
    }
}

async fn dig(server: SocketAddr, args: &[&str]) -> Dig {
    let started = Instant::now();
    let output = tokio::process::Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "+time=5", "+tries=1"])
        .args(args)
        .output()
        .await
        .expect("run dig");
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let status = text
        .split("status: ")
        .nth(1)
        .map(|rest| rest.split(',').next().unwrap().to_owned())
        .unwrap_or_else(|| "NO-RESPONSE".to_owned());
    let flags = text
        .lines()
        .find_map(|l| l.strip_prefix(";; flags: "))
        .map(|rest| {
            rest.split(';')
                .next()
                .unwrap()
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let answers = text
        .lines()
        .skip_while(|l| !l.starts_with(";; ANSWER SECTION:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            assert!(f.len() >= 5, "odd answer line {l:?}");
            (
                f[0].to_owned(),
                f[1].parse().unwrap(),
                f[3].to_owned(),
                f[4..].join(" "),
            )
        })
        .collect();
    Dig {
        status,
        flags,
        answers,
        elapsed,
        output: text,
    }
}

fn hosts(list: &[(&str, &[&str])]) -> Zone {
    Zone {
        hosts: list
            .iter()
            .map(|(ip, names)| HostEntry {
                ip: ip.parse().unwrap(),
                hostnames: names.iter().map(|n| n.to_string()).collect(),
            })
            .collect(),
    }
}

/// `spec.hosts` of document 001's DNSData example (`somehosts`), verbatim
/// (its `storge` typo included).
fn doc_001_dnsdata() -> Zone {
    hosts(&[
        ("192.168.122.100", &["edpm-compute-0.ctlplane"]),
        ("172.17.0.100", &["edpm-compute-0.internalapi"]),
        ("172.18.0.100", &["edpm-compute-0.storge"]),
        ("172.19.0.100", &["edpm-compute-0.tenant"]),
        ("192.168.122.101", &["edpm-compute-1.ctlplane"]),
        ("172.17.0.101", &["edpm-compute-1.internalapi"]),
        ("172.18.0.101", &["edpm-compute-1.storge"]),
        ("172.19.0.101", &["edpm-compute-1.tenant"]),
    ])
}

fn v6_zone() -> Zone {
    hosts(&[(
        "fd00:bbbb::100",
        &["edpm-compute-0.storagev6", "edpm-compute-0.internalapi"],
    )])
}

async fn start(
    zones: &[Zone],
    upstreams: Vec<SocketAddr>,
    local_domains: &[&str],
) -> ResponderHandle {
    Responder::start(
        ResponderConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstreams,
            local_domains: local_domains.iter().map(|d| d.to_string()).collect(),
            ttl: 120,
        },
        RecordSet::from_zones(zones),
    )
    .await
    .expect("start responder")
}

/// A local UDP port nothing listens on (an ICMP port-unreachable answers).
fn closed_port() -> SocketAddr {
    let socket = StdUdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doc_001_names_resolve() {
    require_dig!();
    let dns = start(&[doc_001_dnsdata()], vec![], &[]).await;
    let r = dig(dns.local_addr(), &["edpm-compute-0.internalapi", "A"]).await;
    assert_eq!(r.status, "NOERROR", "{}", r.output);
    assert!(r.has_flag("aa"), "not authoritative: {}", r.output);
    assert_eq!(
        r.answers,
        [(
            "edpm-compute-0.internalapi.".to_owned(),
            120,
            "A".to_owned(),
            "172.17.0.100".to_owned()
        )]
    );
    for host in doc_001_dnsdata().hosts {
        let r = dig(dns.local_addr(), &["+short", &host.hostnames[0], "A"]).await;
        assert_eq!(
            r.output.trim(),
            host.ip.to_string(),
            "{}",
            host.hostnames[0]
        );
    }
    dns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aaaa_and_nodata() {
    require_dig!();
    let dns = start(&[doc_001_dnsdata(), v6_zone()], vec![], &[]).await;
    let r = dig(dns.local_addr(), &["edpm-compute-0.storagev6", "AAAA"]).await;
    assert_eq!(r.status, "NOERROR", "{}", r.output);
    assert!(r.has_flag("aa"));
    assert_eq!(r.data(), ["fd00:bbbb::100"]);

    // A name with both families answers each type with its own records.
    let r = dig(dns.local_addr(), &["edpm-compute-0.internalapi", "AAAA"]).await;
    assert_eq!(r.data(), ["fd00:bbbb::100"]);
    let r = dig(dns.local_addr(), &["edpm-compute-0.internalapi", "A"]).await;
    assert_eq!(r.data(), ["172.17.0.100"]);

    // Known name, no record of that type: NOERROR, empty, authoritative,
    // not forwarded (there is no upstream; a forward would be REFUSED).
    for (name, qtype) in [
        ("edpm-compute-0.storagev6", "A"),
        ("edpm-compute-0.ctlplane", "AAAA"),
        ("edpm-compute-0.ctlplane", "MX"),
    ] {
        let r = dig(dns.local_addr(), &[name, qtype]).await;
        assert_eq!(r.status, "NOERROR", "{name} {qtype}: {}", r.output);
        assert!(r.has_flag("aa"), "{name} {qtype}");
        assert!(r.answers.is_empty(), "{name} {qtype}: {:?}", r.answers);
    }
    assert_eq!(dns.stats().forwarded, 0);
    dns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ptr_records() {
    require_dig!();
    let dns = start(&[doc_001_dnsdata(), v6_zone()], vec![], &[]).await;
    let r = dig(dns.local_addr(), &["-x", "172.17.0.100"]).await;
    assert_eq!(r.status, "NOERROR", "{}", r.output);
    assert!(r.has_flag("aa"));
    assert_eq!(
        r.answers,
        [(
            "100.0.17.172.in-addr.arpa.".to_owned(),
            120,
            "PTR".to_owned(),
            "edpm-compute-0.internalapi.".to_owned()
        )]
    );
    let r = dig(dns.local_addr(), &["-x", "192.168.122.101"]).await;
    assert_eq!(r.data(), ["edpm-compute-1.ctlplane."]);

    // Two names on one v6 address: a PTR for each, in the listed order.
    let r = dig(dns.local_addr(), &["-x", "fd00:bbbb::100"]).await;
    assert_eq!(r.status, "NOERROR", "{}", r.output);
    assert_eq!(
        r.data(),
        ["edpm-compute-0.storagev6.", "edpm-compute-0.internalapi."]
    );
    assert!(
        r.answers[0].0.ends_with(".b.b.b.b.0.0.d.f.ip6.arpa."),
        "{:?}",
        r.answers
    );
    dns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_match_case_insensitively() {
    require_dig!();
    let dns = start(&[doc_001_dnsdata()], vec![], &[]).await;
    for name in [
        "EDPM-COMPUTE-0.INTERNALAPI",
        "Edpm-Compute-0.InternalApi.",
        "edpm-compute-0.internalapi.",
    ] {
        let r = dig(dns.local_addr(), &[name, "A"]).await;
        assert_eq!(r.status, "NOERROR", "{name}: {}", r.output);
        assert_eq!(r.data(), ["172.17.0.100"], "{name}");
        // The answer spells the name as the question did.
        assert_eq!(
            r.answers[0].0.trim_end_matches('.'),
            name.trim_end_matches('.')
        );
    }
    let r = dig(dns.local_addr(), &["-x", "172.17.0.100", "+nocmd"]).await;
    assert_eq!(r.data(), ["edpm-compute-0.internalapi."]);
    dns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_are_forwarded_in_order() {
    require_dig!();
    let upstream = start(
        &[hosts(&[("10.9.8.7", &["only-upstream.example"])])],
        vec![],
        &[],
    )
    .await;
    // The first upstream is down: the second is asked.
    let dns = start(
        &[doc_001_dnsdata()],
        vec![closed_port(), upstream.local_addr()],
        &[],
    )
    .await;

    let r = dig(dns.local_addr(), &["only-upstream.example", "A"]).await;
    assert_eq!(r.status, "NOERROR", "{}", r.output);
    assert_eq!(r.data(), ["10.9.8.7"]);
    // The upstream's own (authoritative) answer is relayed.
    assert!(r.has_flag("aa"));
    assert_eq!(upstream.stats().udp_queries, 1);
    assert_eq!(upstream.stats().local_answers, 1);
    assert_eq!(dns.stats().forwarded, 1);

    // Local names are not forwarded.
    let r = dig(dns.local_addr(), &["edpm-compute-1.tenant", "A"]).await;
    assert_eq!(r.data(), ["172.19.0.101"]);
    assert_eq!(upstream.stats().udp_queries, 1);

    // Over TCP the upstream is asked over TCP.
    let r = dig(dns.local_addr(), &["+tcp", "only-upstream.example", "A"]).await;
    assert_eq!(r.data(), ["10.9.8.7"], "{}", r.output);
    assert_eq!(upstream.stats().tcp_queries, 1);
    dns.shutdown().await;
    upstream.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_domains_get_nxdomain_without_forwarding() {
    require_dig!();
    let upstream = start(
        &[hosts(&[(
            "10.9.8.7",
            &["db.openstack.svc", "www.example.com"],
        )])],
        vec![],
        &[],
    )
    .await;
    let dns = start(
        &[doc_001_dnsdata()],
        vec![upstream.local_addr()],
        &["openstack.svc"],
    )
    .await;

    for name in ["db.openstack.svc", "OPENSTACK.SVC", "a.b.openstack.svc."] {
        let r = dig(dns.local_addr(), &[name, "A"]).await;
        assert_eq!(r.status, "NXDOMAIN", "{name}: {}", r.output);
        assert!(r.has_flag("aa"), "{name}");
        assert!(r.answers.is_empty());
    }
    assert_eq!(
        upstream.stats().udp_queries,
        0,
        "a local-domain name reached the upstream"
    );

    // Control: the same upstream does get names outside the local domain,
    // including ones that merely end with the same characters.
    let r = dig(dns.local_addr(), &["www.example.com", "A"]).await;
    assert_eq!(r.data(), ["10.9.8.7"]);
    let r = dig(dns.local_addr(), &["db.xopenstack.svc", "A"]).await;
    assert_eq!(
        r.status, "REFUSED",
        "the upstream refuses what it does not know: {}",
        r.output
    );
    assert_eq!(upstream.stats().udp_queries, 2);
    dns.shutdown().await;
    upstream.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_take_effect_without_restart() {
    require_dig!();
    let upstream = start(
        &[hosts(&[("10.9.8.7", &["new-host.internalapi"])])],
        vec![],
        &[],
    )
    .await;
    let dns = start(&[doc_001_dnsdata()], vec![], &["internalapi"]).await;
    let addr = dns.local_addr();

    let r = dig(addr, &["edpm-compute-2.internalapi", "A"]).await;
    assert_eq!(r.status, "NXDOMAIN", "{}", r.output);

    let mut zone = doc_001_dnsdata();
    zone.hosts
        .retain(|h| h.hostnames[0] != "edpm-compute-0.internalapi");
    zone.hosts.push(HostEntry {
        ip: "172.17.0.102".parse().unwrap(),
        hostnames: vec!["edpm-compute-2.internalapi".into()],
    });
    dns.update_records(RecordSet::from_zones(&[zone]));

    let r = dig(addr, &["edpm-compute-2.internalapi", "A"]).await;
    assert_eq!(r.status, "NOERROR", "{}", r.output);
    assert_eq!(r.data(), ["172.17.0.102"]);
    let r = dig(addr, &["-x", "172.17.0.102"]).await;
    assert_eq!(r.data(), ["edpm-compute-2.internalapi."]);
    // The removed host is gone, its PTR too.
    let r = dig(addr, &["edpm-compute-0.internalapi", "A"]).await;
    assert_eq!(r.status, "NXDOMAIN", "{}", r.output);
    let r = dig(addr, &["-x", "172.17.0.100"]).await;
    assert!(r.answers.is_empty(), "{}", r.output);

    // New forwarding settings too: internalapi is no longer local, so its
    // unknown names go to the new upstream.
    let r = dig(addr, &["new-host.internalapi", "A"]).await;
    assert_eq!(r.status, "NXDOMAIN");
    dns.update_config(vec![upstream.local_addr()], vec!["openstack.svc".into()]);
    let r = dig(addr, &["new-host.internalapi", "A"]).await;
    assert_eq!(r.data(), ["10.9.8.7"], "{}", r.output);
    let r = dig(addr, &["x.openstack.svc", "A"]).await;
    assert_eq!(r.status, "NXDOMAIN");
    assert_eq!(upstream.stats().udp_queries, 1);
    assert_eq!(dns.local_addr(), addr);
    dns.shutdown().await;
    upstream.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_queries() {
    require_dig!();
    let dns = start(&[doc_001_dnsdata()], vec![], &["openstack.svc"]).await;
    let r = dig(
        dns.local_addr(),
        &["+tcp", "edpm-compute-0.internalapi", "A"],
    )
    .await;
    assert_eq!(r.status, "NOERROR", "{}", r.output);
    assert!(r.has_flag("aa"));
    assert_eq!(r.data(), ["172.17.0.100"]);
    let r = dig(dns.local_addr(), &["+tcp", "-x", "172.18.0.101"]).await;
    assert_eq!(r.data(), ["edpm-compute-1.storge."]);
    let r = dig(dns.local_addr(), &["+tcp", "nope.openstack.svc"]).await;
    assert_eq!(r.status, "NXDOMAIN");
    let stats = dns.stats();
    assert_eq!((stats.tcp_queries, stats.udp_queries), (3, 0));
    dns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_truncate_over_udp_and_complete_over_tcp() {
    require_dig!();
    let many: Vec<String> = (1..=120).map(|i| format!("10.1.0.{i}")).collect();
    let zone = Zone {
        hosts: many
            .iter()
            .map(|ip| HostEntry {
                ip: ip.parse().unwrap(),
                hostnames: vec!["many.internalapi".into()],
            })
            .collect(),
    };
    let dns = start(&[zone], vec![], &[]).await;
    // dig retries a truncated answer over TCP by itself...
    let r = dig(dns.local_addr(), &["many.internalapi", "A"]).await;
    assert_eq!(r.status, "NOERROR", "{}", r.output);
    assert_eq!(r.answers.len(), 120);
    assert!(dns.stats().tcp_queries >= 1);
    // ...and shows the TC flag when told not to.
    let r = dig(
        dns.local_addr(),
        &["+ignore", "+noedns", "many.internalapi", "A"],
    )
    .await;
    assert!(r.has_flag("tc"), "{}", r.output);
    dns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_gives_servfail_quickly() {
    require_dig!();
    // Closed port: the ICMP error ends each attempt at once.
    let dns = start(
        &[doc_001_dnsdata()],
        vec![closed_port(), closed_port()],
        &[],
    )
    .await;
    let r = dig(dns.local_addr(), &["unknown.example.com", "A"]).await;
    assert_eq!(r.status, "SERVFAIL", "{}", r.output);
    assert!(!r.has_flag("aa"));
    // Well under the 2 s forwarding timeout (dig's own start-up included).
    assert!(
        r.elapsed < Duration::from_millis(1500),
        "took {:?}",
        r.elapsed
    );
    assert_eq!(dns.stats().forward_failures, 1);
    let r = dig(dns.local_addr(), &["+tcp", "unknown.example.com", "A"]).await;
    assert_eq!(r.status, "SERVFAIL", "{}", r.output);
    // Well under the 2 s forwarding timeout (dig's own start-up included).
    assert!(
        r.elapsed < Duration::from_millis(1500),
        "took {:?}",
        r.elapsed
    );
    dns.shutdown().await;

    // An upstream that swallows queries: SERVFAIL after the 2 s timeout,
    // well before dig's own 5 s.
    let silent = StdUdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = start(&[], vec![silent.local_addr().unwrap()], &[]).await;
    let r = dig(dns.local_addr(), &["unknown.example.com", "A"]).await;
    assert_eq!(r.status, "SERVFAIL", "{}", r.output);
    assert!(
        r.elapsed >= Duration::from_millis(1900) && r.elapsed < Duration::from_secs(4),
        "took {:?}",
        r.elapsed
    );
    let mut buf = [0u8; 512];
    silent.set_nonblocking(true).unwrap();
    assert!(
        silent.recv(&mut buf).is_ok(),
        "the silent upstream was never asked"
    );
    dns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_upstream_refuses_like_dnsmasq() {
    require_dig!();
    let dns = start(&[doc_001_dnsdata()], vec![], &[]).await;
    let r = dig(dns.local_addr(), &["unknown.example.com", "A"]).await;
    assert_eq!(r.status, "REFUSED", "{}", r.output);
    dns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_frees_the_port() {
    require_dig!();
    let dns = start(&[doc_001_dnsdata()], vec![], &[]).await;
    let addr = dns.local_addr();
    dns.shutdown().await;
    let again = Responder::start(
        ResponderConfig {
            listen: addr,
            upstreams: vec![],
            local_domains: vec![],
            ttl: 5,
        },
        RecordSet::from_zones(&[v6_zone()]),
    )
    .await
    .expect("the port is free again after shutdown");
    let r = dig(addr, &["edpm-compute-0.internalapi", "AAAA"]).await;
    assert_eq!(r.data(), ["fd00:bbbb::100"]);
    assert_eq!(r.answers[0].1, 5);
    again.shutdown().await;
}
