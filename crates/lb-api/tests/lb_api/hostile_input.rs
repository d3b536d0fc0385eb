//! Hostile input against every Load-balancer API resource: NUL bytes,
//! invalid UTF-8 in bodies, paths and queries, wrong JSON types, numbers
//! out of range, deep nesting, huge strings, bodies that are not objects.
//! Each must get a 4xx with Octavia's fault body, never a 5xx, and change
//! nothing: the tree built first is the same afterwards, row for row.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use neutrino_lb_api::LbConfig;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::fixtures::count;
use crate::support::{Cloud, HOST, backends, send, send_json};

const TABLES: &[&str] = &[
    "lb_load_balancers",
    "lb_listeners",
    "lb_pools",
    "lb_members",
    "lb_health_monitors",
    "lb_l7policies",
    "lb_l7rules",
    "lb_tags",
    "lb_flows",
    "lb_quotas",
    "lb_flavors",
    "lb_flavor_profiles",
    "lb_availability_zones",
    "lb_az_profiles",
    "ports",
];

async fn rows(cloud: &Cloud) -> Vec<i64> {
    let mut out = Vec::new();
    for t in TABLES {
        out.push(count(&cloud.db, &format!("SELECT COUNT(*) FROM {t}")).await);
    }
    out
}

/// Sends raw bytes; returns (status, body parsed as JSON or `null`).
async fn raw(app: &Router, method: &str, path: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST)
        .header("x-auth-token", token)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("router answers");
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A tree of every kind of object, ACTIVE; returns the paths of the
/// objects (collection path, object path, the key of POST/PUT bodies).
async fn tree(cloud: &Cloud, app: &Router) -> Vec<(String, String, &'static str)> {
    let (_, subnet) = cloud.network(&cloud.alice, "10.50.0.0/24").await;
    let t = Some(cloud.alice.as_str());
    let lb = send_json(
        app,
        "POST",
        "/v2/lbaas/loadbalancers",
        t,
        json!({"loadbalancer": {"vip_subnet_id": subnet, "name": "tree"}}),
    )
    .await;
    let lb_id = lb.body["loadbalancer"]["id"]
        .as_str()
        .expect("lb")
        .to_string();
    let lb_path = format!("/v2/lbaas/loadbalancers/{lb_id}");
    let ready = || cloud.wait_for(app, &lb_path, "loadbalancer", "ACTIVE");
    ready().await;
    let l = send_json(
        app,
        "POST",
        "/v2/lbaas/listeners",
        t,
        json!({"listener": {
        "loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}}),
    )
    .await;
    let l_id = l.body["listener"]["id"]
        .as_str()
        .expect("listener")
        .to_string();
    ready().await;
    let p = send_json(
        app,
        "POST",
        "/v2/lbaas/pools",
        t,
        json!({"pool": {
        "listener_id": l_id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}),
    )
    .await;
    let p_id = p.body["pool"]["id"].as_str().expect("pool").to_string();
    ready().await;
    let m = send_json(
        app,
        "POST",
        &format!("/v2/lbaas/pools/{p_id}/members"),
        t,
        json!({"member": {
        "address": "10.50.0.10", "protocol_port": 8080, "subnet_id": subnet}}),
    )
    .await;
    let m_id = m.body["member"]["id"].as_str().expect("member").to_string();
    ready().await;
    let h = send_json(
        app,
        "POST",
        "/v2/lbaas/healthmonitors",
        t,
        json!({"healthmonitor": {
        "pool_id": p_id, "type": "HTTP", "delay": 5, "timeout": 4, "max_retries": 3}}),
    )
    .await;
    let h_id = h.body["healthmonitor"]["id"]
        .as_str()
        .expect("hm")
        .to_string();
    ready().await;
    let pol = send_json(
        app,
        "POST",
        "/v2/lbaas/l7policies",
        t,
        json!({"l7policy": {
        "listener_id": l_id, "action": "REJECT"}}),
    )
    .await;
    let pol_id = pol.body["l7policy"]["id"]
        .as_str()
        .expect("policy")
        .to_string();
    ready().await;
    let r = send_json(
        app,
        "POST",
        &format!("/v2/lbaas/l7policies/{pol_id}/rules"),
        t,
        json!({"rule": {
        "type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}}),
    )
    .await;
    let r_id = r.body["rule"]["id"].as_str().expect("rule").to_string();
    ready().await;
    vec![
        (
            "/v2/lbaas/loadbalancers".into(),
            lb_path.clone(),
            "loadbalancer",
        ),
        (
            "/v2/lbaas/listeners".into(),
            format!("/v2/lbaas/listeners/{l_id}"),
            "listener",
        ),
        (
            "/v2/lbaas/pools".into(),
            format!("/v2/lbaas/pools/{p_id}"),
            "pool",
        ),
        (
            format!("/v2/lbaas/pools/{p_id}/members"),
            format!("/v2/lbaas/pools/{p_id}/members/{m_id}"),
            "member",
        ),
        (
            "/v2/lbaas/healthmonitors".into(),
            format!("/v2/lbaas/healthmonitors/{h_id}"),
            "healthmonitor",
        ),
        (
            "/v2/lbaas/l7policies".into(),
            format!("/v2/lbaas/l7policies/{pol_id}"),
            "l7policy",
        ),
        (
            format!("/v2/lbaas/l7policies/{pol_id}/rules"),
            format!("/v2/lbaas/l7policies/{pol_id}/rules/{r_id}"),
            "rule",
        ),
        (
            "/v2/lbaas/flavorprofiles".into(),
            "/v2/lbaas/flavorprofiles/x".into(),
            "flavorprofile",
        ),
        (
            "/v2/lbaas/flavors".into(),
            "/v2/lbaas/flavors/x".into(),
            "flavor",
        ),
        (
            "/v2/lbaas/availabilityzoneprofiles".into(),
            "/v2/lbaas/availabilityzoneprofiles/x".into(),
            "availability_zone_profile",
        ),
        (
            "/v2/lbaas/availabilityzones".into(),
            "/v2/lbaas/availabilityzones/x".into(),
            "availability_zone",
        ),
        (
            "/v2/lbaas/quotas".into(),
            format!("/v2/lbaas/quotas/{}", cloud.alpha),
            "quota",
        ),
    ]
}

/// Bodies no resource may accept, for resource key `key`.
fn hostile_bodies(key: &str) -> Vec<Vec<u8>> {
    let deep = "[".repeat(5000) + &"]".repeat(5000);
    let mut out: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"not json".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"\"string\"".to_vec(),
        b"{\"x\": \xff\xfe}".to_vec(),
        deep.into_bytes(),
    ];
    for attrs in [
        json!({"name": "a\u{0}b"}),
        json!({"description": "\u{0}"}),
        json!({"name": 5}),
        json!({"name": "x".repeat(300_000)}),
        json!({"admin_state_up": "maybe"}),
        json!({"admin_state_up": {"nested": [1, 2, 3]}}),
        json!({"protocol_port": 1e300}),
        json!({"protocol_port": -1}),
        json!({"protocol_port": "80\u{0}"}),
        json!({"weight": 99_999_999_999_999_999u64}),
        json!({"delay": [1]}),
        json!({"tags": ["ok", "\u{0}"]}),
        json!({"tags": "not-a-list"}),
        json!({"unknown_attribute": true}),
        json!({"load_balancer": "one"}),
        json!({"member": -2}),
        json!({"flavor_data": "{\"loadbalancer_topology\": \"\u{0}\"}"}),
        json!({"compare_type": "REGEX", "type": "PATH", "value": "(((("}),
    ] {
        out.push(json!({ key: attrs }).to_string().into_bytes());
    }
    out.push(json!({ key: null }).to_string().into_bytes());
    out.push(json!({ key: [1, 2] }).to_string().into_bytes());
    out
}

#[tokio::test]
async fn hostile_input_gets_a_4xx_fault_and_changes_nothing() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let objects = tree(&cloud, &app).await;
        let before_rows = rows(&cloud).await;
        let mut before = Vec::new();
        for (_, one, key) in &objects {
            before.push(send(&app, "GET", one, Some(&cloud.admin)).await.body[*key].clone());
        }
        let mut cases = 0;
        for (many, one, key) in &objects {
            for body in hostile_bodies(key) {
                for (method, path, token) in [
                    ("POST", many, &cloud.alice),
                    ("PUT", one, &cloud.alice),
                    ("POST", many, &cloud.admin),
                    ("PUT", one, &cloud.admin),
                ] {
                    let (status, answer) = raw(&app, method, path, token, body.clone()).await;
                    cases += 1;
                    let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).to_string();
                    assert!(
                        (400..500).contains(&status),
                        "{b} {method} {path} {shown}: {status} {answer}"
                    );
                    assert!(
                        answer["faultstring"].is_string() || answer["description"].is_string(),
                        "{b} {method} {path} {shown}: no fault body: {answer}"
                    );
                }
            }
        }
        // Paths and queries that decode to NUL or invalid UTF-8.
        for (_, one, _) in &objects {
            for path in [
                format!("{one}%00"),
                format!("{one}%ff"),
                format!("{one}?fields=%00"),
                format!("{one}?fields=%c3%28"),
                format!("{}/{}", one, "9".repeat(5000)),
            ] {
                for method in ["GET", "PUT", "DELETE"] {
                    let (status, answer) =
                        raw(&app, method, &path, &cloud.alice, b"{}".to_vec()).await;
                    cases += 1;
                    assert!(
                        (400..500).contains(&status),
                        "{b} {method} {path}: {status} {answer}"
                    );
                }
            }
        }
        for query in [
            "limit=%00",
            "sort=name:%ff",
            "marker=%00",
            "name=%00",
            "tags=%00",
            "limit=-5",
            "limit=99999999999999999999",
        ] {
            let (status, answer) = raw(
                &app,
                "GET",
                &format!("/v2/lbaas/loadbalancers?{query}"),
                &cloud.alice,
                Vec::new(),
            )
            .await;
            cases += 1;
            assert!(
                status == 200 || (400..500).contains(&status),
                "{b} {query}: {status} {answer}"
            );
        }
        assert!(cases > 1000, "{b}: {cases} cases");
        assert_eq!(rows(&cloud).await, before_rows, "{b}: row counts changed");
        for ((_, one, key), was) in objects.iter().zip(&before) {
            let now = send(&app, "GET", one, Some(&cloud.admin)).await.body[*key].clone();
            assert_eq!(&now, was, "{b}: {one} changed");
        }
    }
}
