//! The OVS/OVN daemons of one host, run and supervised by Neutrino.
//!
//! [`Chassis::start`] creates the database files under the data directory,
//! starts ovsdb-server (northbound, southbound, local Open_vSwitch),
//! ovn-northd, ovs-vswitchd with the userspace (`netdev`) datapath and
//! ovn-controller as child processes, configures the local OVS through
//! OVSDB (chassis identity, `br-int`, provider bridges for NIC mappings)
//! and writes `ovn.env`. Dead daemons are restarted with backoff;
//! [`RunningChassis::shutdown`] stops exactly the processes it started.
//! [`Central::Remote`] leaves the central databases to an existing OVN,
//! and `local: None` runs no local OVS.
//!
//! [`plug_veth`], [`plug_internal`] and [`unplug`] attach network
//! namespaces to the integration bridge as stand-ins for VMs and pods.
//!
//! Host-global names: a netdev ovs-vswitchd creates its devices
//! (`ovs-netdev`, one tap per bridge and internal port) in the host's
//! network namespace, so two chassis on one host collide; start refuses
//! with [`Error::Collision`] rather than break the other one.

mod chassis;
mod config;
mod daemon;
mod dbfile;
mod envfile;
mod error;
mod host;
mod ovs;
mod plug;
#[cfg(feature = "test-util")]
pub mod testing;
mod unixctl;

pub use chassis::{Chassis, DATAPATH_DEVICE, DaemonStatus, RunningChassis};
pub use config::{Central, ChassisConfig, LocalChassis, NB_PORT, NicMapping, SB_PORT, Schemas};
pub use daemon::Daemon;
pub use envfile::OvnEnv;
pub use error::{Error, Result};
pub use plug::{
    Plugged, integration_bridge, is_plugged, plug_internal, plug_veth, tap_name, unplug,
};
