//! Health monitors: create with the pool, its listeners and the load
//! balancer held until the flow reports the monitor ONLINE, show/list,
//! update, delete (members back to NO_MONITOR), policy, quotas and every
//! refusal with nothing stored.

use axum::Router;
use neutrino_lb_api::LbConfig;
use neutrino_lb_types::enums::{Protocol, ProvisioningStatus};
use neutrino_lb_types::model::Quota;
use neutrino_store::lb as store;
use serde_json::{Value, json};

use crate::fixtures::{cascade_delete, exec, freeze, seed_pool, set_quota, settled, thaw};
use crate::members::{admins_pool, fixture, members};
use crate::support::{
    Answer, Cloud, FORBIDDEN, all_refused, backends, fault, refused, send, send_json,
    without_id_and_created_at,
};

const HMS: &str = "/v2/lbaas/healthmonitors";

fn hm(pool: &str, extra: Value) -> Value {
    let mut h =
        json!({"pool_id": pool, "type": "HTTP", "delay": 2, "timeout": 3, "max_retries": 4});
    h.as_object_mut()
        .expect("object")
        .extend(extra.as_object().expect("object").clone());
    json!({"healthmonitor": h})
}

async fn create(cloud: &Cloud, app: &Router, body: Value) -> Answer {
    send_json(app, "POST", HMS, Some(&cloud.alice), body).await
}

#[tokio::test]
async fn create_show_list_update_delete() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.60.0.0/24", Protocol::Http).await;
        // A member made before the monitor keeps NO_MONITOR; one made
        // after starts OFFLINE.
        let before = send_json(
            &app,
            "POST",
            &members(&f.pool),
            Some(&cloud.alice),
            json!({"member": {"address": "192.0.2.1", "protocol_port": 80}}),
        )
        .await;
        assert_eq!(before.status, 201, "{b}: {}", before.body);
        settled(&cloud, &app, &f.lb).await;

        freeze(&cloud).await;
        let a = create(
            &cloud,
            &app,
            hm(
                &f.pool,
                json!({"name": "hm1", "max_retries_down": 5,
            "tags": ["h"], "http_version": 1.1, "domain_name": "example.com"}),
            ),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let h = &a.body["healthmonitor"];
        let id = h["id"].as_str().expect("id").to_string();
        assert_eq!(
            without_id_and_created_at(h.clone()),
            json!({"name": "hm1", "type": "HTTP", "delay": 2, "timeout": 3, "max_retries": 4,
                "max_retries_down": 5, "http_method": "GET", "url_path": "/", "expected_codes": "200",
                "admin_state_up": true, "project_id": f.project, "pools": [{"id": f.pool}],
                "provisioning_status": "PENDING_CREATE", "operating_status": "OFFLINE",
                "updated_at": null, "tags": ["h"], "http_version": 1.1, "domain_name": "example.com",
                "tenant_id": f.project}),
            "{b}"
        );
        cloud.assert_statuses("PENDING_UPDATE", &f.held()).await;
        // The pool shows its monitor at once.
        let pool = store::pools::get(&cloud.db, &f.pool)
            .await
            .expect("pool")
            .expect("pool");
        assert_eq!(pool.healthmonitor_id.as_deref(), Some(id.as_str()), "{b}");
        thaw(&cloud).await;
        let active = cloud
            .wait_for(&app, &format!("{HMS}/{id}"), "healthmonitor", "ACTIVE")
            .await;
        settled(&cloud, &app, &f.lb).await;
        assert_eq!(active["operating_status"], "ONLINE", "{b}");
        assert!(active["updated_at"].is_string(), "{b}");
        assert_eq!(
            store::pools::get(&cloud.db, &f.pool)
                .await
                .expect("pool")
                .expect("pool")
                .provisioning_status,
            ProvisioningStatus::Active,
            "{b}"
        );

        let after = send_json(
            &app,
            "POST",
            &members(&f.pool),
            Some(&cloud.alice),
            json!({"member": {"address": "192.0.2.2", "protocol_port": 80}}),
        )
        .await;
        assert_eq!(
            after.body["member"]["operating_status"], "OFFLINE",
            "{b}: {}",
            after.body
        );
        settled(&cloud, &app, &f.lb).await;
        let before_id = before.body["member"]["id"].as_str().expect("id");
        let m = send(
            &app,
            "GET",
            &format!("{}/{before_id}", members(&f.pool)),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(m.body["member"]["operating_status"], "NO_MONITOR", "{b}");

        // Show and list.
        let s = send(&app, "GET", &format!("{HMS}/{id}"), Some(&cloud.rita)).await;
        assert_eq!(s.status, 200, "{b}");
        assert_eq!(s.body["healthmonitor"], active, "{b}");
        let s = send(
            &app,
            "GET",
            &format!("/v2.0/lbaas/healthmonitors/{id}?fields=type&fields=delay"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            s.body,
            json!({"healthmonitor": {"type": "HTTP", "delay": 2}}),
            "{b}"
        );
        let (pool2, _) = seed_pool(&cloud.db, &f.lb, &f.project, Protocol::Tcp, None).await;
        // Creation times have whole seconds: order the two for the list
        // (rather than wait a second).
        let sql = format!(
            "UPDATE lb_health_monitors SET created_at = '2026-01-01T00:00:00' WHERE id = '{id}'"
        );
        exec(&cloud.db, &sql).await;
        let a = create(
            &cloud,
            &app,
            json!({"healthmonitor": {"pool_id": pool2, "type": "TCP",
            "delay": 5, "timeout": 5, "max_retries": 1, "admin_state_up": false}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let tcp = a.body["healthmonitor"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        assert_eq!(
            (
                a.body["healthmonitor"]["http_method"].clone(),
                a.body["healthmonitor"]["url_path"].clone(),
                a.body["healthmonitor"]["expected_codes"].clone(),
                a.body["healthmonitor"]["max_retries_down"].clone()
            ),
            (Value::Null, Value::Null, Value::Null, json!(3)),
            "{b}"
        );
        let off = cloud
            .wait_for(&app, &format!("{HMS}/{tcp}"), "healthmonitor", "ACTIVE")
            .await;
        settled(&cloud, &app, &f.lb).await;
        assert_eq!(off["operating_status"], "OFFLINE", "{b}: disabled");
        let ids = |a: &Answer| -> Vec<String> {
            a.body["healthmonitors"]
                .as_array()
                .expect("list")
                .iter()
                .map(|h| h["id"].as_str().expect("id").to_string())
                .collect()
        };
        let all = send(&app, "GET", HMS, Some(&cloud.alice)).await;
        assert_eq!(ids(&all), vec![id.clone(), tcp.clone()], "{b}");
        assert_eq!(all.body["healthmonitors_links"], json!([]), "{b}");
        let l = send(&app, "GET", &format!("{HMS}?type=TCP"), Some(&cloud.alice)).await;
        assert_eq!(ids(&l), vec![tcp.clone()], "{b}");
        let l = send(
            &app,
            "GET",
            &format!("{HMS}?admin_state_up=false&fields=id"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(l.body["healthmonitors"], json!([{"id": tcp}]), "{b}");
        let l = send(
            &app,
            "GET",
            &format!("{HMS}?sort=delay:desc"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(ids(&l), vec![tcp.clone(), id.clone()], "{b}");
        let l = send(&app, "GET", &format!("{HMS}?limit=1"), Some(&cloud.alice)).await;
        assert_eq!(ids(&l), vec![id.clone()], "{b}");
        assert_eq!(l.body["healthmonitors_links"][0]["rel"], "next", "{b}");
        let l = send(&app, "GET", &format!("{HMS}?tags=h"), Some(&cloud.alice)).await;
        assert_eq!(ids(&l), vec![id.clone()], "{b}");
        let l = send(&app, "GET", &format!("{HMS}?pool=x"), Some(&cloud.alice)).await;
        fault(
            &l,
            400,
            "One or more arguments are either duplicate or invalid",
        );

        // Update: nulls of the HTTP attributes go back to their defaults.
        let u = send_json(
            &app,
            "PUT",
            &format!("{HMS}/{id}"),
            Some(&cloud.alice),
            json!({"healthmonitor": {"delay": 7, "url_path": null, "expected_codes": "200-204",
                "max_retries_down": null, "admin_state_up": false, "name": "renamed"}}),
        )
        .await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        let uh = &u.body["healthmonitor"];
        assert_eq!(uh["provisioning_status"], "PENDING_UPDATE", "{b}");
        assert_eq!(
            (
                uh["delay"].clone(),
                uh["url_path"].clone(),
                uh["expected_codes"].clone(),
                uh["max_retries_down"].clone(),
                uh["name"].clone()
            ),
            (
                json!(7),
                json!("/"),
                json!("200-204"),
                json!(3),
                json!("renamed")
            ),
            "{b}"
        );
        let done = cloud
            .wait_for(&app, &format!("{HMS}/{id}"), "healthmonitor", "ACTIVE")
            .await;
        settled(&cloud, &app, &f.lb).await;
        assert_eq!(done["operating_status"], "OFFLINE", "{b}: disabled now");

        // Delete: the pool's members go back to NO_MONITOR with it.
        freeze(&cloud).await;
        let d = send(&app, "DELETE", &format!("{HMS}/{id}"), Some(&cloud.alice)).await;
        assert_eq!(d.status, 204, "{b}: {}", d.body);
        let pending = send(&app, "GET", &format!("{HMS}/{id}"), Some(&cloud.alice)).await;
        assert_eq!(
            pending.body["healthmonitor"]["provisioning_status"], "PENDING_DELETE",
            "{b}"
        );
        // Not before the flow.
        cloud
            .assert_rows("lb_members WHERE operating_status = 'OFFLINE'", 1)
            .await;
        thaw(&cloud).await;
        cloud
            .wait_for(&app, &format!("{HMS}/{id}"), "healthmonitor", "DELETED")
            .await;
        settled(&cloud, &app, &f.lb).await;
        cloud
            .assert_rows("lb_members WHERE operating_status = 'NO_MONITOR'", 2)
            .await;
        cloud.assert_rows("lb_health_monitors", 1).await;
        cloud
            .assert_rows("lb_tags WHERE resource_type = 'healthmonitor'", 0)
            .await;
        let gone = send(&app, "GET", &format!("{HMS}/{id}"), Some(&cloud.alice)).await;
        fault(&gone, 404, &format!("Health Monitor {id} not found."));
        // A new monitor may take the freed pool.
        let again = create(&cloud, &app, hm(&f.pool, json!({}))).await;
        assert_eq!(again.status, 201, "{b}: {}", again.body);
        settled(&cloud, &app, &f.lb).await;

        // Cascade delete of the load balancer takes the monitors.
        cascade_delete(&cloud, &app, &f.lb).await;
        cloud.assert_rows("lb_health_monitors", 0).await;
        cloud.assert_rows("lb_tags", 0).await;
    }
}

#[tokio::test]
async fn refusals_store_nothing() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.61.0.0/24", Protocol::Http).await;
        let (udp, _) = seed_pool(&cloud.db, &f.lb, &f.project, Protocol::Udp, None).await;
        let missing = "0f0e0d0c-0b0a-4909-8807-060504030201";
        let p = f.pool.as_str();
        let cases: Vec<(Value, u16, String)> = vec![
            (json!({"healthmonitor": {"type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1}}), 400,
             "Invalid input for field/attribute pool_id. Value: 'None'. Mandatory field missing.".into()),
            (hm(missing, json!({})), 404, format!("Pool {missing} not found.")),
            (hm(p, json!({"max_retries": 11})), 400,
             "Invalid input for field/attribute max_retries. Value: '11'. Value should be lower or equal to 10".into()),
            (hm(p, json!({"max_retries": 0})), 400,
             "Invalid input for field/attribute max_retries. Value: '0'. Value should be greater or equal to 1".into()),
            (hm(p, json!({"delay": -1})), 400,
             "Invalid input for field/attribute delay. Value: '-1'. Value should be greater or equal to 0".into()),
            (hm(p, json!({"delay": null})), 400, "None is not a valid option for delay".into()),
            (hm(p, json!({"type": "ICMP"})), 400,
             "Invalid input for field/attribute type. Value: 'ICMP'. Value should be one of: HTTP, HTTPS, PING, TCP, TLS-HELLO, UDP-CONNECT, SCTP".into()),
            (hm(p, json!({"url_path": "healthz"})), 400,
             "Invalid input for field/attribute url_path. Value: 'healthz'. Value must be a valid URL Path string".into()),
            (hm(p, json!({"expected_codes": "2xx"})), 400,
             "Invalid input for field/attribute expected_codes. Value: '2xx'. Value should match the pattern ^(\\d{3}(\\s*,\\s*\\d{3})*)$|^(\\d{3}-\\d{3})$".into()),
            (hm(p, json!({"type": "TCP", "url_path": "/"})), 400,
             "url_path is not a valid option for health monitors of type TCP".into()),
            (hm(p, json!({"type": "PING", "expected_codes": "200"})), 400,
             "expected_codes is not a valid option for health monitors of type PING".into()),
            (hm(p, json!({"domain_name": "example.com"})), 400,
             "Validation failure: 'http_version' must be specified when 'domain_name' is provided.".into()),
            (hm(p, json!({"domain_name": "example.com", "http_version": 1.0})), 400,
             "http_version 1.0 is not a valid option for health monitors HTTP 1.1 domain name health check".into()),
            (hm(p, json!({"type": "UDP-CONNECT"})), 400,
             "Validation failure: The UDP-CONNECT type is only supported for pools of type UDP/SCTP.".into()),
            (hm(p, json!({"type": "SCTP"})), 400,
             "Validation failure: The SCTP type is only supported for pools of type UDP/SCTP.".into()),
            (hm(&udp, json!({"type": "PING"})), 400,
             "Validation failure: The associated pool protocol is UDP, so only a UDP-CONNECT/SCTP/TCP/HTTP health monitor is supported.".into()),
            (hm(&udp, json!({"type": "UDP-CONNECT", "delay": 2})), 400,
             "Validation failure: The request delay value 2 should be larger than 3 for UDP-CONNECT health monitor type.".into()),
            (hm(p, json!({"bogus": 1})), 400,
             "Unknown attribute for argument health_monitor_.healthmonitor: bogus".into()),
        ];
        for (body, status, text) in &cases {
            let a = create(&cloud, &app, body.clone()).await;
            refused(&a, *status, text, &format!("{b} {body}"));
        }
        cloud.assert_rows("lb_health_monitors", 0).await;
        cloud.assert_rows("lb_flows", 0).await;
        // Nothing held.
        cloud.assert_statuses("ACTIVE", &[("lb_pools", p)]).await;

        // UDP pools take UDP-CONNECT with a delay of at least 3.
        let u = create(
            &cloud,
            &app,
            hm(&udp, json!({"type": "UDP-CONNECT", "delay": 3})),
        )
        .await;
        assert_eq!(u.status, 201, "{b}: {}", u.body);
        let udp_hm = u.body["healthmonitor"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        settled(&cloud, &app, &f.lb).await;
        let a = send_json(
            &app,
            "PUT",
            &format!("{HMS}/{udp_hm}"),
            Some(&cloud.alice),
            json!({"healthmonitor": {"delay": 1}}),
        )
        .await;
        fault(
            &a,
            400,
            "Validation failure: The request delay value 1 should be larger than 3 for UDP-CONNECT health monitor type.",
        );
        let a = send_json(
            &app,
            "PUT",
            &format!("{HMS}/{udp_hm}"),
            Some(&cloud.alice),
            json!({"healthmonitor": {"url_path": "/x"}}),
        )
        .await;
        fault(
            &a,
            400,
            "url_path is not a valid option for health monitors of type UDP-CONNECT",
        );

        // One per pool.
        let first = create(&cloud, &app, hm(p, json!({}))).await;
        assert_eq!(first.status, 201, "{b}: {}", first.body);
        let id = first.body["healthmonitor"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        settled(&cloud, &app, &f.lb).await;
        let dup = create(&cloud, &app, hm(p, json!({"type": "TCP"}))).await;
        fault(&dup, 409, "This pool already has a health monitor");
        cloud.assert_rows("lb_health_monitors", 2).await;
        // The hold rolled back.
        cloud.assert_statuses("ACTIVE", &[("lb_pools", p)]).await;

        // Update refusals.
        let path = format!("{HMS}/{id}");
        for (body, text) in [
            (
                json!({"healthmonitor": {"delay": null}}),
                "None is not a valid option for delay",
            ),
            (
                json!({"healthmonitor": {"timeout": null}}),
                "None is not a valid option for timeout",
            ),
            (
                json!({"healthmonitor": {"max_retries": null}}),
                "None is not a valid option for max_retries",
            ),
            (
                json!({"healthmonitor": {"domain_name": "example.com"}}),
                "Validation failure: 'http_version' must be specified when 'domain_name' is provided.",
            ),
            (
                json!({"healthmonitor": {"type": "TCP"}}),
                "Unknown attribute for argument health_monitor_.healthmonitor: type",
            ),
            (
                json!({"healthmonitor": {"max_retries_down": 11}}),
                "Invalid input for field/attribute max_retries_down. Value: '11'. Value should be lower or equal to 10",
            ),
        ] {
            let a = send_json(&app, "PUT", &path, Some(&cloud.alice), body.clone()).await;
            assert_eq!(a.status, 400, "{b} {body}: {}", a.body);
            assert_eq!(a.body["faultstring"], text, "{b} {body}");
        }
        let unchanged = send(&app, "GET", &path, Some(&cloud.alice)).await;
        assert_eq!(
            unchanged.body["healthmonitor"]["provisioning_status"], "ACTIVE",
            "{b}"
        );
        assert_eq!(unchanged.body["healthmonitor"]["delay"], 2, "{b}");
        let a = send_json(
            &app,
            "PUT",
            &format!("{HMS}/{missing}"),
            Some(&cloud.alice),
            json!({"healthmonitor": {"delay": 3}}),
        )
        .await;
        fault(&a, 404, &format!("Health Monitor {missing} not found."));
        let a = send(
            &app,
            "DELETE",
            &format!("{HMS}/{missing}"),
            Some(&cloud.alice),
        )
        .await;
        fault(&a, 404, &format!("Health Monitor {missing} not found."));

        // While the load balancer is busy: ImmutableObject, nothing stored.
        freeze(&cloud).await;
        let m = send_json(
            &app,
            "POST",
            &members(&f.pool),
            Some(&cloud.alice),
            json!({"member": {"address": "192.0.2.1", "protocol_port": 80}}),
        )
        .await;
        assert_eq!(m.status, 201, "{b}: {}", m.body);
        let (pool3, _) = seed_pool(&cloud.db, &f.lb, &f.project, Protocol::Http, None).await;
        let busy = create(&cloud, &app, hm(&pool3, json!({}))).await;
        fault(
            &busy,
            409,
            &format!("Load Balancer {} is immutable and cannot be updated.", f.lb),
        );
        let busy = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"healthmonitor": {"delay": 9}}),
        )
        .await;
        fault(
            &busy,
            409,
            &format!("Pool {} is immutable and cannot be updated.", f.pool),
        );
        let busy = send(&app, "DELETE", &path, Some(&cloud.alice)).await;
        fault(
            &busy,
            409,
            &format!("Pool {} is immutable and cannot be updated.", f.pool),
        );
        thaw(&cloud).await;
        settled(&cloud, &app, &f.lb).await;
        cloud.assert_rows("lb_health_monitors", 2).await;
        let unchanged = send(&app, "GET", &path, Some(&cloud.alice)).await;
        assert_eq!(unchanged.body["healthmonitor"]["delay"], 2, "{b}");
    }
}

#[tokio::test]
async fn policy_and_quota() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let f = fixture(&cloud, &app, "10.62.0.0/24", Protocol::Http).await;
        let w = send_json(&app, "POST", HMS, Some(&cloud.rita), hm(&f.pool, json!({}))).await;
        fault(&w, 403, FORBIDDEN);
        cloud.assert_rows("lb_health_monitors", 0).await;
        let a = create(&cloud, &app, hm(&f.pool, json!({}))).await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let id = a.body["healthmonitor"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        settled(&cloud, &app, &f.lb).await;
        let one = format!("{HMS}/{id}");
        let writes = [
            (
                "PUT",
                one.as_str(),
                Some(json!({"healthmonitor": {"delay": 9}})),
            ),
            ("DELETE", one.as_str(), None),
        ];
        for token in [&cloud.rita, &cloud.olga] {
            let r = send(&app, "GET", &one, Some(token)).await;
            assert_eq!(r.status, 200, "{b}");
            let r = send(&app, "GET", HMS, Some(token)).await;
            assert_eq!(
                r.body["healthmonitors"].as_array().map(Vec::len),
                Some(1),
                "{b}"
            );
            all_refused(&app, token, &writes, 403, FORBIDDEN).await;
        }

        // The admin's monitor: alice neither sees it listed nor reads it.
        let (admin_pool, admin_project) = admins_pool(&cloud, &app, "10.63.0.0/24").await;
        let w = create(&cloud, &app, hm(&admin_pool, json!({}))).await;
        fault(&w, 403, FORBIDDEN);
        let a = send_json(
            &app,
            "POST",
            HMS,
            Some(&cloud.admin),
            hm(&admin_pool, json!({})),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let admin_hm = a.body["healthmonitor"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let mine = send(&app, "GET", HMS, Some(&cloud.alice)).await;
        assert_eq!(
            mine.body["healthmonitors"].as_array().map(Vec::len),
            Some(1),
            "{b}"
        );
        let theirs = format!("{HMS}/{admin_hm}");
        let listed = format!("{HMS}?project_id={admin_project}");
        let reads = [
            ("GET", theirs.as_str(), None),
            ("GET", listed.as_str(), None),
        ];
        all_refused(&app, &cloud.alice, &reads, 403, FORBIDDEN).await;
        let all = send(&app, "GET", HMS, Some(&cloud.admin)).await;
        assert_eq!(
            all.body["healthmonitors"].as_array().map(Vec::len),
            Some(2),
            "{b}"
        );

        // Quota: one monitor for alice's project.
        let one = Quota {
            health_monitor: Some(1),
            ..Quota::default()
        };
        set_quota(&cloud.db, &f.project, one).await;
        let (pool2, _) = seed_pool(&cloud.db, &f.lb, &f.project, Protocol::Http, None).await;
        let over = create(&cloud, &app, hm(&pool2, json!({}))).await;
        fault(
            &over,
            403,
            "Quota has been met for resources: Health Monitor",
        );
        cloud.assert_rows("lb_health_monitors", 2).await;
    }
}
