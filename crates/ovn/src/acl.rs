//! Security group rules as OVN ACL match expressions.
//!
//! One ACL per rule on the group's port group, in the shape Neutron's OVN
//! driver produces: the direction picks the port field (`outport` for
//! ingress, `inport` for egress) and which address is the remote one.

use neutrino_types::model::SecurityGroupRule;

use crate::naming::{DROP_PORT_GROUP, port_group_name};

/// ACL priority of security group rules, above the drop group's.
pub const RULE_PRIORITY: i64 = 1002;
/// ACL priority of the default drop.
pub const DROP_PRIORITY: i64 = 1001;

/// The OVN fields of one ACL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclSpec {
    pub direction: &'static str,
    pub priority: i64,
    pub match_: String,
    pub action: &'static str,
    pub rule_id: Option<String>,
}

/// The ACL for `rule` of a group that is `stateful` or not.
pub fn rule_acl(rule: &SecurityGroupRule, stateful: bool) -> AclSpec {
    let pg = port_group_name(&rule.security_group_id);
    let ingress = rule.direction == "ingress";
    let v6 = rule.ethertype == "IPv6";
    let ip = if v6 { "ip6" } else { "ip4" };
    let mut m = if ingress {
        format!("outport == @{pg} && {ip}")
    } else {
        format!("inport == @{pg} && {ip}")
    };
    // Ingress rules match where traffic comes from, egress where it goes.
    let remote_field = if ingress {
        format!("{ip}.src")
    } else {
        format!("{ip}.dst")
    };
    if let Some(prefix) = rule.remote_ip_prefix.as_deref()
        && !is_any(prefix)
    {
        m.push_str(&format!(" && {remote_field} == {prefix}"));
    }
    if let Some(remote) = rule.remote_group_id.as_deref() {
        // northd keeps an address set per port group and family.
        let suffix = if v6 { "ip6" } else { "ip4" };
        m.push_str(&format!(
            " && {remote_field} == ${}_{suffix}",
            port_group_name(remote)
        ));
    }
    if let Some(proto) = rule.protocol.as_deref() {
        m.push_str(&protocol_match(
            proto,
            v6,
            rule.port_range_min,
            rule.port_range_max,
        ));
    }
    AclSpec {
        direction: if ingress { "to-lport" } else { "from-lport" },
        priority: RULE_PRIORITY,
        match_: m,
        action: if stateful {
            "allow-related"
        } else {
            "allow-stateless"
        },
        rule_id: Some(rule.id.clone()),
    }
}

/// The two ACLs of the drop group: everything IP in either direction.
pub fn drop_acls() -> [AclSpec; 2] {
    [
        AclSpec {
            direction: "from-lport",
            priority: DROP_PRIORITY,
            match_: format!("inport == @{DROP_PORT_GROUP} && ip"),
            action: "drop",
            rule_id: None,
        },
        AclSpec {
            direction: "to-lport",
            priority: DROP_PRIORITY,
            match_: format!("outport == @{DROP_PORT_GROUP} && ip"),
            action: "drop",
            rule_id: None,
        },
    ]
}

fn is_any(prefix: &str) -> bool {
    prefix == "0.0.0.0/0" || prefix == "::/0"
}

fn protocol_match(proto: &str, v6: bool, min: Option<i64>, max: Option<i64>) -> String {
    let lower = proto.to_ascii_lowercase();
    let named = match lower.as_str() {
        "tcp" | "6" => Some("tcp"),
        "udp" | "17" => Some("udp"),
        "sctp" | "132" => Some("sctp"),
        _ => None,
    };
    if let Some(p) = named {
        return format!(" && {p}{}", port_range(p, min, max));
    }
    let icmp = match lower.as_str() {
        "icmp" | "1" => Some(if v6 { "icmp6" } else { "icmp4" }),
        "ipv6-icmp" | "icmpv6" | "58" => Some("icmp6"),
        _ => None,
    };
    if let Some(p) = icmp {
        // For ICMP the "port range" is type and code.
        let mut s = format!(" && {p}");
        if let Some(t) = min {
            s.push_str(&format!(" && {p}.type == {t}"));
        }
        if let Some(c) = max {
            s.push_str(&format!(" && {p}.code == {c}"));
        }
        return s;
    }
    let number = match lower.as_str() {
        "ah" => "51".to_string(),
        "dccp" => "33".to_string(),
        "egp" => "8".to_string(),
        "esp" => "50".to_string(),
        "gre" => "47".to_string(),
        "igmp" => "2".to_string(),
        "ospf" => "89".to_string(),
        "pgm" => "113".to_string(),
        "rsvp" => "46".to_string(),
        "udplite" => "136".to_string(),
        "vrrp" => "112".to_string(),
        "ipip" | "4" => "4".to_string(),
        other => other.to_string(),
    };
    if v6 {
        format!(" && ip6.nxt == {number}")
    } else {
        format!(" && ip.proto == {number}")
    }
}

fn port_range(proto: &str, min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if a == b => format!(" && {proto}.dst == {a}"),
        (Some(a), Some(b)) => format!(" && {proto}.dst >= {a} && {proto}.dst <= {b}"),
        (Some(a), None) => format!(" && {proto}.dst >= {a}"),
        (None, Some(b)) => format!(" && {proto}.dst <= {b}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(direction: &str, ethertype: &str) -> SecurityGroupRule {
        SecurityGroupRule {
            id: "r1".into(),
            project_id: "p".into(),
            security_group_id: "aa-bb".into(),
            direction: direction.into(),
            ethertype: ethertype.into(),
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id: None,
            description: None,
            belongs_to_default_sg: false,
            revision_number: 0,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn ingress_tcp_port_from_prefix() {
        let mut r = rule("ingress", "IPv4");
        r.protocol = Some("tcp".into());
        r.port_range_min = Some(9443);
        r.port_range_max = Some(9443);
        r.remote_ip_prefix = Some("172.23.0.0/24".into());
        let acl = rule_acl(&r, true);
        assert_eq!(acl.direction, "to-lport");
        assert_eq!(acl.action, "allow-related");
        assert_eq!(
            acl.match_,
            "outport == @pg_aa_bb && ip4 && ip4.src == 172.23.0.0/24 && tcp && tcp.dst == 9443"
        );
    }

    #[test]
    fn egress_any_v6_and_ranges() {
        let acl = rule_acl(&rule("egress", "IPv6"), false);
        assert_eq!(acl.direction, "from-lport");
        assert_eq!(acl.action, "allow-stateless");
        assert_eq!(acl.match_, "inport == @pg_aa_bb && ip6");

        let mut r = rule("egress", "IPv4");
        r.protocol = Some("17".into());
        r.port_range_min = Some(1000);
        r.port_range_max = Some(2000);
        r.remote_ip_prefix = Some("0.0.0.0/0".into());
        assert_eq!(
            rule_acl(&r, true).match_,
            "inport == @pg_aa_bb && ip4 && udp && udp.dst >= 1000 && udp.dst <= 2000"
        );
    }

    #[test]
    fn icmp_remote_group_and_numbers() {
        let mut r = rule("ingress", "IPv4");
        r.protocol = Some("icmp".into());
        r.port_range_min = Some(8);
        r.port_range_max = Some(0);
        r.remote_group_id = Some("cc-dd".into());
        assert_eq!(
            rule_acl(&r, true).match_,
            "outport == @pg_aa_bb && ip4 && ip4.src == $pg_cc_dd_ip4 && icmp4 && icmp4.type == 8 && icmp4.code == 0"
        );
        let mut r = rule("ingress", "IPv6");
        r.protocol = Some("icmp".into());
        assert_eq!(
            rule_acl(&r, true).match_,
            "outport == @pg_aa_bb && ip6 && icmp6"
        );
        r.protocol = Some("gre".into());
        assert_eq!(
            rule_acl(&r, true).match_,
            "outport == @pg_aa_bb && ip6 && ip6.nxt == 47"
        );
    }
}
