//! Load balancers with their VIP (`lb_vips`) and additional VIPs, the
//! compare-and-set every mutating request starts with (§3.3), "mark the
//! whole tree" for finished flows, and the cascade delete (§3.4).

use neutrino_lb_types::enums::{OperatingStatus, ProvisioningStatus, Topology, VnicType};
use neutrino_lb_types::model::{AdditionalVip, LoadBalancer, Vip};

use super::{Exec, Filter, Object, Reader, enum_col, execute, fetch_all, json_col, now, tags};
use crate::rows::{placeholders, to_json};
use crate::{Db, StoreError, Tx, dispatch};

#[derive(sqlx::FromRow)]
struct LbRow {
    id: String,
    project_id: String,
    name: Option<String>,
    description: Option<String>,
    enabled: bool,
    provisioning_status: String,
    operating_status: String,
    topology: String,
    provider: Option<String>,
    flavor_id: Option<String>,
    availability_zone: Option<String>,
    created_at: String,
    updated_at: Option<String>,
    vip_ip_address: Option<String>,
    vip_port_id: Option<String>,
    vip_subnet_id: Option<String>,
    vip_network_id: Option<String>,
    vip_qos_policy_id: Option<String>,
    vip_octavia_owned: bool,
    vip_vnic_type: String,
    vip_sg_ids: String,
}

#[derive(sqlx::FromRow)]
struct AdditionalVipRow {
    load_balancer_id: String,
    subnet_id: String,
    ip_address: Option<String>,
    port_id: Option<String>,
}

const SELECT: &str = "SELECT id, project_id, name, description, enabled, provisioning_status, \
     operating_status, topology, provider, flavor_id, availability_zone, created_at, updated_at, \
     v.ip_address AS vip_ip_address, v.port_id AS vip_port_id, v.subnet_id AS vip_subnet_id, \
     v.network_id AS vip_network_id, v.qos_policy_id AS vip_qos_policy_id, \
     v.octavia_owned AS vip_octavia_owned, v.vnic_type AS vip_vnic_type, v.sg_ids AS vip_sg_ids \
     FROM lb_load_balancers JOIN lb_vips v ON v.load_balancer_id = lb_load_balancers.id";

pub(crate) async fn fetch(
    e: &mut impl Exec,
    f: &Filter<'_>,
) -> Result<Vec<LoadBalancer>, StoreError> {
    let sql = format!("{SELECT} WHERE {} ORDER BY created_at, id", f.sql);
    let rows: Vec<LbRow> = fetch_all(e, &sql, &f.binds).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT load_balancer_id, subnet_id, ip_address, port_id FROM lb_additional_vips \
         WHERE load_balancer_id IN (SELECT id FROM lb_load_balancers WHERE {}) \
         ORDER BY load_balancer_id, position",
        f.sql
    );
    let extra: Vec<AdditionalVipRow> = if f.lists {
        fetch_all(e, &sql, &f.binds).await?
    } else {
        Vec::new()
    };
    let mut tags = tags::load(e, Object::LoadBalancer, f).await?;
    rows.into_iter()
        .map(|r| {
            let additional_vips = extra
                .iter()
                .filter(|a| a.load_balancer_id == r.id)
                .map(|a| AdditionalVip {
                    subnet_id: a.subnet_id.clone(),
                    ip_address: a.ip_address.clone(),
                    port_id: a.port_id.clone(),
                })
                .collect();
            Ok(LoadBalancer {
                tags: tags.remove(&r.id).unwrap_or_default(),
                provisioning_status: enum_col(
                    "lb_load_balancers.provisioning_status",
                    &r.provisioning_status,
                    ProvisioningStatus::parse,
                )?,
                operating_status: enum_col(
                    "lb_load_balancers.operating_status",
                    &r.operating_status,
                    OperatingStatus::parse,
                )?,
                topology: enum_col("lb_load_balancers.topology", &r.topology, Topology::parse)?,
                vip: Vip {
                    ip_address: r.vip_ip_address,
                    port_id: r.vip_port_id,
                    subnet_id: r.vip_subnet_id,
                    network_id: r.vip_network_id,
                    qos_policy_id: r.vip_qos_policy_id,
                    octavia_owned: r.vip_octavia_owned,
                    vnic_type: enum_col("lb_vips.vnic_type", &r.vip_vnic_type, VnicType::parse)?,
                    sg_ids: json_col("lb_vips.sg_ids", &r.vip_sg_ids)?,
                },
                additional_vips,
                id: r.id,
                project_id: r.project_id,
                name: r.name,
                description: r.description,
                admin_state_up: r.enabled,
                provider: r.provider,
                flavor_id: r.flavor_id,
                availability_zone: r.availability_zone,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// Inserts a load balancer, its VIP row, additional VIPs and tags.
pub async fn insert(tx: &mut Tx, lb: &LoadBalancer) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_load_balancers (id, project_id, name, description, enabled, provisioning_status, \
         operating_status, topology, provider, flavor_id, availability_zone, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        .bind(&lb.id).bind(&lb.project_id).bind(&lb.name).bind(&lb.description)
        .bind(lb.admin_state_up).bind(lb.provisioning_status.as_str())
        .bind(lb.operating_status.as_str()).bind(lb.topology.as_str()).bind(&lb.provider)
        .bind(&lb.flavor_id).bind(&lb.availability_zone).bind(&lb.created_at).bind(&lb.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    let v = &lb.vip;
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_vips (load_balancer_id, ip_address, port_id, subnet_id, network_id, \
         qos_policy_id, octavia_owned, vnic_type, sg_ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&lb.id).bind(&v.ip_address).bind(&v.port_id).bind(&v.subnet_id).bind(&v.network_id)
        .bind(&v.qos_policy_id).bind(v.octavia_owned).bind(v.vnic_type.as_str()).bind(to_json(&v.sg_ids))
        .execute(&mut *c).await.map(|_| ()))?;
    for (position, a) in lb.additional_vips.iter().enumerate() {
        dispatch!(tx.conn(), c => sqlx::query(
            "INSERT INTO lb_additional_vips (load_balancer_id, subnet_id, ip_address, port_id, position) \
             VALUES ($1, $2, $3, $4, $5)")
            .bind(&lb.id).bind(&a.subnet_id).bind(&a.ip_address).bind(&a.port_id).bind(position as i64)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    tags::replace(tx, Object::LoadBalancer, &lb.id, &lb.tags).await
}

pub async fn get(db: &Db, id: &str) -> Result<Option<LoadBalancer>, StoreError> {
    Ok(fetch(&mut Reader::new(db).await?, &Filter::id(id))
        .await?
        .pop())
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<LoadBalancer>, StoreError> {
    Ok(fetch(tx, &Filter::id(id)).await?.pop())
}

/// One project's load balancers, or all (`None`), oldest first.
pub async fn list(db: &Db, project: Option<&str>) -> Result<Vec<LoadBalancer>, StoreError> {
    fetch(&mut Reader::new(db).await?, &Filter::project(project)).await
}

/// Writes every mutable attribute of `lb` (PUT: name, description,
/// admin_state_up, the VIP's QoS policy and security groups, tags; flows:
/// statuses, topology). Identity, project, VIP address and port, provider,
/// flavor and zone never change. Returns whether the row exists.
pub async fn update(tx: &mut Tx, lb: &LoadBalancer) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_load_balancers SET name = $2, description = $3, enabled = $4, \
         provisioning_status = $5, operating_status = $6, topology = $7, updated_at = $8 WHERE id = $1")
        .bind(&lb.id).bind(&lb.name).bind(&lb.description).bind(lb.admin_state_up)
        .bind(lb.provisioning_status.as_str()).bind(lb.operating_status.as_str())
        .bind(lb.topology.as_str()).bind(&lb.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_vips SET qos_policy_id = $2, sg_ids = $3 WHERE load_balancer_id = $1")
        .bind(&lb.id).bind(&lb.vip.qos_policy_id).bind(to_json(&lb.vip.sg_ids))
        .execute(&mut *c).await.map(|_| ()))?;
    tags::replace(tx, Object::LoadBalancer, &lb.id, &lb.tags).await?;
    Ok(true)
}

/// The compare-and-set of §3.3: moves the load balancer to `to` only if its
/// provisioning status is one of `from` (ACTIVE for updates and child
/// operations; ACTIVE or ERROR for delete and failover). Returns whether
/// this transaction won. On PostgreSQL the UPDATE's row lock makes a
/// concurrent CAS wait and then re-check `from` against what this one
/// committed; on SQLite the single writer serialises them.
pub async fn cas(
    tx: &mut Tx,
    id: &str,
    from: &[ProvisioningStatus],
    to: ProvisioningStatus,
) -> Result<bool, StoreError> {
    if from.is_empty() {
        return Ok(false);
    }
    let sql = format!(
        "UPDATE lb_load_balancers SET provisioning_status = $2, updated_at = $3 \
         WHERE id = $1 AND provisioning_status IN ({})",
        placeholders(4, from.len())
    );
    let now = now();
    let mut binds = vec![id, to.as_str(), now.as_str()];
    binds.extend(from.iter().map(|s| s.as_str()));
    Ok(execute(tx, &sql, &binds).await? == 1)
}

/// The provisioning status as this transaction sees it: what a lost CAS
/// reports (`Invalid state {status} ...`). `None`: no such load balancer.
pub async fn provisioning_status_tx(
    tx: &mut Tx,
    id: &str,
) -> Result<Option<ProvisioningStatus>, StoreError> {
    let s: Option<String> = dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT provisioning_status FROM lb_load_balancers WHERE id = $1")
        .bind(id).fetch_optional(&mut *c).await)?;
    s.map(|s| {
        enum_col(
            "lb_load_balancers.provisioning_status",
            &s,
            ProvisioningStatus::parse,
        )
    })
    .transpose()
}

/// Sets the provisioning status of the load balancer and of everything
/// under it (listeners, pools, members, health monitors, L7 policies and
/// rules): a finished flow's "mark the whole tree ACTIVE" (upstream's
/// `MarkLBActiveInDB(mark_subobjects=True)`) or ERROR. Returns whether the
/// load balancer exists.
pub async fn mark_tree(
    tx: &mut Tx,
    id: &str,
    status: ProvisioningStatus,
) -> Result<bool, StoreError> {
    let now = now();
    let binds = [id, status.as_str(), now.as_str()];
    for (table, owner) in TREE {
        let sql =
            format!("UPDATE {table} SET provisioning_status = $2, updated_at = $3 WHERE {owner}");
        execute(tx, &sql, &binds).await?;
    }
    let n = execute(
        tx,
        "UPDATE lb_load_balancers SET provisioning_status = $2, updated_at = $3 WHERE id = $1",
        &binds,
    )
    .await?;
    Ok(n == 1)
}

/// Every object kind under a load balancer and the condition (over `$1`,
/// the load balancer's id) that selects its rows of one load balancer.
const TREE: [(&str, &str); 6] = [
    ("lb_listeners", "load_balancer_id = $1"),
    ("lb_pools", "load_balancer_id = $1"),
    (
        "lb_members",
        "pool_id IN (SELECT id FROM lb_pools WHERE load_balancer_id = $1)",
    ),
    (
        "lb_health_monitors",
        "pool_id IN (SELECT id FROM lb_pools WHERE load_balancer_id = $1)",
    ),
    (
        "lb_l7policies",
        "listener_id IN (SELECT id FROM lb_listeners WHERE load_balancer_id = $1)",
    ),
    (
        "lb_l7rules",
        "l7policy_id IN (SELECT p.id FROM lb_l7policies p JOIN lb_listeners l ON l.id = p.listener_id \
         WHERE l.load_balancer_id = $1)",
    ),
];

const TREE_OBJECTS: [Object; 6] = [
    Object::Listener,
    Object::Pool,
    Object::Member,
    Object::HealthMonitor,
    Object::L7Policy,
    Object::L7Rule,
];

/// Deletes a load balancer and everything under it, in the caller's
/// transaction: the tags first (they have no foreign key), then the
/// listeners, then the load balancer, whose foreign keys cascade to VIPs,
/// pools, members and health monitors. Amphorae stay, unlinked
/// (`SET NULL`): their own flow steps delete them. Returns whether it
/// existed.
pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    for ((table, owner), object) in TREE.iter().zip(TREE_OBJECTS) {
        tags::delete_where(
            tx,
            object,
            &format!("SELECT id FROM {table} WHERE {owner}"),
            &[id],
        )
        .await?;
    }
    tags::delete_where(
        tx,
        Object::LoadBalancer,
        "SELECT id FROM lb_load_balancers WHERE id = $1",
        &[id],
    )
    .await?;
    // Listeners (with their L7 policies) first: on PostgreSQL the cascade
    // from the load balancer could reach a pool before the policy
    // redirecting to it, and the policy's foreign key would refuse.
    execute(
        tx,
        "DELETE FROM lb_listeners WHERE load_balancer_id = $1",
        &[id],
    )
    .await?;
    let n = execute(tx, "DELETE FROM lb_load_balancers WHERE id = $1", &[id]).await?;
    Ok(n == 1)
}

/// Gives the load balancer's VIP port back (design §3.4): a port created
/// for it (`octavia_owned`) is deleted with its addresses, floating IPs
/// on it losing their association as a Network API port delete does; a
/// port the user supplied stays, its `device_owner` and `device_id`
/// cleared. Nothing when the load balancer or its port is gone already.
pub async fn release_vip_port(tx: &mut Tx, id: &str) -> Result<(), StoreError> {
    let Some(lb) = get_tx(tx, id).await? else {
        return Ok(());
    };
    let Some(port_id) = lb.vip.port_id.as_deref() else {
        return Ok(());
    };
    let now = crate::now_timestamp();
    if lb.vip.octavia_owned {
        crate::floatingips::disassociate_port(tx, port_id, &now).await?;
        crate::ports::delete(tx, port_id).await?;
    } else {
        // Only if it is still ours (a noop VIP names a port it never
        // claimed).
        let device_id = format!("lb-{id}");
        dispatch!(tx.conn(), c => sqlx::query(
            "UPDATE ports SET device_owner = '', device_id = '', \
             revision_number = revision_number + 1, updated_at = $2 WHERE id = $1 AND device_id = $3")
            .bind(port_id).bind(&now).bind(&device_id).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// The start-up audit of design §7.2: objects in PENDING_* whose load
/// balancer has no flow (which cannot happen: every PENDING_* status is
/// written with the flow that settles it) are set to ERROR so they can be
/// deleted. Returns how many rows it changed (0 unless there is a bug).
pub async fn error_pending_without_flow(tx: &mut Tx) -> Result<u64, StoreError> {
    let orphan = "provisioning_status LIKE 'PENDING_%' AND NOT EXISTS \
                  (SELECT 1 FROM lb_flows f WHERE f.lb_id = $1)";
    let now = now();
    let mut n = 0;
    for (table, _) in TREE {
        // Each row's load balancer.
        let lb_of = match table {
            "lb_listeners" | "lb_pools" => "load_balancer_id".to_string(),
            "lb_members" | "lb_health_monitors" => {
                "(SELECT load_balancer_id FROM lb_pools p WHERE p.id = pool_id)".to_string()
            }
            "lb_l7policies" => {
                "(SELECT load_balancer_id FROM lb_listeners l WHERE l.id = listener_id)".to_string()
            }
            _ => "(SELECT l.load_balancer_id FROM lb_l7policies p JOIN lb_listeners l \
                  ON l.id = p.listener_id WHERE p.id = l7policy_id)"
                .to_string(),
        };
        let sql = format!(
            "UPDATE {table} SET provisioning_status = 'ERROR', updated_at = $1 WHERE {}",
            orphan.replace("f.lb_id = $1", &format!("f.lb_id = {lb_of}"))
        );
        n += execute(tx, &sql, &[now.as_str()]).await?;
    }
    let sql = format!(
        "UPDATE lb_load_balancers SET provisioning_status = 'ERROR', updated_at = $1 WHERE {}",
        orphan.replace("f.lb_id = $1", "f.lb_id = lb_load_balancers.id")
    );
    n += execute(tx, &sql, &[now.as_str()]).await?;
    Ok(n)
}
