//! Plugging workloads into the integration bridge: a network namespace
//! stands in for a VM or pod. ovn-controller binds the OVS interface whose
//! `external_ids:iface-id` is a logical switch port's name (the Neutron
//! port id), which sets the southbound Port_Binding's chassis and `up`.

use neutrino_ovsdb::Endpoint;

use crate::error::{Error, Result};
use crate::host::{self, check_ifname};
use crate::ovs::{self, NewInterface};

/// The host-side device name Neutron gives a port: `tap` and the first 11
/// characters of the port id (15 bytes, the kernel's limit).
pub fn tap_name(port_id: &str) -> String {
    let prefix: String = port_id.chars().take(11).collect();
    format!("tap{prefix}")
}

/// What [`plug_veth`] or [`plug_internal`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugged {
    pub port_id: String,
    /// The OVS interface (and host device, for veths) name.
    pub ovs_interface: String,
    /// Where the workload's end is (`None`: the host's namespace).
    pub netns: Option<String>,
    /// The workload's device name.
    pub ifname: String,
    pub mac: String,
}

/// The integration bridge ovn-controller uses on this host
/// (`external_ids:ovn-bridge`, `br-int` when unset).
pub async fn integration_bridge(ovs_db: &Endpoint) -> Result<String> {
    let conn = ovs::connect(ovs_db).await?;
    Ok(ovs::external_id(&conn, "ovn-bridge")
        .await?
        .unwrap_or_else(|| "br-int".to_string()))
}

fn check_mac(mac: &str) -> Result<()> {
    let parts: Vec<&str> = mac.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!("{mac:?} is not a MAC address")))
    }
}

fn external_ids<'a>(port_id: &'a str, mac: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("iface-id", port_id),
        ("attached-mac", mac),
        ("iface-status", "active"),
    ]
}

async fn refuse_if_plugged(conn: &neutrino_ovsdb::Connection, port_id: &str) -> Result<()> {
    if let Some(a) = ovs::find_iface_id(conn, port_id).await?.first() {
        return Err(Error::Plug(format!(
            "port {port_id} is already plugged (OVS interface {} on {})",
            a.interface,
            a.bridge.as_deref().unwrap_or("no bridge")
        )));
    }
    Ok(())
}

/// Plugs a port with a veth pair: `tapXXXXXXXXXXX` on `bridge`, `ifname`
/// (with the port's MAC) in `netns`, created if missing. Both ends are up
/// and have TX checksum offload off (see [`host::tx_offload_off`]).
pub async fn plug_veth(
    ovs_db: &Endpoint,
    bridge: &str,
    port_id: &str,
    mac: &str,
    netns: &str,
    ifname: &str,
) -> Result<Plugged> {
    let tap = tap_name(port_id);
    check_ifname("interface", ifname)?;
    check_ifname("interface", &tap)?;
    check_mac(mac)?;
    host::check_netns(netns)?;
    let conn = ovs::connect(ovs_db).await?;
    refuse_if_plugged(&conn, port_id).await?;
    if host::link_exists(&tap) {
        return Err(Error::Collision(format!(
            "a device named {tap} already exists on the host"
        )));
    }
    host::ensure_netns(netns).await?;
    if host::link_exists_in(Some(netns), ifname).await {
        return Err(Error::Plug(format!(
            "namespace {netns} already has a device {ifname}"
        )));
    }
    // The peer is created inside the namespace, so its name cannot
    // collide with a host device (eth0).
    host::ip(
        None,
        &[
            "link", "add", "dev", &tap, "type", "veth", "peer", "name", ifname, "netns", netns,
        ],
    )
    .await?;
    let result = async {
        host::ip(Some(netns), &["link", "set", "dev", ifname, "address", mac]).await?;
        host::ip(Some(netns), &["link", "set", "dev", ifname, "up"]).await?;
        host::ip(None, &["link", "set", "dev", &tap, "up"]).await?;
        host::tx_offload_off(Some(netns), ifname).await?;
        host::tx_offload_off(None, &tap).await?;
        ovs::add_port(
            &conn,
            bridge,
            &NewInterface {
                name: &tap,
                kind: "",
                mac: None,
                external_ids: external_ids(port_id, mac),
            },
        )
        .await
    }
    .await;
    if let Err(e) = result {
        // Leave nothing half-made behind.
        let _ = host::delete_link(&tap).await;
        return Err(e);
    }
    tracing::info!(port_id, tap, netns, ifname, mac, "port plugged (veth)");
    Ok(Plugged {
        port_id: port_id.into(),
        ovs_interface: tap,
        netns: Some(netns.into()),
        ifname: ifname.into(),
        mac: mac.into(),
    })
}

/// Plugs a port as an OVS internal port (a tap device ovs-vswitchd
/// creates), named `ifname` in the host, or moved into `netns` and renamed
/// `ifname` there.
///
/// A device moved into a namespace works, but ovs-vswitchd no longer finds
/// it by name: after a vswitchd restart it creates a fresh one in the
/// host. Use veths for workloads; this is for management ports.
pub async fn plug_internal(
    ovs_db: &Endpoint,
    bridge: &str,
    port_id: &str,
    mac: &str,
    netns: Option<&str>,
    ifname: &str,
) -> Result<Plugged> {
    check_ifname("interface", ifname)?;
    check_mac(mac)?;
    if let Some(ns) = netns {
        host::check_netns(ns)?;
    }
    // In a namespace, the device is born in the host first: give it the
    // port's tap name there so `ifname` (eth0) cannot collide.
    let name = match netns {
        Some(_) => tap_name(port_id),
        None => ifname.to_string(),
    };
    let conn = ovs::connect(ovs_db).await?;
    refuse_if_plugged(&conn, port_id).await?;
    if host::link_exists(&name) {
        return Err(Error::Collision(format!(
            "a device named {name} already exists on the host"
        )));
    }
    if let Some(ns) = netns {
        host::ensure_netns(ns).await?;
        if host::link_exists_in(Some(ns), ifname).await {
            return Err(Error::Plug(format!(
                "namespace {ns} already has a device {ifname}"
            )));
        }
    }
    ovs::add_port(
        &conn,
        bridge,
        &NewInterface {
            name: &name,
            kind: "internal",
            // ovs-vswitchd sets it, but only while the device is in its
            // namespace; in another it logs an error at each reconfigure.
            mac: netns.is_none().then_some(mac),
            external_ids: external_ids(port_id, mac),
        },
    )
    .await?;
    let result = async {
        wait_for_link(&name).await?;
        match netns {
            Some(ns) => {
                host::ip(None, &["link", "set", "dev", &name, "netns", ns]).await?;
                host::ip(Some(ns), &["link", "set", "dev", &name, "name", ifname]).await?;
                host::ip(Some(ns), &["link", "set", "dev", ifname, "address", mac]).await?;
                host::ip(Some(ns), &["link", "set", "dev", ifname, "up"]).await?;
            }
            None => {
                host::ip(None, &["link", "set", "dev", &name, "up"]).await?;
            }
        }
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = result {
        let _ = unplug(ovs_db, port_id).await;
        return Err(e);
    }
    tracing::info!(
        port_id,
        name,
        ?netns,
        ifname,
        mac,
        "port plugged (internal)"
    );
    Ok(Plugged {
        port_id: port_id.into(),
        ovs_interface: name,
        netns: netns.map(String::from),
        ifname: ifname.into(),
        mac: mac.into(),
    })
}

async fn wait_for_link(name: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !host::link_exists(name) {
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout(format!(
                "ovs-vswitchd did not create device {name} (is it running?)"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Whether an OVS interface on this host carries `iface-id` `port_id`.
pub async fn is_plugged(ovs_db: &Endpoint, port_id: &str) -> Result<bool> {
    let conn = ovs::connect(ovs_db).await?;
    Ok(!ovs::find_iface_id(&conn, port_id).await?.is_empty())
}

/// Unplugs a port: its OVS port goes, and a veth's host end with it (which
/// deletes the namespace end too). Returns the interfaces removed (none
/// if the port was not plugged).
pub async fn unplug(ovs_db: &Endpoint, port_id: &str) -> Result<Vec<String>> {
    let conn = ovs::connect(ovs_db).await?;
    let mut removed = Vec::new();
    for a in ovs::find_iface_id(&conn, port_id).await? {
        if let (Some(bridge), Some(port)) = (&a.bridge, a.port_uuid) {
            ovs::del_port(&conn, bridge, port).await?;
        }
        // Internal devices are ovs-vswitchd's to delete (it does, even in
        // another namespace); a veth is ours.
        if a.kind.is_empty() && host::link_exists(&a.interface) && !host::is_tap(&a.interface) {
            host::delete_link(&a.interface).await?;
        }
        tracing::info!(port_id, interface = a.interface, "port unplugged");
        removed.push(a.interface);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_names_are_neutrons() {
        assert_eq!(
            tap_name("3f1c9a2e-7b4d-4c1e-9f0a-5d6e7f8a9b0c"),
            "tap3f1c9a2e-7b"
        );
        assert_eq!(tap_name("p1"), "tapp1");
        assert!(check_mac("fa:16:3e:00:00:01").is_ok());
        assert!(check_mac("fa:16:3e:00:00").is_err());
        assert!(check_mac("fa:16:3e:00:00:0g").is_err());
    }
}
