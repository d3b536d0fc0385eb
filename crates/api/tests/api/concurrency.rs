//! Racing creates: the database's unique constraints decide, never luck.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::{self, request, send};

#[tokio::test]
async fn thirty_two_racing_ports_on_ten_free_addresses() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "race").await;
        c.subnet(
            &c.alice,
            &net,
            "10.5.0.0/24",
            json!({"allocation_pools": [{"start": "10.5.0.10", "end": "10.5.0.19"}]}),
        )
        .await;
        let body = json!({"port": {"network_id": net["id"]}});
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let app = c.app.clone();
                let req = request("POST", "/v2.0/ports", Some(&c.alice), Some(body.clone()));
                tokio::spawn(async move { send(&app, req).await })
            })
            .collect();
        let mut ok = Vec::new();
        let mut failures = 0;
        for t in tasks {
            let (status, _, b) = t.await.expect("task");
            match status.as_u16() {
                201 => ok.push(
                    b["port"]["fixed_ips"][0]["ip_address"]
                        .as_str()
                        .expect("ip")
                        .to_string(),
                ),
                409 => {
                    assert_eq!(
                        b["NeutronError"]["type"], "IpAddressGenerationFailure",
                        "{b}"
                    );
                    failures += 1;
                }
                other => panic!("[{}] unexpected {other}: {b}", c.backend),
            }
        }
        assert_eq!(
            ok.len(),
            10,
            "[{}] exactly the free addresses are handed out",
            c.backend
        );
        assert_eq!(failures, 22);
        let distinct: HashSet<&String> = ok.iter().collect();
        assert_eq!(
            distinct.len(),
            10,
            "[{}] addresses are distinct: {ok:?}",
            c.backend
        );
        assert_eq!(
            c.count("ports").await,
            10,
            "[{}] failed creates leave no port behind",
            c.backend
        );
        assert_eq!(c.count("ip_allocations").await, 10);
    }
}

#[tokio::test]
async fn racing_networks_get_distinct_segments() {
    for c in support::backends().await {
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let app = c.app.clone();
                let req = request(
                    "POST",
                    "/v2.0/networks",
                    Some(&c.admin),
                    Some(json!({"network": {"name": format!("n{i}")}})),
                );
                tokio::spawn(async move { send(&app, req).await })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            let (status, _, b) = t.await.expect("task");
            assert_eq!(status, 201, "[{}] {b}", c.backend);
            let v: &Value = &b["network"]["provider:segmentation_id"];
            ids.push(v.as_i64().expect("segment id"));
        }
        ids.sort();
        assert_eq!(
            ids,
            (1..=20).collect::<Vec<_>>(),
            "[{}] lowest free ids, no duplicates",
            c.backend
        );
    }
}

#[tokio::test]
async fn two_api_servers_on_one_database_never_share_an_address() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "replicas").await;
        c.subnet(
            &c.alice,
            &net,
            "10.6.0.0/24",
            json!({"allocation_pools": [{"start": "10.6.0.10", "end": "10.6.0.29"}]}),
        )
        .await;
        let replica = c.replica().await;
        let body = json!({"port": {"network_id": net["id"]}});
        let tasks: Vec<_> = (0..30)
            .map(|i| {
                let app = if i % 2 == 0 {
                    c.app.clone()
                } else {
                    replica.clone()
                };
                let req = request("POST", "/v2.0/ports", Some(&c.alice), Some(body.clone()));
                tokio::spawn(async move { send(&app, req).await })
            })
            .collect();
        let mut ips = HashSet::new();
        let mut conflicts = 0;
        for t in tasks {
            let (status, _, b) = t.await.expect("task");
            match status.as_u16() {
                201 => assert!(
                    ips.insert(
                        b["port"]["fixed_ips"][0]["ip_address"]
                            .as_str()
                            .expect("ip")
                            .to_string()
                    ),
                    "duplicate address: {b}"
                ),
                409 => conflicts += 1,
                other => panic!("[{}] unexpected {other}: {b}", c.backend),
            }
        }
        assert_eq!(
            ips.len(),
            20,
            "[{}] both servers together hand out every address once",
            c.backend
        );
        assert_eq!(conflicts, 10);
        assert_eq!(c.count("ip_allocations").await, 20);
    }
}
