//! Bad node descriptions: each error names its field.

use std::collections::BTreeMap;

use neutrino_infra::render::{NodeDescription, RenderError};
use neutrino_infra::resources::NetConfigSpec;
use serde_json::{Value, json};

use crate::support::{netconfig, try_render};

fn render_err(nc: &NetConfigSpec, d: Value) -> String {
    let d = match NodeDescription::from_value(d) {
        Ok(d) => d,
        Err(e) => return e.to_string(),
    };
    match try_render(nc, &d, &BTreeMap::new()) {
        Ok(r) => panic!("rendered: {:#?}", r.documents),
        Err(e) => e.to_string(),
    }
}

fn doc001() -> NetConfigSpec {
    netconfig("render/doc001-netconfig.yaml")
}

fn with(extra: Value) -> Value {
    let mut d = json!({"baseInterface": "enp6s0", "nodes": [{"name": "worker-0"}]});
    for (k, v) in extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    d
}

#[track_caller]
fn assert_names(err: &str, fields: &[&str]) {
    assert!(err.starts_with("the node description is invalid:"), "{err}");
    for f in fields {
        assert!(err.contains(&format!("\n  {f}: ")), "{f} not in: {err}");
    }
}

#[test]
fn unknown_networks_are_named() {
    let e = render_err(
        &doc001(),
        with(json!({"networks": {"nope": {"range": "10.0.0.1-10.0.0.2"}}})),
    );
    assert_names(&e, &["networks.nope"]);
    assert!(e.contains("Not found: \"nope\""), "{e}");
    let e = render_err(
        &doc001(),
        with(json!({"nodes": [{"name": "worker-0", "addresses": {"external": "10.0.0.5"}}]})),
    );
    assert_names(&e, &["nodes[0].addresses.external"]);
    let e = render_err(&doc001(), with(json!({"octavia": {"network": "lbmgmt"}})));
    assert_names(&e, &["octavia.network"]);
}

#[test]
fn bad_values_are_named() {
    let e = render_err(
        &doc001(),
        json!({
            "baseInterface": "enp6s0",
            "nodeSelector": {"bad key!": "x"},
            "nodes": [
                {"name": "Worker_0", "addresses": {"ctlplane": "10.1.1.1"}},
                {"name": "w1", "addresses": {"ctlplane": "192.168.122.10/24"}, "ipSet": "missing"},
                {"name": "w1"},
            ],
            "networks": {
                "internalapi": {"range": "172.17.0.70-172.17.0.30", "metallb": ["172.17.1.0/24"]},
                "storage": {"range": "172.18.0.0-172.18.0.10"},
                "tenant": {"range": "172.19.0.30-172.19.0.70", "metallb": ["172.19.0.60-172.19.0.80"]},
            }
        }),
    );
    assert_names(
        &e,
        &[
            "nodeSelector[bad key!]",
            "nodes[0].name",
            "nodes[0].addresses.ctlplane",
            "nodes[1].addresses.ctlplane",
            "nodes[1].ipSet",
            "nodes[2].name",
            "networks.internalapi.range",
            "networks.internalapi.metallb[0]",
            "networks.storage.range",
            "networks.tenant.metallb[0]",
        ],
    );
    assert!(e.contains("start is after end"), "{e}");
    assert!(e.contains("contains the network address 172.18.0.0"), "{e}");
    assert!(e.contains("overlaps networks.tenant.range"), "{e}");
    assert!(e.contains("Duplicate value"), "{e}");

    let e = render_err(
        &doc001(),
        json!({"baseInterface": "enp175s0f0np0", "nodes": [{"name": "a"}]}),
    );
    assert_names(&e, &["baseInterface"]);
    assert!(e.contains("would be longer than 15 characters"), "{e}");
    let e = render_err(&doc001(), json!({"baseInterface": "enp6s0", "nodes": []}));
    assert_names(&e, &["nodes"]);
    let e = render_err(
        &doc001(),
        json!({"baseInterface": "enp6s0", "nodes": [{"name": "a", "ipset": "x"}]}),
    );
    assert_names(&e, &["nodes[0].ipset"]);
}

#[test]
fn the_octavia_network_needs_a_vlan_a_range_and_room() {
    let nc = netconfig("render/doc000-netconfig.yaml");
    let e = render_err(&nc, with(json!({})));
    assert_names(&e, &["networks.octavia.range"]);

    let mut untagged = nc.clone();
    untagged.networks[0].subnets[0].vlan = None;
    let e = render_err(
        &untagged,
        with(json!({"networks": {"octavia": {"range": "172.23.0.30-172.23.0.70"}}})),
    );
    assert_names(&e, &["spec.networks[0].name"]);
    assert!(e.contains("needs a VLAN"), "{e}");

    // octavia-operator's pools after range_end: .211-.262 do not fit.
    let e = render_err(
        &nc,
        with(json!({"networks": {"octavia": {"range": "172.23.0.160-172.23.0.210"}}})),
    );
    assert_names(&e, &["networks.octavia.range"]);
    assert!(e.contains("(172.23.0.211-172.23.1.6)"), "{e}");
    // The link router (.150) inside the pools after .120: .121-.172.
    let e = render_err(
        &nc,
        with(json!({"networks": {"octavia": {"range": "172.23.0.30-172.23.0.120"}}})),
    );
    assert_names(&e, &["spec.networks[0].subnets[0].routes[0].nexthop"]);

    // Sharing its VLAN with another network.
    let mut shared = doc001();
    shared.networks.extend(nc.networks.clone());
    shared.networks[4].subnets[0].vlan = Some(20);
    let e = render_err(
        &shared,
        with(json!({"networks": {"octavia": {"range": "172.23.0.30-172.23.0.70"}}})),
    );
    assert!(e.contains("VLAN 20 is also network internalapi's"), "{e}");

    // Without routes it renders, with a warning.
    let mut no_routes = nc.clone();
    no_routes.networks[0].subnets[0].routes.clear();
    let d = NodeDescription::from_value(with(
        json!({"networks": {"octavia": {"range": "172.23.0.30-172.23.0.70"}}}),
    ))
    .unwrap();
    let r = try_render(&no_routes, &d, &BTreeMap::new()).unwrap();
    assert!(
        r.warnings.iter().any(|w| w.contains("routes is empty")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn an_invalid_netconfig_is_refused_with_its_fields() {
    let mut nc = doc001();
    nc.networks[1].subnets[0].cidr = "172.17.0.0/33".into();
    let d = NodeDescription::from_value(with(json!({}))).unwrap();
    let e = try_render(&nc, &d, &BTreeMap::new()).unwrap_err();
    assert!(matches!(e, RenderError::NetConfig(_)));
    assert!(
        e.to_string().contains("spec.networks[1].subnets[0].cidr"),
        "{e}"
    );
}
