//! The OVS/OVN daemons of `neutrino up`, from its flags.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use neutrino_chassis::{Central, ChassisConfig, NB_PORT, NicMapping, SB_PORT};

use crate::cli::UpArgs;
use crate::config::Settings;

/// What `up` runs: everything (NB, SB, northd, OVS, ovn-controller) by
/// default; only OVS and ovn-controller when --ovn-nb/--ovn-sb name an
/// existing OVN; nothing with --no-data-plane.
pub fn config(up: &UpArgs, settings: &Settings) -> anyhow::Result<Option<ChassisConfig>> {
    let args = &up.chassis;
    if args.no_data_plane {
        return Ok(None);
    }
    let mut c = match (&settings.ovn_nb, &settings.ovn_sb) {
        (Some(nb), Some(sb)) => ChassisConfig::remote(&up.data_dir, nb, sb),
        (None, None) => {
            let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
            let mut c = ChassisConfig::all_in_one(&up.data_dir);
            c.central = Central::Local {
                nb_tcp: Some(args.ovn_nb_listen.unwrap_or(loopback(NB_PORT))),
                sb_tcp: Some(args.ovn_sb_listen.unwrap_or(loopback(SB_PORT))),
            };
            c
        }
        _ => bail!("--ovn-nb and --ovn-sb go together"),
    };
    let local = c
        .local
        .as_mut()
        .context("a chassis config without a local chassis")?;
    if let Some(name) = &args.chassis_name {
        local.name = name.clone();
    }
    if let Some(b) = &args.integration_bridge {
        local.integration_bridge = b.clone();
    }
    local.nic_mappings = args
        .nic_mappings
        .iter()
        .map(|m| m.parse::<NicMapping>())
        .collect::<Result<_, _>>()?;
    Ok(Some(c))
}
