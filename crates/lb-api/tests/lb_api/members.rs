//! Members: create with the pool, its listeners and the load balancer held
//! in PENDING_UPDATE until the flow settles them, show/list, update,
//! delete, the batch update, policy, quotas and every refusal (with
//! nothing stored).
//!
//! Pools and listeners are written with the store directly, so these
//! tests do not depend on their handlers. Flows are "frozen" when a test
//! needs to see the statuses a request leaves before the worker settles
//! them.

use axum::Router;
use neutrino_lb_api::LbConfig;
use neutrino_lb_types::enums::Protocol;
use neutrino_lb_types::model::Quota;
use neutrino_store::lb as store;
use serde_json::{Value, json};

use crate::fixtures::{
    active_lb, cascade_delete, exec, force_status, freeze, seed_pool, set_quota, settled, thaw,
};
use crate::support::{
    Answer, Cloud, FORBIDDEN, all_refused, backends, fault, refused, send, send_json,
    without_id_and_created_at,
};

/// A load balancer (ACTIVE, alice's) with one pool used by one listener.
pub struct Fixture {
    pub lb: String,
    pub listener: String,
    pub pool: String,
    pub project: String,
}

impl Fixture {
    /// What a change of a member or monitor of the pool holds until its
    /// flow settles: the load balancer, the pool and its listener.
    pub fn held(&self) -> [(&str, &str); 3] {
        [
            ("lb_load_balancers", &self.lb),
            ("lb_pools", &self.pool),
            ("lb_listeners", &self.listener),
        ]
    }
}

/// An ACTIVE load balancer of alice's on a new `cidr` subnet, with one
/// pool of `protocol` behind one listener.
pub async fn fixture(cloud: &Cloud, app: &Router, cidr: &str, protocol: Protocol) -> Fixture {
    let lb = active_lb(cloud, app, &cloud.alice, cidr).await;
    let (pool, listener) = seed_pool(&cloud.db, &lb.id, &lb.project, protocol, Some(80)).await;
    Fixture {
        lb: lb.id,
        listener: listener.expect("listener"),
        pool,
        project: lb.project,
    }
}

/// A pool of the admin's, on a load balancer of the admin's on a new
/// `cidr` subnet; returns (pool id, project).
pub async fn admins_pool(cloud: &Cloud, app: &Router, cidr: &str) -> (String, String) {
    let lb = active_lb(cloud, app, &cloud.admin, cidr).await;
    let (pool, _) = seed_pool(&cloud.db, &lb.id, &lb.project, Protocol::Http, None).await;
    (pool, lb.project)
}

pub fn members(pool: &str) -> String {
    format!("/v2/lbaas/pools/{pool}/members")
}

#[tokio::test]
async fn create_holds_the_parents_then_show_list_update_delete() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.40.0.0/24", Protocol::Http).await;
        let (_, subnet) = cloud.network(&cloud.alice, "10.41.0.0/24").await;
        let (other_pool, _) = seed_pool(&cloud.db, &f.lb, &f.project, Protocol::Http, None).await;
        let path = members(&f.pool);

        freeze(&cloud).await;
        let a = send_json(
            &app,
            "POST",
            &path,
            Some(&cloud.alice),
            json!({"member": {"name": "web1", "address": "10.41.0.10", "protocol_port": 8080,
                "weight": 50, "backup": true, "subnet_id": subnet, "monitor_address": "10.41.0.11",
                "monitor_port": 9090, "tags": ["a", "b"], "admin_state_up": false}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let m = &a.body["member"];
        let id = m["id"].as_str().expect("id").to_string();
        assert!(m["created_at"].is_string(), "{b}");
        assert_eq!(
            without_id_and_created_at(m.clone()),
            json!({"name": "web1", "operating_status": "NO_MONITOR",
                "provisioning_status": "PENDING_CREATE", "admin_state_up": false,
                "address": "10.41.0.10", "protocol_port": 8080, "weight": 50, "backup": true,
                "subnet_id": subnet, "project_id": f.project, "updated_at": null,
                "monitor_address": "10.41.0.11", "monitor_port": 9090, "tags": ["a", "b"],
                "vnic_type": "normal", "tenant_id": f.project}),
            "{b}"
        );
        // The pool, its listener and the load balancer wait for the flow;
        // another pool of the load balancer does not.
        cloud.assert_statuses("PENDING_UPDATE", &f.held()).await;
        cloud
            .assert_statuses("ACTIVE", &[("lb_pools", &other_pool)])
            .await;
        // Meanwhile: the held pool first, else the load balancer.
        let new = json!({"member": {"address": "10.41.0.12", "protocol_port": 80}});
        let one = format!("{path}/{id}");
        let pool_busy = [
            ("POST", path.as_str(), Some(new.clone())),
            ("PUT", one.as_str(), Some(json!({"member": {"name": "x"}}))),
        ];
        let immutable =
            |what: &str, id: &str| format!("{what} {id} is immutable and cannot be updated.");
        all_refused(
            &app,
            &cloud.alice,
            &pool_busy,
            409,
            &immutable("Pool", &f.pool),
        )
        .await;
        let other = members(&other_pool);
        let lb_busy = [("POST", other.as_str(), Some(new))];
        all_refused(
            &app,
            &cloud.alice,
            &lb_busy,
            409,
            &immutable("Load Balancer", &f.lb),
        )
        .await;
        cloud.assert_rows("lb_members", 1).await;
        thaw(&cloud).await;

        let active = cloud
            .wait_for(&app, &format!("{path}/{id}"), "member", "ACTIVE")
            .await;
        settled(&cloud, &app, &f.lb).await;
        assert_eq!(active["operating_status"], "NO_MONITOR", "{b}");
        assert!(active["updated_at"].is_string(), "{b}");
        cloud
            .assert_statuses(
                "ACTIVE",
                &[("lb_pools", &f.pool), ("lb_listeners", &f.listener)],
            )
            .await;
        // The pool lists it.
        let pool = store::pools::get(&cloud.db, &f.pool)
            .await
            .expect("pool")
            .expect("pool");
        assert_eq!(pool.member_ids, vec![id.clone()], "{b}");

        // Show, with fields; both prefixes.
        let s = send(
            &app,
            "GET",
            &format!("/v2.0/lbaas/pools/{}/members/{id}", f.pool),
            Some(&cloud.rita),
        )
        .await;
        assert_eq!(s.status, 200, "{b}");
        assert_eq!(s.body["member"], active, "{b}");
        let s = send(
            &app,
            "GET",
            &format!("{path}/{id}?fields=address&fields=weight"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            s.body,
            json!({"member": {"address": "10.41.0.10", "weight": 50}}),
            "{b}"
        );

        // Update: defaults for nulls, the rest kept.
        let u = send_json(&app, "PUT", &format!("{path}/{id}"), Some(&cloud.alice),
            json!({"member": {"name": "web1b", "weight": null, "backup": null, "admin_state_up": true,
                "monitor_port": null, "tags": ["c"]}})).await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        let um = &u.body["member"];
        assert_eq!(um["provisioning_status"], "PENDING_UPDATE", "{b}");
        assert_eq!(
            (
                um["name"].clone(),
                um["weight"].clone(),
                um["backup"].clone(),
                um["admin_state_up"].clone()
            ),
            (json!("web1b"), json!(1), json!(false), json!(true)),
            "{b}"
        );
        assert_eq!(
            (um["monitor_port"].clone(), um["monitor_address"].clone()),
            (Value::Null, json!("10.41.0.11")),
            "{b}"
        );
        assert_eq!(um["tags"], json!(["c"]), "{b}");
        assert_eq!(um["address"], "10.41.0.10", "{b}");
        let done = cloud
            .wait_for(&app, &format!("{path}/{id}"), "member", "ACTIVE")
            .await;
        settled(&cloud, &app, &f.lb).await;
        assert_eq!(done["name"], "web1b", "{b}");
        assert_eq!(done["operating_status"], "NO_MONITOR", "{b}");
        // Address and port cannot change.
        let bad = send_json(
            &app,
            "PUT",
            &format!("{path}/{id}"),
            Some(&cloud.alice),
            json!({"member": {"address": "10.41.0.99"}}),
        )
        .await;
        fault(
            &bad,
            400,
            "Unknown attribute for argument member_.member: address",
        );

        // A member is only found under its own pool.
        let elsewhere = send(
            &app,
            "GET",
            &format!("{}/{id}", members(&other_pool)),
            Some(&cloud.alice),
        )
        .await;
        fault(&elsewhere, 404, &format!("Member {id} not found."));
        let elsewhere = send(
            &app,
            "DELETE",
            &format!("{}/{id}", members(&other_pool)),
            Some(&cloud.alice),
        )
        .await;
        fault(&elsewhere, 404, &format!("Member {id} not found."));

        // Delete: PENDING_DELETE until the flow removes the row.
        freeze(&cloud).await;
        let d = send(&app, "DELETE", &format!("{path}/{id}"), Some(&cloud.alice)).await;
        assert_eq!(d.status, 204, "{b}: {}", d.body);
        assert_eq!(d.body, Value::Null, "{b}");
        let pending = send(&app, "GET", &format!("{path}/{id}"), Some(&cloud.alice)).await;
        assert_eq!(
            pending.body["member"]["provisioning_status"], "PENDING_DELETE",
            "{b}"
        );
        cloud
            .assert_statuses("PENDING_UPDATE", &[("lb_pools", &f.pool)])
            .await;
        thaw(&cloud).await;
        cloud
            .wait_for(&app, &format!("{path}/{id}"), "member", "DELETED")
            .await;
        settled(&cloud, &app, &f.lb).await;
        cloud.assert_rows("lb_members", 0).await;
        cloud
            .assert_rows("lb_tags WHERE resource_type = 'member'", 0)
            .await;
        let gone = send(&app, "GET", &format!("{path}/{id}"), Some(&cloud.alice)).await;
        fault(&gone, 404, &format!("Member {id} not found."));
        cloud
            .assert_statuses("ACTIVE", &[("lb_pools", &f.pool)])
            .await;
    }
}

async fn create(cloud: &Cloud, app: &Router, pool: &str, body: Value) -> String {
    let a = send_json(
        app,
        "POST",
        &members(pool),
        Some(&cloud.alice),
        json!({"member": body}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["member"]["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn list_filters_sorts_pages_and_selects_fields() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.42.0.0/24", Protocol::Tcp).await;
        let path = members(&f.pool);
        let mut ids = Vec::new();
        for (port, admin, tags) in [
            (101, true, json!(["x", "y"])),
            (100, true, json!(["x"])),
            (102, false, json!([])),
        ] {
            ids.push(
                create(
                    &cloud,
                    &app,
                    &f.pool,
                    json!({"address": "192.0.2.1", "protocol_port": port,
                "admin_state_up": admin, "tags": tags}),
                )
                .await,
            );
            settled(&cloud, &app, &f.lb).await;
        }
        // Creation times have whole seconds (as upstream's): rather than
        // wait a second between creates (as tempest does), give them
        // seconds in creation order.
        for (i, id) in ids.iter().enumerate() {
            let at = format!("2026-01-01T00:00:0{i}");
            let sql = format!("UPDATE lb_members SET created_at = '{at}' WHERE id = '{id}'");
            exec(&cloud.db, &sql).await;
        }
        // Another pool's members are not listed.
        let (other, _) = seed_pool(&cloud.db, &f.lb, &f.project, Protocol::Tcp, None).await;
        create(
            &cloud,
            &app,
            &other,
            json!({"address": "192.0.2.1", "protocol_port": 100}),
        )
        .await;
        settled(&cloud, &app, &f.lb).await;

        let ports = |a: &Answer| -> Vec<i64> {
            a.body["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|m| m["protocol_port"].as_i64().expect("port"))
                .collect()
        };
        let all = send(&app, "GET", &path, Some(&cloud.alice)).await;
        assert_eq!(all.status, 200, "{b}: {}", all.body);
        assert_eq!(ports(&all), vec![101, 100, 102], "{b}: creation order");
        assert_eq!(all.body["members_links"], json!([]), "{b}");
        let desc = send(
            &app,
            "GET",
            &format!("{path}?sort=protocol_port:desc"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(ports(&desc), vec![102, 101, 100], "{b}");
        let asc = send(
            &app,
            "GET",
            &format!("{path}?sort=protocol_port:asc"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(ports(&asc), vec![100, 101, 102], "{b}");
        let one = send(
            &app,
            "GET",
            &format!("{path}?protocol_port=100"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(ports(&one), vec![100], "{b}");
        let combined = send(
            &app,
            "GET",
            &format!(
                "{path}?admin_state_up=true&fields=protocol_port&fields=id&sort=protocol_port:desc"
            ),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            combined.body["members"],
            json!([{"id": ids[0], "protocol_port": 101}, {"id": ids[1], "protocol_port": 100}]),
            "{b}"
        );
        let tagged = send(
            &app,
            "GET",
            &format!("{path}?tags=x&not-tags=y"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(ports(&tagged), vec![100], "{b}");
        let page = send(&app, "GET", &format!("{path}?limit=2"), Some(&cloud.alice)).await;
        assert_eq!(ports(&page), vec![101, 100], "{b}");
        assert_eq!(
            page.body["members_links"],
            json!([{"rel": "next", "href": format!("http://127.0.0.1:9876{path}?limit=2&marker={}", ids[1])}]),
            "{b}"
        );
        let next = send(
            &app,
            "GET",
            &format!("{path}?limit=2&marker={}", ids[1]),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(ports(&next), vec![102], "{b}");
        let bad = send(
            &app,
            "GET",
            &format!("{path}?pool_name=x"),
            Some(&cloud.alice),
        )
        .await;
        fault(
            &bad,
            400,
            "One or more arguments are either duplicate or invalid",
        );
        let bad = send(
            &app,
            "GET",
            &format!("{path}?sort=nope:asc"),
            Some(&cloud.alice),
        )
        .await;
        fault(&bad, 400, "Supplied sort key 'nope' is not valid.");
        // Readers of the project read; nobody lists a missing pool.
        let r = send(&app, "GET", &path, Some(&cloud.rita)).await;
        assert_eq!(ports(&r), vec![101, 100, 102], "{b}");
        let missing = "0f0e0d0c-0b0a-4909-8807-060504030201";
        let m = send(&app, "GET", &members(missing), Some(&cloud.alice)).await;
        fault(&m, 404, &format!("Pool {missing} not found."));
        // The cloud admin reads every project's members.
        let admin_list = send(&app, "GET", &path, Some(&cloud.admin)).await;
        assert_eq!(ports(&admin_list), vec![101, 100, 102], "{b}");
    }
}

#[tokio::test]
async fn refusals_store_nothing() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.43.0.0/24", Protocol::Http).await;
        let path = members(&f.pool);
        let missing = "0f0e0d0c-0b0a-4909-8807-060504030201";
        // The admin's own network: alice cannot see its subnet.
        let (_, hidden) = cloud.network(&cloud.admin, "10.44.0.0/24").await;
        let cases: Vec<(Value, u16, String)> = vec![
            (json!({"member": {"protocol_port": 80}}), 400,
             "Invalid input for field/attribute address. Value: 'None'. Mandatory field missing.".into()),
            (json!({"member": {"address": "10.0.0.1", "protocol_port": 80, "weight": 257}}), 400,
             "Invalid input for field/attribute weight. Value: '257'. Value should be lower or equal to 256".into()),
            (json!({"member": {"address": "10.0.0.1", "protocol_port": 0}}), 400,
             "Invalid input for field/attribute protocol_port. Value: '0'. Value should be greater or equal to 1".into()),
            (json!({"member": {"address": "10.0.0.1", "protocol_port": 80, "monitor_address": "x"}}), 400,
             "Invalid input for field/attribute monitor_address. Value: 'x'. Value should be IPv4 or IPv6 format".into()),
            (json!({"member": {"address": "169.254.169.254", "protocol_port": 80}}), 400,
             "169.254.169.254 is not a valid option for member address".into()),
            (json!({"member": {"address": "10.0.0.1", "protocol_port": 80, "subnet_id": missing}}), 400,
             format!("Subnet {missing} not found.")),
            (json!({"member": {"address": "10.0.0.1", "protocol_port": 80, "subnet_id": hidden}}), 400,
             format!("Subnet {hidden} not found.")),
            (json!({"member": {"address": "10.0.0.1", "protocol_port": 80, "request_sriov": true}}), 400,
             "The load balancer flavor does not allow SR-IOV member ports.".into()),
            (json!({"member": {"address": "10.0.0.1", "protocol_port": 80, "bogus": 1}}), 400,
             "Unknown attribute for argument member_.member: bogus".into()),
        ];
        for (body, status, text) in &cases {
            let a = send_json(&app, "POST", &path, Some(&cloud.alice), body.clone()).await;
            refused(&a, *status, text, &format!("{b} {body}"));
        }
        // An unknown pool wins over a bad body, as upstream's router.
        let a = send_json(
            &app,
            "POST",
            &members(missing),
            Some(&cloud.alice),
            json!({"nope": 1}),
        )
        .await;
        fault(&a, 404, &format!("Pool {missing} not found."));
        let a = send_json(
            &app,
            "PUT",
            &members(missing),
            Some(&cloud.alice),
            json!({"members": []}),
        )
        .await;
        fault(&a, 404, &format!("Pool {missing} not found."));
        cloud.assert_rows("lb_members", 0).await;
        cloud.assert_rows("lb_flows", 0).await;
        // Nothing held.
        cloud
            .assert_statuses(
                "ACTIVE",
                &[("lb_load_balancers", &f.lb), ("lb_pools", &f.pool)],
            )
            .await;

        // The admin may use any subnet.
        let a = send_json(
            &app,
            "POST",
            &path,
            Some(&cloud.admin),
            json!({"member": {"address": "10.44.0.5", "protocol_port": 80, "subnet_id": hidden}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        assert_eq!(
            a.body["member"]["project_id"], f.project,
            "{b}: the load balancer's project"
        );
        settled(&cloud, &app, &f.lb).await;
        // The same address and port twice in a pool.
        let dup = send_json(
            &app,
            "POST",
            &path,
            Some(&cloud.alice),
            json!({"member": {"address": "10.44.0.5", "protocol_port": 80}}),
        )
        .await;
        fault(
            &dup,
            409,
            "Another member on this pool is already using ip 10.44.0.5 on protocol_port 80",
        );
        cloud.assert_rows("lb_members", 1).await;
        // The hold rolled back.
        cloud
            .assert_statuses(
                "ACTIVE",
                &[("lb_load_balancers", &f.lb), ("lb_pools", &f.pool)],
            )
            .await;

        // A pool in ERROR takes no members.
        force_status(&cloud.db, "lb_pools", &f.pool, "ERROR").await;
        let a = send_json(
            &app,
            "POST",
            &path,
            Some(&cloud.alice),
            json!({"member": {"address": "10.0.0.9", "protocol_port": 80}}),
        )
        .await;
        fault(
            &a,
            409,
            &format!("Pool {} is immutable and cannot be updated.", f.pool),
        );
        cloud.assert_rows("lb_members", 1).await;
    }
}

#[tokio::test]
async fn udp_members_need_a_vip_of_their_ip_version() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.45.0.0/24", Protocol::Udp).await;
        let a = send_json(
            &app,
            "POST",
            &members(&f.pool),
            Some(&cloud.alice),
            json!({"member": {"address": "2001:db8::1", "protocol_port": 53}}),
        )
        .await;
        assert_eq!(a.status, 501, "{b}: {}", a.body);
        assert_eq!(
            a.body,
            json!({"faultcode": "Server", "faultstring": "Provider 'amphora' does not support a requested option: This provider doesn't support mixing IPv4 and IPv6 addresses for its VIP and members in UDP load balancers.", "debuginfo": null}),
            "{b}"
        );
        let batch = send_json(
            &app,
            "PUT",
            &members(&f.pool),
            Some(&cloud.alice),
            json!({"members": [{"address": "2001:db8::1", "protocol_port": 53}]}),
        )
        .await;
        assert_eq!(batch.status, 501, "{b}: {}", batch.body);
        cloud.assert_rows("lb_members", 0).await;
        cloud
            .assert_statuses("ACTIVE", &[("lb_load_balancers", &f.lb)])
            .await;
        // IPv4 is fine, and so is IPv6 in a UDP pool no listener uses.
        create(
            &cloud,
            &app,
            &f.pool,
            json!({"address": "10.45.0.20", "protocol_port": 53}),
        )
        .await;
        settled(&cloud, &app, &f.lb).await;
        let (unused, _) = seed_pool(&cloud.db, &f.lb, &f.project, Protocol::Udp, None).await;
        create(
            &cloud,
            &app,
            &unused,
            json!({"address": "2001:db8::1", "protocol_port": 53}),
        )
        .await;
        settled(&cloud, &app, &f.lb).await;
        cloud.assert_rows("lb_members", 2).await;
    }
}

#[tokio::test]
async fn readers_read_members_but_only_writers_change_them() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.46.0.0/24", Protocol::Http).await;
        let path = members(&f.pool);
        let id = create(
            &cloud,
            &app,
            &f.pool,
            json!({"address": "10.46.0.9", "protocol_port": 80}),
        )
        .await;
        settled(&cloud, &app, &f.lb).await;
        let one = format!("{path}/{id}");
        let writes = [
            (
                "POST",
                path.as_str(),
                Some(json!({"member": {"address": "10.46.0.10", "protocol_port": 80}})),
            ),
            ("PUT", one.as_str(), Some(json!({"member": {"name": "x"}}))),
            ("DELETE", one.as_str(), None),
            ("PUT", path.as_str(), Some(json!({"members": []}))),
        ];
        for token in [&cloud.rita, &cloud.olga] {
            let r = send(&app, "GET", &one, Some(token)).await;
            assert_eq!(r.status, 200, "{b}");
            let r = send(&app, "GET", &path, Some(token)).await;
            assert_eq!(r.body["members"].as_array().map(Vec::len), Some(1), "{b}");
            all_refused(&app, token, &writes, 403, FORBIDDEN).await;
        }
        // Without the legacy roles olga is nobody.
        let strict = cloud.lb(LbConfig {
            legacy_roles: false,
            ..LbConfig::default()
        });
        let r = send(&strict, "GET", &path, Some(&cloud.olga)).await;
        fault(&r, 403, FORBIDDEN);
        // A missing member is 404 before policy; one of another project 403.
        let missing = "0f0e0d0c-0b0a-4909-8807-060504030201";
        let r = send(&app, "GET", &format!("{path}/{missing}"), Some(&cloud.rita)).await;
        fault(&r, 404, &format!("Member {missing} not found."));
        let (admin_pool, _) = admins_pool(&cloud, &app, "10.47.0.0/24").await;
        let theirs = members(&admin_pool);
        let new = json!({"member": {"address": "10.47.0.9", "protocol_port": 80}});
        let reads_and_writes = [
            ("GET", theirs.as_str(), None),
            ("POST", theirs.as_str(), Some(new)),
        ];
        all_refused(&app, &cloud.alice, &reads_and_writes, 403, FORBIDDEN).await;
        cloud.assert_rows("lb_members", 1).await;
        cloud
            .assert_statuses("ACTIVE", &[("lb_load_balancers", &f.lb)])
            .await;
    }
}

async fn member_names(cloud: &Cloud, app: &Router, pool: &str) -> Vec<(i64, String, String)> {
    let a = send(
        app,
        "GET",
        &format!("{}?sort=protocol_port:asc", members(pool)),
        Some(&cloud.alice),
    )
    .await;
    a.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["protocol_port"].as_i64().expect("port"),
                m["name"].as_str().expect("name").to_string(),
                m["id"].as_str().expect("id").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn batch_update_creates_updates_and_deletes_in_one_flow() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.48.0.0/24", Protocol::Http).await;
        let path = members(&f.pool);
        let m1 = create(
            &cloud,
            &app,
            &f.pool,
            json!({"name": "m1", "address": "192.0.2.1", "protocol_port": 80, "weight": 50}),
        )
        .await;
        settled(&cloud, &app, &f.lb).await;
        let m2 = create(
            &cloud,
            &app,
            &f.pool,
            json!({"name": "m2", "address": "192.0.2.3", "protocol_port": 81,
            "weight": 51, "backup": true, "tags": ["keep"]}),
        )
        .await;
        settled(&cloud, &app, &f.lb).await;

        freeze(&cloud).await;
        let a = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"members": [
                {"name": "m2-new", "address": "192.0.2.3", "protocol_port": 81},
                {"name": "m3", "address": "192.0.2.5", "protocol_port": 82, "weight": 52}
            ]}),
        )
        .await;
        assert_eq!(a.status, 202, "{b}: {}", a.body);
        assert_eq!(a.body, Value::Null, "{b}: no body");
        // One flow.
        cloud.assert_rows("lb_flows", 1).await;
        cloud
            .assert_statuses("PENDING_DELETE", &[("lb_members", &m1)])
            .await;
        cloud
            .assert_statuses("PENDING_UPDATE", &[("lb_members", &m2)])
            .await;
        cloud
            .assert_rows("lb_members WHERE provisioning_status = 'PENDING_CREATE'", 1)
            .await;
        cloud.assert_statuses("PENDING_UPDATE", &f.held()).await;
        thaw(&cloud).await;
        settled(&cloud, &app, &f.lb).await;

        let now = member_names(&cloud, &app, &f.pool).await;
        assert_eq!(now.len(), 2, "{b}: {now:?}");
        assert_eq!(
            (now[0].0, now[0].1.as_str(), now[0].2.as_str()),
            (81, "m2-new", m2.as_str()),
            "{b}"
        );
        assert_eq!((now[1].0, now[1].1.as_str()), (82, "m3"), "{b}");
        assert_ne!(now[1].2, m1, "{b}");
        let m2_now = send(&app, "GET", &format!("{path}/{m2}"), Some(&cloud.alice))
            .await
            .body["member"]
            .clone();
        // What MemberPOST defaults is reset; what it does not is kept.
        assert_eq!(
            (
                m2_now["weight"].clone(),
                m2_now["backup"].clone(),
                m2_now["tags"].clone(),
                m2_now["provisioning_status"].clone()
            ),
            (json!(1), json!(false), json!(["keep"]), json!("ACTIVE")),
            "{b}"
        );
        cloud
            .assert_rows("lb_members WHERE provisioning_status <> 'ACTIVE'", 0)
            .await;

        // additive_only keeps the unlisted ones.
        let a = send_json(
            &app,
            "PUT",
            &format!("{path}?additive_only=true"),
            Some(&cloud.alice),
            json!({"members": [{"name": "m4", "address": "192.0.2.7", "protocol_port": 83}]}),
        )
        .await;
        assert_eq!(a.status, 202, "{b}: {}", a.body);
        settled(&cloud, &app, &f.lb).await;
        let ports: Vec<i64> = member_names(&cloud, &app, &f.pool)
            .await
            .iter()
            .map(|m| m.0)
            .collect();
        assert_eq!(ports, vec![81, 82, 83], "{b}");

        // The same existing member twice; the same new one twice.
        let twice = send_json(&app, "PUT", &path, Some(&cloud.alice), json!({"members": [
            {"address": "192.0.2.3", "protocol_port": 81}, {"address": "192.0.2.3", "protocol_port": 81}]})).await;
        fault(
            &twice,
            400,
            "Validation failure: Member must be updated only once in the same request.",
        );
        let twice = send_json(&app, "PUT", &path, Some(&cloud.alice), json!({"members": [
            {"address": "192.0.2.9", "protocol_port": 90}, {"address": "192.0.2.9", "protocol_port": 90}]})).await;
        fault(
            &twice,
            409,
            "Another member on this pool is already using ip 192.0.2.9 on protocol_port 90",
        );
        let reserved = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"members": [
            {"address": "169.254.169.254", "protocol_port": 90}]}),
        )
        .await;
        fault(
            &reserved,
            400,
            "169.254.169.254 is not a valid option for member address",
        );
        let missing = "0f0e0d0c-0b0a-4909-8807-060504030201";
        let subnet = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"members": [
            {"address": "192.0.2.9", "protocol_port": 90, "subnet_id": missing}]}),
        )
        .await;
        fault(&subnet, 400, &format!("Subnet {missing} not found."));
        let bad = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"members": [{"address": "192.0.2.9"}]}),
        )
        .await;
        assert_eq!(bad.status, 400, "{b}: {}", bad.body);
        cloud.assert_rows("lb_members", 3).await;
        cloud.assert_rows("lb_flows", 0).await;
        cloud
            .assert_statuses("ACTIVE", &[("lb_load_balancers", &f.lb)])
            .await;

        // An empty list empties the pool; then an empty list is a no-op
        // that starts no flow.
        let a = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"members": []}),
        )
        .await;
        assert_eq!(a.status, 202, "{b}");
        settled(&cloud, &app, &f.lb).await;
        cloud.assert_rows("lb_members", 0).await;
        freeze(&cloud).await;
        let a = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"members": []}),
        )
        .await;
        assert_eq!(a.status, 202, "{b}");
        // Nothing to do.
        cloud.assert_rows("lb_flows", 0).await;
        cloud
            .assert_statuses(
                "ACTIVE",
                &[("lb_load_balancers", &f.lb), ("lb_pools", &f.pool)],
            )
            .await;
        thaw(&cloud).await;
    }
}

#[tokio::test]
async fn quotas_count_members_and_batch_net_additions() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.49.0.0/24", Protocol::Http).await;
        let path = members(&f.pool);
        let one = Quota {
            member: Some(1),
            ..Quota::default()
        };
        set_quota(&cloud.db, &f.project, one).await;
        create(
            &cloud,
            &app,
            &f.pool,
            json!({"address": "192.0.2.1", "protocol_port": 80}),
        )
        .await;
        settled(&cloud, &app, &f.lb).await;
        let over = send_json(
            &app,
            "POST",
            &path,
            Some(&cloud.alice),
            json!({"member": {"address": "192.0.2.2", "protocol_port": 80}}),
        )
        .await;
        assert_eq!(over.status, 403, "{b}");
        assert_eq!(
            over.body["faultstring"], "Quota has been met for resources: Member",
            "{b}"
        );
        // A batch adding one more is over; one replacing the member is not.
        let over = send_json(&app, "PUT", &path, Some(&cloud.alice), json!({"members": [
            {"address": "192.0.2.1", "protocol_port": 80}, {"address": "192.0.2.2", "protocol_port": 80}]})).await;
        fault(&over, 403, "Quota has been met for resources: Member");
        let over = send_json(
            &app,
            "PUT",
            &format!("{path}?additive_only=1"),
            Some(&cloud.alice),
            json!({"members": [{"address": "192.0.2.2", "protocol_port": 80}]}),
        )
        .await;
        fault(&over, 403, "Quota has been met for resources: Member");
        cloud.assert_rows("lb_members", 1).await;
        let swap = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"members": [
            {"address": "192.0.2.2", "protocol_port": 80}]}),
        )
        .await;
        assert_eq!(swap.status, 202, "{b}: {}", swap.body);
        settled(&cloud, &app, &f.lb).await;
        let now = member_names(&cloud, &app, &f.pool).await;
        assert_eq!(now.len(), 1, "{b}");
        cloud
            .assert_rows("lb_members WHERE ip_address = '192.0.2.2'", 1)
            .await;
    }
}

#[tokio::test]
async fn cascade_delete_of_the_load_balancer_takes_the_members() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.50.0.0/24", Protocol::Http).await;
        create(
            &cloud,
            &app,
            &f.pool,
            json!({"address": "192.0.2.1", "protocol_port": 80, "tags": ["t"]}),
        )
        .await;
        settled(&cloud, &app, &f.lb).await;
        cascade_delete(&cloud, &app, &f.lb).await;
        cloud.assert_rows("lb_members", 0).await;
        cloud.assert_rows("lb_tags", 0).await;
        let gone = send(&app, "GET", &members(&f.pool), Some(&cloud.alice)).await;
        fault(&gone, 404, &format!("Pool {} not found.", f.pool));
    }
}
