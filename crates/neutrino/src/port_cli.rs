//! `neutrino port plug|unplug`: attach a network namespace to a Network
//! API port on this host's integration bridge, standing in for a VM or pod.
//!
//! The port's MAC comes from the Network API (the server found through
//! clouds.yaml, as for `neutrino infra`); the local Open_vSwitch database
//! from `--ovs-db` or the `ovn.env` that `neutrino up` writes.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use neutrino_chassis::OvnEnv;
use neutrino_ovsdb::Endpoint;

use crate::infra_cli::Client;

#[derive(Args, Debug)]
pub struct PortArgs {
    /// Cloud of clouds.yaml to use.
    #[arg(long, env = "OS_CLOUD", global = true)]
    pub os_cloud: Option<String>,
    /// The local Open_vSwitch database (unix:PATH or tcp:HOST:PORT);
    /// default: OVS_DB of DATA_DIR/ovn.env.
    #[arg(long, env = "NEUTRINO_OVS_DB", global = true)]
    pub ovs_db: Option<String>,
    /// The data directory of `neutrino up`, for its ovn.env.
    #[arg(
        long,
        env = "NEUTRINO_DATA_DIR",
        default_value = "neutrino-data",
        global = true
    )]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: PortCommand,
}

#[derive(Subcommand, Debug)]
pub enum PortCommand {
    /// Plug a port into a network namespace (created if missing).
    Plug {
        /// Port id or name.
        port: String,
        /// The namespace of the workload.
        #[arg(long)]
        netns: String,
        /// The device name inside the namespace.
        #[arg(long, default_value = "eth0")]
        ifname: String,
        /// An OVS internal port instead of a veth pair.
        #[arg(long)]
        internal: bool,
        /// The bridge (default: the integration bridge of the local OVS).
        #[arg(long)]
        bridge: Option<String>,
        /// Use this MAC and port id without asking the Network API.
        #[arg(long)]
        mac: Option<String>,
    },
    /// Unplug a port: remove its OVS port and its veth.
    Unplug {
        /// Port id or name.
        port: String,
    },
}

pub async fn run(args: PortArgs) -> anyhow::Result<()> {
    let ovs = ovs_endpoint(&args)?;
    match args.command {
        PortCommand::Plug {
            port,
            netns,
            ifname,
            internal,
            bridge,
            mac,
        } => {
            let (id, mac) = match mac {
                Some(mac) => (port, mac),
                None => lookup(args.os_cloud.as_deref(), &port).await?,
            };
            let bridge = match bridge {
                Some(b) => b,
                None => neutrino_chassis::integration_bridge(&ovs).await?,
            };
            let plugged = if internal {
                neutrino_chassis::plug_internal(&ovs, &bridge, &id, &mac, Some(&netns), &ifname)
                    .await?
            } else {
                neutrino_chassis::plug_veth(&ovs, &bridge, &id, &mac, &netns, &ifname).await?
            };
            println!(
                "port {id} plugged: {} on {bridge}, {ifname} ({mac}) in namespace {netns}",
                plugged.ovs_interface
            );
        }
        PortCommand::Unplug { port } => {
            // An id unplugs without the API; a name needs it.
            let mut removed = neutrino_chassis::unplug(&ovs, &port).await?;
            if removed.is_empty() && uuid::Uuid::parse_str(&port).is_err() {
                let (id, _) = lookup(args.os_cloud.as_deref(), &port).await?;
                removed = neutrino_chassis::unplug(&ovs, &id).await?;
            }
            if removed.is_empty() {
                bail!("port {port} is not plugged on this host");
            }
            println!("port {port} unplugged: {}", removed.join(", "));
        }
    }
    Ok(())
}

fn ovs_endpoint(args: &PortArgs) -> anyhow::Result<Endpoint> {
    let text = match &args.ovs_db {
        Some(s) => s.clone(),
        None => {
            let path = args.data_dir.join("ovn.env");
            OvnEnv::read(&path)
                .with_context(|| {
                    format!(
                        "no --ovs-db, and no ovn.env of a running `neutrino up` at {}",
                        path.display()
                    )
                })?
                .ovs
                .with_context(|| format!("{} has no OVS_DB", path.display()))?
        }
    };
    text.parse()
        .map_err(|e| anyhow::anyhow!("OVS database {text:?}: {e}"))
}

/// The id and MAC of a port given by id or name.
async fn lookup(cloud: Option<&str>, port: &str) -> anyhow::Result<(String, String)> {
    let client = Client::connect_to(cloud, None, "network").await?;
    let body = match client
        .send(reqwest::Method::GET, &format!("/v2.0/ports/{port}"), None)
        .await
    {
        Ok(b) => b["port"].clone(),
        Err(by_id) => {
            let list = client
                .send(
                    reqwest::Method::GET,
                    &format!("/v2.0/ports?name={}", form_urlencode(port)),
                    None,
                )
                .await?;
            match list["ports"].as_array().map(Vec::as_slice) {
                Some([one]) => one.clone(),
                Some([]) | None => return Err(by_id.context(format!("port {port} not found"))),
                Some(_) => bail!("more than one port is named {port}; use its id"),
            }
        }
    };
    let field = |k: &str| body[k].as_str().map(String::from);
    match (field("id"), field("mac_address")) {
        (Some(id), Some(mac)) => Ok((id, mac)),
        _ => bail!("the Network API returned no id and MAC for port {port}: {body}"),
    }
}

fn form_urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
