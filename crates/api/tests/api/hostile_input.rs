//! Hostile input (issue 10, defects 4 and 7): NUL bytes, invalid UTF-8 and
//! odd query values get a 4xx with a NeutronError body on both backends,
//! and nothing is stored.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use crate::support::{self, Cloud, assert_error, send};

fn raw(
    method: &str,
    uri: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-auth-token", token);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

async fn call_raw(c: &Cloud, method: &str, uri: &str, token: &str, body: &str) -> (u16, Value) {
    let (s, _, b) = send(
        &c.app,
        raw(method, uri, token, Some("application/json"), body),
    )
    .await;
    (s.as_u16(), b)
}

/// Rows of every table a Network API write can touch.
async fn rows(c: &Cloud) -> Vec<i64> {
    let mut out = Vec::new();
    for t in [
        "networks",
        "subnets",
        "ports",
        "routers",
        "floatingips",
        "security_groups",
        "security_group_rules",
        "network_rbacs",
        "tags",
        "quotas",
    ] {
        out.push(c.count(t).await);
    }
    out
}

#[tokio::test]
async fn nul_in_body_strings_is_refused_and_stores_nothing() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        let net_id = net["id"].as_str().unwrap().to_owned();
        c.subnet(&c.alice, &net, "10.0.0.0/24", json!({})).await;
        let router = c.create(&c.alice, "router", json!({"name": "r"})).await;
        let (s, sg) = c
            .call(
                "POST",
                "/v2.0/security-groups",
                &c.alice,
                Some(json!({"security_group": {"name": "g"}})),
            )
            .await;
        assert_eq!(s, 201, "{sg}");
        let sg = &sg["security_group"];
        let before = rows(&c).await;
        // (method, path, token, body): one NUL somewhere in each.
        let cases: Vec<(&str, String, &str, Value)> = vec![
            (
                "POST",
                "/v2.0/networks".into(),
                &c.alice,
                json!({"network": {"name": "a\u{0}b"}}),
            ),
            (
                "POST",
                "/v2.0/networks".into(),
                &c.alice,
                json!({"networks": [{"name": "ok"}, {"name": "\u{0}"}]}),
            ),
            (
                "PUT",
                format!("/v2.0/networks/{net_id}"),
                &c.alice,
                json!({"network": {"description": "\u{0}"}}),
            ),
            (
                "POST",
                "/v2.0/ports".into(),
                &c.alice,
                json!({"port": {"network_id": net_id, "device_id": "vm\u{0}"}}),
            ),
            (
                "POST",
                "/v2.0/ports".into(),
                &c.admin,
                json!({"port": {"network_id": net_id, "binding:host_id": "h\u{0}"}}),
            ),
            (
                "POST",
                "/v2.0/ports".into(),
                &c.alice,
                json!({"port": {"network_id": net_id, "fixed_ips": [{"ip_address": "10.0.0.9\u{0}"}]}}),
            ),
            (
                "POST",
                "/v2.0/subnets".into(),
                &c.alice,
                json!({"subnet": {"network_id": net_id, "cidr": "10.1.0.0/24", "ip_version": 4, "name": "\u{0}"}}),
            ),
            (
                "PUT",
                format!("/v2.0/routers/{}", router["id"].as_str().unwrap()),
                &c.alice,
                json!({"router": {"name": "\u{0}"}}),
            ),
            (
                "POST",
                "/v2.0/security-groups".into(),
                &c.alice,
                json!({"security_group": {"name": "x", "description": "\u{0}"}}),
            ),
            (
                "POST",
                "/v2.0/security-group-rules".into(),
                &c.alice,
                json!({"security_group_rule": {"security_group_id": sg["id"], "direction": "ingress", "description": "\u{0}"}}),
            ),
            (
                "POST",
                "/v2.0/rbac-policies".into(),
                &c.alice,
                json!({"rbac_policy": {"object_type": "network", "object_id": net_id, "action": "access_as_shared", "target_tenant": "p\u{0}"}}),
            ),
            (
                "PUT",
                format!("/v2.0/networks/{net_id}/tags"),
                &c.alice,
                json!({"tags": ["a", "b\u{0}"]}),
            ),
            (
                "PUT",
                format!("/v2.0/quotas/{}", c.alice_project),
                &c.admin,
                json!({"quota": {"network": 10, "k\u{0}": 1}}),
            ),
            (
                "POST",
                "/v2.0/floatingips".into(),
                &c.alice,
                json!({"floatingip": {"floating_network_id": "\u{0}"}}),
            ),
        ];
        for (method, path, token, body) in cases {
            let (s, b) = c.call(method, &path, token, Some(body.clone())).await;
            assert_error(s, &b, 400, "HTTPBadRequest");
            assert!(
                b["NeutronError"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("NUL"),
                "[{}] {method} {path} {body}: {b}",
                c.backend
            );
        }
        assert_eq!(
            rows(&c).await,
            before,
            "[{}] a refused request stored something",
            c.backend
        );
        let (_, shown) = c
            .call("GET", &format!("/v2.0/networks/{net_id}"), &c.alice, None)
            .await;
        assert_eq!(shown["network"]["description"], "", "[{}]", c.backend);
    }
}

#[tokio::test]
async fn nul_and_invalid_utf8_in_paths_and_queries_are_400_json() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        let id = net["id"].as_str().unwrap();
        let before = rows(&c).await;
        let cases = [
            ("GET", "/v2.0/networks/%ff".to_string()),
            ("GET", "/v2.0/networks/%00".to_string()),
            ("DELETE", "/v2.0/ports/ab%00cd".to_string()),
            ("PUT", "/v2.0/routers/%c3%28".to_string()),
            ("GET", "/v2.0/networks?name=%00".to_string()),
            ("GET", "/v2.0/ports?network_id=%00".to_string()),
            ("GET", "/v2.0/ports?device_id=a%00b".to_string()),
            ("GET", "/v2.0/subnets?id=%00".to_string()),
            ("GET", "/v2.0/networks?name=%ff".to_string()),
            (
                "GET",
                "/v2.0/security-groups?marker=%00&limit=1".to_string(),
            ),
            ("GET", format!("/v2.0/networks/{id}?fields=%00")),
            ("PUT", format!("/v2.0/networks/{id}/tags/a%00b")),
            ("GET", format!("/v2.0/networks/{id}/tags/%ff")),
            ("GET", "/v2.0/quotas/%00".to_string()),
            ("PUT", "/v2.0/quotas/%00".to_string()),
            ("GET", "/v2.0/nowhere/%ff".to_string()),
        ];
        for (method, path) in cases {
            let body = if method == "PUT" && path.contains("quotas") {
                r#"{"quota": {"network": 5}}"#
            } else if method == "PUT" && path.contains("routers") {
                r#"{"router": {"name": "x"}}"#
            } else {
                ""
            };
            let (s, b) = call_raw(&c, method, &path, &c.admin, body).await;
            assert_error(s, &b, 400, "HTTPBadRequest");
            let _ = path;
        }
        assert_eq!(rows(&c).await, before, "[{}]", c.backend);
        let (_, tags) = c
            .call("GET", &format!("/v2.0/networks/{id}"), &c.alice, None)
            .await;
        assert_eq!(tags["network"]["tags"], json!([]), "[{}]", c.backend);
    }
}

#[tokio::test]
async fn non_integer_values_of_integer_filters_are_invalid_input() {
    for c in support::backends().await {
        // Empty lists too: Neutron converts filter values before querying.
        for path in [
            "/v2.0/networks?revision_number=abc",
            "/v2.0/subnets?revision_number=1x",
            "/v2.0/ports?revision_number=abc",
            "/v2.0/routers?revision_number=abc",
            "/v2.0/floatingips?revision_number=abc",
            "/v2.0/security-groups?revision_number=abc",
            "/v2.0/security-group-rules?revision_number=abc",
            "/v2.0/networks?mtu=big",
            "/v2.0/subnets?ip_version=four",
            "/v2.0/security-group-rules?port_range_min=x",
        ] {
            let (s, b) = c.call("GET", path, &c.alice, None).await;
            assert_error(s, &b, 400, "InvalidInput");
            assert!(
                b["NeutronError"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("is not an integer"),
                "[{}] {path}: {b}",
                c.backend
            );
        }
        let net = c.network(&c.alice, "n").await;
        let (s, b) = c
            .call(
                "GET",
                &format!("/v2.0/networks?revision_number={}", net["revision_number"]),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 200, "[{}] {b}", c.backend);
        assert_eq!(
            b["networks"].as_array().unwrap().len(),
            1,
            "[{}]",
            c.backend
        );
        let (s, b) = c
            .call("GET", "/v2.0/networks?admin_state_up=maybe", &c.alice, None)
            .await;
        assert_eq!(s, 400, "[{}] {b}", c.backend);
    }
}

#[tokio::test]
async fn unknown_marker_with_limit_is_the_resources_not_found() {
    for c in support::backends().await {
        let missing = "8a3f0e3c-9a4b-4c55-8b4e-0d1c2e3f4a5b";
        c.network(&c.alice, "n").await;
        for (plural, kind) in [
            ("networks", "NetworkNotFound"),
            ("subnets", "SubnetNotFound"),
            ("ports", "PortNotFound"),
            ("routers", "RouterNotFound"),
            ("floatingips", "FloatingIPNotFound"),
            ("security-groups", "SecurityGroupNotFound"),
            ("security-group-rules", "SecurityGroupRuleNotFound"),
            ("rbac-policies", "RbacPolicyNotFound"),
        ] {
            let (s, b) = c
                .call(
                    "GET",
                    &format!("/v2.0/{plural}?limit=2&marker={missing}"),
                    &c.alice,
                    None,
                )
                .await;
            assert_error(s, &b, 404, kind);
            // Neutron reads the marker only when paging (api_common's
            // get_limit_and_marker): without a limit it is ignored.
            let (s, b) = c
                .call(
                    "GET",
                    &format!("/v2.0/{plural}?marker={missing}"),
                    &c.alice,
                    None,
                )
                .await;
            assert_eq!(s, 200, "[{}] {plural}: {b}", c.backend);
        }
    }
}

/// Neutron ignores the request's Content-Type: its body hook parses any body
/// as JSON (neutron/pecan_wsgi/hooks/body_validation.py). So do we; a body
/// that is not JSON is refused whatever its type says.
#[tokio::test]
async fn content_type_is_not_consulted_as_in_neutron() {
    for c in support::backends().await {
        let body = r#"{"network": {"name": "plain"}}"#;
        for ct in [Some("text/plain"), None] {
            let (s, _, b) = send(&c.app, raw("POST", "/v2.0/networks", &c.alice, ct, body)).await;
            assert_eq!(s.as_u16(), 201, "[{}] {ct:?}: {b}", c.backend);
        }
        let before = c.count("networks").await;
        let (s, _, b) = send(
            &c.app,
            raw(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some("text/plain"),
                "name=plain",
            ),
        )
        .await;
        assert_error(s.as_u16(), &b, 400, "MalformedRequestBody");
        assert_eq!(c.count("networks").await, before);
    }
}
