//! Helpers of the flavor, availability-zone and quota tests: fault
//! assertions, bodies sent raw (no body, other content types), and load
//! balancers written straight into the store so a flavor or zone is in
//! use without going through the load-balancer API.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use neutrino_lb_types::enums::{OperatingStatus, ProvisioningStatus, Topology, VnicType};
use neutrino_lb_types::model::{LoadBalancer, Vip};
use neutrino_store::Db;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{Answer, Cloud, HOST};

/// Asserts an Octavia fault: status and the whole body.
#[track_caller]
pub fn fault(a: &Answer, status: u16, faultstring: &str) {
    let code = if status < 500 { "Client" } else { "Server" };
    assert_eq!(
        (a.status.as_u16(), &a.body),
        (
            status,
            &json!({"faultcode": code, "faultstring": faultstring, "debuginfo": null})
        ),
    );
}

pub const FORBIDDEN: &str = "Policy does not allow this request to be performed.";

/// A request whose body and `Content-Type` are given as is.
pub async fn raw(
    app: &Router,
    method: &str,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> Answer {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST)
        .header("x-auth-token", token);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    let resp = app
        .clone()
        .oneshot(b.body(Body::from(body.to_string())).expect("request"))
        .await
        .expect("router never fails");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON answer")
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// The project a token is scoped to.
pub async fn project_of(cloud: &Cloud, token: &str) -> String {
    cloud
        .identity
        .validate(token)
        .await
        .expect("valid token")
        .project_id
        .expect("project-scoped")
}

/// A load balancer row using `flavor` and/or availability zone `zone`.
pub async fn lb_using(db: &Db, id: &str, flavor: Option<&str>, zone: Option<&str>) {
    let lb = LoadBalancer {
        id: id.into(),
        project_id: "p-lb".into(),
        name: None,
        description: None,
        admin_state_up: true,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Online,
        topology: Topology::Single,
        provider: Some("amphora".into()),
        flavor_id: flavor.map(str::to_string),
        availability_zone: zone.map(str::to_string),
        vip: Vip {
            ip_address: None,
            port_id: None,
            subnet_id: None,
            network_id: None,
            qos_policy_id: None,
            octavia_owned: false,
            vnic_type: VnicType::Normal,
            sg_ids: vec![],
        },
        additional_vips: vec![],
        tags: vec![],
        created_at: "2026-01-01T00:00:00".into(),
        updated_at: None,
    };
    let mut tx = db.begin().await.expect("begin");
    neutrino_store::lb::load_balancers::insert(&mut tx, &lb)
        .await
        .expect("insert load balancer");
    tx.commit().await.expect("commit");
}

/// The ids (or `key`s) of a collection answer's objects, in order.
pub fn keys(body: &Value, plural: &str, key: &str) -> Vec<String> {
    body[plural]
        .as_array()
        .unwrap_or_else(|| panic!("no {plural} in {body}"))
        .iter()
        .map(|o| o[key].as_str().expect("key").to_string())
        .collect()
}
