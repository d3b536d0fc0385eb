//! The VIP of a new load balancer (design §6): which network, subnet and
//! address the request means, and its port, created (or claimed) in the
//! load balancer's own transaction so the two commit together.

use std::net::IpAddr;

use neutrino_api::Requested;
use neutrino_api::service_ports::{self, ServicePort};
use neutrino_lb_types::LbError;
use neutrino_lb_types::model::{AdditionalVip, Vip};
use neutrino_lb_types::request::loadbalancer::LoadBalancerCreate;
use neutrino_store::locks::{self, Lock, Table};
use neutrino_store::{Tx, networks, ports, subnets};
use neutrino_types::model::{Network, Port, Subnet};

use crate::ops::db;

/// `device_owner` of every port the Load-balancer API creates or claims.
pub const DEVICE_OWNER: &str = "Octavia";

/// Who asks: the project the load balancer will belong to, and whether
/// the caller is an admin (who may use anybody's network).
pub struct Asker<'a> {
    pub project: &'a str,
    pub admin: bool,
}

impl Asker<'_> {
    fn sees(&self, n: &Network) -> bool {
        self.admin || n.visible_to(self.project)
    }
}

/// What the request resolved to.
struct Resolved {
    network: Network,
    subnet: Option<Subnet>,
    address: Option<IpAddr>,
    user_port: Option<Port>,
    /// Additional VIPs: subnet and requested address.
    additional: Vec<(Subnet, Option<IpAddr>)>,
}

fn ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

fn in_cidr(addr: IpAddr, cidr: &str) -> bool {
    cidr.parse::<ipnet::IpNet>()
        .is_ok_and(|net| net.contains(&addr))
}

async fn subnet(tx: &mut Tx, id: &str, who: &Asker<'_>) -> Result<(Subnet, Network), LbError> {
    let missing = || LbError::invalid_subresource("Subnet", id);
    let s = subnets::get_tx(tx, id)
        .await
        .map_err(db)?
        .ok_or_else(missing)?;
    let n = networks::get_tx(tx, &s.network_id)
        .await
        .map_err(db)?
        .filter(|n| who.sees(n))
        .ok_or_else(missing)?;
    Ok((s, n))
}

async fn network(tx: &mut Tx, id: &str, who: &Asker<'_>) -> Result<Network, LbError> {
    networks::get_tx(tx, id)
        .await
        .map_err(db)?
        .filter(|n| who.sees(n))
        .ok_or_else(|| LbError::invalid_subresource("Network", id))
}

async fn resolve(
    tx: &mut Tx,
    req: &LoadBalancerCreate,
    who: &Asker<'_>,
) -> Result<Resolved, LbError> {
    let mut address = req.vip_address.as_deref().and_then(ip);
    let (network, mut subnet, user_port) = if let Some(port_id) = &req.vip_port_id {
        let port = ports::get_tx(tx, port_id)
            .await
            .map_err(db)?
            .filter(|p| who.admin || p.project_id == who.project)
            .ok_or_else(|| LbError::invalid_subresource("Port", port_id))?;
        if !port.device_id.is_empty() {
            return Err(LbError::validation(format!(
                "Port {port_id} is already used by device {} ",
                port.device_id
            )));
        }
        let network = network(tx, &port.network_id, who).await?;
        let subnet = if let Some(sid) = &req.vip_subnet_id {
            let (s, _) = subnet(tx, sid, who).await?;
            let found = port.fixed_ips.iter().find(|f| f.subnet_id == s.id);
            let Some(f) = found else {
                return Err(LbError::validation(
                    "No VIP address found on the specified VIP port within the specified subnet.",
                ));
            };
            address = ip(&f.ip_address);
            Some(s)
        } else if let Some(want) = address {
            let found = port
                .fixed_ips
                .iter()
                .find(|f| ip(&f.ip_address) == Some(want));
            let Some(f) = found else {
                return Err(LbError::validation(
                    "Specified VIP address not found on the specified VIP port.",
                ));
            };
            Some(subnet(tx, &f.subnet_id.clone(), who).await?.0)
        } else if let [only] = port.fixed_ips.as_slice() {
            address = ip(&only.ip_address);
            Some(subnet(tx, &only.subnet_id.clone(), who).await?.0)
        } else {
            return Err(LbError::validation(
                "VIP port's subnet could not be determined. Please specify either a VIP subnet \
                 or address.",
            ));
        };
        (network, subnet, Some(port))
    } else if let Some(net_id) = &req.vip_network_id {
        let network = network(tx, net_id, who).await?;
        let subnet = match &req.vip_subnet_id {
            Some(sid) => {
                let (s, _) = subnet(tx, sid, who).await?;
                if s.network_id != network.id {
                    return Err(LbError::invalid_subresource("Subnet", sid));
                }
                Some(s)
            }
            None => None,
        };
        (network, subnet, None)
    } else {
        let sid = req.vip_subnet_id.as_deref().unwrap_or_default();
        let (s, n) = subnet(tx, sid, who).await?;
        (n, Some(s), None)
    };
    if subnet.is_none() {
        let (all, _) = subnets::for_network_with_pools_tx(tx, &network.id)
            .await
            .map_err(db)?;
        if all.is_empty() {
            return Err(LbError::validation(
                "Supplied network does not contain a subnet.",
            ));
        }
        subnet =
            match address {
                Some(a) => Some(all.into_iter().find(|s| in_cidr(a, &s.cidr)).ok_or_else(
                    || {
                        LbError::validation(
                            "Supplied network does not contain a subnet for VIP address \
                             specified.",
                        )
                    },
                )?),
                // IPv4 first, then the oldest.
                None => {
                    let mut all = all;
                    all.sort_by_key(|s| s.ip_version);
                    all.into_iter().next()
                }
            };
    }
    let mut additional = Vec::new();
    let primary = subnet.as_ref().map(|s| s.id.clone());
    let mut seen: Vec<String> = primary.iter().cloned().collect();
    for a in &req.additional_vips {
        if seen.contains(&a.subnet_id) {
            return Err(LbError::validation(
                "Duplicate VIP subnet(s) specified. Only one IP can be bound per subnet.",
            ));
        }
        seen.push(a.subnet_id.clone());
        let s = subnets::get_tx(tx, &a.subnet_id)
            .await
            .map_err(db)?
            .ok_or_else(|| LbError::validation(format!("Subnet {} not found", a.subnet_id)))?;
        if s.network_id != network.id {
            return Err(LbError::validation(
                "All VIP subnets must belong to the same network.",
            ));
        }
        additional.push((s, a.ip_address.as_deref().and_then(ip)));
    }
    Ok(Resolved {
        network,
        subnet,
        address,
        user_port,
        additional,
    })
}

/// Resolves the VIP of `req` and creates its port (or claims the user's)
/// for load balancer `lb_id` of project `who.project`, in `tx`.
pub async fn allocate(
    tx: &mut Tx,
    mac_prefix: [u8; 3],
    driver: crate::NetworkDriver,
    lb_id: &str,
    req: &LoadBalancerCreate,
    who: &Asker<'_>,
) -> Result<(Vip, Vec<AdditionalVip>), LbError> {
    if driver == crate::NetworkDriver::Noop {
        return Ok(noop_vip(req));
    }
    let r = resolve(tx, req, who).await?;
    locks::row(tx, Table::Networks, &r.network.id, Lock::Share)
        .await
        .map_err(db)?;
    if !r.network.port_security_enabled {
        return Err(LbError::provider_driver_error(
            "amphora",
            "Port security must be enabled on the VIP network.",
        ));
    }
    let primary = r.subnet.as_ref().map(|s| s.id.clone());
    let sg_ids = req.vip_sg_ids.clone();
    usable_groups(tx, &sg_ids, who).await?;
    let device_id = format!("lb-{lb_id}");
    let (mut port, octavia_owned) = match r.user_port {
        Some(mut p) => {
            locks::row(tx, Table::Ports, &p.id, Lock::Update)
                .await
                .map_err(db)?;
            p.device_owner = DEVICE_OWNER.into();
            p.device_id = device_id.clone();
            (p, false)
        }
        None => {
            let mut wanted = vec![Requested {
                subnet_id: primary.clone(),
                ip_address: r.address,
            }];
            wanted.extend(r.additional.iter().map(|(s, a)| Requested {
                subnet_id: Some(s.id.clone()),
                ip_address: *a,
            }));
            let sp = ServicePort {
                network_id: &r.network.id,
                project_id: who.project,
                device_owner: DEVICE_OWNER,
                device_id: &device_id,
                fixed_ips: Some(&wanted),
            };
            let mut p = service_ports::create(mac_prefix, tx, &sp)
                .await
                .map_err(port_error)?;
            p.name = format!("octavia-lb-{lb_id}");
            // The amphorae carry the VIP as an allowed address pair on
            // their own ports; this one only holds the address.
            p.admin_state_up = false;
            (p, true)
        }
    };
    port.updated_at = neutrino_store::now_timestamp();
    ports::update(tx, &port).await.map_err(db)?;
    if !sg_ids.is_empty() {
        ports::set_security_groups(tx, &port.id, &sg_ids)
            .await
            .map_err(db)?;
    }
    let primary_ip = port
        .fixed_ips
        .iter()
        .find(|f| Some(&f.subnet_id) == primary.as_ref())
        .map(|f| f.ip_address.clone());
    let vip = Vip {
        ip_address: primary_ip,
        port_id: Some(port.id.clone()),
        subnet_id: primary,
        network_id: Some(r.network.id.clone()),
        qos_policy_id: None,
        octavia_owned,
        vnic_type: neutrino_lb_types::enums::VnicType::Normal,
        sg_ids,
    };
    let additional = r
        .additional
        .iter()
        .map(|(s, _)| AdditionalVip {
            subnet_id: s.id.clone(),
            ip_address: port
                .fixed_ips
                .iter()
                .find(|f| f.subnet_id == s.id)
                .map(|f| f.ip_address.clone()),
            port_id: Some(port.id.clone()),
        })
        .collect();
    Ok((vip, additional))
}

/// Locks the security groups `ids` (share) and checks each exists and is
/// usable by `who` (its own project's, or any for an admin): the VIP's
/// `vip_sg_ids` on create and update.
pub async fn usable_groups(tx: &mut Tx, ids: &[String], who: &Asker<'_>) -> Result<(), LbError> {
    let groups = neutrino_store::security_groups::lock(tx, ids)
        .await
        .map_err(db)?;
    match ids.iter().find(|id| {
        !groups
            .iter()
            .any(|g| &g.id == *id && (who.admin || g.project_id == who.project))
    }) {
        Some(missing) => Err(LbError::invalid_subresource("Security Group", missing)),
        None => Ok(()),
    }
}

/// Upstream's `network_noop_driver.allocate_vip`: the ids as given (or
/// fresh), the requested address or `198.51.100.1`, no port anywhere.
fn noop_vip(req: &LoadBalancerCreate) -> (Vip, Vec<AdditionalVip>) {
    let fresh = || uuid::Uuid::new_v4().to_string();
    let network_id = req.vip_network_id.clone().unwrap_or_else(fresh);
    let port_id = req.vip_port_id.clone().unwrap_or_else(fresh);
    let vip = Vip {
        ip_address: Some(
            req.vip_address
                .clone()
                .unwrap_or_else(|| "198.51.100.1".into()),
        ),
        port_id: Some(port_id.clone()),
        subnet_id: Some(req.vip_subnet_id.clone().unwrap_or_else(fresh)),
        network_id: Some(network_id),
        qos_policy_id: None,
        // Nothing to give back: release touches no port of ours.
        octavia_owned: false,
        vnic_type: neutrino_lb_types::enums::VnicType::Normal,
        sg_ids: req.vip_sg_ids.clone(),
    };
    let additional = req
        .additional_vips
        .iter()
        .map(|a| AdditionalVip {
            subnet_id: a.subnet_id.clone(),
            ip_address: a.ip_address.clone(),
            port_id: Some(port_id.clone()),
        })
        .collect();
    (vip, additional)
}

/// The Network API's refusal of an address, as upstream reports it.
fn port_error(e: neutrino_types::ApiError) -> LbError {
    match e.status {
        409 => LbError::vip_address_conflict(&e.message),
        400 | 404 => LbError::validation(e.message),
        _ => {
            tracing::error!(error = %e, "VIP port creation failed");
            LbError::new(500, "InternalError", "Internal Server Error")
        }
    }
}
