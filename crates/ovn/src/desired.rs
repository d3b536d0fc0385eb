//! What the northbound database should hold for each object of the model:
//! pure functions from the Network API's types to OVSDB rows. Columns that
//! reference other rows (ports of a switch, ACLs of a port group, ...) are
//! not in these rows; [`crate::plan`] fills them in.

use ipnet::IpNet;
use neutrino_ovsdb::{Row, Value};
use neutrino_types::model::{FloatingIp, Network, Port, Router, SecurityGroup, Subnet};

use crate::acl::{AclSpec, drop_acls, rule_acl};
use crate::naming::*;

/// Where a DHCP server lives when the subnet has no gateway: Neutron uses
/// its metadata port's address; we run no metadata port, and the link-local
/// metadata address never collides with an allocated one.
pub const GATEWAYLESS_DHCP_SERVER: &str = "169.254.169.254";
/// Neutron's default DHCP lease, in seconds.
pub const LEASE_TIME: &str = "43200";

/// Device owners whose ports have no logical switch port.
const IGNORED_OWNERS: &[&str] = &[neutrino_types::DEVICE_OWNER_FLOATINGIP];

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredSwitch {
    pub name: String,
    pub row: Row,
    /// The localnet port of a provider network.
    pub localnet: Option<Row>,
    /// DHCP_Options per DHCP-enabled subnet: (subnet id, row).
    pub dhcp: Vec<(String, Row)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredPort {
    pub name: String,
    pub switch: String,
    pub row: Row,
    pub dhcpv4_subnet: Option<String>,
    pub dhcpv6_subnet: Option<String>,
    /// Port groups the port belongs to (security groups and the drop group).
    pub port_groups: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRouterPort {
    pub name: String,
    pub row: Row,
    /// (chassis name, priority) for the gateway port.
    pub gateway_chassis: Vec<(String, i64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRouter {
    pub name: String,
    pub row: Row,
    pub ports: Vec<DesiredRouterPort>,
    pub static_routes: Vec<Row>,
    pub nat: Vec<Row>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredGroup {
    pub name: String,
    pub row: Row,
    pub acls: Vec<Row>,
}

pub fn switch(net: &Network, subnets: &[Subnet]) -> DesiredSwitch {
    let name = switch_name(&net.id);
    let row = Row::new().with("name", name.clone()).with(
        "external_ids",
        Value::string_map([
            (KEY_NETWORK_NAME, net.name.clone()),
            (KEY_MTU, net.mtu.to_string()),
            (KEY_REVISION, net.revision_number.to_string()),
        ]),
    );
    let localnet = match (net.network_type.as_str(), net.physical_network.as_deref()) {
        ("flat" | "vlan", Some(physnet)) => {
            let tag = if net.network_type == "vlan" {
                Value::optional(net.segmentation_id.map(Into::into))
            } else {
                Value::empty_set()
            };
            Some(
                Row::new()
                    .with("name", localnet_name(&net.id))
                    .with("type", "localnet")
                    .with("addresses", Value::string_set(["unknown"]))
                    .with("tag", tag)
                    .with(
                        "options",
                        Value::string_map([
                            ("network_name", physnet.to_string()),
                            ("mcast_flood", "false".to_string()),
                            ("mcast_flood_reports", "true".to_string()),
                        ]),
                    )
                    .with("external_ids", Value::empty_map()),
            )
        }
        _ => None,
    };
    let dhcp = subnets
        .iter()
        .filter_map(|s| dhcp_options(net, s).map(|r| (s.id.clone(), r)))
        .collect();
    DesiredSwitch {
        name,
        row,
        localnet,
        dhcp,
    }
}

/// A deterministic MAC for a subnet's DHCP server (Neutron picks a random
/// one and stores it; deriving it keeps audits from seeing a difference).
pub fn dhcp_server_mac(subnet_id: &str) -> String {
    let hex: Vec<u8> = subnet_id.bytes().filter(u8::is_ascii_hexdigit).collect();
    let byte = |i: usize| -> String {
        hex.get(i * 2..i * 2 + 2)
            .map(|b| String::from_utf8_lossy(b).to_lowercase())
            .unwrap_or_else(|| "00".into())
    };
    format!("fa:16:3e:{}:{}:{}", byte(0), byte(1), byte(2))
}

pub fn dhcp_options(net: &Network, s: &Subnet) -> Option<Row> {
    if !s.enable_dhcp {
        return None;
    }
    let mut opts: Vec<(&str, String)> = Vec::new();
    let server_mac = dhcp_server_mac(&s.id);
    if s.ip_version == 4 {
        let server = s
            .gateway_ip
            .clone()
            .unwrap_or_else(|| GATEWAYLESS_DHCP_SERVER.into());
        opts.push(("server_id", server));
        opts.push(("server_mac", server_mac));
        opts.push(("lease_time", LEASE_TIME.into()));
        opts.push(("mtu", net.mtu.to_string()));
        if let Some(gw) = &s.gateway_ip {
            opts.push(("router", gw.clone()));
        }
        if !s.dns_nameservers.is_empty() {
            opts.push((
                "dns_server",
                format!("{{{}}}", s.dns_nameservers.join(", ")),
            ));
        }
        // Classless routes replace the router option in clients (RFC 3442),
        // so the default route goes in too. Host routes are sent even
        // without a gateway: document 000's management subnet needs that.
        let mut routes: Vec<String> = s
            .host_routes
            .iter()
            .map(|r| format!("{},{}", r.destination, r.nexthop))
            .collect();
        if !routes.is_empty()
            && let Some(gw) = &s.gateway_ip
        {
            routes.push(format!("0.0.0.0/0,{gw}"));
        }
        if !routes.is_empty() {
            opts.push((
                "classless_static_route",
                format!("{{{}}}", routes.join(", ")),
            ));
        }
    } else {
        match s.ipv6_address_mode.as_deref() {
            Some("dhcpv6-stateful") | Some("dhcpv6-stateless") => {}
            _ => return None,
        }
        opts.push(("server_id", server_mac));
        if s.ipv6_address_mode.as_deref() == Some("dhcpv6-stateless") {
            opts.push(("dhcpv6_stateless", "true".into()));
        }
        if !s.dns_nameservers.is_empty() {
            opts.push((
                "dns_server",
                format!("{{{}}}", s.dns_nameservers.join(", ")),
            ));
        }
    }
    Some(
        Row::new()
            .with("cidr", s.cidr.clone())
            .with("options", Value::string_map(opts))
            .with(
                "external_ids",
                Value::string_map([
                    (KEY_DHCP_SUBNET, s.id.clone()),
                    (KEY_REVISION, s.revision_number.to_string()),
                ]),
            ),
    )
}

pub fn is_router_port(p: &Port) -> bool {
    neutrino_types::ROUTER_INTERFACE_OWNERS.contains(&p.device_owner.as_str())
        || p.device_owner == neutrino_types::DEVICE_OWNER_ROUTER_GW
}

/// The switch port of `p`, or `None` for ports OVN does not model
/// (floating IP ports: the NAT rows carry them).
pub fn port(p: &Port, subnets: &[Subnet]) -> Option<DesiredPort> {
    port_with(p, subnets, None)
}

/// A port whose address other ports of its network hold as an allowed
/// address pair (an Octavia VIP held by its amphorae's VRRP ports).
#[derive(Clone, Copy, Debug)]
pub struct Virtual<'a> {
    pub ip: &'a str,
    /// The ports naming it, sorted.
    pub parents: &'a [String],
}

/// [`port`], as an OVN `virtual` port when `virt` says so (Neutron's OVN
/// driver does the same): OVN binds it to the chassis of whichever parent
/// last answered for the address, so the VIP follows its amphora.
pub fn port_with(p: &Port, subnets: &[Subnet], virt: Option<Virtual<'_>>) -> Option<DesiredPort> {
    if IGNORED_OWNERS.contains(&p.device_owner.as_str()) {
        return None;
    }
    let subnet = |id: &str| subnets.iter().find(|s| s.id == id);
    let ips: Vec<&str> = p.fixed_ips.iter().map(|f| f.ip_address.as_str()).collect();
    let cidrs: Vec<String> = p
        .fixed_ips
        .iter()
        .map(|f| {
            let len = subnet(&f.subnet_id)
                .and_then(|s| s.cidr.parse::<IpNet>().ok())
                .map(|n| n.prefix_len())
                .unwrap_or(32);
            format!("{}/{len}", f.ip_address)
        })
        .collect();
    let mut external_ids = vec![
        (KEY_PORT_NAME, p.name.clone()),
        (KEY_DEVICE_ID, p.device_id.clone()),
        (KEY_DEVICE_OWNER, p.device_owner.clone()),
        (KEY_CIDRS, cidrs.join(" ")),
        (KEY_PROJECT_ID, p.project_id.clone()),
        (KEY_NETWORK_NAME, switch_name(&p.network_id)),
    ];
    let mut row = Row::new().with("name", p.id.clone());
    let mut groups = Vec::new();
    let (mut v4, mut v6) = (None, None);
    if is_router_port(p) {
        let mut options = vec![("router-port", lrp_name(&p.id))];
        if p.device_owner == neutrino_types::DEVICE_OWNER_ROUTER_GW {
            options.push(("nat-addresses", "router".into()));
        }
        row.set("type", "router");
        row.set("addresses", Value::string_set(["router"]));
        row.set("port_security", Value::empty_set());
        row.set("options", Value::string_map(options));
        external_ids.push((KEY_SG_IDS, String::new()));
    } else {
        let mut address = p.mac_address.clone();
        for ip in &ips {
            address.push(' ');
            address.push_str(ip);
        }
        let mut addresses = vec![address.clone()];
        let mut security = Vec::new();
        if p.port_security_enabled {
            security.push(address);
            for pair in &p.allowed_address_pairs {
                security.push(format!("{} {}", pair.mac_address, pair.ip_address));
            }
            groups.push(DROP_PORT_GROUP.to_string());
            groups.extend(p.security_groups.iter().map(|g| port_group_name(g)));
        } else {
            // Without port security the port may receive any destination.
            addresses.push("unknown".into());
        }
        row.set("addresses", Value::string_set(addresses));
        row.set("port_security", Value::string_set(security));
        match virt {
            Some(v) if !v.parents.is_empty() => {
                row.set("type", "virtual");
                row.set(
                    "options",
                    Value::string_map(vec![
                        ("virtual-ip", v.ip.to_string()),
                        ("virtual-parents", v.parents.join(",")),
                    ]),
                );
            }
            _ => {
                row.set("type", "");
                row.set("options", Value::empty_map());
            }
        }
        let mut sgs = p.security_groups.clone();
        sgs.sort();
        external_ids.push((KEY_SG_IDS, sgs.join(" ")));
        for f in &p.fixed_ips {
            let Some(s) = subnet(&f.subnet_id) else {
                continue;
            };
            if !s.enable_dhcp {
                continue;
            }
            if s.ip_version == 4 {
                v4.get_or_insert_with(|| s.id.clone());
            } else if matches!(
                s.ipv6_address_mode.as_deref(),
                Some("dhcpv6-stateful") | Some("dhcpv6-stateless")
            ) {
                v6.get_or_insert_with(|| s.id.clone());
            }
        }
    }
    row.set("enabled", Value::boolean(p.admin_state_up));
    row.set("external_ids", Value::string_map(external_ids));
    Some(DesiredPort {
        name: p.id.clone(),
        switch: switch_name(&p.network_id),
        row,
        dhcpv4_subnet: v4,
        dhcpv6_subnet: v6,
        port_groups: groups,
    })
}

/// Everything a router needs from the model besides itself.
pub struct RouterInputs<'a> {
    /// Ports whose device is the router (interfaces and the gateway port).
    pub ports: &'a [Port],
    /// Subnets of those ports' addresses.
    pub subnets: &'a [Subnet],
    /// Floating IPs going through the router.
    pub floating_ips: &'a [FloatingIp],
    /// Chassis that may host the gateway, best first.
    pub gateway_chassis: &'a [String],
}

pub fn router(r: &Router, input: &RouterInputs<'_>) -> DesiredRouter {
    let name = router_name(&r.id);
    let subnet = |id: &str| input.subnets.iter().find(|s| s.id == id);
    let row = Row::new()
        .with("name", name.clone())
        .with("enabled", Value::boolean(r.admin_state_up))
        .with(
            "external_ids",
            Value::string_map([
                (KEY_ROUTER_NAME, r.name.clone()),
                (KEY_GW_PORT_ID, r.gw_port_id.clone().unwrap_or_default()),
                (KEY_REVISION, r.revision_number.to_string()),
            ]),
        )
        .with(
            "options",
            Value::string_map([
                ("always_learn_from_arp_request", "false"),
                ("dynamic_neigh_routers", "true"),
            ]),
        );
    let mut ports = Vec::new();
    let mut internal_cidrs = Vec::new();
    let mut gateway_ips: Vec<(String, String)> = Vec::new();
    let mut static_routes = Vec::new();
    let mut owned: Vec<&Port> = input.ports.iter().filter(|p| is_router_port(p)).collect();
    owned.sort_by(|a, b| a.id.cmp(&b.id));
    for p in owned {
        let is_gw = r.gw_port_id.as_deref() == Some(p.id.as_str());
        let mut networks = Vec::new();
        let mut subnet_ids = Vec::new();
        let mut ra = Vec::new();
        for f in &p.fixed_ips {
            let Some(s) = subnet(&f.subnet_id) else {
                continue;
            };
            let Ok(net) = s.cidr.parse::<IpNet>() else {
                continue;
            };
            networks.push(format!("{}/{}", f.ip_address, net.prefix_len()));
            subnet_ids.push(s.id.clone());
            if is_gw {
                if let Some(gw) = &s.gateway_ip {
                    let default = if s.ip_version == 4 {
                        "0.0.0.0/0"
                    } else {
                        "::/0"
                    };
                    static_routes.push(
                        Row::new()
                            .with("ip_prefix", default)
                            .with("nexthop", gw.clone())
                            .with(
                                "external_ids",
                                Value::string_map([
                                    (KEY_IS_EXT_GW, "true".to_string()),
                                    (KEY_SUBNET_ID, s.id.clone()),
                                ]),
                            ),
                    );
                }
                if s.ip_version == 4 {
                    gateway_ips.push((s.id.clone(), f.ip_address.clone()));
                }
            } else {
                if s.ip_version == 4 {
                    internal_cidrs.push(s.cidr.clone());
                }
                if let Some(mode) = &s.ipv6_ra_mode {
                    ra.push(("address_mode", mode.replace('-', "_")));
                    ra.push(("send_periodic", "true".into()));
                }
            }
        }
        let mut external_ids = vec![
            (KEY_ROUTER_NAME, r.id.clone()),
            (KEY_NETWORK_NAME, switch_name(&p.network_id)),
            (KEY_SUBNET_IDS, subnet_ids.join(" ")),
            (KEY_REVISION, p.revision_number.to_string()),
        ];
        if is_gw {
            external_ids.push((KEY_IS_EXT_GW, "True".into()));
        }
        let lrp = lrp_name(&p.id);
        ports.push(DesiredRouterPort {
            row: Row::new()
                .with("name", lrp.clone())
                .with("mac", p.mac_address.clone())
                .with("networks", Value::string_set(networks))
                .with("enabled", Value::boolean(p.admin_state_up))
                .with("ipv6_ra_configs", Value::string_map(ra))
                .with("external_ids", Value::string_map(external_ids)),
            gateway_chassis: if is_gw {
                input
                    .gateway_chassis
                    .iter()
                    .take(5)
                    .enumerate()
                    .map(|(i, c)| (c.clone(), 5 - i as i64))
                    .collect()
            } else {
                Vec::new()
            },
            name: lrp,
        });
    }
    for route in &r.routes {
        static_routes.push(
            Row::new()
                .with("ip_prefix", route.destination.clone())
                .with("nexthop", route.nexthop.clone())
                .with(
                    "external_ids",
                    Value::string_map([("neutron:is_extra_route", "true")]),
                ),
        );
    }
    let mut nat = Vec::new();
    if r.enable_snat
        && let Some((_, gw_ip)) = gateway_ips.first()
    {
        internal_cidrs.sort();
        internal_cidrs.dedup();
        for cidr in &internal_cidrs {
            nat.push(
                Row::new()
                    .with("type", "snat")
                    .with("logical_ip", cidr.clone())
                    .with("external_ip", gw_ip.clone())
                    .with(
                        "external_ids",
                        Value::string_map([(KEY_ROUTER_NAME, name.clone())]),
                    ),
            );
        }
    }
    let mut fips: Vec<&FloatingIp> = input
        .floating_ips
        .iter()
        .filter(|f| f.router_id.as_deref() == Some(r.id.as_str()) && f.fixed_ip_address.is_some())
        .collect();
    fips.sort_by(|a, b| a.id.cmp(&b.id));
    for f in fips {
        nat.push(
            Row::new()
                .with("type", "dnat_and_snat")
                .with("logical_ip", f.fixed_ip_address.clone().unwrap_or_default())
                .with("external_ip", f.floating_ip_address.clone())
                .with(
                    "external_ids",
                    Value::string_map([
                        (KEY_FIP_ID, f.id.clone()),
                        (KEY_FIP_PORT_ID, f.port_id.clone().unwrap_or_default()),
                        (KEY_ROUTER_NAME, name.clone()),
                    ]),
                ),
        );
    }
    DesiredRouter {
        name,
        row,
        ports,
        static_routes,
        nat,
    }
}

fn acl_row(a: &AclSpec) -> Row {
    let ext = match &a.rule_id {
        Some(id) => Value::string_map([(KEY_SG_RULE_ID, id.clone())]),
        None => Value::empty_map(),
    };
    Row::new()
        .with("direction", a.direction)
        .with("priority", Value::integer(a.priority))
        .with("match", a.match_.clone())
        .with("action", a.action)
        .with("log", Value::boolean(false))
        .with("external_ids", ext)
}

pub fn group(g: &SecurityGroup) -> DesiredGroup {
    let mut rules: Vec<_> = g.rules.iter().collect();
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    DesiredGroup {
        name: port_group_name(&g.id),
        row: Row::new().with("name", port_group_name(&g.id)).with(
            "external_ids",
            Value::string_map([(KEY_SG_ID, g.id.clone())]),
        ),
        acls: rules
            .iter()
            .map(|r| acl_row(&rule_acl(r, g.stateful)))
            .collect(),
    }
}

pub fn drop_group() -> DesiredGroup {
    DesiredGroup {
        name: DROP_PORT_GROUP.into(),
        row: Row::new()
            .with("name", DROP_PORT_GROUP)
            .with("external_ids", Value::empty_map()),
        acls: drop_acls().iter().map(acl_row).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neutrino_types::model::{AddressPair, FixedIp, HostRoute};

    fn net(kind: &str, physnet: Option<&str>, seg: Option<i64>) -> Network {
        Network {
            id: "n1".into(),
            project_id: "p".into(),
            name: "net".into(),
            description: String::new(),
            admin_state_up: true,
            shared: false,
            router_external: false,
            mtu: 1442,
            status: "ACTIVE".into(),
            network_type: kind.into(),
            physical_network: physnet.map(Into::into),
            segmentation_id: seg,
            availability_zone_hints: vec![],
            port_security_enabled: true,
            dns_domain: String::new(),
            revision_number: 1,
            created_at: String::new(),
            updated_at: String::new(),
            tags: vec![],
            subnets: vec![],
            access: vec![],
        }
    }

    fn subnet(cidr: &str, gw: Option<&str>) -> Subnet {
        Subnet {
            id: "0a1b2c3d-0000-0000-0000-000000000000".into(),
            project_id: "p".into(),
            network_id: "n1".into(),
            name: String::new(),
            description: String::new(),
            ip_version: 4,
            cidr: cidr.into(),
            gateway_ip: gw.map(Into::into),
            allocation_pools: vec![],
            dns_nameservers: vec![],
            host_routes: vec![],
            enable_dhcp: true,
            ipv6_ra_mode: None,
            ipv6_address_mode: None,
            dns_publish_fixed_ip: false,
            revision_number: 1,
            created_at: String::new(),
            updated_at: String::new(),
            tags: vec![],
        }
    }

    fn port(security: bool) -> Port {
        Port {
            id: "p1".into(),
            project_id: "p".into(),
            network_id: "n1".into(),
            name: String::new(),
            description: String::new(),
            admin_state_up: true,
            mac_address: "fa:16:3e:00:00:01".into(),
            fixed_ips: vec![FixedIp {
                subnet_id: "0a1b2c3d-0000-0000-0000-000000000000".into(),
                ip_address: "10.0.0.5".into(),
            }],
            device_id: String::new(),
            device_owner: String::new(),
            status: "DOWN".into(),
            binding_host_id: String::new(),
            binding_vif_type: "unbound".into(),
            binding_vnic_type: "normal".into(),
            binding_profile: serde_json::json!({}),
            binding_vif_details: serde_json::json!({}),
            port_security_enabled: security,
            security_groups: if security {
                vec!["sg-1".into()]
            } else {
                vec![]
            },
            allowed_address_pairs: vec![AddressPair {
                ip_address: "10.0.0.100".into(),
                mac_address: "fa:16:3e:00:00:01".into(),
            }],
            dns_name: String::new(),
            revision_number: 1,
            created_at: String::new(),
            updated_at: String::new(),
            tags: vec![],
        }
    }

    #[test]
    fn vlan_networks_get_a_tagged_localnet_port_and_tenant_networks_none() {
        let d = switch(&net("vlan", Some("physnet1"), Some(120)), &[]);
        let l = d.localnet.expect("localnet");
        assert_eq!(l.int("tag"), Some(120));
        assert_eq!(l.string_map("options")["network_name"], "physnet1");
        assert!(
            switch(&net("geneve", None, Some(7)), &[])
                .localnet
                .is_none()
        );
        let flat = switch(&net("flat", Some("octavia"), None), &[])
            .localnet
            .expect("flat");
        assert!(flat.get("tag").is_some_and(|t| t.is_empty()));
    }

    #[test]
    fn dhcp_routes_and_the_gatewayless_server() {
        let mut s = subnet("172.24.0.0/16", None);
        s.host_routes = vec![HostRoute {
            destination: "172.23.0.0/24".into(),
            nexthop: "172.24.1.89".into(),
        }];
        let o = dhcp_options(&net("geneve", None, None), &s)
            .expect("dhcp")
            .string_map("options");
        assert_eq!(o["server_id"], GATEWAYLESS_DHCP_SERVER);
        assert_eq!(o["classless_static_route"], "{172.23.0.0/24,172.24.1.89}");
        assert!(!o.contains_key("router"));
        assert_eq!(o["mtu"], "1442");
        let mut s = subnet("10.0.0.0/24", Some("10.0.0.1"));
        s.host_routes = vec![HostRoute {
            destination: "10.1.0.0/16".into(),
            nexthop: "10.0.0.254".into(),
        }];
        let o = dhcp_options(&net("geneve", None, None), &s)
            .expect("dhcp")
            .string_map("options");
        assert_eq!(o["router"], "10.0.0.1");
        assert_eq!(
            o["classless_static_route"],
            "{10.1.0.0/16,10.0.0.254, 0.0.0.0/0,10.0.0.1}"
        );
        s.enable_dhcp = false;
        assert!(dhcp_options(&net("geneve", None, None), &s).is_none());
    }

    #[test]
    fn port_security_decides_addresses_and_groups() {
        let subnets = [subnet("10.0.0.0/24", Some("10.0.0.1"))];
        let on = super::port(&port(true), &subnets).expect("lsp");
        assert_eq!(
            on.row.strings("addresses"),
            vec!["fa:16:3e:00:00:01 10.0.0.5"]
        );
        let mut sec = on.row.strings("port_security");
        sec.sort();
        assert_eq!(
            sec,
            vec!["fa:16:3e:00:00:01 10.0.0.100", "fa:16:3e:00:00:01 10.0.0.5"]
        );
        assert_eq!(
            on.port_groups,
            vec![DROP_PORT_GROUP.to_string(), port_group_name("sg-1")]
        );
        assert_eq!(
            on.dhcpv4_subnet.as_deref(),
            Some("0a1b2c3d-0000-0000-0000-000000000000")
        );
        assert_eq!(on.row.string_map("external_ids")[KEY_CIDRS], "10.0.0.5/24");

        let off = super::port(&port(false), &subnets).expect("lsp");
        assert!(
            off.row
                .strings("addresses")
                .contains(&"unknown".to_string())
        );
        assert!(off.row.strings("port_security").is_empty());
        assert!(off.port_groups.is_empty());

        let mut fip = port(true);
        fip.device_owner = neutrino_types::DEVICE_OWNER_FLOATINGIP.into();
        assert!(
            super::port(&fip, &subnets).is_none(),
            "floating IP ports have no LSP"
        );
    }
}
