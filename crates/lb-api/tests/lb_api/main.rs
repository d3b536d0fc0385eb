//! Load-balancer API tests of the router, each run on SQLite and on
//! PostgreSQL (when NEUTRINO_TEST_POSTGRES_URL is set). Answers are
//! compared with the peer's, recorded in fixtures/peer.json.

mod admin_support;
mod amphorae;
mod availability_zones;
mod fixtures;
mod flavors;
mod graph;
mod health_monitors;
mod hostile_input;
mod l7policies;
mod l7rules;
mod listeners;
mod loadbalancers;
mod members;
mod pools;
mod quotas;
mod races;
mod support;

use axum::http::header;
use neutrino_lb_api::LbConfig;
use serde_json::json;
use support::{assert_like_peer, backends, send};

#[tokio::test]
async fn version_document_is_the_peers_and_needs_no_token() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let root = send(&app, "GET", "/", None).await;
        assert_like_peer(b, "GET /", &root);
        let versions = root.body["versions"].as_array().expect("versions");
        assert_eq!(versions.len(), 31);
        let current: Vec<_> = versions
            .iter()
            .filter(|v| v["status"] == "CURRENT")
            .collect();
        assert_eq!(current.len(), 1, "{b}");
        assert_eq!(current[0]["id"], "v2.30");
        assert_eq!(
            root.headers[header::CONTENT_TYPE],
            "application/json",
            "{b}"
        );
        // Links follow the Host the client used.
        let other = axum::http::Request::builder()
            .uri("/")
            .header("host", "lb.example:9876")
            .body(axum::body::Body::empty())
            .expect("request");
        let resp = tower::ServiceExt::oneshot(app.clone(), other)
            .await
            .expect("answers");
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(
            doc["versions"][0]["links"][0]["href"],
            "http://lb.example:9876/v2"
        );
        // Upstream's index answers any method.
        let post = send(&app, "POST", "/", None).await;
        assert_eq!(post.body, root.body, "{b}");

        assert_like_peer(
            b,
            "GET /v2",
            &send(&app, "GET", "/v2", Some(&cloud.admin)).await,
        );
        assert_like_peer(
            b,
            "GET /v2.0/",
            &send(&app, "GET", "/v2.0/", Some(&cloud.admin)).await,
        );
        for path in ["/v2/", "/v2.0"] {
            let a = send(&app, "GET", path, Some(&cloud.alice)).await;
            assert_eq!(
                (a.status.as_u16(), a.body.clone()),
                (200, json!("v2")),
                "{b} {path}"
            );
        }
    }
}

#[tokio::test]
async fn providers_and_capabilities_equal_the_peers() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        for key in [
            "GET /v2/lbaas/providers",
            "GET /v2/lbaas/providers?fields=name",
            "GET /v2/lbaas/providers?fields=name,description",
            "GET /v2/lbaas/providers/amphora/flavor_capabilities",
            "GET /v2/lbaas/providers/octavia/flavor_capabilities",
            "GET /v2/lbaas/providers/amphora/availability_zone_capabilities",
            "GET /v2/lbaas/providers/amphora/flavor_capabilities?name=compute_flavor",
            "GET /v2/lbaas/providers/amphora/flavor_capabilities?fields=name",
            "GET /v2/lbaas/providers/amphora/flavor_capabilities?name=compute_flavor&name=amp_image_tag",
            "GET /v2/lbaas/providers/nope/flavor_capabilities",
        ] {
            let path = key.strip_prefix("GET ").expect("GET key");
            assert_like_peer(b, key, &send(&app, "GET", path, Some(&cloud.admin)).await);
        }
        // Both prefixes, a trailing slash, and filters upstream ignores.
        let peer = support::peer();
        for path in [
            "/v2.0/lbaas/providers",
            "/v2/lbaas/providers/",
            "/v2/lbaas/providers?name=amphora&bogus=1",
        ] {
            let a = send(&app, "GET", path, Some(&cloud.admin)).await;
            assert_eq!(
                a.body, peer["GET /v2/lbaas/providers"]["body"],
                "{b} {path}"
            );
        }
        let both = send(
            &app,
            "GET",
            "/v2/lbaas/providers?fields=name&fields=description",
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(both.body, peer["GET /v2/lbaas/providers"]["body"], "{b}");
        let by_description = send(
            &app,
            "GET",
            "/v2/lbaas/providers/amphora/availability_zone_capabilities?description=The%20volume%20availability%20zone.&fields=name",
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(
            by_description.body,
            json!({"availability_zone_capabilities": [{"name": "volume_zone"}]}),
            "{b}"
        );
        let unknown = send(
            &app,
            "GET",
            "/v2.0/lbaas/providers/noop_driver/availability_zone_capabilities",
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(unknown.status, 400, "{b}");
        assert_eq!(
            unknown.body,
            json!({"faultcode": "Client",
                   "faultstring": "Provider 'noop_driver' is not enabled.", "debuginfo": null}),
            "{b}"
        );
    }
}

#[tokio::test]
async fn no_or_bad_token_is_401_with_keystonemiddlewares_body() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        for path in ["/v2/lbaas/providers", "/nope", "/v2"] {
            let a = send(&app, "GET", path, None).await;
            let mut like = a.body.clone();
            assert_eq!(a.status, 401, "{b} {path}");
            assert_eq!(
                a.headers[header::WWW_AUTHENTICATE],
                "Keystone uri=\"http://127.0.0.1:5000/v3\"",
                "{b} {path}"
            );
            like = std::mem::take(&mut like);
            assert_like_peer(
                b,
                "noauth GET /v2/lbaas/providers",
                &support::Answer { body: like, ..a },
            );
        }
        let bad = send(&app, "GET", "/v2/lbaas/providers", Some("not-a-token")).await;
        assert_eq!(bad.status, 401, "{b}");
        assert_eq!(bad.body["error"]["code"], 401, "{b}");
    }
}

#[tokio::test]
async fn members_and_readers_list_providers_but_capabilities_are_admin_only() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        assert_like_peer(
            b,
            "demo GET /v2/lbaas/providers",
            &send(&app, "GET", "/v2/lbaas/providers", Some(&cloud.alice)).await,
        );
        assert_like_peer(
            b,
            "demo GET /v2/lbaas/providers/amphora/flavor_capabilities",
            &send(
                &app,
                "GET",
                "/v2/lbaas/providers/amphora/flavor_capabilities",
                Some(&cloud.alice),
            )
            .await,
        );
        // Policy before the provider lookup: a member learns nothing.
        assert_like_peer(
            b,
            "demo GET /v2/lbaas/providers/nope/availability_zone_capabilities",
            &send(
                &app,
                "GET",
                "/v2/lbaas/providers/nope/availability_zone_capabilities",
                Some(&cloud.alice),
            )
            .await,
        );
        let reader = send(&app, "GET", "/v2/lbaas/providers", Some(&cloud.rita)).await;
        assert_eq!(reader.status, 200, "{b}");
        let reader_caps = send(
            &app,
            "GET",
            "/v2/lbaas/providers/amphora/availability_zone_capabilities",
            Some(&cloud.rita),
        )
        .await;
        assert_eq!(reader_caps.status, 403, "{b}");
        assert_eq!(
            reader_caps.body["faultstring"], "Policy does not allow this request to be performed.",
            "{b}"
        );
    }
}

#[tokio::test]
async fn legacy_observer_role_counts_only_while_legacy_roles_are_on() {
    for cloud in backends().await {
        let b = cloud.backend;
        let on = cloud.lb(LbConfig::default());
        let a = send(&on, "GET", "/v2/lbaas/providers", Some(&cloud.olga)).await;
        assert_eq!(a.status, 200, "{b}: {}", a.body);
        let off = cloud.lb(LbConfig {
            legacy_roles: false,
            ..LbConfig::default()
        });
        let a = send(&off, "GET", "/v2/lbaas/providers", Some(&cloud.olga)).await;
        assert_eq!(a.status, 403, "{b}");
        assert_eq!(
            a.body,
            json!({"faultcode": "Client",
                   "faultstring": "Policy does not allow this request to be performed.",
                   "debuginfo": null}),
            "{b}"
        );
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_like_the_peer() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let t = Some(cloud.admin.as_str());
        assert_like_peer(b, "GET /nope", &send(&app, "GET", "/nope", t).await);
        assert_like_peer(
            b,
            "GET /v2/lbaas/nope",
            &send(&app, "GET", "/v2/lbaas/nope", t).await,
        );
        let v20 = send(&app, "GET", "/v2.0/lbaas/nope", t).await;
        assert_eq!(v20.body["description"], "", "{b}");
        for (key, method, path) in [
            ("POST /v2/lbaas/providers", "POST", "/v2/lbaas/providers"),
            ("DELETE /v2", "DELETE", "/v2"),
        ] {
            let a = send(&app, method, path, t).await;
            assert_eq!(a.headers[header::ALLOW], "GET", "{b} {key}");
            assert_like_peer(b, key, &a);
        }
        let item = send(&app, "GET", "/v2/lbaas/providers/amphora", t).await;
        assert_eq!(item.status, 405, "{b}");
        assert_eq!(item.headers[header::ALLOW], "GET", "{b}");
    }
}
