//! Rendering shapes against what the peer (octavia 19) answered in
//! ../shared/peer/smoke-reference.txt: same attribute sets (the client
//! drops `tenant_id`, which WSME adds), same values for the same records,
//! and the status tree byte-for-byte in structure.

use neutrino_lb_types::enums::*;
use neutrino_lb_types::model::*;
use neutrino_lb_types::render;
use neutrino_lb_types::sample;
use neutrino_lb_types::status_tree::{LbGraph, StatusTree};
use serde_json::{Value, json};

const PROJECT: &str = "ac439bd767e14e5db30a02fa923a47ff";
const LB_ID: &str = "456871bf-243b-45c5-92e3-c268ef69d388";
const LISTENER_ID: &str = "a03ecdfa-7807-4fdf-921b-12a4302783f6";
const POOL_ID: &str = "859612f0-dcd6-4e9a-9880-d7b665ae66d9";
const HM_ID: &str = "7c932956-5112-4fb8-b593-06135b0a399f";
const SUBNET: &str = "f722edf6-87bc-4105-8f6b-0889b7eabc32";

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(mut k: Vec<&str>) -> Vec<String> {
    k.push("tenant_id");
    k.sort();
    k.into_iter().map(String::from).collect()
}

fn lb() -> LoadBalancer {
    LoadBalancer {
        name: Some("lbaas".into()),
        vip: sample::vip(
            "198.51.100.1",
            "011f1bad-9afb-4fa0-9317-fd4cd8c79fa5",
            SUBNET,
            "164ec8af-13bd-46d6-b8d0-90154295615b",
        ),
        created_at: "2026-11-22T01:57:07".into(),
        updated_at: Some("2026-11-22T01:57:08".into()),
        ..sample::load_balancer(LB_ID, PROJECT)
    }
}

#[test]
fn load_balancer_as_the_peer_shows_it() {
    let v = render::loadbalancer(&lb(), &[], &[]);
    assert_eq!(
        keys(&v),
        sorted(vec![
            "admin_state_up",
            "availability_zone",
            "created_at",
            "description",
            "flavor_id",
            "id",
            "listeners",
            "name",
            "operating_status",
            "pools",
            "project_id",
            "provider",
            "provisioning_status",
            "updated_at",
            "vip_address",
            "vip_network_id",
            "vip_port_id",
            "vip_qos_policy_id",
            "vip_subnet_id",
            "vip_vnic_type",
            "vip_sg_ids",
            "tags",
            "additional_vips",
        ])
    );
    assert_eq!(v["description"], "", "NULL renders as an empty string");
    assert_eq!(v["vip_vnic_type"], "normal");
    assert_eq!(v["tenant_id"], PROJECT);
    assert_eq!(v["listeners"], json!([]));
    let mut no_provider = lb();
    no_provider.provider = None;
    assert_eq!(
        render::loadbalancer(&no_provider, &[], &[])["provider"],
        "octavia"
    );
    let shown = render::loadbalancer(&lb(), &[LISTENER_ID.into()], &[POOL_ID.into()]);
    assert_eq!(shown["listeners"], json!([{"id": LISTENER_ID}]));
    assert_eq!(shown["pools"], json!([{"id": POOL_ID}]));
}

fn listener() -> Listener {
    Listener {
        name: Some("lbaas-listener".into()),
        default_pool_id: Some(POOL_ID.into()),
        created_at: "2026-11-22T01:57:13".into(),
        ..sample::listener(LISTENER_ID, PROJECT, LB_ID, Protocol::Http, 80)
    }
}

#[test]
fn listener_as_the_peer_shows_it() {
    let v = render::listener(&listener());
    assert_eq!(
        keys(&v),
        sorted(vec![
            "admin_state_up",
            "connection_limit",
            "created_at",
            "default_pool_id",
            "default_tls_container_ref",
            "description",
            "id",
            "insert_headers",
            "l7policies",
            "loadbalancers",
            "name",
            "operating_status",
            "project_id",
            "protocol",
            "protocol_port",
            "provisioning_status",
            "sni_container_refs",
            "timeout_client_data",
            "timeout_member_connect",
            "timeout_member_data",
            "timeout_tcp_inspect",
            "updated_at",
            "client_ca_tls_container_ref",
            "client_authentication",
            "client_crl_container_ref",
            "allowed_cidrs",
            "tls_ciphers",
            "tls_versions",
            "alpn_protocols",
            "tags",
            "hsts_max_age",
            "hsts_include_subdomains",
            "hsts_preload",
        ])
    );
    assert_eq!(
        v["allowed_cidrs"],
        Value::Null,
        "an empty list renders null"
    );
    assert_eq!(v["insert_headers"], json!({}));
    assert_eq!(v["loadbalancers"], json!([{"id": LB_ID}]));
    assert_eq!(v["client_authentication"], "NONE");
    let full = render::listener_full(&listener(), vec![]);
    assert!(
        full.get("loadbalancers").is_none(),
        "the full form leaves it unset"
    );
}

fn pool(hm: Option<&str>) -> Pool {
    Pool {
        name: Some("lbaas-pool".into()),
        listener_ids: vec![LISTENER_ID.into()],
        healthmonitor_id: hm.map(String::from),
        created_at: "2026-11-22T01:57:19".into(),
        ..sample::pool(POOL_ID, PROJECT, LB_ID, Protocol::Http)
    }
}

#[test]
fn pool_as_the_peer_shows_it() {
    let v = render::pool(&pool(None));
    // The peer's client printed `healthmonitor_id: ''`: the key was absent.
    assert_eq!(
        keys(&v),
        sorted(vec![
            "admin_state_up",
            "created_at",
            "description",
            "id",
            "lb_algorithm",
            "listeners",
            "loadbalancers",
            "members",
            "name",
            "operating_status",
            "project_id",
            "protocol",
            "provisioning_status",
            "session_persistence",
            "updated_at",
            "tls_container_ref",
            "ca_tls_container_ref",
            "crl_container_ref",
            "tls_enabled",
            "tls_ciphers",
            "tls_versions",
            "tags",
            "alpn_protocols",
        ])
    );
    assert_eq!(v["session_persistence"], Value::Null);
    assert_eq!(render::pool(&pool(Some(HM_ID)))["healthmonitor_id"], HM_ID);
    let mut sp = pool(None);
    sp.session_persistence = Some(SessionPersistence {
        sp_type: SessionPersistenceType::AppCookie,
        cookie_name: Some("c".into()),
        persistence_timeout: None,
        persistence_granularity: None,
    });
    assert_eq!(
        render::pool(&sp)["session_persistence"],
        json!({"type": "APP_COOKIE", "cookie_name": "c", "persistence_timeout": null, "persistence_granularity": null})
    );
}

fn hm() -> HealthMonitor {
    HealthMonitor {
        name: Some("lbaas-hm".into()),
        timeout: 4,
        url_path: Some("/healthz".into()),
        created_at: "2026-11-22T01:57:26".into(),
        updated_at: Some("2026-11-22T01:57:26".into()),
        ..sample::health_monitor(HM_ID, PROJECT, POOL_ID, HealthMonitorType::Http)
    }
}

fn members() -> Vec<Member> {
    [
        (
            "56171891-b81f-487f-8ff4-50a1bd10d7d6",
            "member-1",
            "172.24.0.10",
        ),
        (
            "e5a38dde-b162-4963-be68-73f3ca430e8c",
            "member-2",
            "172.24.0.11",
        ),
    ]
    .iter()
    .map(|(id, name, address)| Member {
        name: Some(name.to_string()),
        operating_status: OperatingStatus::Offline,
        subnet_id: Some(SUBNET.into()),
        created_at: "2026-11-22T01:57:30".into(),
        ..sample::member(id, PROJECT, POOL_ID, address, 8080)
    })
    .collect()
}

#[test]
fn monitor_and_member_as_the_peer_shows_them() {
    let v = render::health_monitor(&hm());
    assert_eq!(
        keys(&v),
        sorted(vec![
            "project_id",
            "name",
            "admin_state_up",
            "pools",
            "created_at",
            "provisioning_status",
            "updated_at",
            "delay",
            "expected_codes",
            "max_retries",
            "http_method",
            "timeout",
            "max_retries_down",
            "url_path",
            "type",
            "id",
            "operating_status",
            "http_version",
            "domain_name",
            "tags",
        ])
    );
    assert_eq!(v["pools"], json!([{"id": POOL_ID}]));
    assert!(render::health_monitor_full(&hm()).get("pools").is_none());
    let m = render::member(&members()[0]);
    assert_eq!(
        keys(&m),
        sorted(vec![
            "address",
            "admin_state_up",
            "created_at",
            "id",
            "name",
            "operating_status",
            "project_id",
            "protocol_port",
            "provisioning_status",
            "subnet_id",
            "updated_at",
            "weight",
            "monitor_port",
            "monitor_address",
            "backup",
            "tags",
            "vnic_type",
        ])
    );
}

#[test]
fn status_tree_matches_the_peer() {
    let (lb, l, p, h, ms) = (lb(), listener(), pool(Some(HM_ID)), hm(), members());
    let graph = LbGraph {
        listeners: vec![&l],
        pools: vec![&p],
        members: ms.iter().collect(),
        health_monitors: vec![&h],
        l7policies: vec![],
    };
    let tree = serde_json::to_value(StatusTree::build(&lb, &graph)).unwrap();
    // `openstack loadbalancer status show lbaas`, as the peer printed it.
    let peer = json!({"statuses": {"loadbalancer": {
        "id": LB_ID, "name": "lbaas", "operating_status": "OFFLINE", "provisioning_status": "ACTIVE",
        "listeners": [{
            "id": LISTENER_ID, "name": "lbaas-listener", "operating_status": "OFFLINE", "provisioning_status": "ACTIVE",
            "pools": [{
                "id": POOL_ID, "name": "lbaas-pool", "provisioning_status": "ACTIVE", "operating_status": "OFFLINE",
                "health_monitor": {"id": HM_ID, "name": "lbaas-hm", "type": "HTTP", "provisioning_status": "ACTIVE", "operating_status": "ONLINE"},
                "members": [
                    {"id": "56171891-b81f-487f-8ff4-50a1bd10d7d6", "name": "member-1", "operating_status": "OFFLINE", "provisioning_status": "ACTIVE", "address": "172.24.0.10", "protocol_port": 8080},
                    {"id": "e5a38dde-b162-4963-be68-73f3ca430e8c", "name": "member-2", "operating_status": "OFFLINE", "provisioning_status": "ACTIVE", "address": "172.24.0.11", "protocol_port": 8080}
                ]
            }]
        }]
    }}});
    assert_eq!(tree, peer);
    // Same key order as upstream, too.
    assert_eq!(tree.to_string(), peer.to_string());
}

#[test]
fn status_tree_pools_only_under_listeners_once() {
    let (lb, l, p) = (lb(), listener(), pool(None));
    let mut redirect = pool(None);
    redirect.id = "r-pool".into();
    let mut orphan = pool(None);
    orphan.id = "orphan".into();
    let policy = |id: &str, position: i64, target: &str| L7Policy {
        created_at: "2026-11-22T01:57:19".into(),
        ..sample::l7policy(id, PROJECT, LISTENER_ID, Some(target), position)
    };
    let (a, b) = (policy("a", 2, POOL_ID), policy("b", 1, "r-pool"));
    let graph = LbGraph {
        listeners: vec![&l],
        pools: vec![&orphan, &redirect, &p],
        members: vec![],
        health_monitors: vec![],
        l7policies: vec![&a, &b],
    };
    let tree = serde_json::to_value(StatusTree::build(&lb, &graph)).unwrap();
    let pools = &tree["statuses"]["loadbalancer"]["listeners"][0]["pools"];
    let ids: Vec<&str> = pools
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [POOL_ID, "r-pool"],
        "default pool first, then redirects, each once"
    );
    assert!(
        pools[0].get("health_monitor").is_none(),
        "no monitor, no key"
    );
}

#[test]
fn quota_renders_both_spellings() {
    let defaults = Quota {
        member: Some(50),
        ..Quota::default()
    };
    let q = Quota {
        load_balancer: Some(5),
        health_monitor: Some(3),
        ..Quota::default()
    };
    assert_eq!(
        render::quota(Some("p1"), &q, &defaults),
        json!({"project_id": "p1", "loadbalancer": 5, "load_balancer": 5, "listener": -1,
               "member": 50, "pool": -1, "healthmonitor": 3, "health_monitor": 3,
               "l7policy": -1, "l7rule": -1, "tenant_id": "p1"})
    );
}
