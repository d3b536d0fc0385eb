//! The tenant boundary: checks for requests that name another object
//! (a router as a port's `device_id`, a subnet for a router interface),
//! so one project can never attach its resources to another's.
//!
//! Visibility (404 for what the caller cannot see) stays with each
//! resource's `visible`; what lives here are the rules where seeing an
//! object is not enough to use it.

use neutrino_store::Tx;
use neutrino_types::model::{ACCESS_AS_SHARED, Network, Subnet};
use neutrino_types::{ApiError, DEVICE_OWNER_ROUTER_GW, ROUTER_INTERFACE_OWNERS};

use crate::auth::Caller;
use crate::networks::internal;

/// Device owners that make the data plane plug a port into the router its
/// `device_id` names. Neutron checks the interface owners; the gateway is
/// added because here a gateway port also becomes a port of that router.
fn attaches_to_router(device_owner: &str) -> bool {
    ROUTER_INTERFACE_OWNERS.contains(&device_owner) || device_owner == DEVICE_OWNER_ROUTER_GW
}

fn device_id_not_owned(device_id: &str) -> ApiError {
    ApiError::conflict(
        "DeviceIDNotOwnedByTenant",
        format!(
            "The following device_id {device_id} is not owned by your tenant or matches another tenants router."
        ),
    )
}

/// Neutron's `_enforce_device_owner_not_router_intf_or_device_id`: a
/// non-admin may give a port of `port_project` a router's device owner
/// only with a `device_id` that is not another project's router. A
/// `device_id` naming no router is allowed (it may be a device elsewhere).
pub async fn check_device_id(
    tx: &mut Tx,
    caller: &Caller,
    device_owner: &str,
    device_id: &str,
    port_project: &str,
) -> Result<(), ApiError> {
    if caller.is_admin() || device_id.is_empty() || !attaches_to_router(device_owner) {
        return Ok(());
    }
    let router = neutrino_store::routers::get_tx(tx, device_id)
        .await
        .map_err(internal)?;
    match router {
        Some(r) if r.project_id != port_project => Err(device_id_not_owned(device_id)),
        _ => Ok(()),
    }
}

/// Whether an update must re-check the device id (Neutron's
/// `_validate_port_for_update`): the owner is named, or the device id
/// changes on a port that has an owner.
pub fn device_id_check_needed(
    owner_in_request: bool,
    new_owner: &str,
    old_device_id: &str,
    new_device_id: &str,
) -> bool {
    owner_in_request || (!new_owner.is_empty() && old_device_id != new_device_id)
}

/// Neutron's rule for `add_router_interface` by subnet: a subnet of
/// another project may be attached only when its network is shared with
/// the caller's project by name. A network shared with everyone is not
/// enough (LP#1757482); an RBAC grant to the project is (LP#1975603).
pub fn check_interface_subnet(
    caller: &Caller,
    subnet: &Subnet,
    net: Option<&Network>,
) -> Result<(), ApiError> {
    let project = caller.project_id();
    if caller.is_admin() || subnet.project_id == project {
        return Ok(());
    }
    let granted = net.is_some_and(|n| {
        n.access
            .iter()
            .any(|a| a.action == ACCESS_AS_SHARED && a.target == project)
    });
    if granted {
        Ok(())
    } else {
        Err(ApiError::bad_resource_request(
            "router",
            format!(
                "Cannot add interface to router because subnet {} is not owned by project making the request",
                subnet.id
            ),
        ))
    }
}
