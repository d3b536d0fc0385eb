//! Names and `external_ids` keys, as OpenStack's own OVN driver writes them,
//! so an operator who knows `ovn-nbctl show` on a Neutron cloud recognizes
//! every object.

/// `Logical_Switch.name` / `Logical_Router.name` prefix.
pub const NEUTRON_PREFIX: &str = "neutron-";
/// `Logical_Router_Port.name` prefix (the rest is the Neutron port id).
pub const LRP_PREFIX: &str = "lrp-";
/// Localnet port of a provider network (Neutron appends the segment id; we
/// have one segment per network and use the network id).
pub const PROVNET_PREFIX: &str = "provnet-";
/// The port group every port with port security belongs to, whose ACLs drop
/// what no security group allows.
pub const DROP_PORT_GROUP: &str = "neutron_pg_drop";

pub const KEY_NETWORK_NAME: &str = "neutron:network_name";
pub const KEY_ROUTER_NAME: &str = "neutron:router_name";
pub const KEY_PORT_NAME: &str = "neutron:port_name";
pub const KEY_DEVICE_ID: &str = "neutron:device_id";
pub const KEY_DEVICE_OWNER: &str = "neutron:device_owner";
pub const KEY_CIDRS: &str = "neutron:cidrs";
pub const KEY_PROJECT_ID: &str = "neutron:project_id";
pub const KEY_SG_IDS: &str = "neutron:security_group_ids";
pub const KEY_REVISION: &str = "neutron:revision_number";
pub const KEY_MTU: &str = "neutron:mtu";
pub const KEY_SUBNET_IDS: &str = "neutron:subnet_ids";
pub const KEY_IS_EXT_GW: &str = "neutron:is_ext_gw";
pub const KEY_SUBNET_ID: &str = "neutron:subnet_id";
pub const KEY_GW_PORT_ID: &str = "neutron:gw_port_id";
pub const KEY_FIP_ID: &str = "neutron:fip_id";
pub const KEY_FIP_PORT_ID: &str = "neutron:fip_port_id";
pub const KEY_SG_ID: &str = "neutron:security_group_id";
pub const KEY_SG_RULE_ID: &str = "neutron:security_group_rule_id";
/// `DHCP_Options.external_ids` key naming its subnet (Neutron's, unprefixed).
pub const KEY_DHCP_SUBNET: &str = "subnet_id";
/// Our marker in `NB_Global.external_ids`: written with every sync
/// transaction, so seeing it in the replica proves the replica caught up.
pub const KEY_SYNC_MARK: &str = "neutrino:sync-mark";

pub fn switch_name(network_id: &str) -> String {
    format!("{NEUTRON_PREFIX}{network_id}")
}

pub fn router_name(router_id: &str) -> String {
    format!("{NEUTRON_PREFIX}{router_id}")
}

pub fn lrp_name(port_id: &str) -> String {
    format!("{LRP_PREFIX}{port_id}")
}

pub fn localnet_name(network_id: &str) -> String {
    format!("{PROVNET_PREFIX}{network_id}")
}

/// `pg_` + the group id with dashes as underscores: port group names must
/// be valid address set identifiers (`$pg_..._ip4`).
pub fn port_group_name(security_group_id: &str) -> String {
    format!("pg_{}", security_group_id.replace('-', "_"))
}

pub fn gateway_chassis_name(lrp: &str, chassis: &str) -> String {
    format!("{lrp}_{chassis}")
}

/// The Neutron id inside an object name with `prefix`, if it has it.
pub fn strip<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    name.strip_prefix(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_neutron() {
        assert_eq!(switch_name("abc"), "neutron-abc");
        assert_eq!(lrp_name("p1"), "lrp-p1");
        assert_eq!(
            port_group_name("055686ce-fb2d-409b-ab74-85df9ab3a9e0"),
            "pg_055686ce_fb2d_409b_ab74_85df9ab3a9e0"
        );
        assert_eq!(strip("neutron-x", NEUTRON_PREFIX), Some("x"));
        assert_eq!(strip("other", NEUTRON_PREFIX), None);
    }
}
