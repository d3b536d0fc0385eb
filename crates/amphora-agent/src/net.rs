//! Interfaces: lookups with `ip -j`, plugging with `ip`.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use crate::AgentConfig;
use crate::haproxy::run;

#[derive(Debug, Clone)]
pub struct Link {
    pub ifname: String,
    pub mac: String,
    pub addrs: Vec<IpAddr>,
}

fn ip(cfg: &AgentConfig, ns: Option<&str>) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(&cfg.ip_cmd);
    if let Some(ns) = ns {
        c.arg("-n").arg(ns);
    }
    c
}

/// `ip -j addr show` in the agent's namespace (`None`) or `ns`.
pub async fn links(cfg: &AgentConfig, ns: Option<&str>) -> Result<Vec<Link>, String> {
    let mut c = ip(cfg, ns);
    c.args(["-j", "addr", "show"]);
    let out = run(c).await?;
    let v: Value = serde_json::from_str(&out).map_err(|e| format!("ip -j: {e}"))?;
    let mut res = Vec::new();
    for l in v.as_array().into_iter().flatten() {
        let addrs = l["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["local"].as_str()?.parse().ok())
            .collect();
        res.push(Link {
            ifname: l["ifname"].as_str().unwrap_or_default().to_string(),
            mac: l["address"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase(),
            addrs,
        });
    }
    Ok(res)
}

async fn ip_do(cfg: &AgentConfig, ns: Option<&str>, args: &[&str]) -> Result<(), String> {
    let mut c = ip(cfg, ns);
    c.args(args);
    run(c)
        .await
        .map(|_| ())
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))
}

pub async fn ns_links(cfg: &AgentConfig) -> Result<Vec<Link>, String> {
    match &cfg.inner_namespace {
        Some(ns) if std::path::Path::new("/run/netns").join(ns).exists() => {
            links(cfg, Some(ns)).await
        }
        Some(_) => Ok(Vec::new()),
        None => links(cfg, None).await,
    }
}

pub enum Found {
    /// Already in the inner namespace (or, without one, already addressed).
    Plugged(Link),
    Outer(Link),
    Missing,
}

pub async fn find_by_mac(cfg: &AgentConfig, mac: &str, ours: &[IpAddr]) -> Result<Found, String> {
    let mac = mac.to_ascii_lowercase();
    let inner = ns_links(cfg).await?;
    if let Some(l) = inner.iter().find(|l| l.mac == mac)
        && (cfg.inner_namespace.is_some() || ours.iter().any(|a| l.addrs.contains(a)))
    {
        return Ok(Found::Plugged(l.clone()));
    }
    if cfg.inner_namespace.is_none() {
        return Ok(match inner.into_iter().find(|l| l.mac == mac) {
            Some(l) => Found::Outer(l),
            None => Found::Missing,
        });
    }
    Ok(
        match links(cfg, None).await?.into_iter().find(|l| l.mac == mac) {
            Some(l) => Found::Outer(l),
            None => Found::Missing,
        },
    )
}

/// Moves `link` into the inner namespace as `name` in one step, as
/// upstream does (no-op without a namespace); returns the interface's
/// name there.
pub async fn adopt(cfg: &AgentConfig, link: &Link, name: &str) -> Result<String, String> {
    let Some(ns) = cfg.inner_namespace.as_deref() else {
        return Ok(link.ifname.clone());
    };
    crate::haproxy::ensure_namespace(cfg).await?;
    ip_do(
        cfg,
        None,
        &[
            "link",
            "set",
            "dev",
            &link.ifname,
            "netns",
            ns,
            "name",
            name,
        ],
    )
    .await?;
    Ok(name.to_string())
}

/// Next free `ethN` in the inner namespace: upstream's
/// `_netns_get_next_interface` starts at eth2, eth1 being the VIP's.
pub async fn next_ifname(cfg: &AgentConfig) -> Result<String, String> {
    let inner = ns_links(cfg).await?;
    let mut n = 2;
    while inner.iter().any(|l| l.ifname == format!("eth{n}")) {
        n += 1;
    }
    Ok(format!("eth{n}"))
}

/// The main routing table.
pub const MAIN_TABLE: u32 = 254;

#[derive(Clone, Debug, PartialEq)]
pub struct Address {
    pub ip: IpAddr,
    pub prefix: u8,
    /// False for an address someone else (keepalived) adds and removes:
    /// kept when present, never added (upstream `octavia_owned`).
    pub owned: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub dst: IpNet,
    pub gateway: Option<IpAddr>,
    pub prefsrc: Option<IpAddr>,
    pub table: u32,
    pub onlink: bool,
    pub scope_link: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub src: IpAddr,
    pub src_len: u8,
    pub table: u32,
}

/// What an interface carries: upstream's interface file
/// (`octavia/amphorae/backends/utils/interface_file.py`), applied the way
/// `amphora-interface up` does (`interface.py`).
#[derive(Clone, Debug, Default)]
pub struct IfaceSpec {
    pub mtu: Option<u64>,
    pub addresses: Vec<Address>,
    pub routes: Vec<Route>,
    /// Only the VIP interface manages policy rules (`None` leaves them).
    pub rules: Option<Vec<Rule>>,
}

fn full_len(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn default_dst(ip: IpAddr) -> IpNet {
    let any: IpAddr = if ip.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    IpNet::new(any, 0).expect("prefix 0")
}

/// A subnet's host route, as upstream writes it: on-link via its nexthop.
fn host_route(dst: IpNet, nexthop: IpAddr, table: u32) -> Route {
    Route {
        dst: dst.trunc(),
        gateway: Some(nexthop),
        prefsrc: None,
        table,
        onlink: true,
        scope_link: false,
    }
}

fn default_route(gateway: IpAddr, table: u32) -> Route {
    Route {
        dst: default_dst(gateway),
        gateway: Some(gateway),
        prefsrc: None,
        table,
        onlink: true,
        scope_link: false,
    }
}

/// One address of a subnet with its routes (a VIP, or a port's fixed IP).
#[derive(Clone, Debug)]
pub struct SubnetAddr {
    pub ip: IpAddr,
    pub net: IpNet,
    pub gateway: Option<IpAddr>,
    pub host_routes: Vec<(IpNet, IpAddr)>,
}

/// Upstream's `VIPInterfaceFile`: the VRRP address with the prefix of the
/// first VIP's subnet; each VIP as a host address (keepalived's in
/// ACTIVE_STANDBY), its subnet on-link, a default route per gateway; and
/// outside ACTIVE_STANDBY the same in table 1 with a rule sending
/// traffic from each VIP there, so that answers leave by the VIP's
/// interface whatever the main table says. `fixed_ips`: other subnets of
/// the same port (a VIP port plugged into another subnet).
pub fn vip_spec(
    active_standby: bool,
    mtu: Option<u64>,
    vips: &[SubnetAddr],
    vrrp_ip: Option<IpAddr>,
    fixed_ips: &[SubnetAddr],
) -> IfaceSpec {
    let mut s = IfaceSpec {
        mtu,
        rules: Some(Vec::new()),
        ..Default::default()
    };
    let rules = s.rules.as_mut().expect("set above");
    // Without a VRRP address upstream asks DHCP/SLAAC for the port's own
    // address; the controller always sends one.
    if let (Some(vrrp), Some(first)) = (vrrp_ip, vips.first()) {
        s.addresses.push(Address {
            ip: vrrp,
            prefix: first.net.prefix_len(),
            owned: true,
        });
    }
    for v in vips {
        if let Some(gw) = v.gateway {
            s.routes.push(default_route(gw, MAIN_TABLE));
            if !active_standby {
                s.routes.push(default_route(gw, 1));
            }
        }
        s.addresses.push(Address {
            ip: v.ip,
            prefix: full_len(v.ip),
            owned: !active_standby,
        });
        let net = IpNet::new(v.ip, v.net.prefix_len())
            .expect("prefix of a parsed net")
            .trunc();
        s.routes.push(Route {
            dst: net,
            gateway: None,
            prefsrc: None,
            table: MAIN_TABLE,
            onlink: false,
            scope_link: true,
        });
        if !active_standby {
            s.routes.push(Route {
                dst: net,
                gateway: None,
                prefsrc: Some(v.ip),
                table: 1,
                onlink: false,
                scope_link: true,
            });
            rules.push(Rule {
                src: v.ip,
                src_len: full_len(v.ip),
                table: 1,
            });
        }
        for &(dst, hop) in &v.host_routes {
            s.routes.push(host_route(dst, hop, MAIN_TABLE));
        }
        for &(dst, hop) in &v.host_routes {
            s.routes.push(host_route(dst, hop, 1));
        }
    }
    for f in fixed_ips {
        s.addresses.push(Address {
            ip: f.ip,
            prefix: f.net.prefix_len(),
            owned: true,
        });
        if let Some(gw) = f.gateway {
            s.routes.push(default_route(gw, MAIN_TABLE));
            if !active_standby {
                s.routes.push(default_route(gw, 1));
            }
        }
        for &(dst, hop) in &f.host_routes {
            s.routes.push(host_route(dst, hop, MAIN_TABLE));
        }
    }
    s
}

/// Upstream's `PortInterfaceFile`: each fixed IP with its subnet's prefix
/// and host routes; no default route (a member port is not the way out).
/// Without fixed IPs upstream runs DHCP on the port, which this agent
/// does not: the interface is only brought up.
pub fn port_spec(mtu: Option<u64>, fixed_ips: &[SubnetAddr]) -> IfaceSpec {
    let mut s = IfaceSpec {
        mtu,
        ..Default::default()
    };
    for f in fixed_ips {
        s.addresses.push(Address {
            ip: f.ip,
            prefix: f.net.prefix_len(),
            owned: true,
        });
        for &(dst, hop) in &f.host_routes {
            s.routes.push(host_route(dst, hop, MAIN_TABLE));
        }
    }
    s
}

async fn ip_json(cfg: &AgentConfig, ns: Option<&str>, args: &[&str]) -> Result<Value, String> {
    let mut c = ip(cfg, ns);
    c.arg("-j").args(args);
    let out = run(c)
        .await
        .map_err(|e| format!("ip -j {}: {e}", args.join(" ")))?;
    if out.trim().is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    serde_json::from_str(&out).map_err(|e| format!("ip -j {}: {e}", args.join(" ")))
}

fn table_number(v: &Value) -> u32 {
    match v.as_str() {
        None | Some("main") => MAIN_TABLE,
        Some("local") => 255,
        Some("default") => 253,
        Some(n) => n.parse().unwrap_or(0),
    }
}

/// `(destination, gateway, preferred source, table)`: how upstream tells
/// routes apart.
type RouteKey = (IpNet, Option<IpAddr>, Option<IpAddr>, u32);

fn route_key(r: &Route) -> RouteKey {
    (r.dst, r.gateway, r.prefsrc, r.table)
}

fn parse_dst(dst: &str, v6: bool) -> Option<IpNet> {
    if dst == "default" {
        let any: IpAddr = if v6 {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        };
        return IpNet::new(any, 0).ok();
    }
    dst.parse::<IpNet>()
        .ok()
        .or_else(|| dst.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The `proto static` routes through `ifname` in every table: the ones
/// this agent (or upstream's `amphora-interface`) added.
async fn static_routes(cfg: &AgentConfig, ifname: &str) -> Result<Vec<RouteKey>, String> {
    let ns = cfg.inner_namespace.as_deref();
    let mut out = Vec::new();
    for (fam, v6) in [("-4", false), ("-6", true)] {
        let v = ip_json(
            cfg,
            ns,
            &[
                fam, "route", "show", "table", "all", "dev", ifname, "proto", "static",
            ],
        )
        .await?;
        for r in v.as_array().into_iter().flatten() {
            let Some(dst) = r["dst"].as_str().and_then(|d| parse_dst(d, v6)) else {
                continue;
            };
            let addr = |k: &str| r[k].as_str().and_then(|s| s.parse::<IpAddr>().ok());
            out.push((
                dst,
                addr("gateway"),
                addr("prefsrc"),
                table_number(&r["table"]),
            ));
        }
    }
    Ok(out)
}

/// The policy rules this agent added (`protocol static`, by source).
async fn static_rules(cfg: &AgentConfig) -> Result<Vec<Rule>, String> {
    let ns = cfg.inner_namespace.as_deref();
    let mut out = Vec::new();
    for fam in ["-4", "-6"] {
        let v = ip_json(cfg, ns, &[fam, "rule", "show"]).await?;
        for r in v.as_array().into_iter().flatten() {
            if r["protocol"].as_str() != Some("static") {
                continue;
            }
            let Some(src) = r["src"].as_str().and_then(|s| s.parse::<IpAddr>().ok()) else {
                continue;
            };
            let src_len = r["srclen"]
                .as_u64()
                .and_then(|l| u8::try_from(l).ok())
                .unwrap_or(full_len(src));
            out.push(Rule {
                src,
                src_len,
                table: table_number(&r["table"]),
            });
        }
    }
    Ok(out)
}

fn route_args(r: &Route, ifname: &str) -> Vec<String> {
    let mut a = vec![
        if r.dst.addr().is_ipv4() { "-4" } else { "-6" }.to_string(),
        "route".into(),
        String::new(), // the verb
        r.dst.to_string(),
    ];
    if let Some(gw) = r.gateway {
        a.extend(["via".into(), gw.to_string()]);
    }
    a.extend(["dev".into(), ifname.into()]);
    if r.onlink {
        a.push("onlink".into());
    }
    if r.scope_link {
        a.extend(["scope".into(), "link".into()]);
    }
    if let Some(src) = r.prefsrc {
        a.extend(["src".into(), src.to_string()]);
    }
    a.extend([
        "table".into(),
        r.table.to_string(),
        "proto".into(),
        "static".into(),
    ]);
    a
}

fn rule_args(verb: &str, r: &Rule) -> Vec<String> {
    vec![
        if r.src.is_ipv4() { "-4" } else { "-6" }.to_string(),
        "rule".into(),
        verb.into(),
        "from".into(),
        format!("{}/{}", r.src, r.src_len),
        "table".into(),
        r.table.to_string(),
        "protocol".into(),
        "static".into(),
    ]
}

async fn ip_strings(cfg: &AgentConfig, args: &[String]) -> Result<(), String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ip_do(cfg, cfg.inner_namespace.as_deref(), &args).await
}

/// Makes `ifname` (in the inner namespace) carry `spec`, as upstream's
/// `InterfaceController.up`: up with its MTU; owned addresses added and
/// other static ones removed; `proto static` routes made equal to the
/// spec's (a route the kernel already has, such as a subnet's own, stays
/// the kernel's; one the kernel refuses is logged and skipped, as
/// upstream does with a subnet's host routes); the VIP's policy rules
/// made equal to the spec's.
pub async fn apply(cfg: &AgentConfig, ifname: &str, spec: &IfaceSpec) -> Result<(), String> {
    let ns = cfg.inner_namespace.as_deref();
    let mut up = vec!["link", "set", "dev", ifname];
    let mtu = spec.mtu.map(|m| m.to_string());
    if let Some(m) = &mtu {
        up.extend(["mtu", m.as_str()]);
    }
    up.push("up");
    ip_do(cfg, ns, &up).await?;

    // Addresses. Dynamic ones (DHCP, SLAAC) and IPv6 link-local ones are
    // the kernel's or a client's, not ours to remove.
    let mut present: Vec<(IpAddr, u8)> = Vec::new();
    let v = ip_json(cfg, ns, &["addr", "show", "dev", ifname]).await?;
    for a in v
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["addr_info"].as_array().into_iter().flatten())
    {
        let Some(ip) = a["local"].as_str().and_then(|s| s.parse::<IpAddr>().ok()) else {
            continue;
        };
        let prefix = a["prefixlen"]
            .as_u64()
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(full_len(ip));
        let link_local_v6 = matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local());
        if a["dynamic"].as_bool() == Some(true) || link_local_v6 {
            continue;
        }
        present.push((ip, prefix));
    }
    // Stale ones go first: deleting the primary address of a subnet takes
    // its secondaries with it, so a port's new address in the same subnet
    // must come after the old one is gone.
    for (ip, prefix) in present
        .iter()
        .filter(|k| !spec.addresses.iter().any(|a| (a.ip, a.prefix) == **k))
    {
        let cidr = format!("{ip}/{prefix}");
        ip_do(cfg, ns, &["addr", "del", &cidr, "dev", ifname]).await?;
    }
    let mut added = Vec::new();
    for a in spec.addresses.iter().filter(|a| a.owned) {
        if !present.contains(&(a.ip, a.prefix)) {
            let cidr = format!("{}/{}", a.ip, a.prefix);
            ip_do(cfg, ns, &["addr", "add", &cidr, "dev", ifname]).await?;
            added.push(a.ip);
        }
    }
    wait_tentative(cfg, ifname, &added).await;

    // Routes: stale ones go first, so that a changed gateway's default
    // route is not refused as a duplicate of the old one.
    let wanted: Vec<RouteKey> = spec.routes.iter().map(route_key).collect();
    let current = static_routes(cfg, ifname).await?;
    for k in current.iter().filter(|k| !wanted.contains(k)) {
        let r = Route {
            dst: k.0,
            gateway: k.1,
            prefsrc: k.2,
            table: k.3,
            onlink: false,
            scope_link: false,
        };
        let mut args = route_args(&r, ifname);
        args[2] = "del".into();
        if let Err(e) = ip_strings(cfg, &args).await {
            tracing::warn!(interface = ifname, error = %e, "removing a stale route failed");
        }
    }
    for r in spec
        .routes
        .iter()
        .filter(|r| !current.contains(&route_key(r)))
    {
        let mut args = route_args(r, ifname);
        args[2] = "add".into();
        add_route(cfg, ifname, &args).await;
    }

    if let Some(rules) = &spec.rules {
        let current = static_rules(cfg).await?;
        for r in current.iter().filter(|r| !rules.contains(r)) {
            ip_strings(cfg, &rule_args("del", r)).await?;
        }
        for r in rules.iter().filter(|r| !current.contains(r)) {
            ip_strings(cfg, &rule_args("add", r)).await?;
        }
    }
    Ok(())
}

/// `ip route add`, where "File exists" is success (the kernel's own route
/// for a subnet, or a default route another VIP of the port added) and
/// other refusals are retried briefly (an address still settling), then
/// logged: upstream applies routes with `raise_on_error=False`.
async fn add_route(cfg: &AgentConfig, ifname: &str, args: &[String]) {
    let mut last = String::new();
    for _ in 0..10 {
        match ip_strings(cfg, args).await {
            Ok(()) => return,
            Err(e) if e.contains("File exists") => return,
            Err(e) => last = e,
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tracing::warn!(interface = ifname, error = %last, "route not added");
}

/// Waits (30 s at most, as upstream) while one of `ours` (IPv6
/// addresses just added) is still tentative: duplicate address detection
/// runs, and a route with it as source would be refused meanwhile.
async fn wait_tentative(cfg: &AgentConfig, ifname: &str, ours: &[IpAddr]) {
    if !ours.iter().any(IpAddr::is_ipv6) {
        return;
    }
    let ns = cfg.inner_namespace.as_deref();
    for _ in 0..150 {
        let Ok(v) = ip_json(cfg, ns, &["-6", "addr", "show", "dev", ifname]).await else {
            return;
        };
        let tentative = v
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| l["addr_info"].as_array().into_iter().flatten())
            .filter(|a| a["tentative"].as_bool() == Some(true))
            .filter_map(|a| a["local"].as_str()?.parse::<IpAddr>().ok())
            .any(|ip| ours.contains(&ip));
        if !tentative {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tracing::warn!(
        interface = ifname,
        "IPv6 addresses still tentative after 30 s"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(ip: &str, net: &str, gw: Option<&str>, routes: &[(&str, &str)]) -> SubnetAddr {
        SubnetAddr {
            ip: ip.parse().unwrap(),
            net: net.parse().unwrap(),
            gateway: gw.map(|g| g.parse().unwrap()),
            host_routes: routes
                .iter()
                .map(|(d, h)| (d.parse().unwrap(), h.parse().unwrap()))
                .collect(),
        }
    }

    fn show(s: &IfaceSpec) -> (Vec<String>, Vec<String>, Vec<String>) {
        let addrs = s
            .addresses
            .iter()
            .map(|a| {
                format!(
                    "{}/{}{}",
                    a.ip,
                    a.prefix,
                    if a.owned { "" } else { " (not owned)" }
                )
            })
            .collect();
        let routes = s
            .routes
            .iter()
            .map(|r| {
                let mut t = r.dst.to_string();
                if let Some(g) = r.gateway {
                    t += &format!(" via {g}");
                }
                if let Some(p) = r.prefsrc {
                    t += &format!(" src {p}");
                }
                if r.onlink {
                    t += " onlink";
                }
                if r.scope_link {
                    t += " scope link";
                }
                t + &format!(" table {}", r.table)
            })
            .collect();
        let rules = s
            .rules
            .iter()
            .flatten()
            .map(|r| format!("from {}/{} table {}", r.src, r.src_len, r.table))
            .collect();
        (addrs, routes, rules)
    }

    #[test]
    fn vip_spec_single_uses_table_1_for_answers_from_the_vip() {
        let vip = sa(
            "203.0.113.10",
            "203.0.113.0/24",
            Some("203.0.113.1"),
            &[("10.20.0.0/16", "203.0.113.254")],
        );
        let s = vip_spec(
            false,
            Some(1450),
            &[vip],
            Some("203.0.113.11".parse().unwrap()),
            &[],
        );
        assert_eq!(s.mtu, Some(1450));
        let (addrs, routes, rules) = show(&s);
        assert_eq!(addrs, ["203.0.113.11/24", "203.0.113.10/32"]);
        assert_eq!(
            routes,
            [
                "0.0.0.0/0 via 203.0.113.1 onlink table 254",
                "0.0.0.0/0 via 203.0.113.1 onlink table 1",
                "203.0.113.0/24 scope link table 254",
                "203.0.113.0/24 src 203.0.113.10 scope link table 1",
                "10.20.0.0/16 via 203.0.113.254 onlink table 254",
                "10.20.0.0/16 via 203.0.113.254 onlink table 1",
            ]
        );
        assert_eq!(rules, ["from 203.0.113.10/32 table 1"]);
    }

    #[test]
    fn vip_spec_active_standby_leaves_the_vip_to_keepalived() {
        let vip = sa("2001:db8::10", "2001:db8::/64", Some("2001:db8::1"), &[]);
        let extra = sa("198.51.100.7", "198.51.100.0/24", None, &[]);
        let s = vip_spec(
            true,
            None,
            &[vip],
            Some("2001:db8::11".parse().unwrap()),
            &[extra],
        );
        let (addrs, routes, rules) = show(&s);
        assert_eq!(
            addrs,
            [
                "2001:db8::11/64",
                "2001:db8::10/128 (not owned)",
                "198.51.100.7/24"
            ]
        );
        assert_eq!(
            routes,
            [
                "::/0 via 2001:db8::1 onlink table 254",
                "2001:db8::/64 scope link table 254",
            ]
        );
        assert!(rules.is_empty());
    }

    #[test]
    fn port_spec_has_no_default_route() {
        let f = sa(
            "198.51.100.5",
            "198.51.100.0/24",
            Some("198.51.100.1"),
            &[("10.30.0.0/16", "198.51.100.254")],
        );
        let s = port_spec(Some(1400), &[f]);
        let (addrs, routes, rules) = show(&s);
        assert_eq!(addrs, ["198.51.100.5/24"]);
        assert_eq!(routes, ["10.30.0.0/16 via 198.51.100.254 onlink table 254"]);
        assert!(rules.is_empty());
        assert!(
            s.rules.is_none(),
            "a member port leaves the VIP's rules alone"
        );
    }
}
