//! Concurrent writers on two API servers over one database (issue 11):
//! the load balancer's compare-and-set lets exactly one change through at
//! a time, and quota counts hold under concurrent creates. Meaningful on
//! PostgreSQL (SQLite serialises writers); run on both.

use neutrino_lb_api::LbConfig;
use serde_json::json;

use crate::fixtures::active_lb;
use crate::support::{backends, send_json};

#[tokio::test]
async fn concurrent_member_creates_pass_one_at_a_time_and_the_rest_get_409() {
    for cloud in backends().await {
        let b = cloud.backend;
        let one = cloud.lb(LbConfig::default());
        let two = cloud.second_server(LbConfig::default());
        let lb = active_lb(&cloud, &one, &cloud.alice, "10.40.0.0/24").await;
        let (lb_id, lb_path, subnet) = (lb.id, lb.path, lb.subnet);
        let pool = send_json(&one, "POST", "/v2/lbaas/pools", Some(&cloud.alice),
            json!({"pool": {"loadbalancer_id": lb_id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}})).await;
        assert_eq!(pool.status, 201, "{b}: {}", pool.body);
        let pool_id = pool.body["pool"]["id"].as_str().expect("id").to_string();
        cloud
            .wait_for(&one, &lb_path, "loadbalancer", "ACTIVE")
            .await;

        let path = format!("/v2/lbaas/pools/{pool_id}/members");
        let calls = (0..20).map(|i| {
            let app = if i % 2 == 0 { one.clone() } else { two.clone() };
            let path = path.clone();
            let token = cloud.alice.clone();
            let subnet = subnet.clone();
            async move {
                send_json(
                    &app,
                    "POST",
                    &path,
                    Some(&token),
                    json!({"member": {
                    "address": format!("10.40.0.{}", 10 + i), "protocol_port": 80,
                    "subnet_id": subnet}}),
                )
                .await
            }
        });
        let answers = futures::future::join_all(calls).await;
        let mut won = 0;
        for a in &answers {
            match a.status.as_u16() {
                201 => won += 1,
                // Upstream checks the pool, then sets the load balancer:
                // either is busy with the winner's change.
                409 => assert!(
                    [
                        format!("Pool {pool_id} is immutable and cannot be updated."),
                        format!("Load Balancer {lb_id} is immutable and cannot be updated."),
                    ]
                    .iter()
                    .any(|m| a.body["faultstring"] == m.as_str()),
                    "{b}: {}",
                    a.body
                ),
                other => panic!("{b}: unexpected {other}: {}", a.body),
            }
        }
        assert!(won >= 1, "{b}: somebody wins");
        let lb = cloud
            .wait_for(&one, &lb_path, "loadbalancer", "ACTIVE")
            .await;
        assert_eq!(lb["provisioning_status"], "ACTIVE", "{b}");
        // Exactly the winners are stored.
        cloud
            .assert_rows(&format!("lb_members WHERE pool_id = '{pool_id}'"), won)
            .await;
        cloud
            .assert_rows("lb_members WHERE provisioning_status <> 'ACTIVE'", 0)
            .await;
        cloud.assert_rows("lb_flows", 0).await;
    }
}

#[tokio::test]
async fn concurrent_load_balancer_creates_respect_the_quota_and_leak_no_vip_port() {
    for cloud in backends().await {
        let b = cloud.backend;
        let one = cloud.lb(LbConfig::default());
        let two = cloud.second_server(LbConfig::default());
        let (net, subnet) = cloud.network(&cloud.alice, "10.41.0.0/24").await;
        let put = send_json(
            &one,
            "PUT",
            &format!("/v2/lbaas/quotas/{}", cloud.alpha),
            Some(&cloud.admin),
            json!({"quota": {"loadbalancer": 2}}),
        )
        .await;
        assert_eq!(put.status, 202, "{b}: {}", put.body);
        let calls = (0..10).map(|i| {
            let app = if i % 2 == 0 { one.clone() } else { two.clone() };
            let token = cloud.alice.clone();
            let subnet = subnet.clone();
            async move {
                send_json(
                    &app,
                    "POST",
                    "/v2/lbaas/loadbalancers",
                    Some(&token),
                    json!({"loadbalancer": {"vip_subnet_id": subnet}}),
                )
                .await
            }
        });
        let answers = futures::future::join_all(calls).await;
        let mut created = 0;
        for a in &answers {
            match a.status.as_u16() {
                201 => created += 1,
                403 => assert_eq!(
                    a.body["faultstring"], "Quota has been met for resources: Load Balancer",
                    "{b}"
                ),
                // A lock conflict on PostgreSQL is a retryable 409.
                409 => assert_eq!(a.body["faultcode"], "Client", "{b}"),
                other => panic!("{b}: unexpected {other}: {}", a.body),
            }
        }
        assert!((1..=2).contains(&created), "{b}: {created} created");
        cloud.assert_rows("lb_load_balancers", created).await;
        // One VIP port per load balancer, none from refused creates.
        cloud
            .assert_rows(&format!("ports WHERE network_id = '{net}'"), created)
            .await;
    }
}
