//! L7 rules: create with the policy, listener and load balancer held in
//! PENDING_UPDATE until the flow settles them, show/list, update (the
//! merged rule validated), delete, the routing 404 of a missing policy,
//! every refusal with nothing stored, the 50-rule limit, quotas, and the
//! policy's and load balancer's states.

use neutrino_lb_api::LbConfig;
use neutrino_lb_types::enums::{
    L7RuleCompareType, L7RuleType, OperatingStatus, ProvisioningStatus,
};
use neutrino_lb_types::model::{L7Rule, Quota};
use serde_json::{Value, json};

use crate::fixtures::{
    Row, clear_history, force_status, history, log_statuses, reset_quota, seed, set_quota,
};
use crate::l7policies::{Fixture, MISSING, POLICIES, create, fixture, settled};
use crate::support::{
    BAD_REGEX, Cloud, FORBIDDEN, all_refused, backends, fault, fault_starting, id_of, send,
    send_json,
};

/// A REJECT policy on the fixture's HTTP listener, ACTIVE; its rules path.
async fn policy(cloud: &Cloud, f: &Fixture) -> (String, String) {
    let p = create(cloud, f, json!({"listener_id": f.http, "action": "REJECT"})).await;
    let id = id_of(&p);
    settled(cloud, f, &id).await;
    (id.clone(), format!("{POLICIES}/{id}/rules"))
}

/// Deletes a rule as alice and waits until it is gone and the load
/// balancer ACTIVE again.
async fn delete_rule(cloud: &Cloud, f: &Fixture, rules: &str, id: &str) {
    let path = format!("{rules}/{id}");
    let d = send(&f.app, "DELETE", &path, Some(&cloud.alice)).await;
    assert_eq!(d.status, 204, "{}: {}", cloud.backend, d.body);
    cloud.wait_for(&f.app, &path, "rule", "DELETED").await;
    cloud
        .wait_for(&f.app, &f.lb_path(), "loadbalancer", "ACTIVE")
        .await;
}

/// Waits until the rule and the load balancer are ACTIVE again.
async fn rule_settled(cloud: &Cloud, f: &Fixture, rules: &str, id: &str) -> Value {
    let r = cloud
        .wait_for(&f.app, &format!("{rules}/{id}"), "rule", "ACTIVE")
        .await;
    cloud
        .wait_for(&f.app, &f.lb_path(), "loadbalancer", "ACTIVE")
        .await;
    r
}

#[tokio::test]
async fn create_show_list_update_delete_settle_every_parent() {
    for cloud in backends().await {
        let b = cloud.backend;
        let f = fixture(&cloud, "10.50.0.0/24").await;
        let (pid, rules) = policy(&cloud, &f).await;
        log_statuses(&cloud).await;
        let a = send_json(
            &f.app,
            "POST",
            &rules,
            Some(&cloud.alice),
            json!({"rule": {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Env",
                "value": "prod", "tags": ["a", "b"]}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let r = &a.body["rule"];
        let id = id_of(r);
        assert!(r["created_at"].is_string(), "{b}");
        assert_eq!(
            *r,
            json!({"id": id, "type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Env",
                "value": "prod", "invert": false, "provisioning_status": "PENDING_CREATE",
                "operating_status": "OFFLINE", "created_at": r["created_at"], "updated_at": null,
                "project_id": f.project, "admin_state_up": true, "tags": ["a", "b"],
                "tenant_id": f.project}),
            "{b}"
        );
        let active = rule_settled(&cloud, &f, &rules, &id).await;
        assert_eq!(active["operating_status"], "ONLINE", "{b}");
        assert!(active["updated_at"].is_string(), "{b}");
        cloud.assert_held_and_settled(&[&pid, &f.http, &f.lb]).await;
        assert_eq!(history(&cloud.db, &id).await, ["ACTIVE"], "{b}");
        let p = send(
            &f.app,
            "GET",
            &format!("{POLICIES}/{pid}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(p.body["l7policy"]["rules"], json!([{"id": id}]), "{b}");

        // A second and third rule, for listing.
        let mut made = vec![id.clone()];
        for (value, admin) in [("/b", true), ("/a", false)] {
            let a = send_json(
                &f.app,
                "POST",
                &rules,
                Some(&cloud.alice),
                json!({"rule": {"type": "PATH", "compare_type": "STARTS_WITH", "value": value,
                    "admin_state_up": admin, "invert": true}}),
            )
            .await;
            assert_eq!(a.status, 201, "{b}: {}", a.body);
            let rid = id_of(&a.body["rule"]);
            rule_settled(&cloud, &f, &rules, &rid).await;
            made.push(rid);
        }
        let values = |v: &Value| -> Vec<String> {
            v["rules"]
                .as_array()
                .expect("rules")
                .iter()
                .map(|r| r["value"].as_str().unwrap_or("").to_string())
                .collect()
        };
        // Default order: created_at (to the second), then id.
        let all = send(&f.app, "GET", &rules, Some(&cloud.alice)).await;
        assert_eq!(all.status, 200, "{b}");
        let mut by_creation: Vec<(String, String, String)> = all.body["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
                (s("created_at"), s("id"), s("value"))
            })
            .collect();
        let listed: Vec<String> = by_creation.iter().map(|t| t.2.clone()).collect();
        by_creation.sort();
        let want: Vec<String> = by_creation.into_iter().map(|t| t.2).collect();
        assert_eq!(listed, want, "{b}");
        assert_eq!(listed.len(), 3, "{b}");
        assert_eq!(all.body["rules_links"], json!([]), "{b}");
        let sorted = send(
            &f.app,
            "GET",
            &format!("{rules}?sort=value:asc"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(values(&sorted.body), ["/a", "/b", "prod"], "{b}");
        let enabled = send(
            &f.app,
            "GET",
            &format!("{rules}/?admin_state_up=true&invert=true&fields=value&fields=id"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            enabled.body["rules"],
            json!([{"id": made[1], "value": "/b"}]),
            "{b}"
        );
        let by_value = send(
            &f.app,
            "GET",
            &format!("{rules}?value=prod&type=HEADER"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(values(&by_value.body), ["prod"], "{b}");
        let page = send(
            &f.app,
            "GET",
            &format!("{rules}?limit=1&sort=value:asc&marker={}", made[2]),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(values(&page.body), ["/b"], "{b}");
        assert_eq!(
            page.body["rules_links"],
            json!([
                {"rel": "previous", "href": format!("http://127.0.0.1:9876/v2/lbaas/l7policies/{pid}/rules?limit=1&sort=value:asc&marker={}&page_reverse=True", made[1])},
                {"rel": "next", "href": format!("http://127.0.0.1:9876/v2/lbaas/l7policies/{pid}/rules?limit=1&sort=value:asc&marker={}", made[1])}
            ]),
            "{b}"
        );
        fault(
            &send(
                &f.app,
                "GET",
                &format!("{rules}?key=X-Env&bogus=1"),
                Some(&cloud.alice),
            )
            .await,
            400,
            "One or more arguments are either duplicate or invalid",
        );
        let one = send(
            &f.app,
            "GET",
            &format!("{rules}/{id}?fields=key"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(one.body, json!({"rule": {"key": "X-Env"}}), "{b}");

        // Update: the merged rule is what is validated and stored.
        clear_history(&cloud.db).await;
        let u = send_json(
            &f.app,
            "PUT",
            &format!("{rules}/{id}"),
            Some(&cloud.alice),
            json!({"rule": {"type": "COOKIE", "compare_type": "CONTAINS", "key": "session",
                "value": "abc", "invert": true, "admin_state_up": false, "tags": ["c"]}}),
        )
        .await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        let up = &u.body["rule"];
        assert_eq!(up["provisioning_status"], "PENDING_UPDATE", "{b}");
        assert_eq!(
            (
                &up["type"],
                &up["compare_type"],
                &up["key"],
                &up["value"],
                &up["invert"],
                &up["tags"]
            ),
            (
                &json!("COOKIE"),
                &json!("CONTAINS"),
                &json!("session"),
                &json!("abc"),
                &json!(true),
                &json!(["c"])
            ),
            "{b}"
        );
        let done = rule_settled(&cloud, &f, &rules, &id).await;
        assert_eq!(done["operating_status"], "OFFLINE", "{b}: disabled");
        cloud.assert_held_and_settled(&[&pid, &f.http, &f.lb]).await;
        // Unset attributes stay; null invert is false.
        let u = send_json(
            &f.app,
            "PUT",
            &format!("{rules}/{id}"),
            Some(&cloud.alice),
            json!({"rule": {"value": "def", "invert": null}}),
        )
        .await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        assert_eq!(
            (
                &u.body["rule"]["key"],
                &u.body["rule"]["value"],
                &u.body["rule"]["invert"]
            ),
            (&json!("session"), &json!("def"), &json!(false)),
            "{b}"
        );
        rule_settled(&cloud, &f, &rules, &id).await;

        // A reader reads but does not write.
        assert_eq!(
            send(&f.app, "GET", &rules, Some(&cloud.rita)).await.status,
            200,
            "{b}"
        );
        assert_eq!(
            send(&f.app, "GET", &format!("{rules}/{id}"), Some(&cloud.rita))
                .await
                .status,
            200,
            "{b}"
        );
        let one = format!("{rules}/{id}");
        let writes = [
            (
                "POST",
                rules.as_str(),
                Some(json!({"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/x"}})),
            ),
            ("PUT", one.as_str(), Some(json!({"rule": {"value": "x"}}))),
            ("DELETE", one.as_str(), None),
        ];
        all_refused(&f.app, &cloud.rita, &writes, 403, FORBIDDEN).await;
        cloud.assert_rows("lb_l7rules", 3).await;

        // Delete.
        clear_history(&cloud.db).await;
        delete_rule(&cloud, &f, &rules, &id).await;
        assert_eq!(history(&cloud.db, &id).await, ["PENDING_DELETE"], "{b}");
        cloud.assert_held_and_settled(&[&pid, &f.http, &f.lb]).await;
        cloud.assert_rows("lb_l7rules", 2).await;
        cloud
            .assert_rows(&format!("lb_tags WHERE resource_id = '{id}'"), 0)
            .await;
        fault(
            &send(&f.app, "GET", &format!("{rules}/{id}"), Some(&cloud.alice)).await,
            404,
            &format!("L7 Rule {id} not found."),
        );
        // Deleting the policy takes its rules.
        let pp = format!("{POLICIES}/{pid}");
        assert_eq!(
            send(&f.app, "DELETE", &pp, Some(&cloud.alice)).await.status,
            204,
            "{b}"
        );
        cloud.wait_for(&f.app, &pp, "l7policy", "DELETED").await;
        cloud.assert_rows("lb_l7rules", 0).await;
        cloud.assert_rows("lb_tags", 0).await;
    }
}

#[tokio::test]
async fn a_missing_policy_is_routings_404_and_bad_rules_store_nothing() {
    for cloud in backends().await {
        let b = cloud.backend;
        let f = fixture(&cloud, "10.51.0.0/24").await;
        let (pid, rules) = policy(&cloud, &f).await;
        let (other, other_rules) = policy(&cloud, &f).await;
        // Upstream's lookup of the policy answers before anything else,
        // with pecan's body.
        let gone = format!("{POLICIES}/{MISSING}/rules");
        let body = json!({"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/x"}});
        for (method, path) in [
            ("GET", gone.clone()),
            ("POST", gone.clone()),
            ("GET", format!("{gone}/{MISSING}")),
            ("PUT", format!("{gone}/{MISSING}")),
            ("DELETE", format!("{gone}/{MISSING}")),
        ] {
            let a = send_json(&f.app, method, &path, Some(&cloud.alice), body.clone()).await;
            assert_eq!(
                (a.status.as_u16(), &a.body),
                (
                    404,
                    &json!({"code": 404, "title": "Bad Request",
                    "description": format!("L7Policy {MISSING} not found.")})
                ),
                "{b} {method} {path}"
            );
        }
        let cases: Vec<(Value, u16, String)> = vec![
            (json!({"compare_type": "EQUAL_TO", "value": "/x"}), 400,
             "Invalid input for field/attribute type. Value: 'None'. Mandatory field missing.".into()),
            (json!({"type": "URI", "compare_type": "EQUAL_TO", "value": "/x"}), 400,
             "Invalid input for field/attribute type. Value: 'URI'. Value should be one of: HOST_NAME, PATH, FILE_TYPE, HEADER, COOKIE, SSL_CONN_HAS_CERT, SSL_VERIFY_RESULT, SSL_DN_FIELD".into()),
            (json!({"type": "PATH", "compare_type": "LIKE", "value": "/x"}), 400,
             "Invalid input for field/attribute compare_type. Value: 'LIKE'. Value should be one of: REGEX, STARTS_WITH, ENDS_WITH, CONTAINS, EQUAL_TO".into()),
            (json!({"type": "PATH", "compare_type": "EQUAL_TO"}), 400,
             "Invalid input for field/attribute value. Value: 'None'. Mandatory field missing.".into()),
            (json!({"type": "PATH", "compare_type": "EQUAL_TO", "value": "a\nb"}), 400,
             "Invalid input for field/attribute value. Value: 'a\nb'. Value should match the pattern ^[^\\r\\n]*$".into()),
            (json!({"type": "HEADER", "compare_type": "EQUAL_TO", "value": "v"}), 400,
             "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key".into()),
            (json!({"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X Bad", "value": "v"}), 400,
             "Error parsing L7Rule: Invalid characters in key".into()),
            (json!({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/a b"}), 400,
             "Error parsing L7Rule: Invalid characters in comparison value".into()),
            (json!({"type": "FILE_TYPE", "compare_type": "STARTS_WITH", "value": "jpg"}), 400,
             "Error parsing L7Rule: Invalid L7 Rule: invalid comparison type for rule type".into()),
            (json!({"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "False"}), 400,
             "Error parsing L7Rule: Invalid L7 Rule: L7rule value False is not a boolean True string.".into()),
            (json!({"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "value": "v"}), 400,
             "Error parsing L7Rule: Invalid L7 Rule: L7rule type SSL_DN_FIELD needs to specify a key and a value.".into()),
            (json!({"type": "PATH", "compare_type": "REGEX", "value": "(x"}), 400, String::new()),
        ];
        for (rule, status, text) in cases {
            let a = send_json(
                &f.app,
                "POST",
                &rules,
                Some(&cloud.alice),
                json!({"rule": rule}),
            )
            .await;
            if text.is_empty() {
                fault_starting(&a, status, BAD_REGEX);
            } else {
                fault(&a, status, &text);
            }
        }
        cloud.assert_rows("lb_l7rules", 0).await;
        cloud.assert_rows("lb_flows", 0).await;

        // A rule is only found under its own policy.
        let a = send_json(
            &f.app,
            "POST",
            &rules,
            Some(&cloud.alice),
            json!({"rule": {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let id = id_of(&a.body["rule"]);
        let before = rule_settled(&cloud, &f, &rules, &id).await;
        let elsewhere = format!("{other_rules}/{id}");
        let not_found = format!("L7 Rule {id} not found.");
        let elsewhere = [
            ("GET", elsewhere.as_str(), None),
            (
                "PUT",
                elsewhere.as_str(),
                Some(json!({"rule": {"value": "/x"}})),
            ),
            ("DELETE", elsewhere.as_str(), None),
        ];
        all_refused(&f.app, &cloud.alice, &elsewhere, 404, &not_found).await;
        fault(
            &send(
                &f.app,
                "GET",
                &format!("{rules}/{MISSING}"),
                Some(&cloud.alice),
            )
            .await,
            404,
            &format!("L7 Rule {MISSING} not found."),
        );
        let listed = send(&f.app, "GET", &other_rules, Some(&cloud.alice)).await;
        assert_eq!(listed.body, json!({"rules": [], "rules_links": []}), "{b}");

        // PUT validates the rule as it would be stored.
        let path = format!("{rules}/{id}");
        for (update, text) in [
            (
                json!({"type": "HEADER"}),
                "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key",
            ),
            (json!({"compare_type": "REGEX", "value": "[a-"}), ""),
            (
                json!({"type": "FILE_TYPE"}),
                "Error parsing L7Rule: Invalid L7 Rule: invalid comparison type for rule type",
            ),
            (
                json!({"type": null}),
                "Error parsing L7Rule: Invalid L7 Rule: invalid rule type",
            ),
            (
                json!({"value": "a\rb"}),
                "Invalid input for field/attribute value. Value: 'a\rb'. Value should match the pattern ^[^\\r\\n]*$",
            ),
            (
                json!({"l7policy_id": other}),
                "Unknown attribute for argument l7rule_.rule: l7policy_id",
            ),
        ] {
            let a = send_json(
                &f.app,
                "PUT",
                &path,
                Some(&cloud.alice),
                json!({"rule": update}),
            )
            .await;
            if text.is_empty() {
                fault_starting(&a, 400, BAD_REGEX);
            } else {
                fault(&a, 400, text);
            }
        }
        assert_eq!(
            send(&f.app, "GET", &path, Some(&cloud.alice)).await.body["rule"],
            before,
            "{b}"
        );
        cloud.assert_rows("lb_flows", 0).await;
        let _ = pid;
    }
}

#[tokio::test]
async fn the_policy_must_be_active_and_the_load_balancer_mutable() {
    for cloud in backends().await {
        let b = cloud.backend;
        let f = fixture(&cloud, "10.52.0.0/24").await;
        let (pid, rules) = policy(&cloud, &f).await;
        let a = send_json(
            &f.app,
            "POST",
            &rules,
            Some(&cloud.alice),
            json!({"rule": {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}}),
        )
        .await;
        let id = id_of(&a.body["rule"]);
        let before = rule_settled(&cloud, &f, &rules, &id).await;
        let body = json!({"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/x"}});
        let path = format!("{rules}/{id}");
        let writes = [
            ("POST", rules.as_str(), Some(body)),
            ("PUT", path.as_str(), Some(json!({"rule": {"value": "/y"}}))),
            ("DELETE", path.as_str(), None),
        ];
        for status in ["PENDING_UPDATE", "ERROR"] {
            force_status(&cloud.db, "lb_l7policies", &pid, status).await;
            let immutable = format!("L7Policy {pid} is immutable and cannot be updated.");
            all_refused(&f.app, &cloud.alice, &writes, 409, &immutable).await;
            // The load balancer was not touched.
            cloud
                .assert_statuses("ACTIVE", &[("lb_load_balancers", &f.lb)])
                .await;
        }
        force_status(&cloud.db, "lb_l7policies", &pid, "ACTIVE").await;
        force_status(&cloud.db, "lb_load_balancers", &f.lb, "PENDING_UPDATE").await;
        let immutable = format!("Load Balancer {} is immutable and cannot be updated.", f.lb);
        all_refused(&f.app, &cloud.alice, &writes, 409, &immutable).await;
        // The policy was not held.
        cloud
            .assert_statuses("ACTIVE", &[("lb_l7policies", &pid)])
            .await;
        force_status(&cloud.db, "lb_load_balancers", &f.lb, "ACTIVE").await;
        cloud.assert_rows("lb_l7rules", 1).await;
        cloud.assert_rows("lb_flows", 0).await;
        assert_eq!(
            send(&f.app, "GET", &path, Some(&cloud.alice)).await.body["rule"],
            before,
            "{b}"
        );
    }
}

fn rule_row(id: &str, policy: &str, project: &str) -> L7Rule {
    L7Rule {
        id: id.into(),
        project_id: project.into(),
        l7policy_id: policy.into(),
        admin_state_up: true,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Online,
        rule_type: L7RuleType::Path,
        compare_type: L7RuleCompareType::StartsWith,
        key: None,
        value: format!("/{id}"),
        invert: false,
        tags: vec![],
        created_at: "2026-01-01T00:00:00".into(),
        updated_at: None,
    }
}

#[tokio::test]
async fn fifty_rules_per_policy_and_the_rule_quota() {
    for cloud in backends().await {
        let b = cloud.backend;
        let f = fixture(&cloud, "10.53.0.0/24").await;
        let (pid, rules) = policy(&cloud, &f).await;
        let fifty = (0..50).map(|i| Row::L7Rule(rule_row(&format!("r{i:02}"), &pid, &f.project)));
        seed(&cloud.db, fifty).await;
        let body = json!({"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/x"}});
        fault(
            &send_json(&f.app, "POST", &rules, Some(&cloud.alice), body.clone()).await,
            409,
            &format!("Too many rules on L7 policy {pid}"),
        );
        cloud.assert_rows("lb_l7rules", 50).await;
        // Listing them all, and the 51st after one goes.
        let all = send(
            &f.app,
            "GET",
            &format!("{rules}?limit=-1"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(all.body["rules"].as_array().map(Vec::len), Some(50), "{b}");
        delete_rule(&cloud, &f, &rules, "r00").await;

        // The quota counts the project's rules (50 less one).
        let q = Quota {
            l7rule: Some(49),
            ..Quota::default()
        };
        set_quota(&cloud.db, &f.project, q).await;
        fault(
            &send_json(&f.app, "POST", &rules, Some(&cloud.alice), body.clone()).await,
            403,
            "Quota has been met for resources: L7 Rule",
        );
        let q = Quota {
            l7rule: Some(50),
            ..Quota::default()
        };
        set_quota(&cloud.db, &f.project, q).await;
        let a = send_json(&f.app, "POST", &rules, Some(&cloud.alice), body.clone()).await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        cloud.assert_rows("lb_l7rules", 50).await;
        let limited = cloud.lb(LbConfig {
            default_quota: 0,
            ..LbConfig::default()
        });
        rule_settled(&cloud, &f, &rules, &id_of(&a.body["rule"])).await;
        reset_quota(&cloud.db, &f.project).await;
        fault(
            &send_json(&limited, "POST", &rules, Some(&cloud.alice), body).await,
            409,
            &format!("Too many rules on L7 policy {pid}"),
        );
    }
}
