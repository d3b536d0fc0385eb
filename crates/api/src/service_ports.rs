//! Ports the server creates for itself: router gateways and interfaces,
//! floating IP addresses. Same rules as user ports (unique MAC, addresses
//! through `fixed_ips`), but no security groups and no policy checks.
//! The Load-balancer API creates its VIP ports here too, in its own
//! transaction on the same database.

use neutrino_ipam::Mac;
use neutrino_store::{Tx, now_timestamp};
use neutrino_types::ApiError;
use neutrino_types::model::{FixedIp, Port};
use serde_json::json;

use crate::fixed_ips::{PortAddressing, Requested};
use crate::networks::internal;

pub struct ServicePort<'a> {
    pub network_id: &'a str,
    /// Empty for router gateways and floating IPs, which belong to no project.
    pub project_id: &'a str,
    pub device_owner: &'a str,
    pub device_id: &'a str,
    /// `None` for "whatever the network's subnets give".
    pub fixed_ips: Option<&'a [Requested]>,
}

/// Creates the port and its addresses inside `tx`; returns it with its
/// fixed IPs. `mac_prefix` is the Network API's (`NetworkConfig`).
pub async fn create(
    mac_prefix: [u8; 3],
    tx: &mut Tx,
    sp: &ServicePort<'_>,
) -> Result<Port, ApiError> {
    let net = neutrino_store::networks::get_tx(tx, sp.network_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::network_not_found(sp.network_id))?;
    let now = now_timestamp();
    let mut port = Port {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: sp.project_id.to_string(),
        network_id: sp.network_id.to_string(),
        name: String::new(),
        description: String::new(),
        admin_state_up: true,
        mac_address: String::new(),
        fixed_ips: Vec::new(),
        device_id: sp.device_id.to_string(),
        device_owner: sp.device_owner.to_string(),
        status: "DOWN".into(),
        binding_host_id: String::new(),
        binding_vif_type: "unbound".into(),
        binding_vnic_type: "normal".into(),
        binding_profile: json!({}),
        binding_vif_details: json!({}),
        port_security_enabled: net.port_security_enabled,
        security_groups: Vec::new(),
        allowed_address_pairs: Vec::new(),
        dns_name: String::new(),
        revision_number: 1,
        created_at: now.clone(),
        updated_at: now,
        tags: Vec::new(),
    };
    let mut mac;
    loop {
        mac = Mac::random_with_prefix(mac_prefix, &mut rand::rng());
        port.mac_address = mac.to_string();
        if neutrino_store::ports::insert(tx, &port)
            .await
            .map_err(internal)?
        {
            break;
        }
    }
    let (subnets, pools) = neutrino_store::subnets::for_network_with_pools_tx(tx, sp.network_id)
        .await
        .map_err(internal)?;
    let addressing = PortAddressing {
        port_id: &port.id,
        network_id: sp.network_id,
        device_owner: sp.device_owner,
        mac: &mac,
        pools: &pools,
    };
    port.fixed_ips = addressing.allocate(tx, &subnets, sp.fixed_ips).await?;
    Ok(port)
}

/// Replaces the addresses of an existing service port (a router gateway
/// whose external IPs change), keeping the ones asked for again.
pub async fn readdress(
    tx: &mut Tx,
    port: &Port,
    requested: &[Requested],
) -> Result<Vec<FixedIp>, ApiError> {
    let (subnets, pools) = neutrino_store::subnets::for_network_with_pools_tx(tx, &port.network_id)
        .await
        .map_err(internal)?;
    let mac: Mac = port
        .mac_address
        .parse()
        .map_err(|_| ApiError::internal("stored MAC is invalid"))?;
    let addressing = PortAddressing {
        port_id: &port.id,
        network_id: &port.network_id,
        device_owner: &port.device_owner,
        mac: &mac,
        pools: &pools,
    };
    let new = addressing
        .reallocate(tx, &subnets, &port.fixed_ips, requested, false)
        .await?;
    // The port's view changed: a new revision (see view_cache.rs).
    neutrino_store::ports::touch(tx, &port.id, &now_timestamp())
        .await
        .map_err(internal)?;
    Ok(new)
}
