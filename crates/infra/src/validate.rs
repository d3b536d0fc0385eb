//! Admission rules: upstream's webhooks (`netconfig_webhook.go`,
//! `ipset_webhook.go`) plus the stricter checks upstream lets through.
//! Every failure names the field, Kubernetes style
//! (`spec.networks[0].subnets[1].cidr: Invalid value: "...": why`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::alloc::{SubnetPlan, to_u128};
use crate::meta::{ObjectMeta, check_label, check_object_name};
use crate::resources::{
    DNSDataSpec, DNSMasqSpec, IPSetSpec, NetConfigSpec, ReservationSpec, Subnet,
};

/// Annotation of a DNSMasq giving the address its responder listens on
/// (`IP`, `IP:PORT` or `[IPv6]:PORT`; port 53 by default). Upstream runs
/// dnsmasq in a pod and needs no such setting; here it says where on this
/// host to serve.
pub const DNS_LISTEN_ANNOTATION: &str = "dnsmasq.neutrino.openstack.org/listen";

const NAME_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9\\-_]*[a-zA-Z0-9]$";
const SERVICE_NETWORK_PATTERN: &str = "^[a-z0-9][a-z0-9\\-_]*[a-z0-9]$";
const DNS_DOMAIN_PATTERN: &str = "^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]{2,}$";

/// What went wrong with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldErrorType {
    Invalid,
    Required,
    Duplicate,
    NotFound,
    Forbidden,
}

impl FieldErrorType {
    /// The `reason` of a cause in a Kubernetes Status.
    pub fn reason(&self) -> &'static str {
        match self {
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::NotFound => "FieldValueNotFound",
            FieldErrorType::Forbidden => "FieldValueForbidden",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub type_: FieldErrorType,
    /// The offending value, quoted in the message when present.
    pub value: Option<String>,
    pub detail: String,
}

impl FieldError {
    pub fn invalid(field: impl Into<String>, value: &str, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            type_: FieldErrorType::Invalid,
            value: Some(value.to_string()),
            detail: detail.into(),
        }
    }

    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            type_: FieldErrorType::Required,
            value: None,
            detail: detail.into(),
        }
    }

    pub fn duplicate(field: impl Into<String>, value: &str) -> Self {
        FieldError {
            field: field.into(),
            type_: FieldErrorType::Duplicate,
            value: Some(value.to_string()),
            detail: String::new(),
        }
    }

    pub fn not_found(field: impl Into<String>, value: &str, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            type_: FieldErrorType::NotFound,
            value: Some(value.to_string()),
            detail: detail.into(),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            type_: FieldErrorType::Forbidden,
            value: None,
            detail: detail.into(),
        }
    }

    /// The message without the field path.
    pub fn describe(&self) -> String {
        let head = match self.type_ {
            FieldErrorType::Invalid => "Invalid value",
            FieldErrorType::Required => "Required value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::NotFound => "Not found",
            FieldErrorType::Forbidden => "Forbidden",
        };
        let mut s = head.to_string();
        if let Some(v) = &self.value {
            s.push_str(&format!(": {v:?}"));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.describe())
    }
}

fn is_net_name(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
}

fn is_service_network(s: &str) -> bool {
    is_net_name(s) && !s.bytes().any(|c| c.is_ascii_uppercase())
}

/// Upstream's DNS domain pattern: labels of letters, digits and inner
/// hyphens (at most 63 characters), at least two, the last of two or more
/// letters.
pub fn is_dns_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let (tld, rest) = labels.split_last().expect("at least two labels");
    tld.len() >= 2
        && tld.bytes().all(|c| c.is_ascii_alphabetic())
        && rest.iter().all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

fn check_net_name(errs: &mut Vec<FieldError>, field: String, value: &str) {
    if value.is_empty() {
        errs.push(FieldError::required(field, ""));
    } else if !is_net_name(value) {
        errs.push(FieldError::invalid(
            field,
            value,
            format!("should match '{NAME_PATTERN}'"),
        ));
    }
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

/// Metadata every kind shares: the name and the labels.
pub fn metadata(meta: &ObjectMeta) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Err(e) = check_object_name(&meta.name) {
        errs.push(FieldError {
            field: "metadata.name".into(),
            type_: if meta.name.is_empty() {
                FieldErrorType::Required
            } else {
                FieldErrorType::Invalid
            },
            value: None,
            detail: e,
        });
    }
    for (k, v) in &meta.labels {
        if let Err(e) = check_label(k, v) {
            errs.push(FieldError {
                field: format!("metadata.labels[{k}]"),
                type_: FieldErrorType::Invalid,
                value: None,
                detail: e,
            });
        }
    }
    errs
}

// ------------------------------------------------------------------ NetConfig

/// A subnet's parsed CIDR, for the checks across subnets.
struct ParsedSubnet<'a> {
    field: String,
    subnet: &'a Subnet,
    cidr: IpNet,
}

/// Checks an address that must be an IP of the subnet's family inside its
/// CIDR; returns it when it is.
fn check_member(
    errs: &mut Vec<FieldError>,
    field: String,
    value: &str,
    cidr: &IpNet,
) -> Option<IpAddr> {
    let Ok(ip) = value.trim().parse::<IpAddr>() else {
        errs.push(FieldError::invalid(field, value, "not a valid IP address"));
        return None;
    };
    if ip.is_ipv4() != matches!(cidr, IpNet::V4(_)) {
        errs.push(FieldError::invalid(
            field,
            value,
            format!(
                "{} address in a {} subnet {cidr}",
                family(ip),
                family(cidr.addr())
            ),
        ));
        return None;
    }
    if !cidr.contains(&ip) {
        errs.push(FieldError::invalid(
            field,
            value,
            format!("not inside the subnet cidr {cidr}"),
        ));
        return None;
    }
    Some(ip)
}

/// Create and update: the rules of upstream's `validateNetConfig` and the
/// stricter ones.
pub fn netconfig(spec: &NetConfigSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut net_names: HashMap<String, usize> = HashMap::new();
    let mut net_domains: HashMap<String, usize> = HashMap::new();
    let mut all_cidrs: HashMap<String, String> = HashMap::new();
    let mut parsed: Vec<ParsedSubnet> = Vec::new();

    for (i, net) in spec.networks.iter().enumerate() {
        let nf = format!("spec.networks[{i}]");
        check_net_name(&mut errs, format!("{nf}.name"), &net.name);
        if net_names.insert(net.name.to_lowercase(), i).is_some() {
            errs.push(FieldError::duplicate(format!("{nf}.name"), &net.name));
        }
        if net.dns_domain.is_empty() {
            errs.push(FieldError::required(format!("{nf}.dnsDomain"), ""));
        } else if !is_dns_domain(&net.dns_domain) {
            errs.push(FieldError::invalid(
                format!("{nf}.dnsDomain"),
                &net.dns_domain,
                format!("should match '{DNS_DOMAIN_PATTERN}'"),
            ));
        } else if net_domains
            .insert(net.dns_domain.to_lowercase(), i)
            .is_some()
        {
            errs.push(FieldError::duplicate(
                format!("{nf}.dnsDomain"),
                &net.dns_domain,
            ));
        }
        if !(68..=65535).contains(&net.mtu) {
            errs.push(FieldError::invalid(
                format!("{nf}.mtu"),
                &net.mtu.to_string(),
                "must be between 68 and 65535",
            ));
        }
        if let Some(sn) = &net.service_network
            && !is_service_network(sn)
        {
            errs.push(FieldError::invalid(
                format!("{nf}.serviceNetwork"),
                sn,
                format!("should match '{SERVICE_NETWORK_PATTERN}'"),
            ));
        }
        if net.subnets.is_empty() {
            errs.push(FieldError::required(
                format!("{nf}.subnets"),
                "a network needs at least one subnet",
            ));
        }

        let mut sub_names: HashMap<String, usize> = HashMap::new();
        let mut sub_domains: HashMap<String, usize> = HashMap::new();
        for (j, sub) in net.subnets.iter().enumerate() {
            let sf = format!("{nf}.subnets[{j}]");
            check_net_name(&mut errs, format!("{sf}.name"), &sub.name);
            if sub_names.insert(sub.name.to_lowercase(), j).is_some() {
                errs.push(FieldError::duplicate(format!("{sf}.name"), &sub.name));
            }
            if let Some(d) = &sub.dns_domain {
                if !is_dns_domain(d) {
                    errs.push(FieldError::invalid(
                        format!("{sf}.dnsDomain"),
                        d,
                        format!("should match '{DNS_DOMAIN_PATTERN}'"),
                    ));
                } else if sub_domains.insert(d.to_lowercase(), j).is_some() {
                    errs.push(FieldError::duplicate(format!("{sf}.dnsDomain"), d));
                }
            }
            if let Some(v) = sub.vlan
                && !(1..=4094).contains(&v)
            {
                errs.push(FieldError::invalid(
                    format!("{sf}.vlan"),
                    &v.to_string(),
                    "must be between 1 and 4094",
                ));
            }
            // Upstream: a CIDR string may appear once in the whole NetConfig.
            if let Some(other) = all_cidrs.insert(sub.cidr.clone(), sf.clone()) {
                errs.push(FieldError::duplicate(format!("{sf}.cidr"), &sub.cidr));
                let _ = other;
                continue;
            }
            let cidr: IpNet = match sub.cidr.trim().parse() {
                Ok(c) => c,
                Err(_) => {
                    errs.push(FieldError::invalid(
                        format!("{sf}.cidr"),
                        &sub.cidr,
                        "not a valid CIDR (e.g. 172.17.0.0/24)",
                    ));
                    continue;
                }
            };
            if cidr.trunc() != cidr {
                errs.push(FieldError::invalid(
                    format!("{sf}.cidr"),
                    &sub.cidr,
                    format!("host bits are set; the network is {}", cidr.trunc()),
                ));
                continue;
            }
            check_subnet_addresses(&mut errs, &sf, sub, &cidr);
            parsed.push(ParsedSubnet {
                field: sf,
                subnet: sub,
                cidr,
            });
        }
    }

    // Stricter than upstream: overlapping CIDRs on the same VLAN (untagged
    // counts as one VLAN) would put two networks on one broadcast domain.
    for (b_idx, b) in parsed.iter().enumerate() {
        for a in &parsed[..b_idx] {
            let same_family = a.cidr.addr().is_ipv4() == b.cidr.addr().is_ipv4();
            if same_family
                && a.subnet.vlan == b.subnet.vlan
                && (a.cidr.contains(&b.cidr.network()) || b.cidr.contains(&a.cidr.network()))
            {
                let vlan = match b.subnet.vlan {
                    Some(v) => format!("VLAN {v}"),
                    None => "no VLAN".to_string(),
                };
                errs.push(FieldError::invalid(
                    format!("{}.cidr", b.field),
                    &b.subnet.cidr,
                    format!(
                        "overlaps {} ({}) on the same VLAN ({vlan})",
                        a.field, a.subnet.cidr
                    ),
                ));
            }
        }
    }
    errs
}

/// Gateway, excludes, routes and allocation ranges of one subnet.
fn check_subnet_addresses(errs: &mut Vec<FieldError>, sf: &str, sub: &Subnet, cidr: &IpNet) {
    let plan_probe = SubnetPlan {
        cidr: *cidr,
        ranges: Vec::new(),
        excluded: Default::default(),
        gateway: None,
    };
    let mut gateway = None;
    if let Some(gw) = sub.gateway.as_deref().filter(|g| !g.trim().is_empty())
        && let Some(ip) = check_member(errs, format!("{sf}.gateway"), gw, cidr)
    {
        if plan_probe.is_network_or_broadcast(ip) {
            errs.push(FieldError::invalid(
                format!("{sf}.gateway"),
                gw,
                format!("is the network or broadcast address of {cidr}"),
            ));
        } else {
            gateway = Some(ip);
        }
    }
    for (k, e) in sub.exclude_addresses.iter().enumerate() {
        check_member(errs, format!("{sf}.excludeAddresses[{k}]"), e, cidr);
    }
    for (k, r) in sub.routes.iter().enumerate() {
        let rf = format!("{sf}.routes[{k}]");
        match r.destination.trim().parse::<IpNet>() {
            Ok(dest) if dest.addr().is_ipv4() != cidr.addr().is_ipv4() => {
                errs.push(FieldError::invalid(
                    format!("{rf}.destination"),
                    &r.destination,
                    format!(
                        "{} destination in a {} subnet",
                        family(dest.addr()),
                        family(cidr.addr())
                    ),
                ));
            }
            Ok(_) => {}
            Err(_) => errs.push(FieldError::invalid(
                format!("{rf}.destination"),
                &r.destination,
                "not a valid CIDR",
            )),
        }
        check_member(errs, format!("{rf}.nexthop"), &r.nexthop, cidr);
    }

    let mut ranges: Vec<(usize, u128, u128)> = Vec::new();
    for (k, r) in sub.allocation_ranges.iter().enumerate() {
        let rf = format!("{sf}.allocationRanges[{k}]");
        let start = check_member(errs, format!("{rf}.start"), &r.start, cidr);
        let end = check_member(errs, format!("{rf}.end"), &r.end, cidr);
        let (Some(start), Some(end)) = (start, end) else {
            continue;
        };
        let (s, e) = (to_u128(start), to_u128(end));
        if s >= e {
            errs.push(FieldError::invalid(
                format!("{rf}.end"),
                &r.end,
                format!("must be greater than start {}", r.start),
            ));
            continue;
        }
        // Stricter than upstream: a range may not hold an address no host
        // can have, nor the gateway.
        let mut special: Vec<(IpAddr, &str)> = Vec::new();
        match cidr {
            IpNet::V4(n) if n.prefix_len() <= 30 => {
                special.push((IpAddr::V4(n.network()), "network address"));
                special.push((IpAddr::V4(n.broadcast()), "broadcast address"));
            }
            IpNet::V6(n) if n.prefix_len() <= 126 => {
                special.push((IpAddr::V6(n.network()), "subnet-router anycast address"));
            }
            _ => {}
        }
        if let Some(gw) = gateway {
            special.push((gw, "gateway"));
        }
        for (ip, what) in special {
            let v = to_u128(ip);
            if s <= v && v <= e {
                errs.push(FieldError::invalid(
                    rf.clone(),
                    &format!("{}-{}", r.start, r.end),
                    format!("contains the {what} {ip}"),
                ));
            }
        }
        // Stricter than upstream: ranges of one subnet must not overlap.
        for &(other, os, oe) in &ranges {
            if s <= oe && os <= e {
                errs.push(FieldError::invalid(
                    rf.clone(),
                    &format!("{}-{}", r.start, r.end),
                    format!("overlaps {sf}.allocationRanges[{other}]"),
                ));
            }
        }
        ranges.push((k, s, e));
    }
}

/// Extra rules of an update while IPSets or reservations exist in the
/// namespace (upstream: while any IPSet exists): no network or subnet may
/// disappear and no subnet's cidr or vlan may change.
pub fn netconfig_update(
    old: &NetConfigSpec,
    new: &NetConfigSpec,
    in_use_by: &[String],
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if in_use_by.is_empty() {
        return errs;
    }
    let users = if in_use_by.len() > 3 {
        format!(
            "{} and {} more",
            in_use_by[..3].join(", "),
            in_use_by.len() - 3
        )
    } else {
        in_use_by.join(", ")
    };
    for (i, on) in old.networks.iter().enumerate() {
        let Some((ni, nn)) = new
            .networks
            .iter()
            .enumerate()
            .find(|(_, n)| n.name.eq_ignore_ascii_case(&on.name))
        else {
            errs.push(FieldError::forbidden(
                "spec.networks",
                format!(
                    "network {} (was spec.networks[{i}]) cannot be removed while IPSets exist in the namespace ({users})",
                    on.name
                ),
            ));
            continue;
        };
        for (j, os) in on.subnets.iter().enumerate() {
            let Some((sj, ns)) = nn
                .subnets
                .iter()
                .enumerate()
                .find(|(_, s)| s.name.eq_ignore_ascii_case(&os.name))
            else {
                errs.push(FieldError::forbidden(
                    format!("spec.networks[{ni}].subnets"),
                    format!(
                        "subnet {} of network {} (was spec.networks[{i}].subnets[{j}]) cannot be removed while IPSets exist in the namespace ({users})",
                        os.name, on.name
                    ),
                ));
                continue;
            };
            if ns.cidr != os.cidr {
                errs.push(FieldError::forbidden(
                    format!("spec.networks[{ni}].subnets[{sj}].cidr"),
                    format!(
                        "cannot change from {} while IPSets exist in the namespace ({users})",
                        os.cidr
                    ),
                ));
            }
            if ns.vlan != os.vlan {
                let show =
                    |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "none".into());
                errs.push(FieldError::forbidden(
                    format!("spec.networks[{ni}].subnets[{sj}].vlan"),
                    format!(
                        "cannot change from {} while IPSets exist in the namespace ({users})",
                        show(os.vlan)
                    ),
                ));
            }
        }
    }
    errs
}

// ------------------------------------------------------------------ IPSet

/// Create and update: every requested network and subnet exists, fixed
/// addresses fit their subnet, default routes are unambiguous.
pub fn ipset(spec: &IPSetSpec, netcfg: &NetConfigSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut default_route: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (i, req) in spec.networks.iter().enumerate() {
        let f = format!("spec.networks[{i}]");
        check_net_name(&mut errs, format!("{f}.name"), &req.name);
        check_net_name(&mut errs, format!("{f}.subnetName"), &req.subnet_name);
        if seen.insert(req.name.to_lowercase(), i).is_some() {
            errs.push(FieldError::duplicate(format!("{f}.name"), &req.name));
            continue;
        }
        let Some(net) = netcfg.network(&req.name) else {
            errs.push(FieldError::not_found(
                format!("{f}.name"),
                &req.name,
                "no such network in the namespace's NetConfig",
            ));
            continue;
        };
        let Some((_, sub)) = netcfg.find(&req.name, &req.subnet_name) else {
            errs.push(FieldError::not_found(
                format!("{f}.subnetName"),
                &req.subnet_name,
                format!("network {} has no such subnet", net.name),
            ));
            continue;
        };
        let Ok(plan) = SubnetPlan::new(sub) else {
            continue;
        };
        if let Some(fixed) = &req.fixed_ip
            && let Some(ip) = check_member(&mut errs, format!("{f}.fixedIP"), fixed, &plan.cidr)
        {
            if plan.excluded.contains(&ip) {
                errs.push(FieldError::invalid(
                    format!("{f}.fixedIP"),
                    fixed,
                    format!(
                        "is in excludeAddresses of subnet {} of network {}",
                        sub.name, net.name
                    ),
                ));
            } else if plan.is_network_or_broadcast(ip) {
                errs.push(FieldError::invalid(
                    format!("{f}.fixedIP"),
                    fixed,
                    format!("is the network or broadcast address of {}", plan.cidr),
                ));
            }
        }
        if req.wants_default_route() {
            let fam = family(plan.cidr.addr());
            if plan.gateway.is_none() {
                errs.push(FieldError::invalid(
                    format!("{f}.defaultRoute"),
                    "true",
                    format!("subnet {} of network {} has no gateway", sub.name, net.name),
                ));
            } else if let Some(first) = default_route.insert(fam, i) {
                errs.push(FieldError::invalid(
                    format!("{f}.defaultRoute"),
                    "true",
                    format!(
                        "spec.networks[{first}] already sets the {fam} default route; only one per IP family"
                    ),
                ));
            }
        }
    }
    errs
}

/// How an IPSet update breaks the rules, if it does.
#[derive(Debug, PartialEq, Eq)]
pub enum IPSetUpdateError {
    /// The old object was `immutable` and the networks changed (403).
    Immutable,
    Fields(Vec<FieldError>),
}

/// Update: an immutable IPSet keeps its networks; any IPSet keeps its
/// earlier requests (new networks may be appended).
pub fn ipset_update(old: &IPSetSpec, new: &IPSetSpec) -> Result<(), IPSetUpdateError> {
    if old.immutable && old.networks != new.networks {
        return Err(IPSetUpdateError::Immutable);
    }
    let mut errs = Vec::new();
    for (i, on) in old.networks.iter().enumerate() {
        let Some((j, nn)) = new
            .networks
            .iter()
            .enumerate()
            .find(|(_, n)| n.name.eq_ignore_ascii_case(&on.name))
        else {
            errs.push(FieldError::forbidden(
                "spec.networks",
                format!(
                    "network {} (was spec.networks[{i}]) cannot be removed from an IPSet",
                    on.name
                ),
            ));
            continue;
        };
        let f = format!("spec.networks[{j}]");
        if !nn.subnet_name.eq_ignore_ascii_case(&on.subnet_name) {
            errs.push(FieldError::forbidden(
                format!("{f}.subnetName"),
                format!("cannot change from {}", on.subnet_name),
            ));
        }
        let canon = |v: &Option<String>| {
            v.as_deref()
                .map(|s| crate::alloc::canonical(s).unwrap_or_else(|| s.to_string()))
        };
        if canon(&nn.fixed_ip) != canon(&on.fixed_ip) {
            errs.push(FieldError::forbidden(
                format!("{f}.fixedIP"),
                format!(
                    "cannot change from {}",
                    on.fixed_ip.as_deref().unwrap_or("unset")
                ),
            ));
        }
        if nn.wants_default_route() != on.wants_default_route() {
            errs.push(FieldError::forbidden(
                format!("{f}.defaultRoute"),
                format!("cannot change from {}", on.wants_default_route()),
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(IPSetUpdateError::Fields(errs))
    }
}

// ------------------------------------------------------------------ Reservation

/// Upstream has no rules here; we check what the reservation index relies
/// on: each entry's key is its network, names fit the pattern, addresses
/// parse.
pub fn reservation(spec: &ReservationSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (key, entry) in &spec.reservation {
        let f = format!("spec.reservation[{key}]");
        check_net_name(&mut errs, format!("{f}.network"), &entry.network);
        check_net_name(&mut errs, format!("{f}.subnet"), &entry.subnet);
        if !entry.network.eq_ignore_ascii_case(key) {
            errs.push(FieldError::invalid(
                format!("{f}.network"),
                &entry.network,
                format!("must equal the entry's key {key}"),
            ));
        }
        if entry.address.trim().parse::<IpAddr>().is_err() {
            errs.push(FieldError::invalid(
                format!("{f}.address"),
                &entry.address,
                "not a valid IP address",
            ));
        }
    }
    errs
}

// ------------------------------------------------------------------ DNS

fn check_selector_value(errs: &mut Vec<FieldError>, value: &str) {
    if value.is_empty() {
        errs.push(FieldError::required("spec.dnsDataLabelSelectorValue", ""));
    } else if check_label("dnsmasqhosts", value).is_err() {
        errs.push(FieldError::invalid(
            "spec.dnsDataLabelSelectorValue",
            value,
            "must be a valid label value",
        ));
    }
}

/// DNSData has no webhook upstream, where a bad line silently breaks the
/// dnsmasq hosts file; here every address and name must be servable.
pub fn dnsdata(spec: &DNSDataSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    check_selector_value(&mut errs, &spec.dns_data_label_selector_value);
    for (i, h) in spec.hosts.iter().enumerate() {
        let f = format!("spec.hosts[{i}]");
        if h.ip.trim().parse::<IpAddr>().is_err() {
            errs.push(FieldError::invalid(
                format!("{f}.ip"),
                &h.ip,
                "not a valid IP address",
            ));
        }
        if h.hostnames.is_empty() {
            errs.push(FieldError::required(
                format!("{f}.hostnames"),
                "at least one hostname",
            ));
        }
        for (k, name) in h.hostnames.iter().enumerate() {
            if let Err(e) = neutrino_dns::validate_hostname(name) {
                let detail = match e {
                    neutrino_dns::DnsError::InvalidName { reason, .. } => reason,
                    other => other.to_string(),
                };
                errs.push(FieldError::invalid(
                    format!("{f}.hostnames[{k}]"),
                    name,
                    detail,
                ));
            }
        }
    }
    errs
}

/// The address a DNSMasq's responder listens on, from its annotation.
pub fn dns_listen(meta: &ObjectMeta) -> Option<Result<SocketAddr, FieldError>> {
    let raw = meta.annotations.get(DNS_LISTEN_ANNOTATION)?;
    let field = format!("metadata.annotations[{DNS_LISTEN_ANNOTATION}]");
    let v = raw.trim();
    let parsed = v
        .parse::<SocketAddr>()
        .ok()
        .or_else(|| v.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)));
    Some(
        parsed
            .ok_or_else(|| FieldError::invalid(field, raw, "expected IP, IP:PORT or [IPv6]:PORT")),
    )
}

/// DNSMasq: upstream checks only the topology reference; we also check
/// that the options are ones the responder can serve and that the listen
/// annotation parses.
pub fn dnsmasq(spec: &DNSMasqSpec, meta: &ObjectMeta) -> Vec<FieldError> {
    let mut errs = Vec::new();
    check_selector_value(&mut errs, &spec.dns_data_label_selector_value);
    if let Some(r) = spec.replicas
        && r < 0
    {
        errs.push(FieldError::invalid(
            "spec.replicas",
            &r.to_string(),
            "must be greater than or equal to 0",
        ));
    }
    if let Some(t) = &spec.topology_ref
        && !t.namespace.is_empty()
        && t.namespace != meta.namespace
    {
        errs.push(FieldError::invalid(
            "spec.topologyRef.namespace",
            &t.namespace,
            "customizing namespace field is not supported",
        ));
    }
    for (i, o) in spec.options.iter().enumerate() {
        let pair = [(o.key.as_str().to_string(), o.values.clone())];
        if let Err(e) = neutrino_dns::parse_dnsmasq_options(&pair) {
            errs.push(FieldError::invalid(
                format!("spec.options[{i}].values"),
                &o.values.join(","),
                e.to_string(),
            ));
        }
    }
    if let Some(Err(e)) = dns_listen(meta) {
        errs.push(e);
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_domain_pattern() {
        assert!(is_dns_domain("ctlplane.example.com"));
        assert!(is_dns_domain("internalapi.ooo.test"));
        assert!(!is_dns_domain("example"));
        assert!(!is_dns_domain("-a.example.com"));
        assert!(!is_dns_domain("a.example.c0m"));
        assert!(!is_dns_domain("a..com"));
    }

    #[test]
    fn name_patterns() {
        assert!(is_net_name("CtlPlane"));
        assert!(is_net_name("storage_mgmt-1"));
        assert!(!is_net_name("a"));
        assert!(!is_net_name("-ab"));
        assert!(!is_net_name("a.b"));
        assert!(is_service_network("ctlplane"));
        assert!(!is_service_network("CtlPlane"));
    }

    #[test]
    fn messages_name_the_field() {
        let e = FieldError::invalid("spec.networks[0].name", "a", "should match 'x'");
        assert_eq!(
            e.to_string(),
            "spec.networks[0].name: Invalid value: \"a\": should match 'x'"
        );
        assert_eq!(
            FieldError::required("spec.x", "").to_string(),
            "spec.x: Required value"
        );
    }
}
