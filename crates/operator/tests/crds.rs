//! The generated CRDs against infra-operator's (tests/fixtures/upstream-crds):
//! the same resources, and every spec and status property under the same
//! name and type, so YAML written for upstream applies to either.

use serde_json::Value;

fn upstream(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/upstream-crds/network.openstack.org_{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("upstream CRD");
    serde_saphyr::from_str(&text).expect("upstream CRD parses")
}

fn ours() -> Vec<Value> {
    neutrino_operator::crds()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect()
}

/// Differences between two schemas' property trees: names and types. A
/// node we keep free-form (`x-kubernetes-preserve-unknown-fields`) accepts
/// whatever upstream's defines below it.
fn compare(ours: &Value, theirs: &Value, path: &str, diffs: &mut Vec<String>) {
    if ours["type"] != theirs["type"] {
        diffs.push(format!(
            "{path}: type {} here, {} upstream",
            ours["type"], theirs["type"]
        ));
    }
    if ours["x-kubernetes-preserve-unknown-fields"] == true {
        return;
    }
    let keys = |v: &Value| -> Vec<String> {
        v["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (mine, up) = (keys(ours), keys(theirs));
    for k in &up {
        if !mine.contains(k) {
            diffs.push(format!("{path}.{k}: missing here"));
        }
    }
    for k in &mine {
        if !up.contains(k) {
            diffs.push(format!("{path}.{k}: not upstream"));
        } else {
            compare(
                &ours["properties"][k],
                &theirs["properties"][k],
                &format!("{path}.{k}"),
                diffs,
            );
        }
    }
    for (key, mark) in [("items", "[]"), ("additionalProperties", "{}")] {
        match (ours.get(key), theirs.get(key)) {
            (Some(o), Some(t)) => compare(o, t, &format!("{path}{mark}"), diffs),
            (None, None) => {}
            _ => diffs.push(format!("{path}: {key} on one side only")),
        }
    }
}

#[test]
fn crds_match_upstream_names_scope_and_properties() {
    let ours = ours();
    let plurals = [
        "netconfigs",
        "reservations",
        "ipsets",
        "dnsmasqs",
        "dnsdata",
    ];
    assert_eq!(ours.len(), plurals.len());
    let mut diffs = Vec::new();
    for (mine, plural) in ours.iter().zip(plurals) {
        let theirs = upstream(plural);
        let name = format!("{plural}.network.openstack.org");
        assert_eq!(mine["apiVersion"], "apiextensions.k8s.io/v1");
        assert_eq!(mine["kind"], "CustomResourceDefinition");
        assert_eq!(mine["metadata"]["name"], name);
        assert_eq!(theirs["metadata"]["name"], name);
        assert_eq!(mine["spec"]["group"], theirs["spec"]["group"]);
        assert_eq!(mine["spec"]["scope"], theirs["spec"]["scope"], "{name}");
        assert_eq!(mine["spec"]["names"], theirs["spec"]["names"], "{name}");
        let (mv, tv) = (&mine["spec"]["versions"], &theirs["spec"]["versions"]);
        assert_eq!(mv.as_array().unwrap().len(), 1);
        for field in ["name", "served", "storage", "subresources"] {
            assert_eq!(mv[0][field], tv[0][field], "{name}: {field}");
        }
        assert_eq!(mv[0]["name"], "v1beta1");
        let (ms, ts) = (
            &mv[0]["schema"]["openAPIV3Schema"]["properties"],
            &tv[0]["schema"]["openAPIV3Schema"]["properties"],
        );
        for part in ["spec", "status"] {
            assert!(ms.get(part).is_some(), "{name}: no {part} here");
            compare(
                &ms[part],
                &ts[part],
                &format!("{plural}.{part}"),
                &mut diffs,
            );
        }
        // Printer columns: kubectl shows the same table.
        let cols = |v: &Value| -> Vec<(Value, Value)> {
            v["additionalPrinterColumns"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| (c["name"].clone(), c["jsonPath"].clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        // Upstream's IPSet column reads `.status.reservation`, a field
        // that does not exist (always empty); ours reads `reservations`.
        if plural != "ipsets" {
            assert_eq!(cols(&mv[0]), cols(&tv[0]), "{name}: printer columns");
        }
    }
    assert!(diffs.is_empty(), "schemas differ:\n{}", diffs.join("\n"));
}

#[test]
fn spec_fields_keep_upstream_defaults_and_requirements() {
    let ours = ours();
    let schema = |plural: &str| -> Value {
        let crd = ours
            .iter()
            .find(|c| c["spec"]["names"]["plural"] == plural)
            .unwrap();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
    };
    let nc = schema("netconfigs");
    let net = &nc["properties"]["networks"]["items"];
    assert_eq!(net["properties"]["mtu"]["default"], 1500);
    let mut req: Vec<&str> = net["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    req.sort();
    assert_eq!(req, ["dnsDomain", "name", "subnets"]);
    let ipset = schema("ipsets");
    assert_eq!(ipset["properties"]["immutable"]["default"], false);
    assert_eq!(ipset["required"], serde_json::json!(["networks"]));
    let masq = schema("dnsmasqs");
    assert_eq!(
        masq["properties"]["dnsDataLabelSelectorValue"]["default"],
        "dnsdata"
    );
    let keys = &masq["properties"]["options"]["items"]["properties"]["key"]["enum"];
    assert!(
        keys.as_array().unwrap().contains(&"rev-server".into()),
        "{keys}"
    );
    // Structural schemas: Kubernetes refuses `additionalProperties: false`
    // next to `properties` (our specs reject unknown fields in serde).
    assert!(
        !serde_json::to_string(&ours)
            .unwrap()
            .contains("\"additionalProperties\":false")
    );
}

#[test]
fn crds_yaml_is_one_document_per_crd() {
    let text = neutrino_operator::crds_yaml();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    assert_eq!(docs.len(), 5);
    assert_eq!(docs[2]["spec"]["names"]["kind"], "IPSet");
    assert_eq!(docs, ours());
}
