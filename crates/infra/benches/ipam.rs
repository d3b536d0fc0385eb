//! How long the 1,000th IPSet takes to allocate, in a NetConfig of five
//! networks: admission, one address per network, the Reservation, the
//! status, one transaction (the service call behind `PUT .../ipsets/NAME`,
//! without HTTP). Results go to docs/benchmarks.md ("Infra IPAM").
//!
//! `cargo bench -p neutrino-infra --bench ipam` runs it on SQLite, and on
//! PostgreSQL too when `NEUTRINO_TEST_POSTGRES_URL` names a server where it
//! may create a database (`scripts/pg-test-server.sh start`).

use std::time::{Duration, Instant};

use neutrino_infra::alloc::SubnetPlan;
use neutrino_infra::resources::{AllocationRange, Subnet};
use neutrino_infra::{Actor, Infra, Mode};
use neutrino_store::Db;
use serde_json::{Value, json};

const NETS: [(&str, &str, Option<i64>); 5] = [
    ("CtlPlane", "192.168", None),
    ("InternalApi", "172.17", Some(20)),
    ("Storage", "172.18", Some(21)),
    ("Tenant", "172.19", Some(22)),
    ("External", "10.0", Some(23)),
];
const WARM: usize = 999;
const AFTER: usize = 21;

fn netconfig() -> Value {
    let networks: Vec<Value> = NETS
        .iter()
        .map(|(name, prefix, vlan)| {
            let mut subnet = json!({
                "name": "subnet1",
                "cidr": format!("{prefix}.0.0/16"),
                "gateway": format!("{prefix}.0.1"),
                "allocationRanges": [
                    {"start": format!("{prefix}.0.10"), "end": format!("{prefix}.3.250")},
                    {"start": format!("{prefix}.4.10"), "end": format!("{prefix}.9.250")},
                ],
                "excludeAddresses": [format!("{prefix}.0.12"), format!("{prefix}.1.1")],
            });
            if let Some(v) = vlan {
                subnet["vlan"] = json!(v);
            }
            json!({"name": name, "dnsDomain": format!("{}.example.com", name.to_lowercase()), "subnets": [subnet]})
        })
        .collect();
    json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "NetConfig",
           "metadata": {"name": "netconfig"}, "spec": {"networks": networks}})
}

fn ipset(i: usize) -> Value {
    let nets: Vec<Value> = NETS
        .iter()
        .map(|(n, _, _)| json!({"name": n, "subnetName": "subnet1"}))
        .collect();
    json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "IPSet",
           "metadata": {"name": format!("node-{i}")}, "spec": {"networks": nets}})
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn run(label: &str, url: &str) {
    let db = Db::connect(url).await.expect("database");
    db.migrate().await.expect("migrations");
    let infra = Infra::new(db.clone());
    let actor = Actor::system();
    let ns = "openstack";
    infra
        .apply(
            &actor,
            neutrino_infra::resources::Kind::NetConfig,
            ns,
            "netconfig",
            netconfig(),
            Mode::CreateOrReplace,
        )
        .await
        .expect("netconfig");
    let put = |i: usize| {
        let infra = infra.clone();
        let actor = actor.clone();
        async move {
            let t = Instant::now();
            infra
                .apply(
                    &actor,
                    neutrino_infra::resources::Kind::IPSet,
                    ns,
                    &format!("node-{i}"),
                    ipset(i),
                    Mode::CreateOrReplace,
                )
                .await
                .expect("ipset");
            t.elapsed()
        }
    };
    let warm_start = Instant::now();
    for i in 1..=WARM {
        put(i).await;
    }
    let warm = warm_start.elapsed();
    let thousandth = put(WARM + 1).await;
    let mut after: Vec<Duration> = Vec::new();
    for i in WARM + 2..WARM + 2 + AFTER {
        after.push(put(i).await);
    }
    after.sort();
    println!(
        "{label}: 1,000th IPSet (5 networks): {}; IPSets 1,001-1,021: median {}, max {}; first 999: {:.0} per second",
        ms(thousandth),
        ms(after[AFTER / 2]),
        ms(after[AFTER - 1]),
        WARM as f64 / warm.as_secs_f64()
    );
    db.close().await;
}

/// The pure walk alone, with 999 addresses taken ahead of the free one.
fn walk() {
    let subnet = Subnet {
        name: "subnet1".into(),
        cidr: "172.17.0.0/16".into(),
        allocation_ranges: vec![AllocationRange {
            start: "172.17.0.10".into(),
            end: "172.17.9.250".into(),
        }],
        ..Subnet::default()
    };
    let plan = SubnetPlan::new(&subnet).unwrap();
    let mut taken = std::collections::HashSet::new();
    while taken.len() < 999 {
        let ip = plan.first_free(|c| taken.contains(&c)).unwrap();
        taken.insert(ip);
    }
    let n = 1000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(plan.first_free(|c| taken.contains(&c)));
    }
    println!(
        "address walk past 999 reserved addresses (pure): {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    walk();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        run("sqlite", &neutrino_testkit::sqlite_url(dir.path())).await;
        if neutrino_testkit::postgres_available() {
            let url = neutrino_testkit::postgres_database()
                .await
                .expect("postgres");
            run("postgres", &url).await;
        }
    });
}
