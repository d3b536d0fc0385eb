//! What a chassis runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::host::{check_ifname, hostname};

/// The OVS/OVN daemons of one host.
///
/// State goes under `data_dir/ovn` (database files, sockets, pid files,
/// logs, control sockets); the connection strings go to
/// `data_dir/ovn.env`.
#[derive(Debug, Clone)]
pub struct ChassisConfig {
    pub data_dir: PathBuf,
    /// The northbound and southbound databases: run here, or elsewhere.
    pub central: Central,
    /// The local OVS (ovsdb-server for Open_vSwitch, ovs-vswitchd) and
    /// ovn-controller; `None` runs none of them.
    pub local: Option<LocalChassis>,
    /// Where the database schemas are (Debian's packages by default).
    pub schemas: Schemas,
    /// How long a daemon gets to exit on its own before SIGKILL.
    pub stop_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Central {
    /// ovsdb-server for NB and SB and ovn-northd run here. Each database
    /// listens on a unix socket under the data directory and, when set, on
    /// a TCP address too.
    Local {
        nb_tcp: Option<SocketAddr>,
        sb_tcp: Option<SocketAddr>,
    },
    /// An existing (possibly clustered) OVN: connection strings in the
    /// `--db` syntax of ovn-nbctl, e.g. `tcp:10.0.0.1:6642,tcp:10.0.0.2:6642`.
    Remote { nb: String, sb: String },
}

/// This host as an OVN chassis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalChassis {
    /// The chassis name (OVS `external_ids:system-id`).
    pub name: String,
    pub hostname: String,
    /// The integration bridge; a host-global device name (see
    /// [`crate::Error::Collision`]).
    pub integration_bridge: String,
    /// Provider networks: physnet → host interface, each on its own bridge.
    pub nic_mappings: Vec<NicMapping>,
    pub encap_type: String,
    pub encap_ip: String,
}

impl LocalChassis {
    /// This host under its host name, `br-int`, geneve over loopback.
    pub fn for_this_host() -> Self {
        let host = hostname();
        LocalChassis {
            name: host.clone(),
            hostname: host,
            integration_bridge: "br-int".into(),
            nic_mappings: Vec::new(),
            encap_type: "geneve".into(),
            encap_ip: "127.0.0.1".into(),
        }
    }

    /// `ovn-bridge-mappings`: `physnet:bridge,...`.
    pub fn bridge_mappings(&self) -> String {
        self.nic_mappings
            .iter()
            .map(|m| format!("{}:{}", m.physnet, m.bridge))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::Config("the chassis name is empty".into()));
        }
        check_ifname("integration bridge", &self.integration_bridge)?;
        let mut bridges = vec![self.integration_bridge.as_str()];
        let mut physnets = Vec::new();
        let mut ifaces = Vec::new();
        for m in &self.nic_mappings {
            check_ifname("provider bridge", &m.bridge)?;
            check_ifname("interface", &m.interface)?;
            if bridges.contains(&m.bridge.as_str()) {
                return Err(Error::Config(format!(
                    "bridge {} is used twice (physnet {})",
                    m.bridge, m.physnet
                )));
            }
            if physnets.contains(&m.physnet.as_str()) {
                return Err(Error::Config(format!(
                    "physnet {} is mapped twice",
                    m.physnet
                )));
            }
            if ifaces.contains(&m.interface.as_str()) || bridges.contains(&m.interface.as_str()) {
                return Err(Error::Config(format!(
                    "interface {} is mapped twice or is a bridge",
                    m.interface
                )));
            }
            bridges.push(&m.bridge);
            physnets.push(&m.physnet);
            ifaces.push(&m.interface);
        }
        Ok(())
    }
}

/// `PHYSNET:IFACE[:BRIDGE]`, the OVN operator's `nicMappings` entry plus
/// an optional bridge name (default `br-PHYSNET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicMapping {
    pub physnet: String,
    pub interface: String,
    pub bridge: String,
}

impl NicMapping {
    pub fn new(physnet: &str, interface: &str) -> Self {
        NicMapping {
            physnet: physnet.into(),
            interface: interface.into(),
            bridge: format!("br-{physnet}"),
        }
    }
}

impl FromStr for NicMapping {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let bad = |why: &str| Error::Config(format!("NIC mapping {s:?}: {why}"));
        let (physnet, interface, bridge) = match parts.as_slice() {
            [p, i] => (*p, *i, None),
            [p, i, b] => (*p, *i, Some(*b)),
            _ => return Err(bad("expected PHYSNET:IFACE or PHYSNET:IFACE:BRIDGE")),
        };
        if physnet.is_empty() || physnet.contains([',', ' ']) {
            return Err(bad("bad physnet name"));
        }
        let mut m = NicMapping::new(physnet, interface);
        if let Some(b) = bridge {
            m.bridge = b.to_string();
        }
        check_ifname("interface", &m.interface).map_err(|e| bad(&e.to_string()))?;
        check_ifname("provider bridge", &m.bridge).map_err(|e| {
            bad(&format!(
                "{e}; name the bridge explicitly as PHYSNET:IFACE:BRIDGE"
            ))
        })?;
        Ok(m)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schemas {
    pub nb: PathBuf,
    pub sb: PathBuf,
    pub vswitch: PathBuf,
}

impl Default for Schemas {
    fn default() -> Self {
        Schemas {
            nb: "/usr/share/ovn/ovn-nb.ovsschema".into(),
            sb: "/usr/share/ovn/ovn-sb.ovsschema".into(),
            vswitch: "/usr/share/openvswitch/vswitch.ovsschema".into(),
        }
    }
}

/// The conventional ports of the OVN databases.
pub const NB_PORT: u16 = 6641;
pub const SB_PORT: u16 = 6642;

impl ChassisConfig {
    /// Everything on this host: NB, SB and northd (on 127.0.0.1:6641 and
    /// :6642 as well as unix sockets), OVS and ovn-controller.
    pub fn all_in_one(data_dir: impl Into<PathBuf>) -> Self {
        ChassisConfig {
            data_dir: data_dir.into(),
            central: Central::Local {
                nb_tcp: Some(SocketAddr::from(([127, 0, 0, 1], NB_PORT))),
                sb_tcp: Some(SocketAddr::from(([127, 0, 0, 1], SB_PORT))),
            },
            local: Some(LocalChassis::for_this_host()),
            schemas: Schemas::default(),
            stop_timeout: Duration::from_secs(10),
        }
    }

    /// This host as a chassis of an existing OVN: only OVS and
    /// ovn-controller run here.
    pub fn remote(data_dir: impl Into<PathBuf>, nb: &str, sb: &str) -> Self {
        ChassisConfig {
            central: Central::Remote {
                nb: nb.into(),
                sb: sb.into(),
            },
            ..Self::all_in_one(data_dir)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nic_mappings_parse_with_default_and_explicit_bridges() {
        let m: NicMapping = "octavia:eth1".parse().unwrap();
        assert_eq!(m, NicMapping::new("octavia", "eth1"));
        assert_eq!(m.bridge, "br-octavia");
        let m: NicMapping = "datacentre:enp1s0:br-ex".parse().unwrap();
        assert_eq!(m.bridge, "br-ex");
        assert!(
            "physnet-with-a-long-name:eth1"
                .parse::<NicMapping>()
                .is_err()
        );
        assert!("octavia".parse::<NicMapping>().is_err());
        assert!(":eth1".parse::<NicMapping>().is_err());
        assert!("a:b:c:d".parse::<NicMapping>().is_err());
    }

    #[test]
    fn duplicate_bridges_and_interfaces_are_rejected() {
        let mut c = LocalChassis::for_this_host();
        c.nic_mappings = vec![NicMapping::new("a", "eth1"), NicMapping::new("b", "eth2")];
        assert!(c.validate().is_ok());
        assert_eq!(c.bridge_mappings(), "a:br-a,b:br-b");
        c.nic_mappings.push(NicMapping::new("c", "eth1"));
        assert!(c.validate().is_err());
        c.nic_mappings.pop();
        c.nic_mappings.push("c:eth3:br-int".parse().unwrap());
        assert!(c.validate().is_err());
    }
}
