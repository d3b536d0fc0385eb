//! Load balancers: create with a VIP port in the same transaction, the
//! flow to ACTIVE on the noop backend, update, status tree, stats,
//! failover, delete (with and without cascade), and bad input.

use neutrino_lb_api::LbConfig;
use serde_json::json;

use crate::fixtures::{LBS, active_lb, cascade_delete, count, force_status, rows};
use crate::support::{backends, send, send_json};

#[tokio::test]
async fn create_show_update_delete_with_a_real_vip_port() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let (net, subnet) = cloud.network(&cloud.alice, "10.20.0.0/24").await;
        let a = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            json!({"loadbalancer": {"name": "lbaas", "vip_subnet_id": subnet, "tags": ["t1"]}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let lb = &a.body["loadbalancer"];
        assert_eq!(lb["provisioning_status"], "PENDING_CREATE", "{b}");
        assert_eq!(lb["operating_status"], "OFFLINE", "{b}");
        assert_eq!(lb["provider"], "amphora", "{b}");
        assert_eq!(lb["vip_network_id"], net.as_str(), "{b}");
        assert_eq!(lb["listeners"], json!([]), "{b}");
        assert_eq!(lb["tags"], json!(["t1"]), "{b}");
        let id = lb["id"].as_str().expect("id").to_string();
        let vip = lb["vip_address"].as_str().expect("vip address").to_string();
        assert!(vip.starts_with("10.20.0."), "{b}: {vip}");

        // The VIP port is a real port of the Network API.
        let port_id = lb["vip_port_id"].as_str().expect("port").to_string();
        let p = send(
            &cloud.net,
            "GET",
            &format!("/v2.0/ports/{port_id}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(p.status, 200, "{b}: {}", p.body);
        assert_eq!(p.body["port"]["name"], format!("octavia-lb-{id}"), "{b}");
        assert_eq!(p.body["port"]["device_owner"], "Octavia", "{b}");
        assert_eq!(p.body["port"]["device_id"], format!("lb-{id}"), "{b}");
        assert_eq!(p.body["port"]["admin_state_up"], false, "{b}");
        assert_eq!(
            p.body["port"]["fixed_ips"][0]["ip_address"],
            vip.as_str(),
            "{b}"
        );
        // ... which its users cannot delete from under the load balancer.
        let del = send(
            &cloud.net,
            "DELETE",
            &format!("/v2.0/ports/{port_id}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(del.status, 409, "{b}: {}", del.body);

        let path = format!("{LBS}/{id}");
        let active = cloud.wait_for(&app, &path, "loadbalancer", "ACTIVE").await;
        assert_eq!(active["operating_status"], "OFFLINE", "{b}");
        assert!(active["updated_at"].is_string(), "{b}");
        cloud
            .assert_rows(
                &format!("lb_amphorae WHERE load_balancer_id = '{id}' AND status = 'ALLOCATED' AND role = 'STANDALONE'"),
                1,
            )
            .await;
        cloud.assert_rows("lb_flows", 0).await;

        let st = send(&app, "GET", &format!("{path}/status"), Some(&cloud.alice)).await;
        assert_eq!(st.status, 200, "{b}");
        assert_eq!(
            st.body,
            json!({"statuses": {"loadbalancer": {"id": id, "name": "lbaas",
                "operating_status": "OFFLINE", "provisioning_status": "ACTIVE", "listeners": []}}}),
            "{b}"
        );
        let stats = send(&app, "GET", &format!("{path}/stats"), Some(&cloud.alice)).await;
        assert_eq!(
            stats.body,
            json!({"stats": {"bytes_in": 0, "bytes_out": 0, "active_connections": 0,
                "total_connections": 0, "request_errors": 0}}),
            "{b}"
        );

        let u = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"loadbalancer": {"name": "renamed", "admin_state_up": false}}),
        )
        .await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        assert_eq!(
            u.body["loadbalancer"]["provisioning_status"], "PENDING_UPDATE",
            "{b}"
        );
        assert_eq!(u.body["loadbalancer"]["name"], "renamed", "{b}");
        // A second change while the first is pending: 409, nothing stored.
        let busy = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"loadbalancer": {"name": "again"}}),
        )
        .await;
        if busy.status == 409 {
            assert_eq!(
                busy.body["faultstring"],
                format!("Invalid state PENDING_UPDATE of loadbalancer resource {id}"),
                "{b}"
            );
        }
        let done = cloud.wait_for(&app, &path, "loadbalancer", "ACTIVE").await;
        assert_eq!(done["admin_state_up"], false, "{b}");

        // A reader sees it but may not change it; bob's project not at all.
        let r = send(&app, "GET", &path, Some(&cloud.rita)).await;
        assert_eq!(r.status, 200, "{b}");
        let r = send(&app, "DELETE", &path, Some(&cloud.rita)).await;
        assert_eq!(r.status, 403, "{b}");

        let d = send(&app, "DELETE", &path, Some(&cloud.alice)).await;
        assert_eq!(d.status, 204, "{b}: {}", d.body);
        cloud.wait_for(&app, &path, "loadbalancer", "DELETED").await;
        let p = send(
            &cloud.net,
            "GET",
            &format!("/v2.0/ports/{port_id}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            p.status, 404,
            "{b}: the VIP port went with the load balancer"
        );
        for table in [
            "lb_load_balancers",
            "lb_vips",
            "lb_amphorae",
            "lb_flows",
            "lb_tags",
        ] {
            cloud.assert_rows(table, 0).await;
        }
        let gone = send(&app, "GET", &path, Some(&cloud.alice)).await;
        assert_eq!(gone.status, 404, "{b}");
        assert_eq!(
            gone.body,
            json!({"faultcode": "Client", "faultstring": format!("Load Balancer {id} not found."), "debuginfo": null}),
            "{b}"
        );
    }
}

#[tokio::test]
async fn a_users_vip_port_is_claimed_and_given_back() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let (net, _) = cloud.network(&cloud.alice, "10.21.0.0/24").await;
        let p = send_json(
            &cloud.net,
            "POST",
            "/v2.0/ports",
            Some(&cloud.alice),
            json!({"port": {"network_id": net, "name": "mine"}}),
        )
        .await;
        assert_eq!(p.status, 201, "{b}");
        let port_id = p.body["port"]["id"].as_str().expect("id").to_string();
        let ip = p.body["port"]["fixed_ips"][0]["ip_address"].clone();
        let a = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            json!({"loadbalancer": {"vip_port_id": port_id}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        assert_eq!(a.body["loadbalancer"]["vip_address"], ip, "{b}");
        let id = a.body["loadbalancer"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        // A second load balancer cannot take the same port.
        let again = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            json!({"loadbalancer": {"vip_port_id": port_id}}),
        )
        .await;
        assert_eq!(again.status, 400, "{b}");
        assert_eq!(
            again.body["faultstring"],
            format!("Validation failure: Port {port_id} is already used by device lb-{id} "),
            "{b}"
        );
        let path = format!("{LBS}/{id}");
        cloud.wait_for(&app, &path, "loadbalancer", "ACTIVE").await;
        assert_eq!(
            send(&app, "DELETE", &path, Some(&cloud.alice)).await.status,
            204
        );
        cloud.wait_for(&app, &path, "loadbalancer", "DELETED").await;
        let p = send(
            &cloud.net,
            "GET",
            &format!("/v2.0/ports/{port_id}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(p.status, 200, "{b}: the user's port stays");
        assert_eq!(p.body["port"]["device_owner"], "", "{b}");
        assert_eq!(p.body["port"]["device_id"], "", "{b}");
    }
}

#[tokio::test]
async fn bad_requests_store_nothing() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let (_, subnet) = cloud.network(&cloud.alice, "10.22.0.0/24").await;
        let missing = "8b1a6f2e-7a07-4a47-9c4b-7a6f3a1e0d11";
        let cases = [
            (
                json!({"loadbalancer": {"name": "x"}}),
                400,
                "Validation failure: VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": missing}}),
                400,
                &*format!("Subnet {missing} not found."),
            ),
            (
                json!({"loadbalancer": {"vip_network_id": missing}}),
                400,
                &*format!("Network {missing} not found."),
            ),
            (
                json!({"loadbalancer": {"vip_port_id": missing}}),
                400,
                &*format!("Port {missing} not found."),
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": subnet, "provider": "nope"}}),
                400,
                "Provider 'nope' is not enabled.",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": subnet, "flavor_id": missing}}),
                400,
                "Validation failure: Invalid flavor_id.",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": subnet, "availability_zone": "az9"}}),
                400,
                "Validation failure: Invalid availability zone.",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": subnet, "vip_address": "10.99.0.5"}}),
                400,
                "",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": subnet, "vip_sg_ids": [missing]}}),
                400,
                &*format!("Security Group {missing} not found."),
            ),
        ];
        for (body, status, fault) in cases {
            let a = send_json(&app, "POST", LBS, Some(&cloud.alice), body.clone()).await;
            assert_eq!(a.status.as_u16(), status, "{b} {body}: {}", a.body);
            assert!(a.body["faultstring"].is_string(), "{b} {body}: {}", a.body);
            if !fault.is_empty() {
                assert_eq!(a.body["faultstring"], fault, "{b} {body}");
            }
        }
        // Bob's subnet is not alice's to use.
        let ports_before = rows(&cloud.db, "ports").await;
        cloud.assert_rows("lb_load_balancers", 0).await;
        cloud.assert_rows("lb_flows", 0).await;
        // A taken address is the Network API's conflict.
        let first = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            json!({"loadbalancer": {"vip_subnet_id": subnet, "vip_address": "10.22.0.50"}}),
        )
        .await;
        assert_eq!(first.status, 201, "{b}: {}", first.body);
        let second = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            json!({"loadbalancer": {"vip_subnet_id": subnet, "vip_address": "10.22.0.50"}}),
        )
        .await;
        assert_eq!(second.status, 409, "{b}: {}", second.body);
        assert_eq!(second.body["faultcode"], "Client", "{b}");
        cloud.assert_rows("ports", ports_before + 1).await;
        // Garbage and NUL bytes.
        for raw in [
            json!("nope"),
            json!({"loadbalancer": {"vip_subnet_id": subnet, "name": "a\u{0}b"}}),
        ] {
            let a = send_json(&app, "POST", LBS, Some(&cloud.alice), raw.clone()).await;
            assert_eq!(a.status, 400, "{b} {raw}: {}", a.body);
        }
        cloud.assert_rows("lb_load_balancers", 1).await;
    }
}

#[tokio::test]
async fn delete_with_children_needs_cascade_and_failover_replaces_amphorae() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let lb = active_lb(&cloud, &app, &cloud.alice, "10.23.0.0/24").await;
        let (id, path) = (lb.id, lb.path);
        let before: Vec<String> = amphora_ids(&cloud.db, &id).await;
        assert_eq!(before.len(), 1, "{b}");

        let f = send(&app, "PUT", &format!("{path}/failover"), Some(&cloud.alice)).await;
        assert_eq!(f.status, 403, "{b}: failover is for admins");
        let f = send(&app, "PUT", &format!("{path}/failover"), Some(&cloud.admin)).await;
        assert_eq!(f.status, 202, "{b}: {}", f.body);
        cloud.wait_for(&app, &path, "loadbalancer", "ACTIVE").await;
        let after = amphora_ids(&cloud.db, &id).await;
        assert_eq!(after.len(), 1, "{b}");
        assert_ne!(after, before, "{b}: the amphora was replaced");
        cascade_delete(&cloud, &app, &id).await;
        assert!(amphora_ids(&cloud.db, &id).await.is_empty(), "{b}");
    }
}

async fn amphora_ids(db: &neutrino_store::Db, lb: &str) -> Vec<String> {
    let mut ids: Vec<String> = neutrino_store::lb::amphorae::list(db, None)
        .await
        .expect("amphorae")
        .into_iter()
        .filter(|a| a.load_balancer_id.as_deref() == Some(lb))
        .map(|a| a.id)
        .collect();
    ids.sort();
    ids
}

/// The start-up audit finds objects left PENDING without a flow (which
/// only a bug could leave) and sets them to ERROR, touching nothing else.
#[tokio::test]
async fn the_start_up_audit_errors_pending_objects_without_a_flow_only() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let mut ids = Vec::new();
        for cidr in ["10.24.0.0/24", "10.25.0.0/24"] {
            ids.push(active_lb(&cloud, &app, &cloud.alice, cidr).await.id);
        }
        assert_eq!(
            neutrino_lbaas::audit::pending_without_flow(&cloud.db)
                .await
                .expect("audit"),
            0,
            "{b}"
        );
        force_status(&cloud.db, "lb_load_balancers", &ids[0], "PENDING_UPDATE").await;
        assert_eq!(
            neutrino_lbaas::audit::pending_without_flow(&cloud.db)
                .await
                .expect("audit"),
            1,
            "{b}"
        );
        let a = send(
            &app,
            "GET",
            &format!("{LBS}/{}", ids[0]),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            a.body["loadbalancer"]["provisioning_status"], "ERROR",
            "{b}"
        );
        let other = send(
            &app,
            "GET",
            &format!("{LBS}/{}", ids[1]),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            other.body["loadbalancer"]["provisioning_status"], "ACTIVE",
            "{b}"
        );
    }
}

/// The noop network driver (upstream's `network_noop_driver`, for the
/// upstream API tests): ids are taken as given, no port is made or
/// touched, the VIP address is the requested one or 198.51.100.1.
#[tokio::test]
async fn the_noop_network_driver_takes_ids_as_given_and_makes_no_port() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig {
            network_driver: neutrino_lb_api::NetworkDriver::Noop,
            ..LbConfig::default()
        });
        let (_, real_subnet) = cloud.network(&cloud.alice, "10.25.0.0/24").await;
        let ports_before = count(&cloud.db, "SELECT COUNT(*) FROM ports").await;
        let net = "0b5a3d0e-5b7e-4c2a-9d51-3f7a2a8f9e01";
        let a = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            json!({"loadbalancer": {"vip_network_id": net}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        assert_eq!(a.body["loadbalancer"]["vip_address"], "198.51.100.1", "{b}");
        assert_eq!(a.body["loadbalancer"]["vip_network_id"], net, "{b}");
        let id = a.body["loadbalancer"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let v6 = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            json!({"loadbalancer": {"vip_subnet_id": real_subnet, "vip_address": "2001:db8::33"}}),
        )
        .await;
        assert_eq!(v6.status, 201, "{b}: {}", v6.body);
        assert_eq!(
            v6.body["loadbalancer"]["vip_address"], "2001:db8::33",
            "{b}"
        );
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM ports").await,
            ports_before,
            "{b}"
        );
        let path = format!("{LBS}/{id}");
        cloud.wait_for(&app, &path, "loadbalancer", "ACTIVE").await;
        let pool = send_json(&app, "POST", "/v2/lbaas/pools", Some(&cloud.alice),
            json!({"pool": {"loadbalancer_id": id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}})).await;
        assert_eq!(pool.status, 201, "{b}: {}", pool.body);
        cloud.wait_for(&app, &path, "loadbalancer", "ACTIVE").await;
        let pool_id = pool.body["pool"]["id"].as_str().expect("id");
        let m = send_json(
            &app,
            "POST",
            &format!("/v2/lbaas/pools/{pool_id}/members"),
            Some(&cloud.alice),
            json!({"member": {"address": "192.0.2.10", "protocol_port": 80,
                   "subnet_id": "5e0c2b8a-1f6d-4a57-8d0e-6b3c9a7f2d11"}}),
        )
        .await;
        assert_eq!(
            m.status, 201,
            "{b}: a member subnet is taken as given: {}",
            m.body
        );
        cloud.wait_for(&app, &path, "loadbalancer", "ACTIVE").await;
        let d = send(
            &app,
            "DELETE",
            &format!("{path}?cascade=true"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(d.status, 204, "{b}");
        cloud.wait_for(&app, &path, "loadbalancer", "DELETED").await;
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM ports").await,
            ports_before,
            "{b}"
        );
    }
}

/// Another project's security group is refused on the VIP, on create and
/// on update (400 as a missing one), and the VIP port keeps its groups.
#[tokio::test]
async fn another_projects_security_group_is_refused_on_the_vip() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let (_, subnet) = cloud.network(&cloud.alice, "10.26.0.0/24").await;
        let theirs = send_json(
            &cloud.net,
            "POST",
            "/v2.0/security-groups",
            Some(&cloud.admin),
            json!({"security_group": {"name": "admins"}}),
        )
        .await;
        assert_eq!(theirs.status, 201, "{b}: {}", theirs.body);
        let sg = theirs.body["security_group"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let refused = format!("Security Group {sg} not found.");
        let a = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            json!({"loadbalancer": {"vip_subnet_id": subnet, "vip_sg_ids": [sg]}}),
        )
        .await;
        assert_eq!(
            (a.status.as_u16(), &a.body["faultstring"]),
            (400, &json!(refused)),
            "{b}"
        );
        let a = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            json!({"loadbalancer": {"vip_subnet_id": subnet}}),
        )
        .await;
        let id = a.body["loadbalancer"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let port = a.body["loadbalancer"]["vip_port_id"]
            .as_str()
            .expect("port")
            .to_string();
        let path = format!("{LBS}/{id}");
        cloud.wait_for(&app, &path, "loadbalancer", "ACTIVE").await;
        let u = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"loadbalancer": {"vip_sg_ids": [sg]}}),
        )
        .await;
        assert_eq!(
            (u.status.as_u16(), &u.body["faultstring"]),
            (400, &json!(refused)),
            "{b}"
        );
        let p = send(
            &cloud.net,
            "GET",
            &format!("/v2.0/ports/{port}"),
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(p.body["port"]["security_groups"], json!([]), "{b}");
        let lb = send(&app, "GET", &path, Some(&cloud.alice)).await;
        assert_eq!(
            lb.body["loadbalancer"]["provisioning_status"], "ACTIVE",
            "{b}: nothing held"
        );
    }
}
