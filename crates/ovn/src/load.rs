//! Reading the objects a sync pass needs from the database.

use std::collections::{BTreeSet, HashMap};

use neutrino_store::networks::NetworkQuery;
use neutrino_store::ports::PortQuery;
use neutrino_store::security_groups::GroupQuery;
use neutrino_store::subnets::SubnetQuery;
use neutrino_store::{
    Db, StoreError, floatingips, networks, ports, routers, security_groups, subnets,
};
use neutrino_types::model::{FloatingIp, Network, Port, Router, SecurityGroup, Subnet};

/// The objects of a pass, by kind. `None` ids mean "all of them" (audit).
#[derive(Default)]
pub struct World {
    pub networks: HashMap<String, Network>,
    /// Subnets by network id.
    pub subnets: HashMap<String, Vec<Subnet>>,
    pub ports: HashMap<String, Port>,
    pub routers: HashMap<String, Router>,
    /// Ports whose device is a router, by router id.
    pub router_ports: HashMap<String, Vec<Port>>,
    /// Subnets referenced by router ports, by id.
    pub router_subnets: Vec<Subnet>,
    pub floating_ips: Vec<FloatingIp>,
    pub groups: HashMap<String, SecurityGroup>,
    /// Ids of every subnet running DHCP (for orphan cleanup).
    pub dhcp_subnets: BTreeSet<String>,
    /// Loaded ports that other ports hold as an allowed address pair: the
    /// address and the holders (sorted), by port id.
    pub virtual_parents: HashMap<String, (String, Vec<String>)>,
}

/// What a pass is about.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub networks: BTreeSet<String>,
    pub ports: BTreeSet<String>,
    pub routers: BTreeSet<String>,
    pub groups: BTreeSet<String>,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
            && self.ports.is_empty()
            && self.routers.is_empty()
            && self.groups.is_empty()
    }
}

fn ids(set: &BTreeSet<String>) -> Vec<String> {
    set.iter().cloned().collect()
}

/// Loads what `scope` names; `all` loads everything (and ignores `scope`).
pub async fn load(db: &Db, scope: &Scope, all: bool) -> Result<World, StoreError> {
    let mut w = World::default();
    let pick = |s: &BTreeSet<String>| if all { Vec::new() } else { ids(s) };

    if all || !scope.networks.is_empty() {
        for n in networks::list(
            db,
            &NetworkQuery {
                visible_to: None,
                ids: pick(&scope.networks),
            },
        )
        .await?
        {
            w.networks.insert(n.id.clone(), n);
        }
        let q = SubnetQuery {
            network_ids: pick(&scope.networks),
            ..Default::default()
        };
        for s in subnets::list(db, &q).await? {
            w.subnets.entry(s.network_id.clone()).or_default().push(s);
        }
        let all_subnets = subnets::list(db, &SubnetQuery::default()).await?;
        w.dhcp_subnets = all_subnets
            .into_iter()
            .filter(|s| s.enable_dhcp)
            .map(|s| s.id)
            .collect();
    }
    if all || !scope.ports.is_empty() {
        let q = PortQuery {
            ids: pick(&scope.ports),
            ..Default::default()
        };
        for p in ports::list(db, &q).await? {
            w.ports.insert(p.id.clone(), p);
        }
        // The subnets of the ports' networks, for prefixes and DHCP.
        let missing: Vec<String> = w
            .ports
            .values()
            .map(|p| p.network_id.clone())
            .filter(|n| !w.subnets.contains_key(n))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            let q = SubnetQuery {
                network_ids: missing.clone(),
                ..Default::default()
            };
            for n in &missing {
                w.subnets.entry(n.clone()).or_default();
            }
            for s in subnets::list(db, &q).await? {
                w.subnets.entry(s.network_id.clone()).or_default().push(s);
            }
        }
    }
    if !w.ports.is_empty() {
        let nets: BTreeSet<String> = w.ports.values().map(|p| p.network_id.clone()).collect();
        let nets: Vec<String> = if all {
            Vec::new()
        } else {
            nets.into_iter().collect()
        };
        let holders = ports::address_pair_holders(db, &nets).await?;
        w.virtual_parents = virtual_parents(&w.ports, &holders);
    }
    if all || !scope.routers.is_empty() {
        let wanted: Vec<String> = pick(&scope.routers);
        if all {
            for r in routers::list(db, None, None).await? {
                w.routers.insert(r.id.clone(), r);
            }
        } else {
            for id in &wanted {
                if let Some(r) = routers::get(db, id).await? {
                    w.routers.insert(r.id.clone(), r);
                }
            }
        }
        let device_ids: Vec<String> = w.routers.keys().cloned().collect();
        if !device_ids.is_empty() {
            let q = PortQuery {
                device_ids,
                ..Default::default()
            };
            let mut subnet_ids = BTreeSet::new();
            for p in ports::list(db, &q).await? {
                subnet_ids.extend(p.fixed_ips.iter().map(|f| f.subnet_id.clone()));
                w.router_ports
                    .entry(p.device_id.clone())
                    .or_default()
                    .push(p);
            }
            let q = SubnetQuery {
                ids: subnet_ids.into_iter().collect(),
                ..Default::default()
            };
            w.router_subnets = subnets::list(db, &q).await?;
            w.floating_ips = floatingips::list(db, None, None)
                .await?
                .into_iter()
                .filter(|f| {
                    f.router_id
                        .as_ref()
                        .is_some_and(|r| w.routers.contains_key(r))
                })
                .collect();
        }
    }
    if all || !scope.groups.is_empty() {
        let q = GroupQuery {
            visible_to: None,
            ids: pick(&scope.groups),
        };
        for g in security_groups::list(db, &q).await? {
            w.groups.insert(g.id.clone(), g);
        }
    }
    Ok(w)
}

/// For each port, the other ports of its network holding one of its
/// addresses as an allowed address pair (exact address, or a /32 or /128
/// of it, as Neutron matches).
fn virtual_parents(
    ports: &HashMap<String, Port>,
    holders: &[(String, String, Vec<neutrino_types::model::AddressPair>)],
) -> HashMap<String, (String, Vec<String>)> {
    let mut out: HashMap<String, (String, Vec<String>)> = HashMap::new();
    for p in ports.values() {
        for f in &p.fixed_ips {
            let mut parents: Vec<String> = holders
                .iter()
                .filter(|(id, net, pairs)| {
                    *id != p.id
                        && *net == p.network_id
                        && pairs.iter().any(|a| {
                            let ip = a.ip_address.split('/').next().unwrap_or_default();
                            let host = !a.ip_address.contains('/')
                                || a.ip_address.ends_with("/32")
                                || a.ip_address.ends_with("/128");
                            host && ip == f.ip_address
                        })
                })
                .map(|(id, _, _)| id.clone())
                .collect();
            if !parents.is_empty() {
                parents.sort();
                out.insert(p.id.clone(), (f.ip_address.clone(), parents));
                break;
            }
        }
    }
    out
}
