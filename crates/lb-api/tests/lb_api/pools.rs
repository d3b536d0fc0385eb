//! Pools: create on a load balancer or as a listener's default pool,
//! show/list, update (session persistence included), delete with its
//! members and monitor, the statuses of the listeners and load balancer
//! it passes through, every validation rule with nothing stored, policy,
//! quota, and the cascade delete of the load balancer.

use axum::Router;
use neutrino_lb_api::LbConfig;
use neutrino_lb_types::model::Quota;
use serde_json::{Value, json};

use crate::fixtures::{
    Frozen, LBS, Lb, active_lb, active_lb_via, cascade_delete, force_status, rows, seed_l7policy,
    seed_member_and_monitor, set_quota,
};
use crate::listeners::{LISTENERS, active_listener, assert_lb_status, listener_on};
use crate::support::{Cloud, FORBIDDEN, all_refused, backends, fault, refused, send, send_json};

const POOLS: &str = "/v2/lbaas/pools";

/// Creates a pool and waits for it to be ACTIVE; returns its id.
pub async fn active_pool(cloud: &Cloud, app: &Router, body: Value) -> String {
    let a = send_json(
        app,
        "POST",
        POOLS,
        Some(&cloud.alice),
        json!({ "pool": body }),
    )
    .await;
    assert_eq!(a.status, 201, "{}: {}", cloud.backend, a.body);
    let id = a.body["pool"]["id"].as_str().expect("id").to_string();
    cloud
        .wait_for(app, &format!("{POOLS}/{id}"), "pool", "ACTIVE")
        .await;
    id
}

/// A round-robin pool of `protocol` on `lb`, waited ACTIVE.
pub async fn pool_on(cloud: &Cloud, app: &Router, lb: &str, protocol: &str) -> String {
    active_pool(
        cloud,
        app,
        json!({"protocol": protocol, "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": lb}),
    )
    .await
}

#[tokio::test]
async fn create_show_list_update_delete() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let Lb {
            id: lb, project, ..
        } = active_lb(&cloud, &app, &cloud.alice, "10.50.0.0/24").await;
        let a = send_json(
            &app,
            "POST",
            POOLS,
            Some(&cloud.alice),
            json!({"pool": {
            "name": "p1", "description": "B", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "loadbalancer_id": lb, "tags": ["x"],
            "session_persistence": {"type": "APP_COOKIE", "cookie_name": "my_cookie"}}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let got = a.body["pool"].clone();
        let id = got["id"].as_str().expect("id").to_string();
        let expected = json!({
            "id": id, "name": "p1", "description": "B",
            "provisioning_status": "PENDING_CREATE", "operating_status": "OFFLINE",
            "admin_state_up": true, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "session_persistence": {"type": "APP_COOKIE", "cookie_name": "my_cookie",
                "persistence_timeout": null, "persistence_granularity": null},
            "project_id": project, "loadbalancers": [{"id": lb}], "listeners": [],
            "created_at": got["created_at"], "updated_at": null, "members": [],
            "tags": ["x"], "tls_container_ref": null, "ca_tls_container_ref": null,
            "crl_container_ref": null, "tls_enabled": false, "tls_ciphers": null,
            "tls_versions": null, "alpn_protocols": null, "tenant_id": project,
        });
        assert_eq!(got, expected, "{b}");
        let path = format!("{POOLS}/{id}");
        let active = cloud.wait_for(&app, &path, "pool", "ACTIVE").await;
        assert_eq!(active["operating_status"], "OFFLINE", "{b}");
        assert!(active["updated_at"].is_string(), "{b}");
        let lb_now = send(&app, "GET", &format!("{LBS}/{lb}"), Some(&cloud.alice)).await;
        assert_eq!(
            lb_now.body["loadbalancer"]["provisioning_status"], "ACTIVE",
            "{b}"
        );
        assert_eq!(
            lb_now.body["loadbalancer"]["pools"],
            json!([{"id": id}]),
            "{b}"
        );

        // As a listener's default pool: created with listener_id only.
        let listener = listener_on(&cloud, &app, &lb, "HTTP", 80).await;
        let a = send_json(
            &app,
            "POST",
            POOLS,
            Some(&cloud.alice),
            json!({"pool": {
            "name": "p2", "description": "A", "protocol": "PROXY", "lb_algorithm": "SOURCE_IP",
            "listener_id": listener, "tls_enabled": true}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let p2 = a.body["pool"]["id"].as_str().expect("id").to_string();
        assert_eq!(
            a.body["pool"]["listeners"],
            json!([{"id": listener}]),
            "{b}"
        );
        assert_eq!(a.body["pool"]["loadbalancers"], json!([{"id": lb}]), "{b}");
        assert_eq!(
            a.body["pool"]["tls_versions"],
            json!(["TLSv1.2", "TLSv1.3"]),
            "{b}"
        );
        assert_eq!(
            a.body["pool"]["alpn_protocols"],
            json!(["h2", "http/1.1", "http/1.0"]),
            "{b}"
        );
        assert_eq!(
            a.body["pool"]["tls_ciphers"],
            neutrino_lb_types::consts::CIPHERS_OWASP_SUITE_B,
            "{b}"
        );
        cloud
            .wait_for(&app, &format!("{POOLS}/{p2}"), "pool", "ACTIVE")
            .await;
        let l = cloud
            .wait_for(
                &app,
                &format!("{LISTENERS}/{listener}"),
                "listener",
                "ACTIVE",
            )
            .await;
        assert_eq!(l["default_pool_id"], p2.as_str(), "{b}");
        // A listener has one default pool.
        let dup = send_json(
            &app,
            "POST",
            POOLS,
            Some(&cloud.alice),
            json!({"pool": {
            "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "listener_id": listener}}),
        )
        .await;
        fault(&dup, 409, "This listener already has a default pool");

        // Listing.
        let ids = |v: &Value| -> Vec<String> {
            v["pools"]
                .as_array()
                .expect("pools")
                .iter()
                .map(|p| p["id"].as_str().unwrap_or_default().to_string())
                .collect()
        };
        let list = |q: String| {
            let app = app.clone();
            let tok = cloud.alice.clone();
            async move { send(&app, "GET", &format!("{POOLS}{q}"), Some(&tok)).await }
        };
        let all = list(format!("?loadbalancer_id={lb}")).await;
        assert_eq!(all.status, 200, "{b}: {}", all.body);
        let mut both = ids(&all.body);
        both.sort();
        let mut want = vec![id.clone(), p2.clone()];
        want.sort();
        assert_eq!(both, want, "{b}");
        assert!(all.body["pools"][0].get("loadbalancer_id").is_none(), "{b}");
        let sorted = list("?sort=description".into()).await;
        assert_eq!(
            ids(&sorted.body),
            vec![p2.clone(), id.clone()],
            "{b}: {}",
            sorted.body
        );
        assert_eq!(
            ids(&list("?lb_algorithm=SOURCE_IP".into()).await.body),
            vec![p2.clone()],
            "{b}"
        );
        assert_eq!(
            ids(&list("?tls_enabled=true".into()).await.body),
            vec![p2.clone()],
            "{b}"
        );
        let f = list("?protocol=HTTP&fields=name".into()).await;
        assert_eq!(
            f.body,
            json!({"pools": [{"name": "p1"}], "pools_links": []}),
            "{b}"
        );
        assert_eq!(list("?listener_id=x".into()).await.status, 400, "{b}");
        let s = send(&app, "GET", &format!("{path}?fields=id"), Some(&cloud.rita)).await;
        assert_eq!(s.body, json!({"pool": {"id": id}}), "{b}");

        // Update: a new type without cookie, then a cookie without a type
        // (the stored type stays), then none.
        let put = |body: Value| {
            let app = app.clone();
            let tok = cloud.alice.clone();
            let path = path.clone();
            async move { send_json(&app, "PUT", &path, Some(&tok), json!({ "pool": body })).await }
        };
        let u = put(json!({"name": "p1b", "lb_algorithm": "LEAST_CONNECTIONS",
            "session_persistence": {"type": "HTTP_COOKIE"}}))
        .await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        assert_eq!(
            u.body["pool"]["provisioning_status"], "PENDING_UPDATE",
            "{b}"
        );
        assert_eq!(u.body["pool"]["lb_algorithm"], "LEAST_CONNECTIONS", "{b}");
        assert_eq!(
            u.body["pool"]["session_persistence"]["type"], "HTTP_COOKIE",
            "{b}"
        );
        assert_eq!(
            u.body["pool"]["session_persistence"]["cookie_name"],
            Value::Null,
            "{b}"
        );
        cloud.wait_for(&app, &path, "pool", "ACTIVE").await;
        cloud
            .wait_for(&app, &format!("{LBS}/{lb}"), "loadbalancer", "ACTIVE")
            .await;
        let u = put(json!({"session_persistence": {"cookie_name": "c"}})).await;
        assert_eq!(
            (u.status.as_u16(), u.body["faultstring"].clone()),
            (
                400,
                json!(
                    "Validation failure: Field \"cookie_name\" can only be specified with session persistence of type \"APP_COOKIE\"."
                )
            ),
            "{b}: the stored type is checked"
        );
        let u = put(json!({"session_persistence": {"type": "APP_COOKIE"}})).await;
        assert_eq!(
            u.body["faultstring"],
            "Validation failure: Field \"cookie_name\" must be specified when using the \"APP_COOKIE\" session persistence type.",
            "{b}"
        );
        let u = put(json!({"lb_algorithm": "SOURCE_IP_PORT"})).await;
        assert_eq!(u.status, 501, "{b}");
        let u = put(json!({"session_persistence": null, "tags": []})).await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        let done = cloud.wait_for(&app, &path, "pool", "ACTIVE").await;
        assert_eq!(done["session_persistence"], Value::Null, "{b}");
        assert_eq!(done["name"], "p1b", "{b}");
        assert_eq!(done["tags"], json!([]), "{b}");
        cloud
            .wait_for(&app, &format!("{LBS}/{lb}"), "loadbalancer", "ACTIVE")
            .await;

        // Readers read but never write.
        assert_eq!(
            send(&app, "GET", &path, Some(&cloud.rita)).await.status,
            200,
            "{b}"
        );
        assert_eq!(
            send(&app, "GET", POOLS, Some(&cloud.olga)).await.status,
            200,
            "{b}"
        );
        let new = |algorithm: &str| json!({"pool": {"protocol": "HTTP", "lb_algorithm": algorithm, "loadbalancer_id": lb}});
        // Policy comes before the provider's 501 (SOURCE_IP_PORT).
        let writes = [
            ("POST", POOLS, Some(new("ROUND_ROBIN"))),
            ("POST", POOLS, Some(new("SOURCE_IP_PORT"))),
            ("PUT", path.as_str(), Some(json!({"pool": {"name": "x"}}))),
            ("DELETE", path.as_str(), None),
        ];
        all_refused(&app, &cloud.rita, &writes, 403, FORBIDDEN).await;

        // Deleting the default pool leaves the listener without one.
        let d = send(&app, "DELETE", &format!("{POOLS}/{p2}"), Some(&cloud.alice)).await;
        assert_eq!(d.status, 204, "{b}: {}", d.body);
        cloud
            .wait_for(&app, &format!("{POOLS}/{p2}"), "pool", "DELETED")
            .await;
        let l = cloud
            .wait_for(
                &app,
                &format!("{LISTENERS}/{listener}"),
                "listener",
                "ACTIVE",
            )
            .await;
        assert_eq!(l["default_pool_id"], Value::Null, "{b}");
        let gone = send(&app, "GET", &format!("{POOLS}/{p2}"), Some(&cloud.alice)).await;
        fault(&gone, 404, &format!("Pool {p2} not found."));
        cloud
            .wait_for(&app, &format!("{LBS}/{lb}"), "loadbalancer", "ACTIVE")
            .await;

        // Its members and monitor go with a pool.
        let (member, hm) = seed_member_and_monitor(&cloud.db, &id, &project).await;
        let shown = send(&app, "GET", &path, Some(&cloud.alice)).await;
        assert_eq!(
            shown.body["pool"]["members"],
            json!([{"id": member}]),
            "{b}"
        );
        assert_eq!(shown.body["pool"]["healthmonitor_id"], hm.as_str(), "{b}");
        let d = send(&app, "DELETE", &path, Some(&cloud.alice)).await;
        assert_eq!(d.status, 204, "{b}");
        cloud.wait_for(&app, &path, "pool", "DELETED").await;
        for table in ["lb_pools", "lb_members", "lb_health_monitors"] {
            cloud.assert_rows(table, 0).await;
        }
        cloud
            .assert_rows("lb_tags WHERE resource_type IN ('pool', 'member')", 0)
            .await;
    }
}

#[tokio::test]
async fn bad_creates_answer_upstreams_faults_and_store_nothing() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let Lb { id: lb, .. } = active_lb(&cloud, &app, &cloud.alice, "10.51.0.0/24").await;
        let Lb { id: other_lb, .. } = active_lb(&cloud, &app, &cloud.alice, "10.52.0.0/24").await;
        let http = listener_on(&cloud, &app, &lb, "HTTP", 80).await;
        let prom = listener_on(&cloud, &app, &lb, "PROMETHEUS", 9100).await;
        let foreign = listener_on(&cloud, &app, &other_lb, "TCP", 80).await;
        let missing = "8b1a6f2e-7a07-4a47-9c4b-7a6f3a1e0d11";
        let with = |extra: Value| {
            let mut body =
                json!({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": lb});
            for (k, v) in extra.as_object().expect("object") {
                if v.is_null() {
                    body.as_object_mut().expect("object").remove(k);
                } else {
                    body[k] = v.clone();
                }
            }
            json!({"pool": body})
        };
        let cases: Vec<(Value, u16, String)> = vec![
            (with(json!({"loadbalancer_id": null})), 400,
             "Validation failure: Must provide at least one of: loadbalancer_id, listener_id".into()),
            (with(json!({"protocol": null})), 400,
             "Invalid input for field/attribute protocol. Value: 'None'. Mandatory field missing.".into()),
            (with(json!({"lb_algorithm": null})), 400,
             "Invalid input for field/attribute lb_algorithm. Value: 'None'. Mandatory field missing.".into()),
            (with(json!({"protocol": "TERMINATED_HTTPS"})), 400, String::new()),
            (with(json!({"loadbalancer_id": missing})), 404, format!("Load Balancer {missing} not found.")),
            (with(json!({"loadbalancer_id": null, "listener_id": missing})), 404, format!("Listener {missing} not found.")),
            (with(json!({"listener_id": foreign})), 404, format!("Listener {foreign} not found.")),
            (with(json!({"listener_id": http, "protocol": "TCP"})), 400,
             "Validation failure: The pool protocol 'TCP' is invalid while the listener protocol is 'HTTP'.".into()),
            (with(json!({"loadbalancer_id": null, "listener_id": prom})), 400,
             "Protocol PROMETHEUS listeners cannot have child objects.".into()),
            (with(json!({"session_persistence": {"type": "APP_COOKIE"}})), 400,
             "Validation failure: Field \"cookie_name\" must be specified when using the \"APP_COOKIE\" session persistence type.".into()),
            (with(json!({"session_persistence": {"type": "HTTP_COOKIE", "cookie_name": "c"}})), 400,
             "Validation failure: Field \"cookie_name\" can only be specified with session persistence of type \"APP_COOKIE\".".into()),
            (with(json!({"session_persistence": {"type": "APP_COOKIE", "cookie_name": "a b"}})), 400, String::new()),
            (with(json!({"session_persistence": {"type": "SOURCE_IP", "persistence_timeout": 5}})), 400,
             "Validation failure: persistence_timeout and persistence_granularity is only for UDP and SCTP protocol pools.".into()),
            (with(json!({"session_persistence": {"cookie_name": "c"}})), 400,
             "Invalid input for field/attribute type. Value: 'None'. Mandatory field missing.".into()),
            (with(json!({"protocol": "UDP", "session_persistence": {"type": "HTTP_COOKIE"}})), 400,
             "Validation failure: Session persistence of type HTTP_COOKIE is not supported for UDP/SCTP protocol pools.".into()),
            (with(json!({"protocol": "UDP", "session_persistence": {"type": "SOURCE_IP", "cookie_name": "c"}})), 400,
             "Validation failure: session_persistence SOURCE_IP type for UDP and SCTP protocols only accepts: type, persistence_timeout, persistence_granularity.".into()),
            (with(json!({"crl_container_ref": "crl"})), 400,
             "Validation failure: A CA certificate reference is required to specify a revocation list.".into()),
            (with(json!({"tls_enabled": true, "tls_versions": []})), 400,
             "Validation failure: Empty TLS version list. Either specify at least one TLS version or remove this parameter to use the default.".into()),
            (with(json!({"tls_enabled": true, "alpn_protocols": []})), 400,
             "Validation failure: Empty ALPN protocol list. Either specify at least one ALPN protocol or remove this parameter to use the default.".into()),
            (with(json!({"lb_algorithm": "FASTEST"})), 400, String::new()),
        ];
        let pools_before = rows(&cloud.db, "lb_pools").await;
        for (body, status, text) in cases {
            let a = send_json(&app, "POST", POOLS, Some(&cloud.alice), body.clone()).await;
            refused(&a, status, &text, &format!("{b} {body}"));
        }
        // The amphora provider refuses SOURCE_IP_PORT (tempest skips on it).
        let a = send_json(
            &app,
            "POST",
            POOLS,
            Some(&cloud.alice),
            with(json!({"lb_algorithm": "SOURCE_IP_PORT"})),
        )
        .await;
        fault(
            &a,
            501,
            "Provider 'amphora' does not support a requested option: Amphora provider does not support SOURCE_IP_PORT algorithm.",
        );
        cloud.assert_rows("lb_pools", pools_before).await;
        cloud.assert_rows("lb_flows", 0).await;
        let l = send(
            &app,
            "GET",
            &format!("{LISTENERS}/{http}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(l.body["listener"]["default_pool_id"], Value::Null, "{b}");
        assert_eq!(l.body["listener"]["provisioning_status"], "ACTIVE", "{b}");

        // UDP pools take SOURCE_IP with timeout and granularity.
        let a = send_json(
            &app,
            "POST",
            POOLS,
            Some(&cloud.alice),
            with(json!({"protocol": "UDP",
            "session_persistence": {"type": "SOURCE_IP", "persistence_timeout": 60,
                "persistence_granularity": "255.255.255.0"}})),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        assert_eq!(
            a.body["pool"]["session_persistence"],
            json!({"type": "SOURCE_IP",
            "cookie_name": null, "persistence_timeout": 60, "persistence_granularity": "255.255.255.0"}),
            "{b}"
        );
        cloud
            .wait_for(&app, &format!("{LBS}/{lb}"), "loadbalancer", "ACTIVE")
            .await;
        // Both ids given: the listener must be the load balancer's.
        let a = send_json(
            &app,
            "POST",
            POOLS,
            Some(&cloud.alice),
            with(json!({"listener_id": http})),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        assert_eq!(a.body["pool"]["listeners"], json!([{"id": http}]), "{b}");
    }
}

#[tokio::test]
async fn a_pool_an_l7_policy_redirects_to_cannot_be_deleted() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let Lb { id: lb, .. } = active_lb(&cloud, &app, &cloud.alice, "10.53.0.0/24").await;
        let listener = listener_on(&cloud, &app, &lb, "HTTP", 80).await;
        let pool = pool_on(&cloud, &app, &lb, "HTTP").await;
        let policy = seed_l7policy(&cloud.db, &listener, Some(&pool)).await;
        let d = send(
            &app,
            "DELETE",
            &format!("{POOLS}/{pool}"),
            Some(&cloud.alice),
        )
        .await;
        fault(
            &d,
            409,
            &format!("Pool {pool} is in use by L7 policy {policy}"),
        );
        let p = send(&app, "GET", &format!("{POOLS}/{pool}"), Some(&cloud.alice)).await;
        assert_eq!(p.body["pool"]["provisioning_status"], "ACTIVE", "{b}");
        assert_eq!(
            p.body["pool"]["listeners"],
            json!([{"id": listener}]),
            "{b}"
        );
        assert_lb_status(&cloud, &app, &lb, "ACTIVE", "").await;

        // Busy load balancer: every write is refused, nothing changes.
        force_status(&cloud.db, "lb_load_balancers", &lb, "PENDING_UPDATE").await;
        let immutable = format!("Load Balancer {lb} is immutable and cannot be updated.");
        let one = format!("{POOLS}/{pool}");
        let new = json!({"pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": lb}});
        let writes = [
            ("PUT", one.as_str(), Some(json!({"pool": {"name": "n"}}))),
            ("POST", POOLS, Some(new)),
        ];
        all_refused(&app, &cloud.alice, &writes, 409, &immutable).await;
        force_status(&cloud.db, "lb_load_balancers", &lb, "ACTIVE").await;
        cloud.assert_rows("lb_pools", 1).await;
        cloud.assert_rows("lb_flows", 0).await;
    }
}

#[tokio::test]
async fn a_quota_of_one_pool() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let Lb {
            id: lb, project, ..
        } = active_lb(&cloud, &app, &cloud.alice, "10.54.0.0/24").await;
        let one = Quota {
            pool: Some(1),
            ..Quota::default()
        };
        set_quota(&cloud.db, &project, one).await;
        pool_on(&cloud, &app, &lb, "TCP").await;
        let a = send_json(
            &app,
            "POST",
            POOLS,
            Some(&cloud.alice),
            json!({"pool": {
            "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": lb}}),
        )
        .await;
        fault(&a, 403, "Quota has been met for resources: Pool");
        cloud.assert_rows("lb_pools", 1).await;
    }
}

#[tokio::test]
async fn cascade_delete_of_the_load_balancer_takes_listeners_and_pools() {
    for cloud in backends().await {
        let b = cloud.backend;
        // Any certificate reference (the noop cert manager's way): the
        // point is what the cascade takes, SNI rows included.
        let app = cloud.lb(LbConfig {
            network_driver: neutrino_lb_api::NetworkDriver::Noop,
            ..LbConfig::default()
        });
        let Lb {
            id: lb, project, ..
        } = active_lb(&cloud, &app, &cloud.alice, "10.55.0.0/24").await;
        let listener = active_listener(
            &cloud,
            &app,
            json!({"protocol": "TERMINATED_HTTPS",
            "protocol_port": 443, "loadbalancer_id": lb, "default_tls_container_ref": "r",
            "sni_container_refs": ["s"], "tags": ["t"]}),
        )
        .await;
        let pool = active_pool(
            &cloud,
            &app,
            json!({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "listener_id": listener, "tags": ["t"]}),
        )
        .await;
        seed_member_and_monitor(&cloud.db, &pool, &project).await;
        seed_l7policy(&cloud.db, &listener, Some(&pool)).await;
        let path = format!("{LBS}/{lb}");
        let d = send(&app, "DELETE", &path, Some(&cloud.alice)).await;
        assert_eq!(d.status, 400, "{b}: children need cascade");
        cascade_delete(&cloud, &app, &lb).await;
        for table in [
            "lb_listeners",
            "lb_listener_sni",
            "lb_pools",
            "lb_members",
            "lb_health_monitors",
            "lb_l7policies",
            "lb_tags",
        ] {
            cloud.assert_rows(table, 0).await;
        }
        let l = send(
            &app,
            "GET",
            &format!("{LISTENERS}/{listener}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(l.status, 404, "{b}");
    }
}

#[tokio::test]
async fn listeners_and_the_load_balancer_are_held_until_the_flow_settles() {
    let clouds = backends().await;
    let cloud = &clouds[0];
    let mut f = Frozen::new(cloud).await;
    f.run();
    let lb = active_lb_via(cloud, &f.app, &f.net, &cloud.alice, "10.56.0.0/24")
        .await
        .id;
    let a = send_json(
        &f.app,
        "POST",
        LISTENERS,
        Some(&cloud.alice),
        json!({"listener": {
        "protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": lb}}),
    )
    .await;
    let listener = a.body["listener"]["id"].as_str().expect("id").to_string();
    f.stop().await;
    assert_eq!(f.status("lb_listeners", &listener).await, "ACTIVE");

    // Create as the listener's default pool.
    let a = send_json(
        &f.app,
        "POST",
        POOLS,
        Some(&cloud.alice),
        json!({"pool": {
        "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "listener_id": listener}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let pool = a.body["pool"]["id"].as_str().expect("id").to_string();
    assert_eq!(a.body["pool"]["provisioning_status"], "PENDING_CREATE");
    let all = [
        ("lb_pools", pool.as_str()),
        ("lb_listeners", listener.as_str()),
        ("lb_load_balancers", lb.as_str()),
    ];
    let (the_pool, its_parents) = all.split_at(1);
    f.assert_statuses("PENDING_CREATE", the_pool).await;
    f.assert_statuses("PENDING_UPDATE", its_parents).await;
    let busy = send_json(
        &f.app,
        "PUT",
        &format!("{LISTENERS}/{listener}"),
        Some(&cloud.alice),
        json!({"listener": {"name": "n"}}),
    )
    .await;
    assert_eq!(busy.status, 409);
    f.settle().await;
    f.assert_statuses("ACTIVE", &all).await;

    // Update: the listeners using it are held too.
    let u = send_json(
        &f.app,
        "PUT",
        &format!("{POOLS}/{pool}"),
        Some(&cloud.alice),
        json!({"pool": {"name": "n"}}),
    )
    .await;
    assert_eq!(u.status, 200, "{}", u.body);
    f.assert_statuses("PENDING_UPDATE", &all).await;
    f.settle().await;
    f.assert_statuses("ACTIVE", &all).await;

    // Delete: PENDING_DELETE, then gone; the listener keeps no default.
    let d = send(
        &f.app,
        "DELETE",
        &format!("{POOLS}/{pool}"),
        Some(&cloud.alice),
    )
    .await;
    assert_eq!(d.status, 204, "{}", d.body);
    f.assert_statuses("PENDING_DELETE", the_pool).await;
    f.assert_statuses("PENDING_UPDATE", its_parents).await;
    f.settle().await;
    assert_eq!(rows(&f.db, "lb_pools").await, 0);
    f.assert_statuses("ACTIVE", its_parents).await;
    assert_eq!(
        rows(&f.db, "lb_listeners WHERE default_pool_id IS NOT NULL").await,
        0
    );
}
