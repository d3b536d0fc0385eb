//! The data the responder answers from: hosts in, names and addresses out.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::BinEncodable;

use crate::DnsError;

/// The hosts of one `DNSData` resource (`spec.hosts`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Zone {
    pub hosts: Vec<HostEntry>,
}

/// One `spec.hosts[]` entry: an address and the names that resolve to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEntry {
    pub ip: IpAddr,
    pub hostnames: Vec<String>,
}

/// A hostname [`RecordSet::from_zones`] left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedHost {
    pub ip: IpAddr,
    pub hostname: String,
    pub reason: String,
}

/// The records of one owner name, in the order the hosts listed them.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameData {
    pub(crate) v4: Vec<Ipv4Addr>,
    pub(crate) v6: Vec<Ipv6Addr>,
    /// PTR targets, spelled as the host entry spelled them.
    pub(crate) ptr: Vec<Name>,
}

/// Everything a responder answers locally, merged from any number of zones:
/// A/AAAA records by name and PTR records by address (`in-addr.arpa`,
/// `ip6.arpa`). Names match case-insensitively, with or without a trailing
/// dot. A name listed for several addresses gets all of them; an address
/// listed with several names gets a PTR record for each; exact duplicates
/// are kept once.
///
/// Hostnames that are not valid DNS names are left out (dnsmasq skips such
/// lines of a hosts file too); [`RecordSet::rejected`] lists them and
/// [`validate_hostname`] lets a caller refuse them up front.
#[derive(Clone, Debug, Default)]
pub struct RecordSet {
    /// Key: the owner name in lowercase wire format (length-prefixed labels,
    /// ending with the root label), which is what a query is looked up by.
    pub(crate) names: HashMap<Box<[u8]>, NameData>,
    rejected: Vec<RejectedHost>,
}

impl RecordSet {
    /// A record set that answers nothing locally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges the hosts of all `zones`.
    pub fn from_zones(zones: &[Zone]) -> Self {
        let mut set = Self::default();
        for host in zones.iter().flat_map(|z| &z.hosts) {
            for hostname in &host.hostnames {
                match parse_name(hostname) {
                    Ok(name) => set.insert(host.ip, name),
                    Err(err) => {
                        let reason = match err {
                            DnsError::InvalidName { reason, .. } => reason,
                            other => other.to_string(),
                        };
                        tracing::warn!(ip = %host.ip, hostname, reason, "DNS host entry skipped");
                        set.rejected.push(RejectedHost {
                            ip: host.ip,
                            hostname: hostname.clone(),
                            reason,
                        });
                    }
                }
            }
        }
        set
    }

    fn insert(&mut self, ip: IpAddr, name: Name) {
        let forward = self.entry(&name);
        match ip {
            IpAddr::V4(v4) if !forward.v4.contains(&v4) => forward.v4.push(v4),
            IpAddr::V6(v6) if !forward.v6.contains(&v6) => forward.v6.push(v6),
            _ => {}
        }
        let reverse = self.entry(&Name::from(ip));
        if !reverse.ptr.iter().any(|n| n.eq_case(&name)) {
            reverse.ptr.push(name);
        }
    }

    fn entry(&mut self, name: &Name) -> &mut NameData {
        match self.names.entry(lower_wire(name)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(NameData::default()),
        }
    }

    /// The addresses `name` resolves to (A first, then AAAA); empty for an
    /// unknown or invalid name.
    pub fn addresses(&self, name: &str) -> Vec<IpAddr> {
        let Some(data) = parse_name(name)
            .ok()
            .and_then(|n| self.names.get(&lower_wire(&n)))
        else {
            return Vec::new();
        };
        let v4 = data.v4.iter().map(|a| IpAddr::V4(*a));
        v4.chain(data.v6.iter().map(|a| IpAddr::V6(*a))).collect()
    }

    /// The names whose PTR records `ip` has, without the trailing dot.
    pub fn hostnames(&self, ip: IpAddr) -> Vec<String> {
        self.names
            .get(&lower_wire(&Name::from(ip)))
            .map(|d| d.ptr.iter().map(display_name).collect())
            .unwrap_or_default()
    }

    /// Number of owner names with records, forward and reverse.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Host entries that were left out because the hostname is not a valid
    /// DNS name.
    pub fn rejected(&self) -> &[RejectedHost] {
        &self.rejected
    }
}

/// Checks that `hostname` can be served: dot-separated labels of 1 to 63
/// letters, digits, `-` or `_`, at most 253 characters, an optional
/// trailing dot. The same check [`RecordSet::from_zones`] applies.
pub fn validate_hostname(hostname: &str) -> Result<(), DnsError> {
    parse_name(hostname).map(|_| ())
}

/// A hostname or domain as an absolute [`Name`].
pub(crate) fn parse_name(text: &str) -> Result<Name, DnsError> {
    let invalid = |reason: &str| DnsError::InvalidName {
        name: text.to_owned(),
        reason: reason.to_owned(),
    };
    let bare = text.strip_suffix('.').unwrap_or(text);
    if bare.is_empty() {
        return Err(invalid("empty name"));
    }
    if bare.len() > 253 {
        return Err(invalid("longer than 253 characters"));
    }
    for label in bare.split('.') {
        if label.is_empty() {
            return Err(invalid("empty label"));
        }
        if label.len() > 63 {
            return Err(invalid("label longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(invalid(&format!(
                "character {c:?} (allowed: letters, digits, '-', '_')"
            )));
        }
    }
    Name::from_ascii(format!("{bare}.")).map_err(|e| invalid(&e.to_string()))
}

/// `name` lowercased, in uncompressed wire format.
pub(crate) fn lower_wire(name: &Name) -> Box<[u8]> {
    name.to_lowercase()
        .to_bytes()
        .expect("a valid name encodes")
        .into_boxed_slice()
}

fn display_name(name: &Name) -> String {
    let text = name.to_ascii();
    match text.strip_suffix('.') {
        Some(bare) => bare.to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(hosts: &[(&str, &[&str])]) -> Zone {
        Zone {
            hosts: hosts
                .iter()
                .map(|(ip, names)| HostEntry {
                    ip: ip.parse().unwrap(),
                    hostnames: names.iter().map(|n| n.to_string()).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn merges_zones_and_looks_up_case_insensitively() {
        let set = RecordSet::from_zones(&[
            zone(&[("172.17.0.100", &["edpm-compute-0.internalapi"])]),
            zone(&[
                ("fd00::64", &["EDPM-compute-0.InternalAPI."]),
                (
                    "172.17.0.100",
                    &["edpm-compute-0.internalapi", "alias.internalapi"],
                ),
            ]),
        ]);
        assert_eq!(
            set.addresses("Edpm-Compute-0.internalapi."),
            vec![
                "172.17.0.100".parse::<IpAddr>().unwrap(),
                "fd00::64".parse().unwrap()
            ]
        );
        assert_eq!(
            set.hostnames("172.17.0.100".parse().unwrap()),
            vec!["edpm-compute-0.internalapi", "alias.internalapi"]
        );
        assert_eq!(
            set.hostnames("fd00::64".parse().unwrap()),
            vec!["EDPM-compute-0.InternalAPI"]
        );
        assert!(set.addresses("edpm-compute-1.internalapi").is_empty());
        // 2 forward names + 2 reverse names
        assert_eq!(set.len(), 4);
        assert!(set.rejected().is_empty());
    }

    #[test]
    fn invalid_hostnames_are_rejected_and_listed() {
        let long_label = "a".repeat(64);
        let set = RecordSet::from_zones(&[zone(&[(
            "10.0.0.1",
            &["good.example", "bad name", "a..b", "", &long_label, "x/y"],
        )])]);
        assert_eq!(set.addresses("good.example").len(), 1);
        let rejected: Vec<_> = set.rejected().iter().map(|r| r.hostname.as_str()).collect();
        assert_eq!(rejected, ["bad name", "a..b", "", &long_label, "x/y"]);
        assert_eq!(set.hostnames("10.0.0.1".parse().unwrap()), ["good.example"]);
    }

    #[test]
    fn validate_hostname_rules() {
        for ok in ["a", "a.", "edpm-compute-0.internalapi", "_srv.x", "x-1.y_2"] {
            validate_hostname(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let too_long = vec!["abcdefgh"; 30].join(".");
        for bad in [".", "", "a..b", ".a", "a b", "é.x", "a*", too_long.as_str()] {
            assert!(validate_hostname(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn reverse_names_have_arpa_wire_format() {
        let v4 = lower_wire(&Name::from("172.17.0.100".parse::<IpAddr>().unwrap()));
        assert_eq!(&*v4, b"\x03100\x010\x0217\x03172\x07in-addr\x04arpa\x00");
        let v6 = lower_wire(&Name::from("fd00::1".parse::<IpAddr>().unwrap()));
        assert!(v6.starts_with(b"\x011\x010\x010"));
        assert!(v6.ends_with(b"\x01d\x01f\x03ip6\x04arpa\x00"));
        assert_eq!(v6.len(), 32 * 2 + 4 + 5 + 1);
    }
}
