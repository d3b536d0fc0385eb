//! `GET /v2/lbaas/loadbalancers/{id}/status` (design §3.5). Field order
//! is upstream's; `health_monitor` is left out when the pool has none.
//! Which pools appear (only under listeners: default pool, then L7
//! redirect pools, each once) is [`StatusTree::build`]'s job.

use crate::model::{HealthMonitor, L7Policy, Listener, LoadBalancer, Member, Pool};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusTree {
    pub statuses: Statuses,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Statuses {
    pub loadbalancer: LbStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LbStatus {
    pub id: String,
    pub name: String,
    pub operating_status: String,
    pub provisioning_status: String,
    pub listeners: Vec<ListenerStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListenerStatus {
    pub id: String,
    pub name: String,
    pub operating_status: String,
    pub provisioning_status: String,
    pub pools: Vec<PoolStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolStatus {
    pub id: String,
    pub name: String,
    pub provisioning_status: String,
    pub operating_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_monitor: Option<HealthMonitorStatus>,
    pub members: Vec<MemberStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthMonitorStatus {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub hm_type: String,
    pub provisioning_status: String,
    pub operating_status: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemberStatus {
    pub id: String,
    pub name: String,
    pub operating_status: String,
    pub provisioning_status: String,
    pub address: String,
    pub protocol_port: i64,
}

/// Everything below one load balancer, as the store reads it.
#[derive(Clone, Debug, Default)]
pub struct LbGraph<'a> {
    pub listeners: Vec<&'a Listener>,
    pub pools: Vec<&'a Pool>,
    pub members: Vec<&'a Member>,
    pub health_monitors: Vec<&'a HealthMonitor>,
    pub l7policies: Vec<&'a L7Policy>,
}

fn name(n: &Option<String>) -> String {
    n.clone().unwrap_or_default()
}

impl StatusTree {
    /// Listeners in the given order; under each its default pool, then
    /// the pools its L7 policies redirect to (position order), each once.
    pub fn build(lb: &LoadBalancer, g: &LbGraph<'_>) -> StatusTree {
        let pool_status = |p: &Pool| PoolStatus {
            id: p.id.clone(),
            name: name(&p.name),
            provisioning_status: p.provisioning_status.to_string(),
            operating_status: p.operating_status.to_string(),
            health_monitor: g
                .health_monitors
                .iter()
                .find(|h| h.pool_id == p.id)
                .map(|h| HealthMonitorStatus {
                    id: h.id.clone(),
                    name: name(&h.name),
                    hm_type: h.hm_type.to_string(),
                    provisioning_status: h.provisioning_status.to_string(),
                    operating_status: h.operating_status.to_string(),
                }),
            members: g
                .members
                .iter()
                .filter(|m| m.pool_id == p.id)
                .map(|m| MemberStatus {
                    id: m.id.clone(),
                    name: name(&m.name),
                    operating_status: m.operating_status.to_string(),
                    provisioning_status: m.provisioning_status.to_string(),
                    address: m.address.clone(),
                    protocol_port: m.protocol_port,
                })
                .collect(),
        };
        let listeners = g
            .listeners
            .iter()
            .map(|l| {
                let mut policies: Vec<&&L7Policy> = g
                    .l7policies
                    .iter()
                    .filter(|p| p.listener_id == l.id)
                    .collect();
                policies.sort_by_key(|p| p.position);
                let mut pool_ids: Vec<&str> =
                    l.default_pool_id.iter().map(String::as_str).collect();
                for p in policies {
                    if let Some(id) = p.redirect_pool_id.as_deref()
                        && !pool_ids.contains(&id)
                    {
                        pool_ids.push(id);
                    }
                }
                ListenerStatus {
                    id: l.id.clone(),
                    name: name(&l.name),
                    operating_status: l.operating_status.to_string(),
                    provisioning_status: l.provisioning_status.to_string(),
                    pools: pool_ids
                        .iter()
                        .filter_map(|id| g.pools.iter().find(|p| p.id == *id))
                        .map(|p| pool_status(p))
                        .collect(),
                }
            })
            .collect();
        StatusTree {
            statuses: Statuses {
                loadbalancer: LbStatus {
                    id: lb.id.clone(),
                    name: name(&lb.name),
                    operating_status: lb.operating_status.to_string(),
                    provisioning_status: lb.provisioning_status.to_string(),
                    listeners,
                },
            },
        }
    }
}
