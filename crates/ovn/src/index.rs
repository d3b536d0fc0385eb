//! Lookups into one snapshot of the northbound replica, built once per
//! sync pass.

use std::collections::HashMap;

use neutrino_ovsdb::Row;
use uuid::Uuid;

use crate::naming::{KEY_DHCP_SUBNET, NEUTRON_PREFIX};

pub type Entry<'a> = (Uuid, &'a Row);

#[derive(Default)]
pub struct Index<'a> {
    pub switches: HashMap<&'a str, Entry<'a>>,
    pub switch_ports: HashMap<&'a str, Entry<'a>>,
    /// Switch port uuid → the switch holding it.
    pub port_parent: HashMap<Uuid, Uuid>,
    pub dhcp: HashMap<&'a str, Entry<'a>>,
    /// Every DHCP_Options row written for a subnet (port-specific ones excluded).
    pub dhcp_rows: Vec<(Uuid, &'a str)>,
    pub routers: HashMap<&'a str, Entry<'a>>,
    pub router_ports: HashMap<&'a str, Entry<'a>>,
    pub port_groups: HashMap<&'a str, Entry<'a>>,
    /// Rows of child tables by uuid (ACL, NAT, static routes, gateway chassis).
    pub children: HashMap<Uuid, &'a Row>,
    pub nb_global: Option<Entry<'a>>,
}

impl<'a> Index<'a> {
    /// `rows(table)` lists the rows of a table of the snapshot.
    pub fn build(rows: impl Fn(&str) -> Vec<Entry<'a>>) -> Index<'a> {
        let mut idx = Index::default();
        for (u, r) in rows("Logical_Switch") {
            if let Some(name) = r.str("name") {
                idx.switches.insert(name, (u, r));
                for p in r.uuids("ports") {
                    idx.port_parent.insert(p, u);
                }
            }
        }
        for (u, r) in rows("Logical_Switch_Port") {
            if let Some(name) = r.str("name") {
                idx.switch_ports.insert(name, (u, r));
            }
        }
        for (u, r) in rows("DHCP_Options") {
            let ext = r.get("external_ids");
            let subnet = ext.and_then(|v| {
                v.pairs().iter().find_map(|(k, v)| {
                    (k.as_str() == Some(KEY_DHCP_SUBNET))
                        .then(|| v.as_str())
                        .flatten()
                })
            });
            let per_port =
                ext.is_some_and(|v| v.pairs().iter().any(|(k, _)| k.as_str() == Some("port_id")));
            if let (Some(s), false) = (subnet, per_port) {
                idx.dhcp.insert(s, (u, r));
                idx.dhcp_rows.push((u, s));
            }
        }
        for (u, r) in rows("Logical_Router") {
            if let Some(name) = r.str("name") {
                idx.routers.insert(name, (u, r));
            }
        }
        for (u, r) in rows("Logical_Router_Port") {
            if let Some(name) = r.str("name") {
                idx.router_ports.insert(name, (u, r));
            }
        }
        for (u, r) in rows("Port_Group") {
            if let Some(name) = r.str("name") {
                idx.port_groups.insert(name, (u, r));
            }
        }
        for table in [
            "ACL",
            "NAT",
            "Logical_Router_Static_Route",
            "Gateway_Chassis",
        ] {
            for (u, r) in rows(table) {
                idx.children.insert(u, r);
            }
        }
        idx.nb_global = rows("NB_Global").into_iter().next();
        idx
    }

    /// Switches and routers we own (named `neutron-<id>`): their ids.
    pub fn owned<'b>(
        map: &'b HashMap<&'a str, Entry<'a>>,
    ) -> impl Iterator<Item = (&'a str, Uuid)> + 'b {
        map.iter()
            .filter_map(|(name, (u, _))| name.strip_prefix(NEUTRON_PREFIX).map(|id| (id, *u)))
    }
}
