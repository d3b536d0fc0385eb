//! Documents 000 and 001: given their inputs, the rendered manifests are
//! the documents' examples, field for field.

use std::collections::BTreeMap;

use neutrino_infra::render::Rendered;
use neutrino_infra::resources::IPAddress;
use serde_json::{Value, json};

use crate::support::{find, fixture, netconfig, nodes, parsed_nad, render_ok, try_render};

fn kinds(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn document_000_octavia_network_matches_the_document() {
    let expected = fixture("render/doc000-expected.yaml");
    let r = render_ok(
        &netconfig("render/doc000-netconfig.yaml"),
        &nodes("render/doc000-nodes.yaml"),
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        kinds(&r.documents),
        [
            "NodeNetworkConfigurationPolicy/worker-0",
            "NodeNetworkConfigurationPolicy/worker-1",
            "NodeNetworkConfigurationPolicy/worker-2",
            "NetworkAttachmentDefinition/octavia",
            "OpenStackControlPlane/controlplane",
        ]
    );
    // The VLAN interface and the octbr bridge on every node, as the
    // document's patch adds them.
    for n in 0..3 {
        let policy = find(
            &r.documents,
            "NodeNetworkConfigurationPolicy",
            &format!("worker-{n}"),
        );
        assert_eq!(policy["apiVersion"], "nmstate.io/v1");
        assert_eq!(
            policy["spec"]["desiredState"]["interfaces"],
            expected[0]["spec"]["desiredState"]["interfaces"],
            "{policy:#}"
        );
        assert_eq!(
            policy["spec"]["nodeSelector"],
            json!({"kubernetes.io/hostname": format!("worker-{n}")})
        );
    }
    // The attachment, config compared as JSON.
    let nad = find(&r.documents, "NetworkAttachmentDefinition", "octavia");
    assert_eq!(parsed_nad(nad), parsed_nad(&expected[1]));
    // The control-plane patch.
    let cp = find(&r.documents, "OpenStackControlPlane", "controlplane");
    assert_eq!(cp["apiVersion"], "core.openstack.org/v1beta1");
    assert_eq!(
        cp["metadata"],
        json!({"name": "controlplane", "namespace": "openstack"})
    );
    assert_eq!(cp["spec"], expected[2]["spec"]);

    // Naming the network in an `octavia` section gives the same documents.
    let mut d = nodes("render/doc000-nodes.yaml");
    d.octavia = Some(serde_json::from_value(json!({"network": "octavia"})).unwrap());
    let again = render_ok(&netconfig("render/doc000-netconfig.yaml"), &d);
    assert_eq!(again.documents, r.documents);
}

/// An Octavia network under another name: its attachment keeps the name,
/// and the patch tells octavia-operator which attachment to read. OVN's
/// physical network stays `octavia` (the operator's provider network).
#[test]
fn octavia_network_under_another_name() {
    let mut nc = netconfig("render/doc000-netconfig.yaml");
    nc.networks[0].name = "LbMgmt".into();
    nc.networks[0].service_network = Some("lbmgmt".into());
    let d: neutrino_infra::render::NodeDescription = serde_json::from_value(json!({
        "baseInterface": "enp6s0",
        "nodes": [{"name": "worker-0"}],
        "networks": {"LbMgmt": {"range": "172.23.0.30-172.23.0.70"}},
        "octavia": {"network": "lbmgmt", "bridge": "lbbr", "controlPlane": "cp"}
    }))
    .unwrap();
    let r = render_ok(&nc, &d);
    let policy = find(&r.documents, "NodeNetworkConfigurationPolicy", "worker-0");
    assert_eq!(
        policy["spec"]["desiredState"]["interfaces"][1]["name"],
        "lbbr"
    );
    let nad = parsed_nad(find(&r.documents, "NetworkAttachmentDefinition", "lbmgmt"));
    assert_eq!(nad["spec"]["config"]["bridge"], "lbbr");
    assert_eq!(nad["spec"]["config"]["name"], "lbmgmt");
    let cp = find(&r.documents, "OpenStackControlPlane", "cp");
    assert_eq!(
        cp["spec"]["ovn"]["template"]["ovnController"]["nicMappings"],
        json!({"octavia": "lbbr"})
    );
    let t = &cp["spec"]["octavia"]["template"];
    assert_eq!(t["octaviaNetworkAttachment"], "lbmgmt");
    assert_eq!(t["octaviaWorker"]["networkAttachments"], json!(["lbmgmt"]));
}

#[test]
fn document_001_policy_attachments_and_pool_match_the_document() {
    let expected = fixture("render/doc001-expected.yaml");
    let r = render_ok(
        &netconfig("render/doc001-netconfig.yaml"),
        &nodes("render/doc001-nodes.yaml"),
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        kinds(&r.documents),
        [
            "NodeNetworkConfigurationPolicy/osp",
            "NetworkAttachmentDefinition/internalapi",
            "NetworkAttachmentDefinition/storage",
            "NetworkAttachmentDefinition/tenant",
            "IPAddressPool/internalapi",
            "L2Advertisement/internalapi",
        ]
    );
    assert_eq!(r.documents[0], expected[0], "{:#}", r.documents[0]);

    // The attachments: the document's, plus the network label every
    // rendered attachment carries (document 000's has it).
    for (i, name) in [(1, "internalapi"), (2, "storage")] {
        let mut want = expected[i].clone();
        want["metadata"]["labels"] = json!({"osp/net": name});
        assert_eq!(
            parsed_nad(find(&r.documents, "NetworkAttachmentDefinition", name)),
            parsed_nad(&want)
        );
    }
    let tenant = parsed_nad(find(&r.documents, "NetworkAttachmentDefinition", "tenant"));
    assert_eq!(tenant["spec"]["config"]["master"], "enp6s0.22");
    assert_eq!(tenant["spec"]["config"]["ipam"]["range_end"], "172.19.0.70");

    assert_eq!(
        find(&r.documents, "IPAddressPool", "internalapi"),
        &expected[3]
    );
    // The advertisement: the document's, named after its pool (there is one
    // per pool, so that each network's VIPs stay on its VLAN).
    let adv = find(&r.documents, "L2Advertisement", "internalapi");
    let mut want = expected[4].clone();
    want["metadata"]["name"] = json!("internalapi");
    assert_eq!(adv, &want);
}

#[test]
fn documents_000_and_001_together() {
    let one = fixture("render/doc001-expected.yaml");
    let zero = fixture("render/doc000-expected.yaml");
    let mut nc = netconfig("render/doc001-netconfig.yaml");
    nc.networks
        .extend(netconfig("render/doc000-netconfig.yaml").networks);
    let mut d = nodes("render/doc001-nodes.yaml");
    d.networks
        .extend(nodes("render/doc000-nodes.yaml").networks);
    let r = render_ok(&nc, &d);
    let policy = find(&r.documents, "NodeNetworkConfigurationPolicy", "osp");
    let mut want: Vec<Value> = one[0]["spec"]["desiredState"]["interfaces"]
        .as_array()
        .unwrap()
        .clone();
    want.extend(
        zero[0]["spec"]["desiredState"]["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .cloned(),
    );
    assert_eq!(policy["spec"]["desiredState"]["interfaces"], json!(want));
    assert_eq!(
        parsed_nad(find(&r.documents, "NetworkAttachmentDefinition", "octavia")),
        parsed_nad(&zero[1])
    );
    assert_eq!(r.documents.last().unwrap()["kind"], "OpenStackControlPlane");
}

/// The reserved addresses of document 001's IPSet example, by IPSet name.
pub fn doc001_ipset_reservations() -> BTreeMap<String, Vec<IPAddress>> {
    let set = fixture("doc001.yaml").remove(1);
    let entries = set["status"]["reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| IPAddress {
            address: r["address"].as_str().unwrap().into(),
            network: r["network"].as_str().unwrap().into(),
            subnet: r["subnet"].as_str().unwrap().into(),
        })
        .collect();
    BTreeMap::from([("edpm-compute-0".to_string(), entries)])
}

/// Document 001's NetConfig example for a node holding its IPSet's
/// addresses.
pub fn render_doc001_example_with_ipset() -> Rendered {
    let d = serde_json::from_value(json!({
        "baseInterface": "enp6s0",
        "nodes": [{"name": "edpm-compute-0"}],
        "networks": {"InternalApi": {"metallb": ["172.17.0.16/28"]}},
    }))
    .unwrap();
    try_render(&netconfig("doc001.yaml"), &d, &doc001_ipset_reservations()).unwrap()
}

#[test]
fn reserved_addresses_go_on_their_interfaces() {
    let r = render_doc001_example_with_ipset();
    let policy = find(
        &r.documents,
        "NodeNetworkConfigurationPolicy",
        "edpm-compute-0",
    );
    let ifaces = policy["spec"]["desiredState"]["interfaces"]
        .as_array()
        .unwrap();
    let by_name: BTreeMap<&str, &Value> = ifaces
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i))
        .collect();
    let names: Vec<&str> = ifaces.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["enp6s0.20", "enp6s0.30", "enp6s0.40", "enp6s0.50", "enp6s0"]
    );
    assert_eq!(
        by_name["enp6s0.20"]["ipv4"],
        json!({"address": [{"ip": "172.17.0.150", "prefix-length": 24}], "enabled": true})
    );
    assert_eq!(
        by_name["enp6s0.40"]["ipv4"],
        json!({"enabled": false}),
        "StorageMgmt: no address"
    );
    // Tenant's MTU 9000 raises the base; every VLAN interface then says its own.
    assert_eq!(by_name["enp6s0.50"]["mtu"], 9000);
    assert_eq!(by_name["enp6s0.20"]["mtu"], 1500);
    let base = by_name["enp6s0"];
    assert_eq!(base["mtu"], 9000);
    assert_eq!(base["type"], "ethernet");
    // CtlPlane and External are both untagged.
    assert_eq!(
        base["ipv4"]["address"],
        json!([{"ip": "192.168.122.100", "prefix-length": 24}, {"ip": "10.0.0.10", "prefix-length": 24}])
    );
    // A pool given as a CIDR.
    let adv = find(&r.documents, "L2Advertisement", "internalapi");
    assert_eq!(adv["spec"]["interfaces"], json!(["enp6s0.20"]));
    // The pool shares addresses with the NetConfig's allocation range.
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("networks.InternalApi.metallb[0]")
                && w.contains("spec.networks[1].subnets[0].allocationRanges[0]")),
        "{:?}",
        r.warnings
    );

    // The node description's addresses replace the IPSet's on a network.
    let d = serde_json::from_value(json!({
        "baseInterface": "enp6s0",
        "nodes": [{"name": "edpm-compute-0", "addresses": {"ctlplane": "192.168.122.10"}}],
    }))
    .unwrap();
    let r = try_render(&netconfig("doc001.yaml"), &d, &doc001_ipset_reservations()).unwrap();
    let ifaces = &r.documents[0]["spec"]["desiredState"]["interfaces"];
    let base = ifaces.as_array().unwrap().last().unwrap();
    assert_eq!(
        base["ipv4"]["address"],
        json!([{"ip": "192.168.122.10", "prefix-length": 24}, {"ip": "10.0.0.10", "prefix-length": 24}])
    );
}

#[test]
fn nodes_without_addresses_leave_the_base_interface_alone() {
    let d = serde_json::from_value(json!({
        "baseInterface": "enp6s0",
        "nodeSelector": {"node-role.kubernetes.io/worker": ""},
        "nodes": [{"name": "worker-0"}],
    }))
    .unwrap();
    let r = render_ok(&netconfig("render/doc001-netconfig.yaml"), &d);
    assert_eq!(r.documents.len(), 1, "no ranges, no pools: only the policy");
    let policy = &r.documents[0];
    let names: Vec<&str> = policy["spec"]["desiredState"]["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["enp6s0.20", "enp6s0.21", "enp6s0.22"]);
    assert_eq!(
        policy["spec"]["nodeSelector"],
        json!({"kubernetes.io/hostname": "worker-0", "node-role.kubernetes.io/worker": ""})
    );
}
