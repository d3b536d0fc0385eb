//! keepalived.conf for one amphora of an ACTIVE_STANDBY load balancer:
//! octavia 19's `amphorae/drivers/keepalived/jinja/templates/
//! keepalived_base.template` with `KeepalivedJinjaTemplater.
//! build_keepalived_config`'s data transformation.
//!
//! Upstream's VRRP instance starts in keepalived's default state (BACKUP)
//! with `nopreempt`: the amphora with the higher priority takes the VIP
//! when nobody advertises it, and a recovered one does not take it back.
//! The VIPs are keepalived's (`virtual_ipaddress`; those of the other
//! address family than the VRRP address in `virtual_ipaddress_excluded`),
//! and so are the routes and rules that send answers from a VIP out of the
//! VRRP interface (table 1).
//!
//! Differences from upstream:
//! - a VIP subnet's host route reads `DEST dev IF via NEXTHOP onlink
//!   table 1`; upstream writes `gateway NEXTHOP`, a keyword keepalived
//!   does not know (2.2.7: "unknown route keyword gateway", the route is
//!   skipped and `keepalived -t` fails). The amphora's own interface
//!   configuration puts the same routes in table 1, so upstream's
//!   amphorae route alike; ours pass the agent's `keepalived -t`.
//!
//! and on inputs upstream does not expect either:
//! - the file ends with a newline (upstream's jinja drops the last one);
//! - no HTML escaping of values (upstream's environment autoescapes);
//! - a subnet CIDR that does not parse is written as given (upstream
//!   raises `ValueError`), and an address that does not parse counts as
//!   IPv4; the agent's `keepalived -t` then refuses the file.

use std::fmt::Write as _;
use std::net::IpAddr;

/// `constants.VRRP_AUTH_DEFAULT`: the auth type of upstream's VRRP groups.
pub const VRRP_AUTH_DEFAULT: &str = "PASS";
/// `constants.ROLE_MASTER_PRIORITY` / `ROLE_BACKUP_PRIORITY`.
pub const ROLE_MASTER_PRIORITY: i64 = 100;
pub const ROLE_BACKUP_PRIORITY: i64 = 90;
/// Every amphora's `vrrp_id` (upstream sets 1 on each).
pub const VRRP_ID: i64 = 1;
/// `[keepalived_vrrp] vrrp_advert_int`: a new VRRP group's `advert_int`.
pub const DEFAULT_VRRP_ADVERT_INT: i64 = 1;

/// Upstream's `vrrp_group_name` of a load balancer: its id without dashes.
pub fn vrrp_group_name(lb_id: &str) -> String {
    lb_id.replace('-', "")
}

/// A load balancer's VRRP group (upstream's `vrrp_group` row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VrrpGroup<'a> {
    /// [`vrrp_group_name`] of the load balancer.
    pub name: &'a str,
    /// [`VRRP_AUTH_DEFAULT`].
    pub auth_type: &'a str,
    /// Upstream: the first 7 hex digits of a random uuid, made once per
    /// load balancer and shared by its amphorae.
    pub auth_pass: &'a str,
    pub advert_int: i64,
}

/// A subnet's host route (`destination`, `nexthop`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostRoute<'a> {
    pub destination: &'a str,
    pub nexthop: &'a str,
}

/// A VIP with its subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeepalivedVip<'a> {
    pub ip_address: &'a str,
    /// The subnet's `cidr`.
    pub subnet_cidr: &'a str,
    /// The subnet's `gateway_ip` (None or empty: no default route).
    pub gateway: Option<&'a str>,
    pub host_routes: Vec<HostRoute<'a>>,
}

/// Upstream's `[keepalived_vrrp]` options; `Default` is upstream's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepalivedOptions {
    /// `vrrp_check_interval`: seconds between runs of the check script.
    pub check_interval: i64,
    /// `vrrp_fail_count`: failed checks before the instance goes FAULT.
    pub fail_count: i64,
    /// `vrrp_success_count`: good checks before it recovers.
    pub success_count: i64,
    /// `vrrp_garp_refresh_interval`: seconds between the MASTER's
    /// gratuitous ARP rounds.
    pub garp_refresh_interval: i64,
    /// `vrrp_garp_refresh_count`: gratuitous ARPs per round.
    pub garp_refresh_count: i64,
}

impl Default for KeepalivedOptions {
    fn default() -> Self {
        KeepalivedOptions {
            check_interval: 5,
            fail_count: 2,
            success_count: 2,
            garp_refresh_interval: 5,
            garp_refresh_count: 2,
        }
    }
}

/// What `build_keepalived_config(loadbalancer, amphora, amp_net_config)`
/// reads, for one amphora.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeepalivedInput<'a> {
    pub vrrp_group: VrrpGroup<'a>,
    /// The amphora's `vrrp_interface` (the agent's answer to
    /// `GET /1.0/interface/{vrrp_ip}`: `eth1`).
    pub interface: &'a str,
    /// The amphora's `vrrp_id` ([`VRRP_ID`]).
    pub vrrp_id: i64,
    /// The amphora's `vrrp_priority` ([`ROLE_MASTER_PRIORITY`] or
    /// [`ROLE_BACKUP_PRIORITY`]).
    pub priority: i64,
    /// The amphora's `vrrp_ip`: `unicast_src_ip`.
    pub vrrp_ip: &'a str,
    /// The `vrrp_ip` of each ALLOCATED amphora of the load balancer; this
    /// one's own is skipped, as upstream does, so it may be included.
    pub peers: Vec<&'a str>,
    /// The load balancer's VIP and its subnet.
    pub vip: KeepalivedVip<'a>,
    /// `additional_vips` with their subnets, in any order (rendered sorted
    /// by address text, as upstream sorts them).
    pub additional_vips: Vec<KeepalivedVip<'a>>,
    /// The VRRP check script on the amphora (upstream
    /// `{base_path}/vrrp/check_script.sh`; the agent's is
    /// `neutrino_amphora_agent::vrrp_check_script_path(base_dir)`).
    pub check_script_path: &'a str,
    pub options: KeepalivedOptions,
}

fn is_ipv6(addr: &str) -> bool {
    addr.parse::<IpAddr>().is_ok_and(|a| a.is_ipv6())
}

/// `ipaddress.ip_network(cidr).with_prefixlen`: the address in its
/// canonical text (Rust's IPv6 text is RFC 5952's, as Python's is) and the
/// prefix length, `/32` or `/128` when there is none.
fn network_cidr(cidr: &str) -> String {
    let (addr, len) = cidr
        .split_once('/')
        .map_or((cidr, None), |(a, l)| (a, Some(l)));
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return cidr.to_string();
    };
    let max = if ip.is_ipv6() { 128 } else { 32 };
    match len.map(str::parse::<u8>) {
        None => format!("{ip}/{max}"),
        Some(Ok(l)) if l <= max => format!("{ip}/{l}"),
        Some(_) => cidr.to_string(),
    }
}

/// The keepalived.conf upstream renders for this amphora.
pub fn keepalived(input: &KeepalivedInput<'_>) -> String {
    let KeepalivedOptions {
        check_interval,
        fail_count,
        success_count,
        garp_refresh_interval,
        garp_refresh_count,
    } = input.options;
    let intf = input.interface;
    let group = &input.vrrp_group;

    // The primary VIP first, then the others sorted by their text, so
    // that the order is the same on both amphorae whatever the input's.
    let mut additional: Vec<&KeepalivedVip<'_>> = input.additional_vips.iter().collect();
    additional.sort_by(|a, b| a.ip_address.cmp(b.ip_address));
    let vips: Vec<&KeepalivedVip<'_>> = std::iter::once(&input.vip).chain(additional).collect();
    let vrrp_v6 = is_ipv6(input.vrrp_ip);
    // Addresses of the other family than the VRRP address cannot be
    // advertised by this instance: keepalived only adds them.
    let excluded = |v: &KeepalivedVip<'_>| is_ipv6(v.ip_address) != vrrp_v6;

    let mut o = String::with_capacity(2048);
    let _ = write!(
        o,
        "vrrp_script check_script {{\n\
         \x20   script {script}\n\
         \x20   interval {check_interval}\n\
         \x20   fall {fail_count}\n\
         \x20   rise {success_count}\n\
         }}\n\
         \n\
         vrrp_instance {name} {{\n\
         \x20   interface {intf}\n\
         \x20   virtual_router_id {vrrp_id}\n\
         \x20   priority {priority}\n\
         \x20   nopreempt\n\
         \x20   accept\n\
         \x20   garp_master_refresh {garp_refresh_interval}\n\
         \x20   garp_master_refresh_repeat {garp_refresh_count}\n\
         \x20   advert_int {advert_int}\n\
         \x20   authentication {{\n\
         \x20       auth_type {auth_type}\n\
         \x20       auth_pass {auth_pass}\n\
         \x20   }}\n\
         \n\
         \x20   unicast_src_ip {vrrp_ip}\n\
         \x20   unicast_peer {{\n",
        script = input.check_script_path,
        name = group.name,
        vrrp_id = input.vrrp_id,
        priority = input.priority,
        advert_int = group.advert_int,
        auth_type = group.auth_type,
        auth_pass = group.auth_pass,
        vrrp_ip = input.vrrp_ip,
    );
    for peer in input.peers.iter().filter(|p| **p != input.vrrp_ip) {
        let _ = writeln!(o, "        {peer}");
    }
    o.push_str("    }\n\n    virtual_ipaddress {\n");
    for v in vips.iter().filter(|v| !excluded(v)) {
        let _ = writeln!(o, "        {}", v.ip_address);
    }
    o.push_str("    }\n\n    virtual_ipaddress_excluded {\n");
    for v in vips.iter().filter(|v| excluded(v)) {
        let _ = writeln!(o, "        {}", v.ip_address);
    }
    o.push_str("    }\n\n    virtual_routes {\n");
    for v in &vips {
        let _ = writeln!(
            o,
            "        {} dev {intf} src {} scope link table 1",
            network_cidr(v.subnet_cidr),
            v.ip_address
        );
        if let Some(gw) = v.gateway.filter(|g| !g.is_empty()) {
            let _ = writeln!(o, "        default via {gw} dev {intf} onlink table 1");
        }
        for r in &v.host_routes {
            let _ = writeln!(
                o,
                "        {} dev {intf} via {} onlink table 1",
                r.destination, r.nexthop
            );
        }
    }
    o.push_str("    }\n\n    virtual_rules {\n");
    for v in &vips {
        let len = if is_ipv6(v.ip_address) { 128 } else { 32 };
        let _ = writeln!(
            o,
            "        from {}/{len} table 1 priority 100",
            v.ip_address
        );
    }
    o.push_str("    }\n\n    track_script {\n        check_script\n    }\n}\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_cidr_is_normalised_as_python_does() {
        assert_eq!(network_cidr("2001:DB8:0::/64"), "2001:db8::/64");
        assert_eq!(network_cidr("10.0.0.0/8"), "10.0.0.0/8");
        assert_eq!(network_cidr("192.0.2.7"), "192.0.2.7/32");
        assert_eq!(network_cidr("not-a-cidr"), "not-a-cidr");
        assert_eq!(network_cidr("10.0.0.0/33"), "10.0.0.0/33");
    }

    #[test]
    fn group_name_drops_dashes() {
        assert_eq!(
            vrrp_group_name("b1b2c3d4-0000-4000-8000-000000000001"),
            "b1b2c3d4000040008000000000000001"
        );
    }
}
