//! Races: concurrent IPSet creates never share an address.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::Value;

use crate::support::{Cloud, addresses, backends, ipset, netconfig, object_path, send};

const NETS: [&str; 5] = ["CtlPlane", "InternalApi", "Storage", "Tenant", "External"];

fn excluded_and_gateways() -> HashSet<String> {
    let nc = netconfig();
    let mut out = HashSet::new();
    for n in nc["spec"]["networks"].as_array().unwrap() {
        for s in n["subnets"].as_array().unwrap() {
            if let Some(g) = s["gateway"].as_str() {
                out.insert(g.to_string());
            }
            for e in s["excludeAddresses"].as_array().into_iter().flatten() {
                out.insert(e.as_str().unwrap().to_string());
            }
        }
    }
    out
}

/// Every reserved address of the namespace, per network, read from the
/// IPSets' statuses; asserts none is shared, excluded or a gateway.
async fn check_distinct(cloud: &Cloud, expected_sets: usize) -> BTreeMap<String, BTreeSet<String>> {
    let (s, list) = cloud
        .call(
            "GET",
            "/infra/v1beta1/namespaces/openstack/ipsets",
            &cloud.admin,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), expected_sets, "[{}]", cloud.backend);
    let forbidden = excluded_and_gateways();
    let mut per_net: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for set in items {
        for (net, addr) in addresses(set) {
            assert!(
                !forbidden.contains(&addr),
                "[{}] {addr} is excluded or a gateway",
                cloud.backend
            );
            assert!(
                per_net.entry(net.clone()).or_default().insert(addr.clone()),
                "[{}] {addr} handed out twice on {net}",
                cloud.backend
            );
        }
    }
    for net in NETS {
        assert_eq!(
            per_net[net].len(),
            expected_sets,
            "[{}] {net}",
            cloud.backend
        );
    }
    // The reservation index agrees with the statuses.
    let rows = neutrino_store::infra::reserved_in_namespace(&cloud.db, "openstack")
        .await
        .unwrap();
    assert_eq!(rows.len(), expected_sets * NETS.len());
    per_net
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_ipsets_get_distinct_addresses() {
    for cloud in backends().await {
        cloud.apply(&netconfig()).await;
        // Half the requests go to a second server over the same database.
        let replica = {
            let db = neutrino_store::Db::connect(&cloud.url).await.unwrap();
            neutrino_infra::api::router(neutrino_infra::Infra::new(db), cloud.identity.clone())
        };
        let mut tasks = Vec::new();
        for i in 0..50 {
            let app = if i % 2 == 0 {
                cloud.app.clone()
            } else {
                replica.clone()
            };
            let token = cloud.admin.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("node-{i}");
                send(
                    &app,
                    "PUT",
                    &object_path("openstack", "ipsets", &name),
                    Some(&token),
                    Some(ipset(&name, &NETS)),
                )
                .await
            }));
        }
        for t in tasks {
            let (s, b) = t.await.unwrap();
            assert_eq!(s, 201, "[{}] {b}", cloud.backend);
        }
        let before = check_distinct(&cloud, 50).await;

        // Re-reconciling keeps every address.
        let (_, set) = cloud.get("ipsets", "node-7").await;
        let (s, again) = cloud.put(&ipset("node-7", &NETS)).await;
        assert_eq!(s, 200);
        assert_eq!(addresses(&again), addresses(&set));

        // Delete ten, create ten others at once: nothing still reserved is
        // handed out again.
        let kept: BTreeMap<String, BTreeSet<String>> = {
            let mut kept = before.clone();
            for i in 0..10 {
                let (_, gone) = cloud.get("ipsets", &format!("node-{i}")).await;
                for (net, addr) in addresses(&gone) {
                    kept.get_mut(&net).unwrap().remove(&addr);
                }
            }
            kept
        };
        let mut tasks = Vec::new();
        for i in 0..10 {
            let app = cloud.app.clone();
            let token = cloud.admin.clone();
            tasks.push(tokio::spawn(async move {
                send(
                    &app,
                    "DELETE",
                    &object_path("openstack", "ipsets", &format!("node-{i}")),
                    Some(&token),
                    None,
                )
                .await
            }));
        }
        for i in 50..60 {
            let app = if i % 2 == 0 {
                cloud.app.clone()
            } else {
                replica.clone()
            };
            let token = cloud.admin.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("node-{i}");
                send(
                    &app,
                    "PUT",
                    &object_path("openstack", "ipsets", &name),
                    Some(&token),
                    Some(ipset(&name, &NETS)),
                )
                .await
            }));
        }
        for t in tasks {
            let (s, b) = t.await.unwrap();
            assert!(s == 200 || s == 201, "[{}] {s} {b}", cloud.backend);
        }
        check_distinct(&cloud, 50).await;
        for i in 10..50 {
            let (_, set) = cloud.get("ipsets", &format!("node-{i}")).await;
            for (net, addr) in addresses(&set) {
                assert!(
                    kept[&net].contains(&addr),
                    "[{}] node-{i} lost {addr} on {net}",
                    cloud.backend
                );
            }
        }
        for i in 50..60 {
            let (_, set) = cloud.get("ipsets", &format!("node-{i}")).await;
            for (net, addr) in addresses(&set) {
                assert!(
                    !kept[&net].contains(&addr),
                    "[{}] {addr} on {net} reused while reserved",
                    cloud.backend
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_netconfig_and_one_ipset() {
    for cloud in backends().await {
        // Ten NetConfigs with different names at once: one wins.
        let mut tasks = Vec::new();
        for i in 0..10 {
            let app = cloud.app.clone();
            let token = cloud.admin.clone();
            let mut nc: Value = netconfig();
            nc["metadata"]["name"] = Value::from(format!("nc-{i}"));
            tasks.push(tokio::spawn(async move {
                send(
                    &app,
                    "PUT",
                    &object_path("openstack", "netconfigs", &format!("nc-{i}")),
                    Some(&token),
                    Some(nc),
                )
                .await
            }));
        }
        let mut created = 0;
        for t in tasks {
            let (s, b) = t.await.unwrap();
            match s {
                201 => created += 1,
                409 => assert!(
                    b["message"]
                        .as_str()
                        .unwrap()
                        .contains("there can only be one"),
                    "{b}"
                ),
                other => panic!("[{}] {other}: {b}", cloud.backend),
            }
        }
        assert_eq!(created, 1, "[{}]", cloud.backend);

        // The same IPSet ten times at once: one address per network.
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let app = cloud.app.clone();
            let token = cloud.admin.clone();
            tasks.push(tokio::spawn(async move {
                send(
                    &app,
                    "PUT",
                    &object_path("openstack", "ipsets", "same"),
                    Some(&token),
                    Some(ipset("same", &NETS)),
                )
                .await
            }));
        }
        for t in tasks {
            let (s, b) = t.await.unwrap();
            assert!(s == 200 || s == 201, "[{}] {s} {b}", cloud.backend);
        }
        let rows = neutrino_store::infra::reserved_in_namespace(&cloud.db, "openstack")
            .await
            .unwrap();
        assert_eq!(rows.len(), NETS.len(), "[{}] {rows:?}", cloud.backend);
    }
}
