//! The five resources of `network.openstack.org/v1beta1`, with the field
//! names, defaults and optionality of the upstream CRDs.
//!
//! Specs reject unknown fields (a typo in a field name is an error, not a
//! silently dropped setting); metadata and status accept anything.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::meta::{API_VERSION, Condition, ObjectMeta};

/// A resource kind and its names in URLs and on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    NetConfig,
    IPSet,
    Reservation,
    DNSMasq,
    DNSData,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::NetConfig,
        Kind::IPSet,
        Kind::Reservation,
        Kind::DNSMasq,
        Kind::DNSData,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::NetConfig => "NetConfig",
            Kind::IPSet => "IPSet",
            Kind::Reservation => "Reservation",
            Kind::DNSMasq => "DNSMasq",
            Kind::DNSData => "DNSData",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::NetConfig => "netconfigs",
            Kind::IPSet => "ipsets",
            Kind::Reservation => "reservations",
            Kind::DNSMasq => "dnsmasqs",
            Kind::DNSData => "dnsdata",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Kind::NetConfig => "netconfig",
            Kind::IPSet => "ipset",
            Kind::Reservation => "reservation",
            Kind::DNSMasq => "dnsmasq",
            Kind::DNSData => "dnsdata",
        }
    }

    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Kind::NetConfig => &["netcfg", "netscfg"],
            _ => &[],
        }
    }

    /// `plural.group`, as Kubernetes names the resource in messages.
    pub fn qualified(self) -> String {
        format!("{}.{}", self.plural(), crate::meta::GROUP)
    }

    pub fn from_plural(p: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == p)
    }

    /// What a user may type for a kind, as kubectl accepts it: the kind,
    /// plural, singular or a short name, any case, optionally followed by
    /// `.network.openstack.org` (or `.v1beta1.network.openstack.org`).
    pub fn resolve(input: &str) -> Option<Kind> {
        let lower = input.to_ascii_lowercase();
        let base = lower
            .strip_suffix(".v1beta1.network.openstack.org")
            .or_else(|| lower.strip_suffix(".network.openstack.org"))
            .unwrap_or(&lower);
        Kind::ALL.into_iter().find(|k| {
            k.name().eq_ignore_ascii_case(base)
                || k.plural() == base
                || k.singular() == base
                || k.short_names().contains(&base)
        })
    }
}

/// Status of kinds that have none (`status: {}` upstream).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NoStatus {}

/// One object of any kind: `apiVersion`, `kind`, `metadata`, `spec`,
/// `status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S, T> {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: S,
    pub status: T,
}

/// A spec type, tying it to its kind and status type.
pub trait Spec: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static {
    type Status: Serialize + DeserializeOwned + Clone + Default + PartialEq + Send + Sync + 'static;
    const KIND: Kind;

    /// Fills in what the CRD's defaults and upstream's defaulting webhooks
    /// fill in, once the object's namespace is known.
    fn apply_defaults(&mut self, _namespace: &str) {}
}

impl<S: Spec> Object<S, S::Status> {
    pub fn new(metadata: ObjectMeta, spec: S) -> Self {
        Object {
            api_version: API_VERSION.to_string(),
            kind: S::KIND.name().to_string(),
            metadata,
            spec,
            status: S::Status::default(),
        }
    }
}

// ------------------------------------------------------------------ NetConfig

pub type NetConfig = Object<NetConfigSpec, NoStatus>;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetConfigSpec {
    pub networks: Vec<Network>,
}

fn default_mtu() -> i64 {
    1500
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Network {
    pub name: String,
    pub dns_domain: String,
    #[serde(default = "default_mtu")]
    pub mtu: i64,
    pub subnets: Vec<Subnet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_network: Option<String>,
}

impl Network {
    /// `serviceNetwork`, or what the defaulting webhook makes of the name.
    pub fn service_network(&self) -> String {
        self.service_network
            .clone()
            .unwrap_or_else(|| self.name.to_lowercase())
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subnet {
    pub name: String,
    pub cidr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<i64>,
    pub allocation_ranges: Vec<AllocationRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllocationRange {
    pub start: String,
    pub end: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    pub destination: String,
    pub nexthop: String,
}

impl Spec for NetConfigSpec {
    type Status = NoStatus;
    const KIND: Kind = Kind::NetConfig;

    fn apply_defaults(&mut self, _namespace: &str) {
        for n in &mut self.networks {
            if n.service_network.is_none() {
                n.service_network = Some(n.name.to_lowercase());
            }
        }
    }
}

impl NetConfigSpec {
    /// A network and subnet by name, matched case-insensitively as upstream
    /// does.
    pub fn find(&self, network: &str, subnet: &str) -> Option<(&Network, &Subnet)> {
        let n = self
            .networks
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(network))?;
        let s = n
            .subnets
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(subnet))?;
        Some((n, s))
    }

    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(name))
    }
}

// ------------------------------------------------------------------ IPSet

pub type IPSet = Object<IPSetSpec, IPSetStatus>;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IPSetSpec {
    #[serde(default)]
    pub immutable: bool,
    pub networks: Vec<IPSetNetwork>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IPSetNetwork {
    pub name: String,
    pub subnet_name: String,
    #[serde(default, rename = "fixedIP", skip_serializing_if = "Option::is_none")]
    pub fixed_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_route: Option<bool>,
}

impl IPSetNetwork {
    pub fn wants_default_route(&self) -> bool {
        self.default_route == Some(true)
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IPSetStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reservations: Vec<IPSetReservation>,
}

/// One entry of an IPSet's status, fields in the order kubectl prints them.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IPSetReservation {
    pub address: String,
    pub cidr: String,
    pub dns_domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    pub mtu: i64,
    pub network: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    pub service_network: String,
    pub subnet: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<i64>,
}

impl Spec for IPSetSpec {
    type Status = IPSetStatus;
    const KIND: Kind = Kind::IPSet;
}

// ------------------------------------------------------------------ Reservation

pub type Reservation = Object<ReservationSpec, NoStatus>;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReservationSpec {
    #[serde(default, rename = "ipSetRef")]
    pub ip_set_ref: ObjectReference,
    /// Keyed by the network name as NetConfig spells it.
    pub reservation: BTreeMap<String, IPAddress>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_path: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IPAddress {
    pub address: String,
    pub network: String,
    pub subnet: String,
}

impl Spec for ReservationSpec {
    type Status = NoStatus;
    const KIND: Kind = Kind::Reservation;
}

// ------------------------------------------------------------------ DNSMasq

pub type DNSMasq = Object<DNSMasqSpec, DNSMasqStatus>;

fn default_replicas() -> Option<i32> {
    Some(1)
}

fn default_selector() -> String {
    "dnsdata".to_string()
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DNSMasqSpec {
    #[serde(default = "default_replicas", skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<DNSMasqOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(default = "default_selector")]
    pub dns_data_label_selector_value: String,
    /// Kubernetes Service overrides; kept for operator mode, unused here.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "any_object"))]
    pub override_: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_ref: Option<TopologyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_image: Option<String>,
}

/// Schema of a field kept as free-form JSON: an object whose content the
/// API server must keep (a structural schema needs a type).
#[cfg(feature = "schema")]
fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

impl Default for DNSMasqSpec {
    fn default() -> Self {
        DNSMasqSpec {
            replicas: default_replicas(),
            options: Vec::new(),
            node_selector: None,
            dns_data_label_selector_value: default_selector(),
            override_: None,
            topology_ref: None,
            container_image: None,
        }
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DNSMasqOption {
    pub key: DNSMasqOptionKey,
    pub values: Vec<String>,
}

/// The option keys the CRD's enum allows.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DNSMasqOptionKey {
    Server,
    RevServer,
    SrvHost,
    TxtRecord,
    PtrRecord,
    RebindDomainOk,
    NaptrRecord,
    Cname,
    HostRecord,
    CaaRecord,
    DnsRr,
    AuthZone,
    SynthDomain,
    NoNegcache,
    Local,
    LocalTtl,
    DhcpTtl,
    MaxTtl,
}

impl DNSMasqOptionKey {
    pub fn as_str(self) -> &'static str {
        match self {
            DNSMasqOptionKey::Server => "server",
            DNSMasqOptionKey::RevServer => "rev-server",
            DNSMasqOptionKey::SrvHost => "srv-host",
            DNSMasqOptionKey::TxtRecord => "txt-record",
            DNSMasqOptionKey::PtrRecord => "ptr-record",
            DNSMasqOptionKey::RebindDomainOk => "rebind-domain-ok",
            DNSMasqOptionKey::NaptrRecord => "naptr-record",
            DNSMasqOptionKey::Cname => "cname",
            DNSMasqOptionKey::HostRecord => "host-record",
            DNSMasqOptionKey::CaaRecord => "caa-record",
            DNSMasqOptionKey::DnsRr => "dns-rr",
            DNSMasqOptionKey::AuthZone => "auth-zone",
            DNSMasqOptionKey::SynthDomain => "synth-domain",
            DNSMasqOptionKey::NoNegcache => "no-negcache",
            DNSMasqOptionKey::Local => "local",
            DNSMasqOptionKey::LocalTtl => "local-ttl",
            DNSMasqOptionKey::DhcpTtl => "dhcp-ttl",
            DNSMasqOptionKey::MaxTtl => "max-ttl",
        }
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopologyRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DNSMasqStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_cluster_addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hash: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_topology: Option<TopologyRef>,
}

impl Spec for DNSMasqSpec {
    type Status = DNSMasqStatus;
    const KIND: Kind = Kind::DNSMasq;

    /// Upstream's defaulting webhook: without a `local` option, answers for
    /// `<namespace>.svc` are never forwarded.
    fn apply_defaults(&mut self, namespace: &str) {
        if !self
            .options
            .iter()
            .any(|o| o.key == DNSMasqOptionKey::Local)
        {
            self.options.push(DNSMasqOption {
                key: DNSMasqOptionKey::Local,
                values: vec![format!("/{namespace}.svc/")],
            });
        }
        if self.replicas.is_none() {
            self.replicas = Some(1);
        }
    }
}

// ------------------------------------------------------------------ DNSData

pub type DNSData = Object<DNSDataSpec, DNSDataStatus>;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DNSDataSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<DNSHost>,
    #[serde(default = "default_selector")]
    pub dns_data_label_selector_value: String,
}

impl Default for DNSDataSpec {
    fn default() -> Self {
        DNSDataSpec {
            hosts: Vec::new(),
            dns_data_label_selector_value: default_selector(),
        }
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DNSHost {
    pub hostnames: Vec<String>,
    pub ip: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DNSDataStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

impl Spec for DNSDataSpec {
    type Status = DNSDataStatus;
    const KIND: Kind = Kind::DNSData;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_resolve_like_kubectl() {
        assert_eq!(Kind::resolve("netcfg"), Some(Kind::NetConfig));
        assert_eq!(Kind::resolve("NetConfig"), Some(Kind::NetConfig));
        assert_eq!(
            Kind::resolve("ipsets.network.openstack.org"),
            Some(Kind::IPSet)
        );
        assert_eq!(Kind::resolve("dnsdata"), Some(Kind::DNSData));
        assert_eq!(Kind::resolve("DNSMasq"), Some(Kind::DNSMasq));
        assert_eq!(Kind::resolve("reservation"), Some(Kind::Reservation));
        assert_eq!(Kind::resolve("pods"), None);
    }

    #[test]
    fn dnsmasq_defaults_add_local_for_the_namespace() {
        let mut s: DNSMasqSpec = serde_json::from_value(serde_json::json!({
            "options": [{"key": "server", "values": ["192.168.122.1"]}]
        }))
        .unwrap();
        s.apply_defaults("openstack");
        assert_eq!(s.options.len(), 2);
        assert_eq!(s.options[1].key, DNSMasqOptionKey::Local);
        assert_eq!(s.options[1].values, ["/openstack.svc/"]);
        assert_eq!(s.dns_data_label_selector_value, "dnsdata");
        assert_eq!(s.replicas, Some(1));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["options"][0]["key"], "server");
    }

    #[test]
    fn unknown_option_keys_and_spec_fields_are_rejected() {
        assert!(
            serde_json::from_value::<DNSMasqSpec>(
                serde_json::json!({"options": [{"key": "listen-address", "values": []}]})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<IPSetSpec>(
                serde_json::json!({"networks": [], "imutable": true})
            )
            .is_err()
        );
    }
}
