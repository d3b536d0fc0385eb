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
use neutrino_lb_types::enums::{
    ClientAuthentication, LbAlgorithm, OperatingStatus, Protocol, ProvisioningStatus,
};
use neutrino_lb_types::model::{Listener, Pool, Quota};
use neutrino_store::Db;
use neutrino_store::lb as store;
use serde_json::{Value, json};

use crate::loadbalancers::count;
use crate::support::{Answer, Cloud, backends, send, send_json};

const LBS: &str = "/v2/lbaas/loadbalancers";

/// A load balancer (ACTIVE, alice's) with one pool used by one listener.
pub struct Fixture {
    pub lb: String,
    pub listener: String,
    pub pool: String,
    pub project: String,
}

async fn exec(db: &Db, sql: &str) {
    let mut tx = db.begin().await.expect("begin");
    let owned = sql.to_string();
    neutrino_store::dispatch!(tx.conn(), c => sqlx::query(sqlx::AssertSqlSafe(owned)).execute(&mut *c).await.map(|_| ()))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.commit().await.expect("commit");
}

/// From now on, new flows are leased to nobody for ages: the worker leaves
/// them alone and the statuses a request wrote stay visible.
pub async fn freeze(cloud: &Cloud) {
    if cloud.backend == "postgres" {
        exec(
            &cloud.db,
            "CREATE OR REPLACE FUNCTION lb_test_freeze() RETURNS trigger AS $$ BEGIN \
             NEW.lease_holder := 'frozen'; NEW.lease_expires := 9000000000000000; RETURN NEW; \
             END $$ LANGUAGE plpgsql",
        )
        .await;
        exec(
            &cloud.db,
            "CREATE TRIGGER lb_test_freeze BEFORE INSERT ON lb_flows FOR EACH ROW \
             EXECUTE FUNCTION lb_test_freeze()",
        )
        .await;
    } else {
        exec(
            &cloud.db,
            "CREATE TRIGGER lb_test_freeze AFTER INSERT ON lb_flows BEGIN \
             UPDATE lb_flows SET lease_holder = 'frozen', lease_expires = 9000000000000000 \
             WHERE id = NEW.id; END",
        )
        .await;
    }
}

/// Undoes [`freeze`] and hands the frozen flows to the worker.
pub async fn thaw(cloud: &Cloud) {
    if cloud.backend == "postgres" {
        exec(&cloud.db, "DROP TRIGGER lb_test_freeze ON lb_flows").await;
    } else {
        exec(&cloud.db, "DROP TRIGGER lb_test_freeze").await;
    }
    exec(
        &cloud.db,
        "UPDATE lb_flows SET lease_holder = '', lease_expires = 0 WHERE lease_holder = 'frozen'",
    )
    .await;
    cloud.controller.wake();
}

/// A pool of `protocol` on `lb`, ACTIVE, used by a new listener on
/// `listener_port` when given. Returns (pool id, listener id).
pub async fn add_pool(
    db: &Db,
    lb: &str,
    project: &str,
    protocol: Protocol,
    listener_port: Option<i64>,
) -> (String, Option<String>) {
    let pool = Pool {
        id: uuid(),
        project_id: project.into(),
        load_balancer_id: lb.into(),
        name: Some("pool".into()),
        description: None,
        admin_state_up: true,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Offline,
        protocol,
        lb_algorithm: LbAlgorithm::RoundRobin,
        session_persistence: None,
        tls_enabled: false,
        tls_container_ref: None,
        ca_tls_container_ref: None,
        crl_container_ref: None,
        tls_ciphers: None,
        tls_versions: None,
        alpn_protocols: None,
        tags: vec![],
        listener_ids: vec![],
        member_ids: vec![],
        healthmonitor_id: None,
        created_at: store::now(),
        updated_at: None,
    };
    let mut tx = db.begin().await.expect("begin");
    store::pools::insert(&mut tx, &pool).await.expect("pool");
    let listener = match listener_port {
        None => None,
        Some(port) => {
            let l = Listener {
                id: uuid(),
                project_id: project.into(),
                load_balancer_id: lb.into(),
                name: Some("listener".into()),
                description: None,
                admin_state_up: true,
                provisioning_status: ProvisioningStatus::Active,
                operating_status: OperatingStatus::Offline,
                protocol: if protocol.is_lvs() {
                    protocol
                } else {
                    Protocol::Tcp
                },
                protocol_port: port,
                connection_limit: -1,
                default_pool_id: Some(pool.id.clone()),
                default_tls_container_ref: None,
                sni_container_refs: vec![],
                client_ca_tls_container_ref: None,
                client_authentication: ClientAuthentication::None,
                client_crl_container_ref: None,
                insert_headers: serde_json::Map::new(),
                timeout_client_data: 50000,
                timeout_member_connect: 5000,
                timeout_member_data: 50000,
                timeout_tcp_inspect: 0,
                allowed_cidrs: vec![],
                tls_ciphers: None,
                tls_versions: None,
                alpn_protocols: None,
                hsts_max_age: None,
                hsts_include_subdomains: false,
                hsts_preload: false,
                tags: vec![],
                l7policy_ids: vec![],
                created_at: store::now(),
                updated_at: None,
            };
            store::listeners::insert(&mut tx, &l)
                .await
                .expect("listener");
            Some(l.id)
        }
    };
    tx.commit().await.expect("commit");
    (pool.id, listener)
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An ACTIVE load balancer of alice's on a new `cidr` subnet, with one
/// pool of `protocol` behind one listener.
pub async fn fixture(cloud: &Cloud, app: &Router, cidr: &str, protocol: Protocol) -> Fixture {
    let (_, subnet) = cloud.network(&cloud.alice, cidr).await;
    let a = send_json(
        app,
        "POST",
        LBS,
        Some(&cloud.alice),
        json!({"loadbalancer": {"vip_subnet_id": subnet}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let lb = a.body["loadbalancer"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let project = a.body["loadbalancer"]["project_id"]
        .as_str()
        .expect("project")
        .to_string();
    cloud
        .wait_for(app, &format!("{LBS}/{lb}"), "loadbalancer", "ACTIVE")
        .await;
    let (pool, listener) = add_pool(&cloud.db, &lb, &project, protocol, Some(80)).await;
    Fixture {
        lb,
        listener: listener.expect("listener"),
        pool,
        project,
    }
}

pub fn members(pool: &str) -> String {
    format!("/v2/lbaas/pools/{pool}/members")
}

/// Waits for the load balancer to settle (every child op ends there).
pub async fn settled(cloud: &Cloud, app: &Router, lb: &str) {
    cloud
        .wait_for(app, &format!("{LBS}/{lb}"), "loadbalancer", "ACTIVE")
        .await;
    for _ in 0..400 {
        if count(&cloud.db, "SELECT COUNT(*) FROM lb_flows").await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("flows never finished");
}

pub fn fault(a: &Answer, status: u16, faultstring: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.body);
    assert_eq!(
        a.body,
        json!({"faultcode": "Client", "faultstring": faultstring, "debuginfo": null}),
    );
}

async fn pool_status(db: &Db, id: &str) -> ProvisioningStatus {
    store::pools::get(db, id)
        .await
        .expect("pool")
        .expect("exists")
        .provisioning_status
}

async fn listener_status(db: &Db, id: &str) -> ProvisioningStatus {
    store::listeners::get(db, id)
        .await
        .expect("listener")
        .expect("exists")
        .provisioning_status
}

async fn lb_status(cloud: &Cloud, app: &Router, id: &str) -> Value {
    send(app, "GET", &format!("{LBS}/{id}"), Some(&cloud.admin))
        .await
        .body["loadbalancer"]["provisioning_status"]
        .clone()
}

fn strip_times(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("id");
        m.remove("created_at");
    }
    v
}

#[tokio::test]
async fn create_holds_the_parents_then_show_list_update_delete() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.40.0.0/24", Protocol::Http).await;
        let (_, subnet) = cloud.network(&cloud.alice, "10.41.0.0/24").await;
        let (other_pool, _) = add_pool(&cloud.db, &f.lb, &f.project, Protocol::Http, None).await;
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
            strip_times(m.clone()),
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
        assert_eq!(
            lb_status(&cloud, &app, &f.lb).await,
            "PENDING_UPDATE",
            "{b}"
        );
        assert_eq!(
            pool_status(&cloud.db, &f.pool).await,
            ProvisioningStatus::PendingUpdate,
            "{b}"
        );
        assert_eq!(
            listener_status(&cloud.db, &f.listener).await,
            ProvisioningStatus::PendingUpdate,
            "{b}"
        );
        assert_eq!(
            pool_status(&cloud.db, &other_pool).await,
            ProvisioningStatus::Active,
            "{b}"
        );
        // Meanwhile: the held pool first, else the load balancer.
        let busy = send_json(
            &app,
            "POST",
            &path,
            Some(&cloud.alice),
            json!({"member": {"address": "10.41.0.12", "protocol_port": 80}}),
        )
        .await;
        fault(
            &busy,
            409,
            &format!("Pool {} is immutable and cannot be updated.", f.pool),
        );
        let busy = send_json(
            &app,
            "POST",
            &members(&other_pool),
            Some(&cloud.alice),
            json!({"member": {"address": "10.41.0.12", "protocol_port": 80}}),
        )
        .await;
        fault(
            &busy,
            409,
            &format!("Load Balancer {} is immutable and cannot be updated.", f.lb),
        );
        let busy = send_json(
            &app,
            "PUT",
            &format!("{path}/{id}"),
            Some(&cloud.alice),
            json!({"member": {"name": "x"}}),
        )
        .await;
        fault(
            &busy,
            409,
            &format!("Pool {} is immutable and cannot be updated.", f.pool),
        );
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            1,
            "{b}"
        );
        thaw(&cloud).await;

        let active = cloud
            .wait_for(&app, &format!("{path}/{id}"), "member", "ACTIVE")
            .await;
        settled(&cloud, &app, &f.lb).await;
        assert_eq!(active["operating_status"], "NO_MONITOR", "{b}");
        assert!(active["updated_at"].is_string(), "{b}");
        assert_eq!(
            pool_status(&cloud.db, &f.pool).await,
            ProvisioningStatus::Active,
            "{b}"
        );
        assert_eq!(
            listener_status(&cloud.db, &f.listener).await,
            ProvisioningStatus::Active,
            "{b}"
        );
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
        assert_eq!(
            pool_status(&cloud.db, &f.pool).await,
            ProvisioningStatus::PendingUpdate,
            "{b}"
        );
        thaw(&cloud).await;
        cloud
            .wait_for(&app, &format!("{path}/{id}"), "member", "DELETED")
            .await;
        settled(&cloud, &app, &f.lb).await;
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            0,
            "{b}"
        );
        assert_eq!(
            count(
                &cloud.db,
                "SELECT COUNT(*) FROM lb_tags WHERE resource_type = 'member'"
            )
            .await,
            0,
            "{b}"
        );
        let gone = send(&app, "GET", &format!("{path}/{id}"), Some(&cloud.alice)).await;
        fault(&gone, 404, &format!("Member {id} not found."));
        assert_eq!(
            pool_status(&cloud.db, &f.pool).await,
            ProvisioningStatus::Active,
            "{b}"
        );
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
            // Creation times have whole seconds (as upstream's; tempest
            // waits the same way).
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        // Another pool's members are not listed.
        let (other, _) = add_pool(&cloud.db, &f.lb, &f.project, Protocol::Tcp, None).await;
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
            assert_eq!(a.status.as_u16(), *status, "{b} {body}: {}", a.body);
            assert_eq!(a.body["faultstring"], text.as_str(), "{b} {body}");
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
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            0,
            "{b}"
        );
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_flows").await,
            0,
            "{b}"
        );
        assert_eq!(
            lb_status(&cloud, &app, &f.lb).await,
            "ACTIVE",
            "{b}: nothing held"
        );
        assert_eq!(
            pool_status(&cloud.db, &f.pool).await,
            ProvisioningStatus::Active,
            "{b}"
        );

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
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            1,
            "{b}"
        );
        assert_eq!(
            lb_status(&cloud, &app, &f.lb).await,
            "ACTIVE",
            "{b}: the hold rolled back"
        );
        assert_eq!(
            pool_status(&cloud.db, &f.pool).await,
            ProvisioningStatus::Active,
            "{b}"
        );

        // A pool in ERROR takes no members.
        let mut tx = cloud.db.begin().await.expect("begin");
        store::set_provisioning_status(
            &mut tx,
            store::Object::Pool,
            &[f.pool.as_str()],
            ProvisioningStatus::Error,
        )
        .await
        .expect("status");
        tx.commit().await.expect("commit");
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
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            1,
            "{b}"
        );
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
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            0,
            "{b}"
        );
        assert_eq!(lb_status(&cloud, &app, &f.lb).await, "ACTIVE", "{b}");
        // IPv4 is fine, and so is IPv6 in a UDP pool no listener uses.
        create(
            &cloud,
            &app,
            &f.pool,
            json!({"address": "10.45.0.20", "protocol_port": 53}),
        )
        .await;
        settled(&cloud, &app, &f.lb).await;
        let (unused, _) = add_pool(&cloud.db, &f.lb, &f.project, Protocol::Udp, None).await;
        create(
            &cloud,
            &app,
            &unused,
            json!({"address": "2001:db8::1", "protocol_port": 53}),
        )
        .await;
        settled(&cloud, &app, &f.lb).await;
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            2,
            "{b}"
        );
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
        let forbidden = "Policy does not allow this request to be performed.";
        for token in [&cloud.rita, &cloud.olga] {
            let r = send(&app, "GET", &format!("{path}/{id}"), Some(token)).await;
            assert_eq!(r.status, 200, "{b}");
            let r = send(&app, "GET", &path, Some(token)).await;
            assert_eq!(r.body["members"].as_array().map(Vec::len), Some(1), "{b}");
            let w = send_json(
                &app,
                "POST",
                &path,
                Some(token),
                json!({"member": {"address": "10.46.0.10", "protocol_port": 80}}),
            )
            .await;
            fault(&w, 403, forbidden);
            let w = send_json(
                &app,
                "PUT",
                &format!("{path}/{id}"),
                Some(token),
                json!({"member": {"name": "x"}}),
            )
            .await;
            fault(&w, 403, forbidden);
            let w = send(&app, "DELETE", &format!("{path}/{id}"), Some(token)).await;
            fault(&w, 403, forbidden);
            let w = send_json(&app, "PUT", &path, Some(token), json!({"members": []})).await;
            fault(&w, 403, forbidden);
        }
        // Without the legacy roles olga is nobody.
        let strict = cloud.lb(LbConfig {
            legacy_roles: false,
            ..LbConfig::default()
        });
        let r = send(&strict, "GET", &path, Some(&cloud.olga)).await;
        fault(&r, 403, forbidden);
        // A missing member is 404 before policy; one of another project 403.
        let missing = "0f0e0d0c-0b0a-4909-8807-060504030201";
        let r = send(&app, "GET", &format!("{path}/{missing}"), Some(&cloud.rita)).await;
        fault(&r, 404, &format!("Member {missing} not found."));
        let (_, subnet) = cloud.network(&cloud.admin, "10.47.0.0/24").await;
        let a = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.admin),
            json!({"loadbalancer": {"vip_subnet_id": subnet}}),
        )
        .await;
        let admin_lb = a.body["loadbalancer"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let admin_project = a.body["loadbalancer"]["project_id"]
            .as_str()
            .expect("p")
            .to_string();
        cloud
            .wait_for(&app, &format!("{LBS}/{admin_lb}"), "loadbalancer", "ACTIVE")
            .await;
        let (admin_pool, _) =
            add_pool(&cloud.db, &admin_lb, &admin_project, Protocol::Http, None).await;
        let r = send(&app, "GET", &members(&admin_pool), Some(&cloud.alice)).await;
        fault(&r, 403, forbidden);
        let w = send_json(
            &app,
            "POST",
            &members(&admin_pool),
            Some(&cloud.alice),
            json!({"member": {"address": "10.47.0.9", "protocol_port": 80}}),
        )
        .await;
        fault(&w, 403, forbidden);
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            1,
            "{b}"
        );
        assert_eq!(lb_status(&cloud, &app, &f.lb).await, "ACTIVE", "{b}");
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
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_flows").await,
            1,
            "{b}: one flow"
        );
        let status = |id: &str| {
            format!("SELECT COUNT(*) FROM lb_members WHERE id = '{id}' AND provisioning_status = ")
        };
        assert_eq!(
            count(&cloud.db, &format!("{}'PENDING_DELETE'", status(&m1))).await,
            1,
            "{b}"
        );
        assert_eq!(
            count(&cloud.db, &format!("{}'PENDING_UPDATE'", status(&m2))).await,
            1,
            "{b}"
        );
        assert_eq!(
            count(
                &cloud.db,
                "SELECT COUNT(*) FROM lb_members WHERE provisioning_status = 'PENDING_CREATE'"
            )
            .await,
            1,
            "{b}"
        );
        assert_eq!(
            pool_status(&cloud.db, &f.pool).await,
            ProvisioningStatus::PendingUpdate,
            "{b}"
        );
        assert_eq!(
            listener_status(&cloud.db, &f.listener).await,
            ProvisioningStatus::PendingUpdate,
            "{b}"
        );
        assert_eq!(
            lb_status(&cloud, &app, &f.lb).await,
            "PENDING_UPDATE",
            "{b}"
        );
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
        assert_eq!(
            count(
                &cloud.db,
                "SELECT COUNT(*) FROM lb_members WHERE provisioning_status <> 'ACTIVE'"
            )
            .await,
            0,
            "{b}"
        );

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
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            3,
            "{b}"
        );
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_flows").await,
            0,
            "{b}"
        );
        assert_eq!(lb_status(&cloud, &app, &f.lb).await, "ACTIVE", "{b}");

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
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            0,
            "{b}"
        );
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
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_flows").await,
            0,
            "{b}: nothing to do"
        );
        assert_eq!(lb_status(&cloud, &app, &f.lb).await, "ACTIVE", "{b}");
        assert_eq!(
            pool_status(&cloud.db, &f.pool).await,
            ProvisioningStatus::Active,
            "{b}"
        );
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
        let mut tx = cloud.db.begin().await.expect("begin");
        store::quotas::set(
            &mut tx,
            &f.project,
            &Quota {
                member: Some(1),
                ..Quota::default()
            },
        )
        .await
        .expect("quota");
        tx.commit().await.expect("commit");
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
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            1,
            "{b}"
        );
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
        assert_eq!(
            count(
                &cloud.db,
                "SELECT COUNT(*) FROM lb_members WHERE ip_address = '192.0.2.2'"
            )
            .await,
            1,
            "{b}"
        );
    }
}

#[tokio::test]
async fn cascade_delete_of_the_load_balancer_takes_the_members() {
    for cloud in backends().await {
        let b = cloud.backend;
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
        let d = send(
            &app,
            "DELETE",
            &format!("{LBS}/{}?cascade=true", f.lb),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(d.status, 204, "{b}: {}", d.body);
        cloud
            .wait_for(&app, &format!("{LBS}/{}", f.lb), "loadbalancer", "DELETED")
            .await;
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_members").await,
            0,
            "{b}"
        );
        assert_eq!(
            count(&cloud.db, "SELECT COUNT(*) FROM lb_tags").await,
            0,
            "{b}"
        );
        let gone = send(&app, "GET", &members(&f.pool), Some(&cloud.alice)).await;
        fault(&gone, 404, &format!("Pool {} not found.", f.pool));
    }
}
