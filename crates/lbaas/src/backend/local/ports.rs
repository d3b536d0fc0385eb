//! The amphorae's ports, made through the Network API's own code in the
//! same database (upstream's allowed-address-pairs network driver does
//! the same through Neutron): a management port per network of
//! `amp_boot_network_list`, and a VRRP port on the VIP network holding
//! the VIP as an allowed address pair. The data plane realizes them like
//! any port; the local compute driver plugs them into br-int.

use neutrino_api::Requested;
use neutrino_api::service_groups::{self, Ingress};
use neutrino_api::service_ports::{self, ServicePort};
use neutrino_store::ports::{self, PortQuery};
use neutrino_store::{Db, StoreError};
use neutrino_types::ApiError;
use neutrino_types::model::{AddressPair, Port};

use crate::engine::StepError;

/// Device owner of management ports (design §8.6: upstream lets Nova
/// create them, unnamed; ours are named and owned so they can be found).
pub const MGMT_OWNER: &str = "compute:octavia";
/// Upstream's `OCTAVIA_OWNER`, on VIP and VRRP ports.
pub const VRRP_OWNER: &str = "Octavia";

fn db_err(e: StoreError) -> StepError {
    StepError::transient(format!("database: {e}"))
}

fn api_err(e: ApiError) -> StepError {
    // Out of addresses, a network gone: trying again will not help.
    if e.status < 500 {
        StepError::permanent(format!("{}: {}", e.kind, e.message))
    } else {
        StepError::transient(format!("{}: {}", e.kind, e.message))
    }
}

pub struct PortSpec<'a> {
    pub name: String,
    pub network_id: &'a str,
    pub subnet_id: Option<&'a str>,
    pub project_id: &'a str,
    pub device_owner: &'a str,
    pub device_id: &'a str,
    pub host: &'a str,
    pub security_groups: Vec<String>,
    /// Addresses the port may also use (the VIP).
    pub address_pairs: Vec<String>,
}

/// The ports of device `device_id` owned by `owner`.
pub async fn of_device(db: &Db, device_id: &str, owner: &str) -> Result<Vec<Port>, StepError> {
    let q = PortQuery {
        device_ids: vec![device_id.to_string()],
        ..Default::default()
    };
    Ok(ports::list(db, &q)
        .await
        .map_err(db_err)?
        .into_iter()
        .filter(|p| p.device_owner == owner)
        .collect())
}

/// The port `spec` describes: found by device, owner and network (a step
/// run again finds what the first run made), or created.
pub async fn ensure(db: &Db, mac_prefix: [u8; 3], spec: &PortSpec<'_>) -> Result<Port, StepError> {
    if let Some(p) = of_device(db, spec.device_id, spec.device_owner)
        .await?
        .into_iter()
        .find(|p| p.network_id == spec.network_id)
    {
        return Ok(p);
    }
    let mut tx = db.begin().await.map_err(db_err)?;
    let requested = spec.subnet_id.map(|s| {
        vec![Requested {
            subnet_id: Some(s.to_string()),
            ip_address: None,
        }]
    });
    let mut port = service_ports::create(
        mac_prefix,
        &mut tx,
        &ServicePort {
            network_id: spec.network_id,
            project_id: spec.project_id,
            device_owner: spec.device_owner,
            device_id: spec.device_id,
            fixed_ips: requested.as_deref(),
        },
    )
    .await
    .map_err(api_err)?;
    port.name = spec.name.clone();
    // As Nova does before plugging: the host the port will be bound on.
    port.binding_host_id = spec.host.to_string();
    port.binding_vif_type = "ovs".into();
    port.allowed_address_pairs = spec
        .address_pairs
        .iter()
        .map(|ip| AddressPair {
            ip_address: ip.clone(),
            mac_address: port.mac_address.clone(),
        })
        .collect();
    ports::update(&mut tx, &port).await.map_err(db_err)?;
    if port.port_security_enabled && !spec.security_groups.is_empty() {
        ports::set_security_groups(&mut tx, &port.id, &spec.security_groups)
            .await
            .map_err(db_err)?;
        port.security_groups = spec.security_groups.clone();
    }
    tx.commit().await.map_err(db_err)?;
    Ok(port)
}

/// Deletes the ports of device `device_id` owned by `owner`; returns
/// their ids. Done when there are none.
pub async fn delete_of_device(
    db: &Db,
    device_id: &str,
    owner: &str,
) -> Result<Vec<String>, StepError> {
    let doomed = of_device(db, device_id, owner).await?;
    if doomed.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = db.begin().await.map_err(db_err)?;
    let mut ids = Vec::new();
    for p in doomed {
        ports::delete(&mut tx, &p.id).await.map_err(db_err)?;
        ids.push(p.id);
    }
    tx.commit().await.map_err(db_err)?;
    Ok(ids)
}

/// The id of load balancer `lb_id`'s own security group (upstream
/// `lb-{id}`), fixed so that every step finds the same one.
pub fn lb_group_id(lb_id: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("lb-sg:{lb_id}").as_bytes(),
    )
    .to_string()
}

/// Makes the load balancer's group exist with ingress rules for `wanted`
/// (upstream's `update_vip`: the listeners' ports, VRRP between peers).
pub async fn ensure_lb_group(
    db: &Db,
    lb_id: &str,
    project_id: &str,
    wanted: &[Ingress],
) -> Result<String, StepError> {
    let id = lb_group_id(lb_id);
    let mut tx = db.begin().await.map_err(db_err)?;
    service_groups::ensure(&mut tx, &id, project_id, &format!("lb-{lb_id}"), "")
        .await
        .map_err(api_err)?;
    service_groups::set_ingress(&mut tx, &id, wanted)
        .await
        .map_err(api_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(id)
}

/// Deletes the load balancer's group unless a VRRP port still uses it
/// (another amphora of the load balancer: a failover's new one, or the
/// peer of an active/standby pair); the last one out takes it.
pub async fn delete_lb_group(db: &Db, lb_id: &str) -> Result<(), StepError> {
    let mut tx = db.begin().await.map_err(db_err)?;
    match service_groups::delete(&mut tx, &lb_group_id(lb_id)).await {
        Ok(()) => {}
        Err(e) if e.status == 409 => return Ok(()),
        Err(e) => return Err(api_err(e)),
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}
