//! Queries for ports, their fixed IPs and security group bindings.

use std::collections::HashMap;

use neutrino_types::model::{AddressPair, FixedIp, Port};
use sqlx::FromRow;

use crate::rows::{placeholders, qualified, to_json, trusted};
use crate::{Db, StoreError, Tx, dispatch, tags};

#[derive(FromRow)]
struct PortRow {
    id: String,
    project_id: String,
    network_id: String,
    name: String,
    description: String,
    admin_state_up: bool,
    mac_address: String,
    device_id: String,
    device_owner: String,
    status: String,
    binding_host_id: String,
    binding_vif_type: String,
    binding_vnic_type: String,
    binding_profile: String,
    binding_vif_details: String,
    port_security_enabled: bool,
    allowed_address_pairs: String,
    dns_name: String,
    revision_number: i64,
    created_at: String,
    updated_at: String,
}

impl PortRow {
    fn into_model(self) -> Port {
        Port {
            binding_profile: serde_json::from_str(&self.binding_profile)
                .unwrap_or_else(|_| serde_json::json!({})),
            binding_vif_details: serde_json::from_str(&self.binding_vif_details)
                .unwrap_or_else(|_| serde_json::json!({})),
            allowed_address_pairs: serde_json::from_str::<Vec<AddressPair>>(
                &self.allowed_address_pairs,
            )
            .unwrap_or_default(),
            id: self.id,
            project_id: self.project_id,
            network_id: self.network_id,
            name: self.name,
            description: self.description,
            admin_state_up: self.admin_state_up,
            mac_address: self.mac_address,
            fixed_ips: Vec::new(),
            device_id: self.device_id,
            device_owner: self.device_owner,
            status: self.status,
            binding_host_id: self.binding_host_id,
            binding_vif_type: self.binding_vif_type,
            binding_vnic_type: self.binding_vnic_type,
            port_security_enabled: self.port_security_enabled,
            security_groups: Vec::new(),
            dns_name: self.dns_name,
            revision_number: self.revision_number,
            created_at: self.created_at,
            updated_at: self.updated_at,
            tags: Vec::new(),
        }
    }
}

const COLUMNS: &str = "id, project_id, network_id, name, description, admin_state_up, mac_address, device_id, \
     device_owner, status, binding_host_id, binding_vif_type, binding_vnic_type, binding_profile, \
     binding_vif_details, port_security_enabled, allowed_address_pairs, dns_name, revision_number, \
     created_at, updated_at";

/// Inserts the port row. Returns `Ok(false)` when its MAC address is already
/// used on the network (the unique index decides, so two servers cannot
/// hand out the same MAC).
pub async fn insert(tx: &mut Tx, p: &Port) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO ports ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21) \
         ON CONFLICT (network_id, mac_address) DO NOTHING"
    );
    let res = dispatch!(tx.conn(), c => sqlx::query(trusted(&sql))
        .bind(&p.id).bind(&p.project_id).bind(&p.network_id).bind(&p.name).bind(&p.description)
        .bind(p.admin_state_up).bind(&p.mac_address).bind(&p.device_id).bind(&p.device_owner).bind(&p.status)
        .bind(&p.binding_host_id).bind(&p.binding_vif_type).bind(&p.binding_vnic_type)
        .bind(p.binding_profile.to_string()).bind(p.binding_vif_details.to_string())
        .bind(p.port_security_enabled).bind(to_json(&p.allowed_address_pairs)).bind(&p.dns_name)
        .bind(p.revision_number).bind(&p.created_at).bind(&p.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(res == 1)
}

/// The lowest free offset in `[base, last]` of a subnet, if any. Candidates
/// are `base` itself and one past every allocated offset in the window whose
/// successor is free; with an index on (subnet_id, ip_offset) this walks only
/// the run of taken addresses that starts at `base`.
pub async fn next_free_offset(
    tx: &mut Tx,
    subnet_id: &str,
    base: i64,
    last: i64,
) -> Result<Option<i64>, StoreError> {
    let sql = "SELECT MIN(v) FROM ( \
          SELECT $2 AS v WHERE NOT EXISTS (SELECT 1 FROM ip_allocations x WHERE x.subnet_id = $1 AND x.ip_offset = $2) \
          UNION ALL \
          SELECT v FROM (SELECT a.ip_offset + 1 AS v FROM ip_allocations a \
             WHERE a.subnet_id = $1 AND a.ip_offset >= $2 AND a.ip_offset < $3 \
               AND NOT EXISTS (SELECT 1 FROM ip_allocations x WHERE x.subnet_id = $1 AND x.ip_offset = a.ip_offset + 1) \
             ORDER BY a.ip_offset LIMIT 1) gap \
        ) cand";
    let v: Option<i64> = dispatch!(tx.conn(), c => sqlx::query_scalar(sql)
        .bind(subnet_id).bind(base).bind(last).fetch_one(&mut *c).await)?;
    Ok(v)
}

/// Records an address for a port. `Ok(false)` when the address is taken.
pub async fn insert_allocation(
    tx: &mut Tx,
    subnet_id: &str,
    ip: &str,
    offset: Option<i64>,
    port_id: &str,
    network_id: &str,
) -> Result<bool, StoreError> {
    let res = dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO ip_allocations (subnet_id, ip_address, ip_offset, port_id, network_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING")
        .bind(subnet_id).bind(ip).bind(offset).bind(port_id).bind(network_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(res == 1)
}

pub async fn delete_allocation(
    tx: &mut Tx,
    port_id: &str,
    subnet_id: &str,
    ip: &str,
) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM ip_allocations WHERE port_id = $1 AND subnet_id = $2 AND ip_address = $3")
        .bind(port_id).bind(subnet_id).bind(ip).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether an address of a subnet is held by anyone.
pub async fn allocation_owner(
    tx: &mut Tx,
    subnet_id: &str,
    ip: &str,
) -> Result<Option<String>, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT port_id FROM ip_allocations WHERE subnet_id = $1 AND ip_address = $2")
        .bind(subnet_id).bind(ip).fetch_optional(&mut *c).await)?)
}

/// Binds groups to a port that has none yet.
pub async fn add_security_groups(
    tx: &mut Tx,
    port_id: &str,
    groups: &[String],
) -> Result<(), StoreError> {
    for g in groups {
        dispatch!(tx.conn(), c => sqlx::query(
            "INSERT INTO port_security_groups (port_id, security_group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(port_id).bind(g).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

pub async fn set_security_groups(
    tx: &mut Tx,
    port_id: &str,
    groups: &[String],
) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query("DELETE FROM port_security_groups WHERE port_id = $1")
        .bind(port_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    for g in groups {
        dispatch!(tx.conn(), c => sqlx::query(
            "INSERT INTO port_security_groups (port_id, security_group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(port_id).bind(g).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Port>, StoreError> {
    let q = PortQuery {
        ids: vec![id.to_string()],
        ..Default::default()
    };
    Ok(list(db, &q).await?.pop())
}

/// Reads a port inside a write transaction (fixed IPs and groups included).
pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<Port>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM ports WHERE id = $1");
    let row = dispatch!(tx.conn(), c => sqlx::query_as::<_, PortRow>(trusted(&sql)).bind(id).fetch_optional(&mut *c).await)?;
    let Some(row) = row else { return Ok(None) };
    let mut p = row.into_model();
    let ips: Vec<(String, String)> = dispatch!(tx.conn(), c => sqlx::query_as(
        "SELECT subnet_id, ip_address FROM ip_allocations WHERE port_id = $1 ORDER BY ip_offset, ip_address")
        .bind(id).fetch_all(&mut *c).await)?;
    p.fixed_ips = ips
        .into_iter()
        .map(|(subnet_id, ip_address)| FixedIp {
            subnet_id,
            ip_address,
        })
        .collect();
    p.security_groups = dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT security_group_id FROM port_security_groups WHERE port_id = $1 ORDER BY security_group_id")
        .bind(id).fetch_all(&mut *c).await)?;
    p.tags = tags::get_tx(tx, "ports", id).await?;
    Ok(Some(p))
}

#[derive(Clone, Debug, Default)]
pub struct PortQuery {
    /// `None` for admins; otherwise the caller's project, which also sees
    /// the ports on networks it owns.
    pub visible_to: Option<String>,
    pub ids: Vec<String>,
    pub network_ids: Vec<String>,
    pub device_ids: Vec<String>,
}

/// `FROM ... WHERE ...` of a port query, with its arguments. No ORDER BY:
/// the API sorts when a client asks, and walking the text primary key index
/// costs more than the whole rest of a large list.
fn from_where(q: &PortQuery) -> (String, Vec<String>) {
    let mut sql = String::from(" FROM ports p");
    let mut args: Vec<String> = Vec::new();
    if let Some(proj) = &q.visible_to {
        args.push(proj.clone());
        sql.push_str(" JOIN networks n ON n.id = p.network_id WHERE (p.project_id = $1 OR n.project_id = $1)");
    } else {
        sql.push_str(" WHERE TRUE");
    }
    for (col, vals) in [
        ("p.id", &q.ids),
        ("p.network_id", &q.network_ids),
        ("p.device_id", &q.device_ids),
    ] {
        if !vals.is_empty() {
            sql.push_str(&format!(
                " AND {col} IN ({})",
                placeholders(args.len() + 1, vals.len())
            ));
            args.extend(vals.iter().cloned());
        }
    }
    (sql, args)
}

/// `(id, revision_number)` of the ports a query selects, in the order
/// [`list`] returns them.
pub async fn revisions(db: &Db, q: &PortQuery) -> Result<Vec<(String, i64)>, StoreError> {
    let (from, args) = from_where(q);
    let sql = format!("SELECT p.id, p.revision_number{from}");
    Ok(dispatch!(db.read(), c => {
        let mut query = sqlx::query_as(trusted(&sql));
        for a in &args { query = query.bind(a); }
        query.fetch_all(c).await
    })?)
}

pub async fn list(db: &Db, q: &PortQuery) -> Result<Vec<Port>, StoreError> {
    let cols = qualified(COLUMNS, "p");
    let (from, args) = from_where(q);
    let sql = format!("SELECT {cols}{from}");
    let rows = dispatch!(db.read(), c => {
        let mut query = sqlx::query_as::<_, PortRow>(trusted(&sql));
        for a in &args { query = query.bind(a); }
        query.fetch_all(c).await
    })?;
    let mut ports: Vec<Port> = rows.into_iter().map(PortRow::into_model).collect();
    if ports.is_empty() {
        return Ok(ports);
    }
    // Related rows: for a handful of ports fetch just theirs, otherwise all.
    let few = ports.len() <= 500;
    let ids: Vec<String> = ports.iter().map(|p| p.id.clone()).collect();
    let filter = if few {
        format!(" WHERE port_id IN ({})", placeholders(1, ids.len()))
    } else {
        String::new()
    };
    let ip_sql =
        format!("SELECT port_id, subnet_id, ip_address, ip_offset FROM ip_allocations{filter}");
    let mut ips: Vec<(String, String, String, Option<i64>)> = dispatch!(db.read(), c => {
        let mut query = sqlx::query_as(trusted(&ip_sql));
        if few { for i in &ids { query = query.bind(i); } }
        query.fetch_all(c).await
    })?;
    // Each port's addresses in a stable order (by offset, as get_tx gives them).
    ips.sort_unstable_by(|a, b| (&a.0, a.3, &a.2).cmp(&(&b.0, b.3, &b.2)));
    let sg_sql = format!(
        "SELECT port_id, security_group_id FROM port_security_groups{filter} ORDER BY port_id, security_group_id"
    );
    let sgs: Vec<(String, String)> = dispatch!(db.read(), c => {
        let mut query = sqlx::query_as(trusted(&sg_sql));
        if few { for i in &ids { query = query.bind(i); } }
        query.fetch_all(c).await
    })?;
    let mut ip_map: HashMap<String, Vec<FixedIp>> = HashMap::new();
    for (port, subnet_id, ip_address, _) in ips {
        ip_map.entry(port).or_default().push(FixedIp {
            subnet_id,
            ip_address,
        });
    }
    let mut sg_map: HashMap<String, Vec<String>> = HashMap::new();
    for (port, sg) in sgs {
        sg_map.entry(port).or_default().push(sg);
    }
    let mut tag_map = tags::for_some(db, "ports", &ids).await?;
    for p in &mut ports {
        p.fixed_ips = ip_map.remove(&p.id).unwrap_or_default();
        p.security_groups = sg_map.remove(&p.id).unwrap_or_default();
        p.tags = tag_map.remove(&p.id).unwrap_or_default();
    }
    Ok(ports)
}

/// Ports with allowed address pairs, as `(port id, network id, pairs)`,
/// on the networks `network_ids` (every network when empty). The data
/// plane makes a port whose address another port of its network names as
/// a pair an OVN `virtual` port (as Neutron's OVN driver does for
/// Octavia's VIPs).
pub async fn address_pair_holders(
    db: &Db,
    network_ids: &[String],
) -> Result<Vec<(String, String, Vec<AddressPair>)>, StoreError> {
    let mut sql =
        "SELECT id, network_id, allowed_address_pairs FROM ports WHERE allowed_address_pairs <> '[]'"
            .to_string();
    if !network_ids.is_empty() {
        sql.push_str(&format!(
            " AND network_id IN ({})",
            placeholders(1, network_ids.len())
        ));
    }
    let rows: Vec<(String, String, String)> = dispatch!(db.read(), c => {
        let mut q = sqlx::query_as(trusted(&sql));
        for n in network_ids { q = q.bind(n); }
        q.fetch_all(c).await
    })?;
    Ok(rows
        .into_iter()
        .map(|(id, net, pairs)| {
            let pairs = serde_json::from_str(&pairs).unwrap_or_default();
            (id, net, pairs)
        })
        .collect())
}

/// Writes every mutable column and bumps the revision.
pub async fn update(tx: &mut Tx, p: &Port) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE ports SET name = $2, description = $3, admin_state_up = $4, device_id = $5, device_owner = $6, \
         status = $7, binding_host_id = $8, binding_vif_type = $9, binding_vnic_type = $10, binding_profile = $11, \
         binding_vif_details = $12, port_security_enabled = $13, allowed_address_pairs = $14, dns_name = $15, \
         mac_address = $16, revision_number = revision_number + 1, updated_at = $17 WHERE id = $1")
        .bind(&p.id).bind(&p.name).bind(&p.description).bind(p.admin_state_up).bind(&p.device_id)
        .bind(&p.device_owner).bind(&p.status).bind(&p.binding_host_id).bind(&p.binding_vif_type)
        .bind(&p.binding_vnic_type).bind(p.binding_profile.to_string()).bind(p.binding_vif_details.to_string())
        .bind(p.port_security_enabled).bind(to_json(&p.allowed_address_pairs)).bind(&p.dns_name)
        .bind(&p.mac_address).bind(&p.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Bumps the revision of a port whose related objects (its tags) changed.
pub async fn touch(tx: &mut Tx, id: &str, now: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE ports SET revision_number = revision_number + 1, updated_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    tags::delete_all(tx, "ports", id).await?;
    dispatch!(tx.conn(), c => sqlx::query("DELETE FROM ip_allocations WHERE port_id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    dispatch!(tx.conn(), c => sqlx::query("DELETE FROM port_security_groups WHERE port_id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let res = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM ports WHERE id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(res > 0)
}

/// Ids and owners of the ports on a network.
pub async fn on_network_tx(
    tx: &mut Tx,
    network_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(
        dispatch!(tx.conn(), c => sqlx::query_as("SELECT id, device_owner FROM ports WHERE network_id = $1")
        .bind(network_id).fetch_all(&mut *c).await)?,
    )
}

/// Ports holding an address on a subnet, with their owners.
pub async fn on_subnet_tx(
    tx: &mut Tx,
    subnet_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_as(
        "SELECT p.id, p.device_owner FROM ports p JOIN ip_allocations a ON a.port_id = p.id WHERE a.subnet_id = $1")
        .bind(subnet_id).fetch_all(&mut *c).await)?)
}

/// Ports of a project (used to check ownership of a network's ports).
pub async fn count_on_network_not_owned_by(
    tx: &mut Tx,
    network_id: &str,
    project_id: &str,
) -> Result<i64, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM ports WHERE network_id = $1 AND project_id <> $2")
        .bind(network_id).bind(project_id).fetch_one(&mut *c).await)?)
}
