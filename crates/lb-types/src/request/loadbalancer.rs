//! Load balancer POST/PUT bodies (`LoadBalancerPOST`, `LoadBalancerPUT`),
//! the VIP rules that need no database, and the graph ("fully
//! populated") create's pool hoisting (`_graph_create`).

use super::listener::{LISTENER_SINGLE, ListenerCreate};
use super::pool::{POOL_SINGLE, PoolCreate};
use crate::LbError;
use crate::model::LoadBalancer;
use crate::patch::{Fields, Patch};
use crate::wsme::{Kind, Schema, opt, parse_root, req, text};
use serde_json::Value;

static ADDITIONAL_VIP: Schema = Schema {
    attrs: &[
        req("subnet_id", Kind::Uuid),
        opt("ip_address", Kind::Ip),
        opt("port_id", Kind::Uuid),
    ],
    tenant_id: false,
};

static LB_POST: Schema = Schema {
    attrs: &[
        opt("name", text(255)),
        opt("description", text(255)),
        opt("admin_state_up", Kind::Bool),
        opt("vip_address", Kind::Ip),
        opt("vip_port_id", Kind::Uuid),
        opt("vip_subnet_id", Kind::Uuid),
        opt("vip_network_id", Kind::Uuid),
        opt("vip_qos_policy_id", Kind::Uuid),
        opt("vip_sg_ids", Kind::List(&Kind::Uuid)),
        opt("additional_vips", Kind::ObjectList(&ADDITIONAL_VIP)),
        opt("project_id", text(36)),
        opt("listeners", Kind::ObjectList(&LISTENER_SINGLE)),
        opt("pools", Kind::ObjectList(&POOL_SINGLE)),
        opt("provider", text(64)),
        opt("tags", Kind::List(&text(255))),
        opt("flavor_id", Kind::Uuid),
        opt("availability_zone", text(255)),
    ],
    tenant_id: true,
};

static LB_PUT: Schema = Schema {
    attrs: &[
        opt("name", text(255)),
        opt("description", text(255)),
        opt("vip_qos_policy_id", Kind::Uuid),
        opt("admin_state_up", Kind::Bool),
        opt("vip_sg_ids", Kind::List(&Kind::Uuid)),
        opt("tags", Kind::List(&text(255))),
    ],
    tenant_id: false,
};

#[derive(Clone, Debug, PartialEq)]
pub struct AdditionalVipInput {
    pub subnet_id: String,
    pub ip_address: Option<String>,
    pub port_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoadBalancerCreate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: bool,
    pub vip_address: Option<String>,
    pub vip_port_id: Option<String>,
    pub vip_subnet_id: Option<String>,
    pub vip_network_id: Option<String>,
    pub vip_qos_policy_id: Option<String>,
    pub vip_sg_ids: Vec<String>,
    pub additional_vips: Vec<AdditionalVipInput>,
    pub project_id: Option<String>,
    pub listeners: Vec<ListenerCreate>,
    pub pools: Vec<PoolCreate>,
    pub provider: Option<String>,
    pub tags: Vec<String>,
    pub flavor_id: Option<String>,
    pub availability_zone: Option<String>,
}

impl LoadBalancerCreate {
    /// `POST /v2/lbaas/loadbalancers`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "load_balancer", "loadbalancer", &LB_POST)?);
        let additional_vips = f
            .objects("additional_vips")
            .into_option()
            .unwrap_or_default()
            .iter()
            .map(|v| {
                Ok(AdditionalVipInput {
                    subnet_id: v
                        .str("subnet_id")
                        .into_option()
                        .ok_or_else(|| LbError::mandatory_missing("subnet_id"))?,
                    ip_address: v.str("ip_address").into_option(),
                    port_id: v.str("port_id").into_option(),
                })
            })
            .collect::<Result<Vec<_>, LbError>>()?;
        let listeners = f
            .objects("listeners")
            .into_option()
            .unwrap_or_default()
            .iter()
            .map(ListenerCreate::from_fields)
            .collect::<Result<Vec<_>, _>>()?;
        let pools = f
            .objects("pools")
            .into_option()
            .unwrap_or_default()
            .iter()
            .map(PoolCreate::from_fields)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LoadBalancerCreate {
            name: f.str("name").into_option(),
            description: f.str("description").into_option(),
            admin_state_up: f.flag("admin_state_up", true),
            vip_address: f.str("vip_address").into_option(),
            vip_port_id: f.str("vip_port_id").into_option(),
            vip_subnet_id: f.str("vip_subnet_id").into_option(),
            vip_network_id: f.str("vip_network_id").into_option(),
            vip_qos_policy_id: f.str("vip_qos_policy_id").into_option(),
            vip_sg_ids: f.strs("vip_sg_ids").into_option().unwrap_or_default(),
            additional_vips,
            project_id: f.str("project_id").into_option(),
            listeners,
            pools,
            provider: f.str("provider").into_option(),
            tags: f.strs("tags").into_option().unwrap_or_default(),
            flavor_id: f.str("flavor_id").into_option(),
            availability_zone: f.str("availability_zone").into_option(),
        })
    }

    /// The VIP rules that need no database: one of port, network or
    /// subnet; no QoS (Neutrino's Network API has none).
    pub fn check_vip(&self) -> Result<(), LbError> {
        if self.vip_port_id.is_none()
            && self.vip_network_id.is_none()
            && self.vip_subnet_id.is_none()
        {
            return Err(LbError::vip_validation());
        }
        if self.vip_qos_policy_id.is_some() {
            return Err(qos_not_allowed());
        }
        Ok(())
    }

    /// `_graph_create`'s pool rules: an inline `default_pool` or
    /// `redirect_pool` with more than a name is a definition and moves to
    /// `pools` (leaving a by-name reference); every pool is named, names
    /// are unique, references resolve, definitions are complete.
    pub fn hoist_graph_pools(&mut self) -> Result<(), LbError> {
        let unnamed = || {
            LbError::validation("Pools must be named when creating a fully populated loadbalancer.")
        };
        let mut required = Vec::new();
        let mut hoisted = Vec::new();
        for listener in &mut self.listeners {
            let slots = std::iter::once(&mut listener.default_pool)
                .chain(listener.l7policies.iter_mut().map(|p| &mut p.redirect_pool));
            for slot in slots {
                let Some(pool) = slot else { continue };
                let Some(name) = pool.name.clone().filter(|n| !n.is_empty()) else {
                    return Err(unnamed());
                };
                if pool.is_definition() {
                    hoisted.extend(slot.replace(PoolCreate::reference(&name)));
                } else if !required.contains(&name) {
                    required.push(name);
                }
            }
        }
        self.pools.extend(hoisted);
        let names: Vec<Option<&str>> = self.pools.iter().map(|p| p.name.as_deref()).collect();
        let mut seen = Vec::new();
        for n in &names {
            if seen.contains(n) {
                return Err(LbError::validation(
                    "Pool names must be unique when creating a fully populated loadbalancer.",
                ));
            }
            seen.push(*n);
        }
        for name in &required {
            if !names.contains(&Some(name.as_str())) {
                return Err(LbError::validation(format!(
                    "Pool '{name}' was referenced but no full definition was found."
                )));
            }
        }
        for pool in &self.pools {
            let name = pool.name.as_deref().unwrap_or("None");
            for (attr, missing) in [
                ("protocol", pool.protocol.is_none()),
                ("lb_algorithm", pool.lb_algorithm.is_none()),
            ] {
                if missing {
                    return Err(LbError::validation(format!(
                        "Pool definition for '{name}' missing required attribute: {attr}"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn qos_not_allowed() -> LbError {
    LbError::validation("VIP QoS policy is not allowed in this deployment.")
}

impl PoolCreate {
    /// More than a name: upstream counts the keys of the pool's dict,
    /// where `admin_state_up` and `tls_enabled` always are.
    pub fn is_definition(&self) -> bool {
        self.given
            .iter()
            .any(|k| !matches!(k.as_str(), "name" | "admin_state_up" | "tls_enabled"))
    }

    /// A pool named in a graph, defined elsewhere in it.
    pub fn reference(name: &str) -> PoolCreate {
        PoolCreate {
            name: Some(name.to_string()),
            description: None,
            admin_state_up: true,
            listener_id: None,
            loadbalancer_id: None,
            protocol: None,
            lb_algorithm: None,
            session_persistence: None,
            project_id: None,
            healthmonitor: None,
            members: Vec::new(),
            tags: Vec::new(),
            tls_container_ref: None,
            ca_tls_container_ref: None,
            crl_container_ref: None,
            tls_enabled: false,
            tls_ciphers: None,
            tls_versions: None,
            alpn_protocols: None,
            given: vec!["name".into()],
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadBalancerUpdate {
    pub name: Patch<String>,
    pub description: Patch<String>,
    pub vip_qos_policy_id: Patch<String>,
    pub admin_state_up: Patch<bool>,
    pub vip_sg_ids: Patch<Vec<String>>,
    pub tags: Patch<Vec<String>>,
}

impl LoadBalancerUpdate {
    /// `PUT /v2/lbaas/loadbalancers/{id}`; a null `vip_sg_ids` is `[]`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "load_balancer", "loadbalancer", &LB_PUT)?);
        Ok(LoadBalancerUpdate {
            name: f.str("name"),
            description: f.str("description"),
            vip_qos_policy_id: f.str("vip_qos_policy_id"),
            admin_state_up: f.bool("admin_state_up").null_as(|| false),
            vip_sg_ids: f.strs("vip_sg_ids").null_as(Vec::new),
            tags: f.strs("tags"),
        })
    }

    pub fn check(&self) -> Result<(), LbError> {
        if self.vip_qos_policy_id.value().is_some() {
            return Err(qos_not_allowed());
        }
        Ok(())
    }

    pub fn apply(&self, stored: &LoadBalancer) -> LoadBalancer {
        let mut lb = stored.clone();
        lb.name = self.name.clone().apply(lb.name);
        lb.description = self.description.clone().apply(lb.description);
        lb.vip.qos_policy_id = self.vip_qos_policy_id.clone().apply(lb.vip.qos_policy_id);
        if let Patch::Value(v) = self.admin_state_up {
            lb.admin_state_up = v;
        }
        if let Patch::Value(sg) = &self.vip_sg_ids {
            lb.vip.sg_ids = sg.clone();
        }
        if let Patch::Value(t) = &self.tags {
            lb.tags = t.clone();
        }
        lb
    }
}
