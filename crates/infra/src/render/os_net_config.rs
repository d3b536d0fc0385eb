//! A node's os-net-config document (`{"network_config": [...]}`) from its
//! IPSet's reservations, for nodes configured by os-net-config rather than
//! nmstate (data-plane nodes).
//!
//! Layout: each untagged network on its own interface, `nic1`, `nic2`, ...
//! in the IPSet's order (ctlplane first); each VLAN network a `vlan` on
//! `nic1`, whose MTU is raised to the largest of its VLANs'. The default
//! route an IPSet asks for becomes `{"default": true, "next_hop": ...}`;
//! the DNS domains of the networks and the given DNS servers go on the
//! first interface. Keys are sorted, as os-net-config writes them.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde_json::{Value, json};

use super::RenderError;
use crate::resources::IPSetReservation;

fn object(entries: BTreeMap<&str, Value>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// The document for IPSet `name` with these status entries.
pub fn render(
    name: &str,
    reservations: &[IPSetReservation],
    dns_servers: &[String],
) -> Result<Value, RenderError> {
    if reservations.is_empty() {
        return Err(RenderError::IPSet {
            name: name.into(),
            message: "has no reserved addresses (is it Ready?)".into(),
        });
    }
    let mut nics: Vec<BTreeMap<&str, Value>> = Vec::new();
    let mut vlans: Vec<BTreeMap<&str, Value>> = Vec::new();
    let mut vlan_mtu = 0;
    let mut domains: Vec<String> = Vec::new();
    for r in reservations {
        let prefix = r
            .cidr
            .trim()
            .parse::<IpNet>()
            .map_err(|_| RenderError::IPSet {
                name: name.into(),
                message: format!("network {} has an invalid cidr {:?}", r.network, r.cidr),
            })?
            .prefix_len();
        let routes: Vec<Value> = r
            .routes
            .iter()
            .map(|rt| match rt.destination.trim() {
                "0.0.0.0/0" | "::/0" => json!({"default": true, "next_hop": rt.nexthop}),
                dest => json!({"ip_netmask": dest, "next_hop": rt.nexthop}),
            })
            .collect();
        let mut e = BTreeMap::from([
            (
                "addresses",
                json!([{"ip_netmask": format!("{}/{prefix}", r.address)}]),
            ),
            ("mtu", json!(r.mtu)),
            ("routes", Value::Array(routes)),
            ("use_dhcp", json!(false)),
        ]);
        if !r.dns_domain.is_empty() && !domains.contains(&r.dns_domain) {
            domains.push(r.dns_domain.clone());
        }
        match r.vlan {
            Some(v) => {
                e.insert("device", json!("nic1"));
                e.insert("type", json!("vlan"));
                e.insert("vlan_id", json!(v));
                vlan_mtu = vlan_mtu.max(r.mtu);
                vlans.push(e);
            }
            None => {
                e.insert("name", json!(format!("nic{}", nics.len() + 1)));
                e.insert("type", json!("interface"));
                nics.push(e);
            }
        }
    }
    if nics.is_empty() {
        // The VLANs need a device to sit on.
        nics.push(BTreeMap::from([
            ("mtu", json!(vlan_mtu)),
            ("name", json!("nic1")),
            ("type", json!("interface")),
            ("use_dhcp", json!(false)),
        ]));
    }
    let nic1 = &mut nics[0];
    if nic1["mtu"].as_i64().unwrap_or(0) < vlan_mtu {
        nic1.insert("mtu", json!(vlan_mtu));
    }
    if !dns_servers.is_empty() {
        nic1.insert("dns_servers", json!(dns_servers));
    }
    if !domains.is_empty() {
        nic1.insert("domain", json!(domains));
    }
    let entries: Vec<Value> = nics.into_iter().chain(vlans).map(object).collect();
    Ok(json!({"network_config": entries}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Route;

    fn entry(
        network: &str,
        address: &str,
        cidr: &str,
        vlan: Option<i64>,
        mtu: i64,
    ) -> IPSetReservation {
        IPSetReservation {
            address: address.into(),
            cidr: cidr.into(),
            dns_domain: format!("{}.example.com", network.to_lowercase()),
            mtu,
            network: network.into(),
            service_network: network.to_lowercase(),
            subnet: "subnet1".into(),
            vlan,
            ..Default::default()
        }
    }

    #[test]
    fn untagged_networks_get_nics_and_vlans_sit_on_nic1() {
        let mut ctl = entry(
            "CtlPlane",
            "192.168.122.100",
            "192.168.122.0/24",
            None,
            1500,
        );
        ctl.routes = vec![Route {
            destination: "0.0.0.0/0".into(),
            nexthop: "192.168.122.1".into(),
        }];
        let mut ext = entry("External", "10.0.0.10", "10.0.0.0/24", None, 1500);
        ext.routes = vec![Route {
            destination: "10.0.1.0/24".into(),
            nexthop: "10.0.0.100".into(),
        }];
        let tenant = entry("Tenant", "172.20.0.10", "172.20.0.0/24", Some(50), 9000);
        let doc = render(
            "edpm-compute-0",
            &[ctl, ext, tenant],
            &["192.168.122.80".into()],
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"network_config": [
                {"addresses": [{"ip_netmask": "192.168.122.100/24"}], "dns_servers": ["192.168.122.80"],
                 "domain": ["ctlplane.example.com", "external.example.com", "tenant.example.com"],
                 "mtu": 9000, "name": "nic1", "routes": [{"default": true, "next_hop": "192.168.122.1"}],
                 "type": "interface", "use_dhcp": false},
                {"addresses": [{"ip_netmask": "10.0.0.10/24"}], "mtu": 1500, "name": "nic2",
                 "routes": [{"ip_netmask": "10.0.1.0/24", "next_hop": "10.0.0.100"}],
                 "type": "interface", "use_dhcp": false},
                {"addresses": [{"ip_netmask": "172.20.0.10/24"}], "device": "nic1", "mtu": 9000,
                 "routes": [], "type": "vlan", "use_dhcp": false, "vlan_id": 50},
            ]})
        );
        // Keys in os-net-config's (sorted) order.
        let first: Vec<&String> = doc["network_config"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(first, sorted);
    }

    #[test]
    fn vlans_only_get_a_bare_nic1_and_empty_sets_are_refused() {
        let doc = render(
            "x",
            &[entry(
                "InternalApi",
                "172.17.0.5",
                "172.17.0.0/24",
                Some(20),
                1500,
            )],
            &[],
        )
        .unwrap();
        assert_eq!(
            doc["network_config"][0],
            json!({"mtu": 1500, "name": "nic1", "type": "interface", "use_dhcp": false,
                   "domain": ["internalapi.example.com"]})
        );
        assert_eq!(doc["network_config"][1]["device"], "nic1");
        let e = render("x", &[], &[]).unwrap_err().to_string();
        assert!(
            e.contains("IPSet \"x\"") && e.contains("no reserved addresses"),
            "{e}"
        );
    }
}
