//! Quotas (design §2.12, §5). Expected answers are the peer's (octavia
//! 19), which renders both spellings of the renamed keys.

use axum::http::header;
use neutrino_lb_api::LbConfig;
use serde_json::{Value, json};

use crate::admin_support::{keys, project_of, raw};
use crate::support::{
    FORBIDDEN, all_refused, backends, bad_queries, fault, missing_arguments, send, send_json,
};

const QUOTAS: &str = "/v2/lbaas/quotas";

/// A project's effective quota as upstream renders it, from the limits
/// in the order load balancer, listener, member, pool, health monitor,
/// L7 policy, L7 rule.
fn quota(project: &str, [lb, listener, member, pool, hm, l7p, l7r]: [i64; 7]) -> Value {
    json!({"project_id": project, "loadbalancer": lb, "load_balancer": lb, "listener": listener,
           "member": member, "pool": pool, "healthmonitor": hm, "health_monitor": hm,
           "l7policy": l7p, "l7rule": l7r, "tenant_id": project})
}

fn all(project: &str, v: i64) -> Value {
    quota(project, [v; 7])
}

#[tokio::test]
async fn defaults_and_unset_projects() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let t = Some(cloud.admin.as_str());
        let a = send(&app, "GET", &format!("{QUOTAS}/p1/default"), t).await;
        assert_eq!(
            (a.status.as_u16(), &a.body),
            (200, &json!({"quota": all("p1", -1)})),
            "{b}"
        );
        let a = send(&app, "GET", "/v2.0/lbaas/quotas/p1", t).await;
        assert_eq!(
            a.body,
            json!({"quota": all("p1", -1)}),
            "{b}: no row is all defaults"
        );
        let a = send(&app, "GET", QUOTAS, t).await;
        assert_eq!(
            a.body,
            json!({"quotas": [], "quotas_links": []}),
            "{b}: reads create no row"
        );

        // The deployment's default comes from the configuration.
        let five = cloud.lb(LbConfig {
            default_quota: 5,
            ..LbConfig::default()
        });
        let a = send(&five, "GET", &format!("{QUOTAS}/p1/default"), t).await;
        assert_eq!(a.body, json!({"quota": all("p1", 5)}), "{b}");
        let a = send_json(
            &five,
            "PUT",
            &format!("{QUOTAS}/p1"),
            t,
            json!({"quota": {"pool": 9}}),
        )
        .await;
        assert_eq!(
            a.body,
            json!({"quota": quota("p1", [5, 5, 5, 9, 5, 5, 5])}),
            "{b}"
        );
        let a = send(&five, "GET", &format!("{QUOTAS}/p1/default"), t).await;
        assert_eq!(
            a.body,
            json!({"quota": all("p1", 5)}),
            "{b}: defaults ignore the row"
        );
    }
}

#[tokio::test]
async fn put_get_delete_round_trip_with_both_spellings() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let t = Some(cloud.admin.as_str());
        let one = format!("{QUOTAS}/p1");
        let a = send_json(
            &app,
            "PUT",
            &one,
            t,
            json!({"quota": {"loadbalancer": 5, "health_monitor": 3, "member": "7"}}),
        )
        .await;
        let want = quota("p1", [5, -1, 7, -1, 3, -1, -1]);
        assert_eq!(
            (a.status.as_u16(), &a.body),
            (202, &json!({"quota": want})),
            "{b}"
        );
        assert_eq!(
            send(&app, "GET", &one, t).await.body,
            json!({"quota": want}),
            "{b}"
        );
        assert_eq!(
            send(&app, "GET", QUOTAS, t).await.body,
            json!({"quotas": [want], "quotas_links": []}),
            "{b}"
        );

        // Absent keys stay, null ones go back to the default, and when
        // both spellings come the current one wins (as the peer).
        let a = send_json(
            &app,
            "PUT",
            &one,
            t,
            json!({"quota": {
            "load_balancer": 1, "loadbalancer": 2, "healthmonitor": null, "health_monitor": 4,
            "listener": 10, "pool": 0, "l7policy": 2000000000, "l7rule": -1}}),
        )
        .await;
        let want = quota("p1", [2, 10, 7, 0, -1, 2000000000, -1]);
        assert_eq!(a.body, json!({"quota": want}), "{b}");
        assert_eq!(
            send(&app, "GET", &one, t).await.body,
            json!({"quota": want}),
            "{b}"
        );

        let gone = send(&app, "DELETE", &one, t).await;
        assert_eq!(
            (gone.status.as_u16(), &gone.body),
            (202, &Value::Null),
            "{b}"
        );
        assert!(
            gone.headers.get(header::CONTENT_TYPE).is_none(),
            "{b}: no body"
        );
        assert_eq!(
            send(&app, "GET", &one, t).await.body,
            json!({"quota": all("p1", -1)}),
            "{b}"
        );
        // Upstream keeps the row: still listed, and a second reset is fine.
        assert_eq!(
            send(&app, "GET", QUOTAS, t).await.body,
            json!({"quotas": [all("p1", -1)], "quotas_links": []}),
            "{b}"
        );
        assert_eq!(send(&app, "DELETE", &one, t).await.status, 202, "{b}");
        fault(
            &send(&app, "DELETE", &format!("{QUOTAS}/nosuch"), t).await,
            404,
            "Quotas nosuch not found.",
        );
    }
}

#[tokio::test]
async fn out_of_range_and_malformed_quotas_store_nothing() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let one = format!("{QUOTAS}/p1");
        let put = |q: Value| {
            let app = app.clone();
            let token = cloud.admin.clone();
            let path = one.clone();
            async move { send_json(&app, "PUT", &path, Some(&token), json!({"quota": q})).await }
        };
        for (q, text) in [
            (
                json!({"listener": -2}),
                "Invalid input for field/attribute listener. Value: '-2'. Value should be greater or equal to -1",
            ),
            (
                json!({"pool": 2000000001}),
                "Invalid input for field/attribute pool. Value: '2000000001'. Value should be lower or equal to 2000000000",
            ),
            (
                json!({"load_balancer": -5}),
                "Invalid input for field/attribute load_balancer. Value: '-5'. Value should be greater or equal to -1",
            ),
            (
                json!({"pool": "abc"}),
                "Invalid input for field/attribute quotas. Value: '{'quota': {'pool': 'abc'}}'. invalid literal for int() with base 10: 'abc'",
            ),
            (
                json!({"l7": 1}),
                "Unknown attribute for argument quotas.quota: l7",
            ),
        ] {
            fault(&put(q).await, 400, text);
        }
        fault(
            &raw(
                &app,
                "PUT",
                &one,
                &cloud.admin,
                Some("application/json"),
                "",
            )
            .await,
            400,
            "Missing argument: \"quotas\"",
        );
        fault(
            &raw(
                &app,
                "PUT",
                &one,
                &cloud.admin,
                Some("application/json"),
                "[",
            )
            .await,
            400,
            "Request is not in valid JSON format",
        );
        let a = send(&app, "GET", QUOTAS, Some(&cloud.admin)).await;
        assert_eq!(a.body["quotas"], json!([]), "{}", cloud.backend);
    }
}

#[tokio::test]
async fn members_and_readers_read_their_own_project_only() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let alpha = project_of(&cloud, &cloud.alice).await;
        let t = Some(cloud.admin.as_str());
        for p in [alpha.as_str(), "other"] {
            let a = send_json(
                &app,
                "PUT",
                &format!("{QUOTAS}/{p}"),
                t,
                json!({"quota": {"pool": 3}}),
            )
            .await;
            assert_eq!(a.status, 202, "{b}");
        }
        let alpha_q = quota(&alpha, [-1, -1, -1, 3, -1, -1, -1]);
        let (own, others) = (format!("{QUOTAS}/{alpha}"), format!("{QUOTAS}/other"));
        let (own_default, others_default) = (format!("{own}/default"), format!("{others}/default"));
        let refused = [
            ("GET", others.as_str(), None),
            ("GET", others_default.as_str(), None),
            // Only quota admins write, even their own project's.
            ("PUT", own.as_str(), Some(json!({"quota": {"pool": 9}}))),
            ("DELETE", own.as_str(), None),
        ];
        for token in [&cloud.alice, &cloud.rita, &cloud.olga] {
            let t = Some(token.as_str());
            assert_eq!(
                send(&app, "GET", &own, t).await.body,
                json!({"quota": alpha_q}),
                "{b}"
            );
            assert_eq!(send(&app, "GET", &own_default, t).await.status, 200, "{b}");
            all_refused(&app, token, &refused, 403, FORBIDDEN).await;
            // The list is theirs; project_id only filters within it.
            assert_eq!(
                send(&app, "GET", QUOTAS, t).await.body,
                json!({"quotas": [alpha_q], "quotas_links": []}),
                "{b}"
            );
            assert_eq!(
                send(&app, "GET", &format!("{QUOTAS}?project_id=other"), t)
                    .await
                    .body,
                json!({"quotas": [], "quotas_links": []}),
                "{b}"
            );
        }
        assert_eq!(
            send(
                &app,
                "GET",
                &format!("{QUOTAS}/{alpha}"),
                Some(&cloud.admin)
            )
            .await
            .body,
            json!({"quota": alpha_q}),
            "{b}: refused writes changed nothing"
        );
        let a = send(
            &app,
            "GET",
            &format!("{QUOTAS}?project_id=other"),
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(
            a.body,
            json!({"quotas": [quota("other", [-1, -1, -1, 3, -1, -1, -1])], "quotas_links": []}),
            "{b}"
        );
        // Without the legacy roles olga reads nothing.
        let strict = cloud.lb(LbConfig {
            legacy_roles: false,
            ..LbConfig::default()
        });
        fault(
            &send(
                &strict,
                "GET",
                &format!("{QUOTAS}/{alpha}"),
                Some(&cloud.olga),
            )
            .await,
            403,
            FORBIDDEN,
        );
    }
}

#[tokio::test]
async fn quota_listing_sorts_filters_and_pages_by_project() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let t = Some(cloud.admin.as_str());
        for (p, pool) in [("pc", 1), ("pa", 3), ("pb", 2)] {
            send_json(
                &app,
                "PUT",
                &format!("{QUOTAS}/{p}"),
                t,
                json!({"quota": {"pool": pool}}),
            )
            .await;
        }
        let get = |q: &str| {
            let app = app.clone();
            let token = cloud.admin.clone();
            let path = format!("{QUOTAS}{q}");
            async move { send(&app, "GET", &path, Some(&token)).await }
        };
        assert_eq!(
            keys(&get("").await.body, "quotas", "project_id"),
            ["pa", "pb", "pc"],
            "{b}"
        );
        assert_eq!(
            keys(&get("?sort=pool").await.body, "quotas", "project_id"),
            ["pc", "pb", "pa"],
            "{b}"
        );
        assert_eq!(
            keys(&get("?pool=2").await.body, "quotas", "project_id"),
            ["pb"],
            "{b}"
        );
        assert_eq!(
            keys(
                &get("?load_balancer=-1&sort=project_id:desc").await.body,
                "quotas",
                "project_id"
            ),
            ["pc", "pb", "pa"],
            "{b}"
        );
        // No field selection here (upstream's quota listing takes none).
        let a = get("?fields=pool&project_id=pa").await;
        assert_eq!(
            a.body["quotas"],
            json!([quota("pa", [-1, -1, -1, 3, -1, -1, -1])]),
            "{b}"
        );
        let first = get("?limit=2").await;
        assert_eq!(
            keys(&first.body, "quotas", "project_id"),
            ["pa", "pb"],
            "{b}"
        );
        assert!(first.body["quotas"][0].get("id").is_none(), "{b}");
        assert_eq!(
            first.body["quotas_links"],
            json!([{"rel": "next", "href": "http://127.0.0.1:9876/v2/lbaas/quotas?limit=2&marker=pb"}]),
            "{b}"
        );
        assert_eq!(
            keys(
                &get("?limit=2&marker=pb").await.body,
                "quotas",
                "project_id"
            ),
            ["pc"],
            "{b}"
        );
        bad_queries(
            &app,
            &cloud.admin,
            QUOTAS,
            &[
                (
                    "?tenant_id=pa",
                    "One or more arguments are either duplicate or invalid",
                ),
                (
                    "?sort=in_use_pool",
                    "Supplied sort key 'in_use_pool' is not valid.",
                ),
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn quota_paths_answer_unsupported_methods_like_upstream() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let t = Some(cloud.admin.as_str());
        for (method, path, allow) in [
            ("POST", QUOTAS, "DELETE, GET, PUT"),
            ("PATCH", "/v2/lbaas/quotas/p1", "DELETE, GET, PUT"),
            ("POST", "/v2/lbaas/quotas/p1/default", "GET"),
            ("PUT", "/v2.0/lbaas/quotas/p1/default", "GET"),
        ] {
            let a = send(&app, method, path, t).await;
            assert_eq!(
                (a.status.as_u16(), &a.headers[header::ALLOW]),
                (405, &allow.parse().expect("hv")),
                "{path}"
            );
        }
        missing_arguments(
            &app,
            &cloud.admin,
            &[
                ("PUT", QUOTAS, "project_id"),
                ("DELETE", QUOTAS, "project_id"),
            ],
        )
        .await;
    }
}
