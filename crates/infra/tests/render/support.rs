//! Fixtures and a rendering shortcut.

#![allow(dead_code)]

use std::collections::BTreeMap;

use neutrino_infra::render::{self, NodeDescription, RenderError, RenderInput, Rendered};
use neutrino_infra::resources::{IPAddress, NetConfigSpec, Spec};
use neutrino_testkit::workspace_root;
use serde_json::Value;

pub fn fixture(name: &str) -> Vec<Value> {
    let path = workspace_root()
        .join("crates/infra/tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// The spec of the first NetConfig of a fixture, defaulted.
pub fn netconfig(name: &str) -> NetConfigSpec {
    let doc = fixture(name)
        .into_iter()
        .find(|d| d["kind"] == "NetConfig")
        .expect("a NetConfig");
    let mut spec: NetConfigSpec =
        serde_json::from_value(doc["spec"].clone()).expect("NetConfig spec");
    spec.apply_defaults("openstack");
    spec
}

pub fn nodes(name: &str) -> NodeDescription {
    NodeDescription::from_value(fixture(name).remove(0)).expect("node description")
}

pub fn try_render(
    nc: &NetConfigSpec,
    nodes: &NodeDescription,
    reservations: &BTreeMap<String, Vec<IPAddress>>,
) -> Result<Rendered, RenderError> {
    render::render(&RenderInput {
        netconfig: nc,
        nodes,
        namespace: "openstack",
        reservations,
    })
}

pub fn render_ok(nc: &NetConfigSpec, nodes: &NodeDescription) -> Rendered {
    try_render(nc, nodes, &BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {docs:#?}"))
}

/// A NetworkAttachmentDefinition with its `config` string parsed, so two
/// compare as JSON rather than as text.
pub fn parsed_nad(doc: &Value) -> Value {
    let mut d = doc.clone();
    let text = d["spec"]["config"].as_str().expect("config is a string");
    d["spec"]["config"] = serde_json::from_str(text).expect("config is JSON");
    d
}
