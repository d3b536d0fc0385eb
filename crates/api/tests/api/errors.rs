//! Malformed requests: the upstream 4xx, a NeutronError body, nothing stored.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use crate::support::{self, assert_error, send};

fn raw(method: &str, path: &str, token: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("x-auth-token", token)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn bad_bodies() {
    for c in support::backends().await {
        let (s, _, b) = send(
            &c.app,
            raw(
                "POST",
                "/v2.0/networks",
                &c.alice,
                b"{\"network\": {".to_vec(),
            ),
        )
        .await;
        assert_error(s.as_u16(), &b, 400, "MalformedRequestBody");
        let (s, _, b) = send(&c.app, raw("POST", "/v2.0/networks", &c.alice, Vec::new())).await;
        assert_error(s.as_u16(), &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call("POST", "/v2.0/networks", &c.alice, Some(json!({"net": {}})))
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"colour": "blue"}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        assert!(
            b["NeutronError"]["message"]
                .as_str()
                .unwrap()
                .contains("Unrecognized attribute(s) 'colour'")
        );
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"id": "x"}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"admin_state_up": "perhaps"}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"name": 17}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"name": "x".repeat(256)}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"project_id": "a", "tenant_id": "b"}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/networks",
                &c.alice,
                Some(json!({"network": {"project_id": c.bob_project}})),
            )
            .await;
        // Neutron's _validate_privileges: 400, not a policy failure.
        assert_error(s, &b, 400, "HTTPBadRequest");
        let mut huge = b"{\"network\": {\"name\": \"".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 10));
        huge.extend(b"\"}}");
        let (s, _, b) = send(&c.app, raw("POST", "/v2.0/networks", &c.alice, huge)).await;
        assert_error(s.as_u16(), &b, 413, "HTTPRequestEntityTooLarge");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/subnets",
                &c.alice,
                Some(json!({"subnet": {"ip_version": 4, "cidr": "10.0.0.0/24"}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/ports",
                &c.alice,
                Some(json!({"port": {"network_id": "missing"}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "POST",
                "/v2.0/ports",
                &c.alice,
                Some(json!({"port": {"network_id": "5b7c8f4e-1111-4222-8333-944455556666"}})),
            )
            .await;
        assert_error(s, &b, 404, "NetworkNotFound");
        let (s, b) = c
            .call(
                "PUT",
                "/v2.0/networks/5b7c8f4e-1111-4222-8333-944455556666",
                &c.alice,
                Some(json!({"network": {"name": "x"}})),
            )
            .await;
        assert_error(s, &b, 404, "NetworkNotFound");
        let (s, b) = c.call("GET", "/v2.0/nothing-here", &c.alice, None).await;
        assert_error(s, &b, 404, "HTTPNotFound");
        for table in ["networks", "subnets", "ports", "ip_allocations", "tags"] {
            assert_eq!(
                c.count(table).await,
                0,
                "[{}] {table} must be empty",
                c.backend
            );
        }
    }
}

#[tokio::test]
async fn read_only_attributes_in_put() {
    for c in support::backends().await {
        let n = c.network(&c.alice, "n").await;
        let path = format!("/v2.0/networks/{}", n["id"].as_str().unwrap());
        let (s, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"network": {"status": "DOWN"}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"network": {"tenant_id": "x"}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (_, b) = c.call("GET", &path, &c.alice, None).await;
        assert_eq!(
            b["network"]["revision_number"], 1,
            "rejected updates change nothing"
        );
    }
}
