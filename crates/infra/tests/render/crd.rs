//! The upstream CRD schemas (`../shared/crds`, byte-for-byte copies) as
//! JSON Schema validators, and every rendered document checked with them.

use std::collections::BTreeMap;

use neutrino_infra::meta::{check_namespace, check_object_name};
use neutrino_testkit::workspace_root;
use serde_json::{Value, json};

use crate::support::{netconfig, nodes, render_ok};

/// Kubernetes drops fields a structural schema does not declare, so a
/// misspelt rendered field would vanish silently. The check rejects them
/// instead: `additionalProperties: false` on every object schema that
/// declares properties and does not keep unknown fields. The
/// `x-kubernetes-*` keywords are otherwise left for the validator to
/// ignore (preserve-unknown-fields objects declare nothing to check).
fn strict(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    if obj.contains_key("properties") && !obj.contains_key("additionalProperties") && !preserve {
        obj.insert("additionalProperties".into(), json!(false));
    }
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(props)) = obj.get_mut(key) {
            props.values_mut().for_each(strict);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(v) = obj.get_mut(key) {
            strict(v);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = obj.get_mut(key) {
            list.iter_mut().for_each(strict);
        }
    }
}

pub struct Schemas {
    /// (apiVersion, kind) of every served version.
    validators: BTreeMap<(String, String), jsonschema::Validator>,
}

impl Schemas {
    pub fn load() -> Schemas {
        let dir = workspace_root().join("../shared/crds");
        let mut validators = BTreeMap::new();
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("the upstream CRDs in {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("CRD file");
            let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for crd in docs
                .iter()
                .filter(|d| d["kind"] == "CustomResourceDefinition")
            {
                let group = crd["spec"]["group"].as_str().expect("group");
                let kind = crd["spec"]["names"]["kind"].as_str().expect("kind");
                for v in crd["spec"]["versions"].as_array().expect("versions") {
                    if v["served"] != json!(true) {
                        continue;
                    }
                    let mut schema = v["schema"]["openAPIV3Schema"].clone();
                    assert!(schema.is_object(), "{}: no schema", path.display());
                    // The API server accepts these on every object, declared
                    // or not (the NAD schema declares only `spec`).
                    let props = schema
                        .as_object_mut()
                        .unwrap()
                        .entry("properties")
                        .or_insert_with(|| json!({}));
                    for (k, t) in [
                        ("apiVersion", "string"),
                        ("kind", "string"),
                        ("metadata", "object"),
                    ] {
                        props
                            .as_object_mut()
                            .unwrap()
                            .entry(k)
                            .or_insert_with(|| json!({"type": t}));
                    }
                    strict(&mut schema);
                    // OpenAPI v3.0 schemas are JSON Schema draft 4 in shape.
                    let validator = jsonschema::draft4::new(&schema)
                        .unwrap_or_else(|e| panic!("{} {kind}: {e}", path.display()));
                    let api_version = format!("{group}/{}", v["name"].as_str().expect("name"));
                    validators.insert((api_version, kind.to_string()), validator);
                }
            }
        }
        Schemas { validators }
    }

    /// Whether a schema for the document's apiVersion and kind exists.
    pub fn knows(&self, doc: &Value) -> bool {
        self.validators.contains_key(&key(doc))
    }

    /// The schema's complaints about a document, plus the name and
    /// namespace rules the API server checks outside the schema.
    pub fn check(&self, doc: &Value) -> Vec<String> {
        let Some(v) = self.validators.get(&key(doc)) else {
            return vec![format!("no CRD for {:?}", key(doc))];
        };
        let mut errs: Vec<String> = v
            .iter_errors(doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if let Err(e) = check_object_name(doc["metadata"]["name"].as_str().unwrap_or_default()) {
            errs.push(format!("metadata.name: {e}"));
        }
        if let Some(ns) = doc["metadata"]["namespace"].as_str()
            && let Err(e) = check_namespace(ns)
        {
            errs.push(format!("metadata.namespace: {e}"));
        }
        errs
    }
}

fn key(doc: &Value) -> (String, String) {
    (
        doc["apiVersion"].as_str().unwrap_or_default().to_string(),
        doc["kind"].as_str().unwrap_or_default().to_string(),
    )
}

/// Every document rendered for every input the tests use: the upstream
/// schemas accept each; only the OpenStackControlPlane patch has none to
/// check against (its CRD is not among the copies), so its shape is
/// checked in `docs`.
#[test]
fn every_rendered_document_validates_against_the_upstream_crds() {
    let schemas = Schemas::load();
    for kind in [
        "NodeNetworkConfigurationPolicy",
        "NetworkAttachmentDefinition",
        "IPAddressPool",
        "L2Advertisement",
    ] {
        assert!(
            schemas.validators.keys().any(|(_, k)| k == kind),
            "no CRD for {kind}"
        );
    }
    let mut inputs = vec![
        render_ok(
            &netconfig("render/doc000-netconfig.yaml"),
            &nodes("render/doc000-nodes.yaml"),
        ),
        render_ok(
            &netconfig("render/doc001-netconfig.yaml"),
            &nodes("render/doc001-nodes.yaml"),
        ),
    ];
    // Both documents at once, and document 001's NetConfig example with
    // its IPSet's addresses (MTU 9000 on Tenant: explicit MTUs).
    let mut both = netconfig("render/doc001-netconfig.yaml");
    both.networks
        .extend(netconfig("render/doc000-netconfig.yaml").networks);
    let mut both_nodes = nodes("render/doc001-nodes.yaml");
    both_nodes
        .networks
        .extend(nodes("render/doc000-nodes.yaml").networks);
    inputs.push(render_ok(&both, &both_nodes));
    inputs.push(crate::docs::render_doc001_example_with_ipset());

    let mut checked = 0;
    for rendered in &inputs {
        for doc in &rendered.documents {
            if doc["kind"] == "OpenStackControlPlane" {
                assert!(!schemas.knows(doc));
                continue;
            }
            let errs = schemas.check(doc);
            assert!(errs.is_empty(), "{errs:#?}\n{doc:#}");
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} documents checked");
}

/// The check can fail: documents the schemas must refuse.
#[test]
fn the_schema_check_rejects_broken_documents() {
    let schemas = Schemas::load();
    let rendered = render_ok(
        &netconfig("render/doc001-netconfig.yaml"),
        &nodes("render/doc001-nodes.yaml"),
    );
    let docs = &rendered.documents;
    let of = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap().clone();

    let mut policy = of("NodeNetworkConfigurationPolicy");
    assert!(schemas.check(&policy).is_empty());
    policy["spec"]["nodeSelector"]["node-role.kubernetes.io/worker"] = json!(true);
    let errs = schemas.check(&policy);
    assert!(
        errs.iter().any(|e| e.contains("/spec/nodeSelector")),
        "{errs:?}"
    );
    let mut policy = of("NodeNetworkConfigurationPolicy");
    policy["spec"]["desiredstate"] = policy["spec"]["desiredState"].take();
    assert!(!schemas.check(&policy).is_empty(), "an unknown field");

    let mut nad = of("NetworkAttachmentDefinition");
    nad["spec"]["config"] = json!({"cniVersion": "0.3.1"});
    assert!(!schemas.check(&nad).is_empty(), "config must be a string");

    let mut pool = of("IPAddressPool");
    pool["spec"]["addresses"] = json!("172.17.0.80-172.17.0.90");
    assert!(!schemas.check(&pool).is_empty(), "addresses is a list");
    let mut pool = of("IPAddressPool");
    pool["spec"]["adresses"] = pool["spec"]["addresses"].take();
    assert!(!schemas.check(&pool).is_empty(), "a misspelt field");

    let mut adv = of("L2Advertisement");
    adv["spec"]["interfaces"] = json!([1]);
    assert!(!schemas.check(&adv).is_empty());
    let mut adv = of("L2Advertisement");
    adv["metadata"]["name"] = json!("L2_Advertisement");
    assert!(!schemas.check(&adv).is_empty(), "not a Kubernetes name");

    let unknown =
        json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"}});
    assert!(!schemas.check(&unknown).is_empty());
}
