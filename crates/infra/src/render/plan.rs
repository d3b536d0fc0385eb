//! A node description resolved against a NetConfig: every name found, every
//! address parsed and placed in its subnet, every rule checked. All errors
//! are reported at once, each naming its field.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;

use super::nodes::{Addresses, OctaviaSettings};
use super::{RenderError, RenderInput, octavia};
use crate::alloc::to_u128;
use crate::meta::{check_label, check_object_name};
use crate::resources::{NetConfigSpec, Network, Subnet};
use crate::validate::FieldError;

/// Linux's limit on interface names (IFNAMSIZ less the NUL).
const IFNAME_MAX: usize = 15;

pub struct Plan<'a> {
    pub namespace: &'a str,
    pub base: &'a str,
    pub metallb_namespace: &'a str,
    /// Every NetConfig network, in its order.
    pub networks: Vec<NetPlan<'a>>,
    pub nodes: Vec<NodePlan>,
    pub octavia: Option<OctaviaPlan>,
    pub warnings: Vec<String>,
}

pub struct NetPlan<'a> {
    pub net: &'a Network,
    /// `spec.networks[i]`, for messages.
    pub field: String,
    /// The serviceNetwork: the name of the network's attachment and pool.
    pub name: String,
    pub subnets: Vec<SubnetInfo<'a>>,
    pub attachment: Option<Attachment>,
    /// MetalLB pool addresses, as given.
    pub pool: Vec<String>,
    /// Indexes of the subnets the pool's addresses lie in.
    pub pool_subnets: Vec<usize>,
}

pub struct SubnetInfo<'a> {
    pub subnet: &'a Subnet,
    pub cidr: IpNet,
}

/// The pods' address range of a network, inside one of its subnets.
pub struct Attachment {
    pub subnet: usize,
    pub start: IpAddr,
    pub end: IpAddr,
}

pub struct NodePlan {
    pub name: String,
    pub selector: BTreeMap<String, String>,
    pub addresses: Vec<NodeAddress>,
}

pub struct NodeAddress {
    pub network: usize,
    pub subnet: usize,
    pub ip: IpAddr,
}

pub struct OctaviaPlan {
    pub network: usize,
    pub vlan: i64,
    pub bridge: String,
    pub control_plane: String,
}

impl Plan<'_> {
    pub fn vlan_interface(&self, vlan: i64) -> String {
        format!("{}.{vlan}", self.base)
    }

    /// The host interface a subnet's traffic uses: its VLAN interface, or
    /// the base interface when untagged.
    pub fn interface(&self, network: usize, subnet: usize) -> String {
        match self.networks[network].subnets[subnet].subnet.vlan {
            Some(v) => self.vlan_interface(v),
            None => self.base.to_string(),
        }
    }

    pub fn is_octavia(&self, network: usize) -> bool {
        self.octavia.as_ref().is_some_and(|o| o.network == network)
    }
}

/// A network by name or serviceNetwork, any case (names first).
fn find_network(nc: &NetConfigSpec, key: &str) -> Option<usize> {
    nc.networks
        .iter()
        .position(|n| n.name.eq_ignore_ascii_case(key))
        .or_else(|| {
            nc.networks
                .iter()
                .position(|n| n.service_network().eq_ignore_ascii_case(key))
        })
}

fn check_ifname(errs: &mut Vec<FieldError>, field: &str, name: &str) {
    if name.is_empty() {
        errs.push(FieldError::required(field, "an interface name"));
    } else if name.len() > IFNAME_MAX
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        errs.push(FieldError::invalid(
            field,
            name,
            format!("not a Linux interface name (at most {IFNAME_MAX} characters, no '/', ':' or spaces)"),
        ));
    }
}

/// `START-END` as two addresses of one family, START <= END.
pub fn parse_range(s: &str) -> Result<(IpAddr, IpAddr), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or("expected START-END (e.g. 172.17.0.30-172.17.0.70)")?;
    let parse = |x: &str| {
        x.trim()
            .parse::<IpAddr>()
            .map_err(|_| format!("{:?} is not an IP address", x.trim()))
    };
    let (a, b) = (parse(a)?, parse(b)?);
    if a.is_ipv4() != b.is_ipv4() {
        return Err("start and end are of different IP families".into());
    }
    if to_u128(a) > to_u128(b) {
        return Err("start is after end".into());
    }
    Ok((a, b))
}

/// A MetalLB pool entry: `START-END` or a CIDR.
fn parse_pool(s: &str) -> Result<(IpAddr, IpAddr), String> {
    if s.contains('-') {
        return parse_range(s);
    }
    let net: IpNet = s
        .trim()
        .parse()
        .map_err(|_| "expected START-END or a CIDR".to_string())?;
    if net.trunc() != net {
        return Err(format!("host bits are set; the network is {}", net.trunc()));
    }
    Ok((net.network(), net.broadcast()))
}

fn overlaps(a: (IpAddr, IpAddr), b: (IpAddr, IpAddr)) -> bool {
    a.0.is_ipv4() == b.0.is_ipv4() && to_u128(a.0) <= to_u128(b.1) && to_u128(b.0) <= to_u128(a.1)
}

fn show(r: (IpAddr, IpAddr)) -> String {
    format!("{}-{}", r.0, r.1)
}

impl<'a> NetPlan<'a> {
    /// The subnet holding both ends of a range.
    fn subnet_of(&self, r: (IpAddr, IpAddr)) -> Option<usize> {
        self.subnets
            .iter()
            .position(|s| s.cidr.contains(&r.0) && s.cidr.contains(&r.1))
    }

    fn cidrs(&self) -> String {
        self.subnets
            .iter()
            .map(|s| s.cidr.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Why a range is unusable for pods or VIPs in subnet `j`, if it is:
    /// it holds the gateway, the network or the broadcast address.
    fn reserved_in(&self, j: usize, r: (IpAddr, IpAddr)) -> Option<String> {
        let s = &self.subnets[j];
        let mut special = vec![(s.cidr.network(), "network address")];
        if s.cidr.addr().is_ipv4() {
            special.push((s.cidr.broadcast(), "broadcast address"));
        }
        if let Some(gw) = s
            .subnet
            .gateway
            .as_deref()
            .and_then(|g| g.trim().parse().ok())
        {
            special.push((gw, "gateway"));
        }
        special
            .into_iter()
            .find(|(ip, _)| overlaps(r, (*ip, *ip)))
            .map(|(ip, what)| format!("contains the {what} {ip} of {}", s.cidr))
    }

    /// A warning when a range shares addresses with the subnet's
    /// allocation ranges, which IPSets take addresses from.
    fn ipset_overlap(&self, j: usize, field: &str, r: (IpAddr, IpAddr)) -> Option<String> {
        let s = &self.subnets[j];
        s.subnet
            .allocation_ranges
            .iter()
            .enumerate()
            .find_map(|(k, ar)| {
                let a = parse_range(&format!("{}-{}", ar.start, ar.end)).ok()?;
                overlaps(r, a).then(|| {
                    format!(
                        "{field} ({}) overlaps {}.subnets[{j}].allocationRanges[{k}] ({}): pods or VIPs and IPSets may get the same address",
                        show(r),
                        self.field,
                        show(a)
                    )
                })
            })
    }
}

impl<'a> Plan<'a> {
    pub fn new(input: &RenderInput<'a>) -> Result<Plan<'a>, RenderError> {
        let d = input.nodes;
        let nc = input.netconfig;
        let mut errs = Vec::new();
        let mut warnings = Vec::new();

        check_ifname(&mut errs, "baseInterface", &d.base_interface);
        let mut networks: Vec<NetPlan<'a>> = nc
            .networks
            .iter()
            .enumerate()
            .map(|(i, n)| NetPlan {
                net: n,
                field: format!("spec.networks[{i}]"),
                name: n.service_network(),
                subnets: n
                    .subnets
                    .iter()
                    .filter_map(|s| {
                        // Validated before planning; a CIDR that does not
                        // parse never gets here.
                        let cidr = s.cidr.trim().parse().ok()?;
                        Some(SubnetInfo { subnet: s, cidr })
                    })
                    .collect(),
                attachment: None,
                pool: Vec::new(),
                pool_subnets: Vec::new(),
            })
            .collect();
        if let Some(max_vlan) = nc
            .networks
            .iter()
            .flat_map(|n| &n.subnets)
            .filter_map(|s| s.vlan)
            .max_by_key(|v| v.to_string().len())
        {
            let longest = format!("{}.{max_vlan}", d.base_interface);
            if !d.base_interface.is_empty() && longest.len() > IFNAME_MAX {
                errs.push(FieldError::invalid(
                    "baseInterface",
                    &d.base_interface,
                    format!("its VLAN interface {longest} would be longer than {IFNAME_MAX} characters, Linux's limit"),
                ));
            }
        }

        // Per-network settings.
        let mut settled: HashMap<usize, &str> = HashMap::new();
        for (key, s) in &d.networks {
            let f = format!("networks.{key}");
            let Some(i) = find_network(nc, key) else {
                errs.push(FieldError::not_found(
                    f,
                    key,
                    "no such network (name or serviceNetwork) in the NetConfig",
                ));
                continue;
            };
            if let Some(other) = settled.insert(i, key) {
                errs.push(FieldError::invalid(
                    f,
                    key,
                    format!("names the same network as networks.{other}"),
                ));
                continue;
            }
            let np = &mut networks[i];
            if let Some(r) = &s.range {
                let rf = format!("{f}.range");
                match parse_range(r) {
                    Err(e) => errs.push(FieldError::invalid(rf, r, e)),
                    Ok(range) => match np.subnet_of(range) {
                        None => errs.push(FieldError::invalid(
                            rf,
                            r,
                            format!(
                                "not inside one subnet of network {} ({})",
                                np.net.name,
                                np.cidrs()
                            ),
                        )),
                        Some(j) => {
                            if let Some(why) = np.reserved_in(j, range) {
                                errs.push(FieldError::invalid(rf, r, why));
                            } else {
                                warnings.extend(np.ipset_overlap(j, &rf, range));
                                np.attachment = Some(Attachment {
                                    subnet: j,
                                    start: range.0,
                                    end: range.1,
                                });
                            }
                        }
                    },
                }
            }
            let mut taken: Vec<(String, (IpAddr, IpAddr))> = Vec::new();
            if let Some(a) = &np.attachment {
                taken.push((format!("{f}.range"), (a.start, a.end)));
            }
            for (k, p) in s.metallb.iter().enumerate() {
                let pf = format!("{f}.metallb[{k}]");
                let range = match parse_pool(p) {
                    Ok(r) => r,
                    Err(e) => {
                        errs.push(FieldError::invalid(pf, p, e));
                        continue;
                    }
                };
                let Some(j) = np.subnet_of(range) else {
                    errs.push(FieldError::invalid(
                        pf,
                        p,
                        format!(
                            "not inside one subnet of network {} ({})",
                            np.net.name,
                            np.cidrs()
                        ),
                    ));
                    continue;
                };
                if let Some(why) = np.reserved_in(j, range) {
                    errs.push(FieldError::invalid(pf, p, why));
                    continue;
                }
                if let Some((other, _)) = taken.iter().find(|(_, t)| overlaps(*t, range)) {
                    errs.push(FieldError::invalid(pf, p, format!("overlaps {other}")));
                    continue;
                }
                warnings.extend(np.ipset_overlap(j, &pf, range));
                taken.push((pf, range));
                if !np.pool_subnets.contains(&j) {
                    np.pool_subnets.push(j);
                }
            }
            np.pool = s.metallb.iter().map(|p| p.trim().to_string()).collect();
            if (s.range.is_some() || !s.metallb.is_empty())
                && let Err(e) = check_object_name(&np.name)
            {
                errs.push(FieldError::invalid(
                    format!("{}.serviceNetwork", np.field),
                    &np.name,
                    format!("names the network's attachment and pool, so it must be a Kubernetes name: {e}"),
                ));
            }
        }

        let octavia = plan_octavia(
            d.octavia.as_ref(),
            nc,
            &networks,
            &d.base_interface,
            &mut errs,
        );
        if let Some(o) = &octavia {
            octavia::check_layout(&networks[o.network], &mut errs, &mut warnings);
        }

        // Nodes.
        let mut nodes = Vec::new();
        if d.nodes.is_empty() {
            errs.push(FieldError::required("nodes", "at least one node"));
        }
        for (k, v) in &d.node_selector {
            if let Err(e) = check_label(k, v) {
                errs.push(FieldError::invalid(format!("nodeSelector[{k}]"), v, e));
            }
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (n, node) in d.nodes.iter().enumerate() {
            let f = format!("nodes[{n}]");
            if let Err(e) = check_object_name(&node.name) {
                errs.push(FieldError::invalid(
                    format!("{f}.name"),
                    &node.name,
                    format!("names the node's policy: {e}"),
                ));
            }
            if let Some(first) = names.insert(&node.name, n) {
                errs.push(FieldError {
                    detail: format!("also nodes[{first}].name"),
                    ..FieldError::duplicate(format!("{f}.name"), &node.name)
                });
            }
            let own = node.node_selector.clone().unwrap_or_else(|| {
                BTreeMap::from([("kubernetes.io/hostname".to_string(), node.name.clone())])
            });
            if let Some(sel) = &node.node_selector {
                for (k, v) in sel {
                    if let Err(e) = check_label(k, v) {
                        errs.push(FieldError::invalid(format!("{f}.nodeSelector[{k}]"), v, e));
                    }
                }
            }
            let mut selector = d.node_selector.clone();
            selector.extend(own);

            let mut addresses = Vec::new();
            let set = node.ip_set.as_deref().unwrap_or(&node.name);
            match input.reservations.get(set) {
                Some(list) => {
                    for r in list {
                        let i = nc
                            .networks
                            .iter()
                            .position(|x| x.name.eq_ignore_ascii_case(&r.network));
                        let j = i.and_then(|i| {
                            nc.networks[i]
                                .subnets
                                .iter()
                                .position(|x| x.name.eq_ignore_ascii_case(&r.subnet))
                        });
                        let ip = r.address.trim().parse::<IpAddr>().ok();
                        match (i, j, ip) {
                            (Some(i), Some(j), Some(ip)) => addresses.push(NodeAddress {
                                network: i,
                                subnet: j,
                                ip,
                            }),
                            _ => errs.push(FieldError::invalid(
                                format!("{f}.ipSet"),
                                set,
                                format!(
                                    "reserves {} on network {} subnet {}, which the NetConfig does not have",
                                    r.address, r.network, r.subnet
                                ),
                            )),
                        }
                    }
                }
                None if node.ip_set.is_some() => errs.push(FieldError::not_found(
                    format!("{f}.ipSet"),
                    set,
                    "no such IPSet or Reservation",
                )),
                None => {}
            }
            for (key, given) in &node.addresses {
                let af = format!("{f}.addresses.{key}");
                let Some(i) = find_network(nc, key) else {
                    errs.push(FieldError::not_found(
                        af,
                        key,
                        "no such network (name or serviceNetwork) in the NetConfig",
                    ));
                    continue;
                };
                // What the description says replaces the IPSet's addresses.
                addresses.retain(|a| a.network != i);
                for (m, text) in given.list().into_iter().enumerate() {
                    let field = match given {
                        Addresses::One(_) => af.clone(),
                        Addresses::Many(_) => format!("{af}[{m}]"),
                    };
                    let Ok(ip) = text.trim().parse::<IpAddr>() else {
                        errs.push(FieldError::invalid(
                            field,
                            text,
                            "not an IP address (give the address alone; the subnet gives its prefix)",
                        ));
                        continue;
                    };
                    match networks[i].subnet_of((ip, ip)) {
                        Some(j) => addresses.push(NodeAddress {
                            network: i,
                            subnet: j,
                            ip,
                        }),
                        None => errs.push(FieldError::invalid(
                            field,
                            text,
                            format!(
                                "not inside a subnet of network {} ({})",
                                networks[i].net.name,
                                networks[i].cidrs()
                            ),
                        )),
                    }
                }
            }
            nodes.push(NodePlan {
                name: node.name.clone(),
                selector,
                addresses,
            });
        }

        if !errs.is_empty() {
            return Err(RenderError::Nodes(errs));
        }
        Ok(Plan {
            namespace: input.namespace,
            base: &d.base_interface,
            metallb_namespace: &d.metallb.namespace,
            networks,
            nodes,
            octavia,
            warnings,
        })
    }
}

/// Which network is Octavia's, and whether it can carry the bridge.
fn plan_octavia(
    settings: Option<&OctaviaSettings>,
    nc: &NetConfigSpec,
    networks: &[NetPlan],
    base: &str,
    errs: &mut Vec<FieldError>,
) -> Option<OctaviaPlan> {
    let explicit = settings.is_some();
    let s = settings.cloned().unwrap_or_default();
    let Some(i) = find_network(nc, &s.network) else {
        if explicit {
            errs.push(FieldError::not_found(
                "octavia.network",
                &s.network,
                "no such network (name or serviceNetwork) in the NetConfig",
            ));
        }
        return None;
    };
    let np = &networks[i];
    let field = if explicit {
        "octavia.network".to_string()
    } else {
        format!("{}.name", np.field)
    };
    let mut errors = Vec::new();
    let mut vlans: Vec<i64> = np.subnets.iter().filter_map(|s| s.subnet.vlan).collect();
    vlans.sort_unstable();
    vlans.dedup();
    let vlan = match (
        vlans.as_slice(),
        np.subnets.iter().any(|s| s.subnet.vlan.is_none()),
    ) {
        ([v], false) => Some(*v),
        ([], _) | (_, true) => {
            errors.push(FieldError::invalid(
                field.clone(),
                &np.net.name,
                "the Octavia network needs a VLAN on every subnet: its bridge takes the VLAN interface as its port",
            ));
            None
        }
        _ => {
            errors.push(FieldError::invalid(
                field.clone(),
                &np.net.name,
                "the Octavia network's subnets are on different VLANs; its bridge has one port",
            ));
            None
        }
    };
    if let Some(v) = vlan
        && let Some(other) = networks
            .iter()
            .enumerate()
            .find(|(k, o)| *k != i && o.subnets.iter().any(|s| s.subnet.vlan == Some(v)))
    {
        errors.push(FieldError::invalid(
            field.clone(),
            &np.net.name,
            format!(
                "VLAN {v} is also network {}'s; a bridge port cannot carry another network",
                other.1.net.name
            ),
        ));
    }
    check_ifname(&mut errors, "octavia.bridge", &s.bridge);
    if s.bridge == base {
        errors.push(FieldError::invalid(
            "octavia.bridge",
            &s.bridge,
            "is the base interface",
        ));
    }
    if let Err(e) = check_object_name(&s.control_plane) {
        errors.push(FieldError::invalid(
            "octavia.controlPlane",
            &s.control_plane,
            e,
        ));
    }
    if np.attachment.is_none() {
        errors.push(FieldError::required(
            format!("networks.{}.range", np.name),
            "the Octavia network's pod addresses (e.g. 172.23.0.30-172.23.0.70); octavia-operator places its Neutron pools after the range's end",
        ));
    }
    let ok = errors.is_empty();
    errs.extend(errors);
    let vlan = vlan?;
    ok.then_some(OctaviaPlan {
        network: i,
        vlan,
        bridge: s.bridge,
        control_plane: s.control_plane,
    })
}
