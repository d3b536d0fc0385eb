//! The five resources as Kubernetes custom resources.
//!
//! Each spec is a transparent wrapper around the infra layer's own spec
//! type, so the wire format (field names, defaults, unknown fields
//! rejected) and the generated schema come from one definition, the one
//! the REST API uses. `Deref` makes `ipset.spec.networks` read as it would
//! on the inner type.

use std::ops::Deref;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::object::HasSpec;
use kube::{CustomResource, CustomResourceExt, Resource};
use neutrino_infra::meta::ObjectMeta as InfraMeta;
use neutrino_infra::resources::{self as r, Object, Spec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! deref_to_inner {
    ($($t:ident),*) => {$(
        impl Deref for $t {
            type Target = r::$t;
            fn deref(&self) -> &r::$t {
                &self.0
            }
        }
    )*};
}

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "network.openstack.org",
    version = "v1beta1",
    kind = "NetConfig",
    namespaced,
    status = "neutrino_infra::resources::NoStatus",
    shortname = "netcfg",
    shortname = "netscfg"
)]
#[serde(transparent)]
pub struct NetConfigSpec(pub r::NetConfigSpec);

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "network.openstack.org",
    version = "v1beta1",
    kind = "IPSet",
    namespaced,
    status = "neutrino_infra::resources::IPSetStatus",
    printcolumn = r#"{"name":"Ready","type":"string","description":"Ready","jsonPath":".status.conditions[0].status"}"#,
    printcolumn = r#"{"name":"Message","type":"string","description":"Message","jsonPath":".status.conditions[0].message"}"#,
    printcolumn = r#"{"name":"Reservation","type":"string","description":"Reservation","jsonPath":".status.reservations"}"#
)]
#[serde(transparent)]
pub struct IPSetSpec(pub r::IPSetSpec);

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "network.openstack.org",
    version = "v1beta1",
    kind = "Reservation",
    namespaced,
    status = "neutrino_infra::resources::NoStatus",
    printcolumn = r#"{"name":"Reservation","type":"string","description":"Reservation","jsonPath":".spec.reservation"}"#
)]
#[serde(transparent)]
pub struct ReservationSpec(pub r::ReservationSpec);

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "network.openstack.org",
    version = "v1beta1",
    kind = "DNSMasq",
    plural = "dnsmasqs",
    namespaced,
    status = "neutrino_infra::resources::DNSMasqStatus",
    printcolumn = r#"{"name":"Ready","type":"string","description":"Ready","jsonPath":".status.conditions[0].status"}"#,
    printcolumn = r#"{"name":"Message","type":"string","description":"Message","jsonPath":".status.conditions[0].message"}"#
)]
#[serde(transparent)]
pub struct DNSMasqSpec(pub r::DNSMasqSpec);

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "network.openstack.org",
    version = "v1beta1",
    kind = "DNSData",
    plural = "dnsdata",
    namespaced,
    status = "neutrino_infra::resources::DNSDataStatus",
    printcolumn = r#"{"name":"Ready","type":"string","description":"Ready","jsonPath":".status.conditions[0].status"}"#,
    printcolumn = r#"{"name":"Message","type":"string","description":"Message","jsonPath":".status.conditions[0].message"}"#
)]
#[serde(transparent)]
pub struct DNSDataSpec(pub r::DNSDataSpec);

deref_to_inner!(
    NetConfigSpec,
    IPSetSpec,
    ReservationSpec,
    DNSMasqSpec,
    DNSDataSpec
);

/// Every CRD, in the order a restore applies them upstream.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut all = vec![
        NetConfig::crd(),
        Reservation::crd(),
        IPSet::crd(),
        DNSMasq::crd(),
        DNSData::crd(),
    ];
    for crd in &mut all {
        // The API server would default it; upstream's CRDs spell it out.
        let names = &mut crd.spec.names;
        names.list_kind = Some(format!("{}List", names.kind));
    }
    all
}

/// The CRDs as one multi-document YAML stream, for `kubectl apply -f -`.
pub fn crds_yaml() -> String {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd).expect("a CRD serialises"));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The infra layer's view of an object's metadata: what its rules and the
/// DNS reconciler look at.
pub fn infra_meta<K: Resource>(obj: &K) -> InfraMeta {
    let m = obj.meta();
    InfraMeta {
        name: m.name.clone().unwrap_or_default(),
        namespace: m.namespace.clone().unwrap_or_default(),
        labels: m.labels.clone().unwrap_or_default(),
        annotations: m.annotations.clone().unwrap_or_default(),
        uid: m.uid.clone().unwrap_or_default(),
        generation: m.generation.unwrap_or_default(),
        resource_version: m.resource_version.clone().unwrap_or_default(),
        creation_timestamp: m.creation_timestamp.as_ref().map(|t| t.0.to_string()),
        owner_references: Vec::new(),
    }
}

/// A cluster object as the infra layer's [`Object`], with the defaults
/// upstream's defaulting webhooks would have filled in (operator mode has
/// no webhook, so they are applied in memory on every reconcile).
pub fn to_infra<K, S>(obj: &K, status: S::Status) -> Object<S, S::Status>
where
    K: Resource + HasSpec,
    K::Spec: Deref<Target = S>,
    S: Spec,
{
    let metadata = infra_meta(obj);
    let mut spec: S = (**obj.spec()).clone();
    spec.apply_defaults(&metadata.namespace);
    let mut o = Object::new(metadata, spec);
    o.status = status;
    o
}
