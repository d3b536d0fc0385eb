//! Security groups the server keeps for itself: the load balancer's
//! `lb-{id}` group on its VRRP ports and the management network's groups
//! (design load-balancing.md §8.6). Same rows and rules as user groups,
//! created with the rules Neutron gives every new group (egress to
//! anywhere), no policy checks. The caller picks the id, so a repeated
//! call (a flow step run again) finds what an earlier one made.

use neutrino_store::security_groups as store;
use neutrino_store::{Tx, now_timestamp};
use neutrino_types::ApiError;
use neutrino_types::model::{SecurityGroup, SecurityGroupRule};

use crate::networks::internal;
use crate::security_groups::{insert_group, rule_key};

/// An ingress rule a service group should hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingress {
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// `tcp`, `udp`, `icmp`, a number, or `None` for any.
    pub protocol: Option<String>,
    pub port_min: Option<i64>,
    pub port_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
}

impl Ingress {
    pub fn port(ethertype: &str, protocol: &str, port: i64) -> Self {
        Ingress {
            ethertype: ethertype.into(),
            protocol: Some(protocol.into()),
            port_min: Some(port),
            port_max: Some(port),
            remote_ip_prefix: None,
        }
    }

    pub fn protocol(ethertype: &str, protocol: &str) -> Self {
        Ingress {
            ethertype: ethertype.into(),
            protocol: Some(protocol.into()),
            port_min: None,
            port_max: None,
            remote_ip_prefix: None,
        }
    }
}

/// Makes group `id` exist in `project_id` with `name`; creates it (with
/// the default egress rules) when missing.
pub async fn ensure(
    tx: &mut Tx,
    id: &str,
    project_id: &str,
    name: &str,
    description: &str,
) -> Result<(), ApiError> {
    if store::get_tx(tx, id).await.map_err(internal)?.is_some() {
        return Ok(());
    }
    let now = now_timestamp();
    let g = SecurityGroup {
        id: id.to_string(),
        project_id: project_id.to_string(),
        name: name.to_string(),
        description: description.to_string(),
        stateful: true,
        is_default: false,
        revision_number: 1,
        created_at: now.clone(),
        updated_at: now,
        tags: Vec::new(),
        rules: Vec::new(),
    };
    insert_group(tx, &g).await?;
    Ok(())
}

/// Makes the ingress rules of group `id` exactly `wanted` (egress rules
/// are left alone). Returns whether anything changed.
pub async fn set_ingress(tx: &mut Tx, id: &str, wanted: &[Ingress]) -> Result<bool, ApiError> {
    let g = store::get_tx(tx, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::internal(format!("service security group {id} is gone")))?;
    let rules = store::rules_of_tx(tx, id).await.map_err(internal)?;
    let now = now_timestamp();
    let rule = |w: &Ingress| SecurityGroupRule {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: g.project_id.clone(),
        security_group_id: g.id.clone(),
        direction: "ingress".into(),
        ethertype: w.ethertype.clone(),
        protocol: w.protocol.clone(),
        port_range_min: w.port_min,
        port_range_max: w.port_max,
        remote_ip_prefix: w.remote_ip_prefix.clone(),
        remote_group_id: None,
        description: None,
        belongs_to_default_sg: false,
        revision_number: 0,
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    let wanted: Vec<(String, SecurityGroupRule)> = wanted
        .iter()
        .map(|w| {
            let r = rule(w);
            (rule_key(&r), r)
        })
        .collect();
    let mut changed = false;
    for existing in rules.iter().filter(|r| r.direction == "ingress") {
        let key = rule_key(existing);
        if !wanted.iter().any(|(k, _)| *k == key) {
            store::delete_rule(tx, &existing.id)
                .await
                .map_err(internal)?;
            changed = true;
        }
    }
    for (key, r) in &wanted {
        if store::insert_rule(tx, r, key)
            .await
            .map_err(internal)?
            .is_none()
        {
            changed = true;
        }
    }
    if changed {
        store::touch(tx, id, &now).await.map_err(internal)?;
    }
    Ok(changed)
}

/// Deletes group `id` and its rules; done when already gone. Refused
/// (409) while a port still uses it.
pub async fn delete(tx: &mut Tx, id: &str) -> Result<(), ApiError> {
    if store::get_tx(tx, id).await.map_err(internal)?.is_none() {
        return Ok(());
    }
    if store::port_count(tx, id).await.map_err(internal)? > 0 {
        return Err(ApiError::conflict(
            "SecurityGroupInUse",
            format!("Security Group {id} in use."),
        ));
    }
    store::delete(tx, id).await.map_err(internal)?;
    Ok(())
}
