//! The tables and columns Neutrino uses, per database, with the types it expects.
//!
//! [`Database::check`] compares a list against a server's schema, so a misspelt name or
//! a column whose type changed under us is found at startup (and by this crate's tests
//! against Debian's schema files) rather than as a silently empty value.
//! [`Database::monitor_tables`] gives the argument of [`crate::Session::start`].

use crate::schema::{AtomicType, ColumnType, Schema};
use crate::session::TableColumns;

/// The shape Neutrino expects of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Exactly one atom.
    Scalar(AtomicType),
    /// Zero or one atom (read with `Row::str`/`int`/`bool`, which give `None` when empty).
    Optional(AtomicType),
    /// A set that may hold more than one atom.
    Set(AtomicType),
    /// A map.
    Map(AtomicType, AtomicType),
    /// Exactly one reference to a row of the table.
    Ref(&'static str),
    /// Zero or one reference.
    OptRef(&'static str),
    /// A set of references.
    RefSet(&'static str),
}

const STRING: Kind = Kind::Scalar(AtomicType::String);
const INTEGER: Kind = Kind::Scalar(AtomicType::Integer);
const BOOLEAN: Kind = Kind::Scalar(AtomicType::Boolean);
const OPT_STRING: Kind = Kind::Optional(AtomicType::String);
const OPT_INTEGER: Kind = Kind::Optional(AtomicType::Integer);
const OPT_BOOLEAN: Kind = Kind::Optional(AtomicType::Boolean);
const STRINGS: Kind = Kind::Set(AtomicType::String);
const STRING_MAP: Kind = Kind::Map(AtomicType::String, AtomicType::String);

impl Kind {
    /// Whether a column of type `ty` can be read and written as this kind.
    pub fn matches(self, ty: &ColumnType) -> bool {
        let key = ty.key.atomic;
        let refs =
            |table: &str| key == AtomicType::Uuid && ty.key.ref_table.as_deref() == Some(table);
        let many = ty.max.is_none_or(|max| max > 1);
        match self {
            Kind::Scalar(a) => ty.is_scalar() && key == a,
            Kind::Optional(a) => ty.is_optional() && key == a,
            Kind::Set(a) => !ty.is_map() && many && key == a,
            Kind::Map(k, v) => ty
                .value
                .as_ref()
                .is_some_and(|vt| key == k && vt.atomic == v),
            Kind::Ref(t) => ty.is_scalar() && refs(t),
            Kind::OptRef(t) => ty.is_optional() && refs(t),
            Kind::RefSet(t) => !ty.is_map() && many && refs(t),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Scalar(a) => write!(f, "{a}"),
            Kind::Optional(a) => write!(f, "optional {a}"),
            Kind::Set(a) => write!(f, "set of {a}"),
            Kind::Map(k, v) => write!(f, "map {k}→{v}"),
            Kind::Ref(t) => write!(f, "uuid({t})"),
            Kind::OptRef(t) => write!(f, "optional uuid({t})"),
            Kind::RefSet(t) => write!(f, "set of uuid({t})"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Database {
    pub name: &'static str,
    pub tables: &'static [Table],
}

impl Database {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Every table with exactly the listed columns: what to monitor.
    pub fn monitor_tables(&self) -> Vec<TableColumns> {
        self.tables
            .iter()
            .map(|t| {
                (
                    t.name.to_string(),
                    Some(t.columns.iter().map(|c| c.name.to_string()).collect()),
                )
            })
            .collect()
    }

    /// The listed tables (with the listed columns) of `names` only, for a session that
    /// needs a few; errors on a name not in the list.
    pub fn monitor_some(&self, names: &[&str]) -> Result<Vec<TableColumns>, String> {
        names
            .iter()
            .map(|name| {
                let t = self
                    .table(name)
                    .ok_or_else(|| format!("{} lists no table {name}", self.name))?;
                Ok((
                    t.name.to_string(),
                    Some(t.columns.iter().map(|c| c.name.to_string()).collect()),
                ))
            })
            .collect()
    }

    /// Checks `schema` has every listed table and column with a compatible type; lists
    /// every problem found.
    pub fn check(&self, schema: &Schema) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if schema.name != self.name {
            problems.push(format!("schema is {}, expected {}", schema.name, self.name));
        }
        for table in self.tables {
            let Some(ts) = schema.table(table.name) else {
                problems.push(format!("{}: no table {}", schema.name, table.name));
                continue;
            };
            for column in table.columns {
                match ts.column(column.name) {
                    None => problems.push(format!(
                        "{}: no column {}.{}",
                        schema.name, table.name, column.name
                    )),
                    Some(c) if !column.kind.matches(&c.type_) => problems.push(format!(
                        "{}: column {}.{} is {}, expected {}",
                        schema.name, table.name, column.name, c.type_, column.kind
                    )),
                    Some(_) => {}
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

macro_rules! tables {
    ($($table:literal { $($column:literal : $kind:expr),* $(,)? })*) => {
        &[$(Table { name: $table, columns: &[$(Column { name: $column, kind: $kind }),*] }),*]
    };
}

/// `OVN_Northbound`.
pub mod nb {
    use super::*;

    pub const LOGICAL_SWITCH: &str = "Logical_Switch";
    pub const LOGICAL_SWITCH_PORT: &str = "Logical_Switch_Port";
    pub const DHCP_OPTIONS: &str = "DHCP_Options";
    pub const LOGICAL_ROUTER: &str = "Logical_Router";
    pub const LOGICAL_ROUTER_PORT: &str = "Logical_Router_Port";
    pub const GATEWAY_CHASSIS: &str = "Gateway_Chassis";
    pub const LOGICAL_ROUTER_STATIC_ROUTE: &str = "Logical_Router_Static_Route";
    pub const NAT: &str = "NAT";
    pub const PORT_GROUP: &str = "Port_Group";
    pub const ACL: &str = "ACL";
    pub const ADDRESS_SET: &str = "Address_Set";
    pub const DNS: &str = "DNS";
    pub const NB_GLOBAL: &str = "NB_Global";

    pub const DATABASE: Database = Database {
        name: "OVN_Northbound",
        tables: tables! {
            "Logical_Switch" {
                "name": STRING, "ports": Kind::RefSet("Logical_Switch_Port"),
                "external_ids": STRING_MAP, "other_config": STRING_MAP,
                "acls": Kind::RefSet("ACL"), "dns_records": Kind::RefSet("DNS"),
            }
            "Logical_Switch_Port" {
                "name": STRING, "type": STRING, "addresses": STRINGS, "port_security": STRINGS,
                "options": STRING_MAP, "external_ids": STRING_MAP, "enabled": OPT_BOOLEAN,
                "up": OPT_BOOLEAN, "dhcpv4_options": Kind::OptRef("DHCP_Options"),
                "dhcpv6_options": Kind::OptRef("DHCP_Options"), "tag": OPT_INTEGER,
                "tag_request": OPT_INTEGER, "parent_name": OPT_STRING,
                "dynamic_addresses": OPT_STRING,
            }
            "DHCP_Options" { "cidr": STRING, "options": STRING_MAP, "external_ids": STRING_MAP }
            "Logical_Router" {
                "name": STRING, "ports": Kind::RefSet("Logical_Router_Port"),
                "static_routes": Kind::RefSet("Logical_Router_Static_Route"),
                "nat": Kind::RefSet("NAT"), "enabled": OPT_BOOLEAN,
                "external_ids": STRING_MAP, "options": STRING_MAP,
            }
            "Logical_Router_Port" {
                "name": STRING, "mac": STRING, "networks": STRINGS,
                "gateway_chassis": Kind::RefSet("Gateway_Chassis"), "external_ids": STRING_MAP,
                "options": STRING_MAP, "ipv6_ra_configs": STRING_MAP, "enabled": OPT_BOOLEAN,
                "peer": OPT_STRING,
            }
            "Gateway_Chassis" {
                "name": STRING, "chassis_name": STRING, "priority": INTEGER,
                "external_ids": STRING_MAP,
            }
            "Logical_Router_Static_Route" {
                "ip_prefix": STRING, "nexthop": STRING, "external_ids": STRING_MAP,
                "output_port": OPT_STRING, "policy": OPT_STRING,
            }
            "NAT" {
                "type": STRING, "logical_ip": STRING, "external_ip": STRING,
                "logical_port": OPT_STRING, "external_mac": OPT_STRING,
                "external_ids": STRING_MAP, "options": STRING_MAP,
            }
            "Port_Group" {
                "name": STRING, "ports": Kind::RefSet("Logical_Switch_Port"),
                "acls": Kind::RefSet("ACL"), "external_ids": STRING_MAP,
            }
            "ACL" {
                "name": OPT_STRING, "direction": STRING, "priority": INTEGER, "match": STRING,
                "action": STRING, "log": BOOLEAN, "severity": OPT_STRING, "meter": OPT_STRING,
                "external_ids": STRING_MAP,
            }
            "Address_Set" { "name": STRING, "addresses": STRINGS, "external_ids": STRING_MAP }
            "DNS" { "records": STRING_MAP, "external_ids": STRING_MAP }
            "NB_Global" {
                "nb_cfg": INTEGER, "sb_cfg": INTEGER, "hv_cfg": INTEGER, "options": STRING_MAP,
                "external_ids": STRING_MAP,
            }
        },
    };
}

/// `OVN_Southbound`.
pub mod sb {
    use super::*;

    pub const CHASSIS: &str = "Chassis";
    pub const PORT_BINDING: &str = "Port_Binding";
    pub const DATAPATH_BINDING: &str = "Datapath_Binding";

    pub const DATABASE: Database = Database {
        name: "OVN_Southbound",
        tables: tables! {
            "Chassis" {
                "name": STRING, "hostname": STRING, "external_ids": STRING_MAP,
                "other_config": STRING_MAP, "encaps": Kind::RefSet("Encap"),
            }
            "Port_Binding" {
                "logical_port": STRING, "chassis": Kind::OptRef("Chassis"), "up": OPT_BOOLEAN,
                "type": STRING, "datapath": Kind::Ref("Datapath_Binding"), "mac": STRINGS,
                "external_ids": STRING_MAP, "options": STRING_MAP,
            }
            "Datapath_Binding" { "tunnel_key": INTEGER, "external_ids": STRING_MAP }
        },
    };
}

/// `Open_vSwitch` (the local vswitchd database).
pub mod ovs {
    use super::*;

    pub const OPEN_VSWITCH: &str = "Open_vSwitch";
    pub const BRIDGE: &str = "Bridge";
    pub const PORT: &str = "Port";
    pub const INTERFACE: &str = "Interface";

    pub const DATABASE: Database = Database {
        name: "Open_vSwitch",
        tables: tables! {
            "Open_vSwitch" {
                "bridges": Kind::RefSet("Bridge"), "external_ids": STRING_MAP,
                "other_config": STRING_MAP, "ovs_version": OPT_STRING, "db_version": OPT_STRING,
                "datapath_types": STRINGS, "iface_types": STRINGS,
            }
            "Bridge" {
                "name": STRING, "ports": Kind::RefSet("Port"), "datapath_type": STRING,
                "external_ids": STRING_MAP, "other_config": STRING_MAP, "fail_mode": OPT_STRING,
                "protocols": STRINGS,
            }
            "Port" {
                "name": STRING, "interfaces": Kind::RefSet("Interface"), "tag": OPT_INTEGER,
                "external_ids": STRING_MAP,
            }
            "Interface" {
                "name": STRING, "type": STRING, "external_ids": STRING_MAP, "mac": OPT_STRING,
                "options": STRING_MAP, "ofport": OPT_INTEGER, "admin_state": OPT_STRING,
                "link_state": OPT_STRING, "mac_in_use": OPT_STRING, "error": OPT_STRING,
            }
        },
    };
}

/// The three lists.
pub const ALL: [Database; 3] = [nb::DATABASE, sb::DATABASE, ovs::DATABASE];

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian's schema files (openvswitch-common and ovn-common).
    const SCHEMAS: [(&str, &str); 3] = [
        ("OVN_Northbound", "/usr/share/ovn/ovn-nb.ovsschema"),
        ("OVN_Southbound", "/usr/share/ovn/ovn-sb.ovsschema"),
        ("Open_vSwitch", "/usr/share/openvswitch/vswitch.ovsschema"),
    ];

    #[test]
    fn every_listed_column_exists_with_a_compatible_type() {
        for (db, (name, path)) in ALL.iter().zip(SCHEMAS) {
            assert_eq!(db.name, name);
            let schema = Schema::from_file(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            if let Err(problems) = db.check(&schema) {
                panic!("{path}:\n{}", problems.join("\n"));
            }
        }
    }

    #[test]
    fn the_check_catches_misspelt_names_and_wrong_types() {
        let schema = Schema::from_file(SCHEMAS[0].1).unwrap();
        let bad = Database {
            name: "OVN_Northbound",
            tables: tables! {
                "Logical_Switch" { "nmae": STRING, "ports": STRINGS, "external_ids": STRING }
                "Logical_Switch_Port" { "tag": INTEGER, "up": BOOLEAN, "dhcpv4_options": Kind::OptRef("DNS") }
                "Logical_Swtich" { "name": STRING }
            },
        };
        let problems = bad.check(&schema).unwrap_err();
        assert_eq!(problems.len(), 7, "{problems:#?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("no column Logical_Switch.nmae"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("no table Logical_Swtich"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("Logical_Switch_Port.tag is optional integer"))
        );
        assert!(ovs::DATABASE.check(&schema).is_err());
    }

    #[test]
    fn lists_give_monitor_requests() {
        let tables = nb::DATABASE
            .monitor_some(&[nb::LOGICAL_SWITCH, nb::ACL])
            .unwrap();
        assert_eq!(tables[0].0, "Logical_Switch");
        assert!(tables[1].1.as_ref().unwrap().contains(&"match".to_string()));
        assert!(nb::DATABASE.monitor_some(&["Nope"]).is_err());
        assert_eq!(
            sb::DATABASE.monitor_tables().len(),
            sb::DATABASE.tables.len()
        );
    }
}
