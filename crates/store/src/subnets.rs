//! Queries for subnets and their allocation pools.

use std::collections::HashMap;

use neutrino_types::model::{AllocationPool, HostRoute, Subnet};
use sqlx::FromRow;

use crate::rows::{placeholders, qualified, to_json, trusted};
use crate::{Db, StoreError, Tx, dispatch, tags};

#[derive(FromRow)]
struct SubnetRow {
    id: String,
    project_id: String,
    network_id: String,
    name: String,
    description: String,
    ip_version: i64,
    cidr: String,
    gateway_ip: Option<String>,
    dns_nameservers: String,
    host_routes: String,
    enable_dhcp: bool,
    ipv6_ra_mode: Option<String>,
    ipv6_address_mode: Option<String>,
    dns_publish_fixed_ip: bool,
    revision_number: i64,
    created_at: String,
    updated_at: String,
}

impl SubnetRow {
    fn into_model(self) -> Subnet {
        Subnet {
            dns_nameservers: serde_json::from_str(&self.dns_nameservers).unwrap_or_default(),
            host_routes: serde_json::from_str::<Vec<HostRoute>>(&self.host_routes)
                .unwrap_or_default(),
            id: self.id,
            project_id: self.project_id,
            network_id: self.network_id,
            name: self.name,
            description: self.description,
            ip_version: self.ip_version,
            cidr: self.cidr,
            gateway_ip: self.gateway_ip,
            allocation_pools: Vec::new(),
            enable_dhcp: self.enable_dhcp,
            ipv6_ra_mode: self.ipv6_ra_mode,
            ipv6_address_mode: self.ipv6_address_mode,
            dns_publish_fixed_ip: self.dns_publish_fixed_ip,
            revision_number: self.revision_number,
            created_at: self.created_at,
            updated_at: self.updated_at,
            tags: Vec::new(),
        }
    }
}

const COLUMNS: &str = "id, project_id, network_id, name, description, ip_version, cidr, gateway_ip, \
     dns_nameservers, host_routes, enable_dhcp, ipv6_ra_mode, ipv6_address_mode, dns_publish_fixed_ip, \
     revision_number, created_at, updated_at";

/// A pool as stored: its addresses and their offsets from the network address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPool {
    pub first_ip: String,
    pub last_ip: String,
    pub first_offset: i64,
    pub last_offset: i64,
}

pub async fn insert(tx: &mut Tx, s: &Subnet, pools: &[StoredPool]) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO subnets ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)"
    );
    dispatch!(tx.conn(), c => sqlx::query(trusted(&sql))
        .bind(&s.id).bind(&s.project_id).bind(&s.network_id).bind(&s.name).bind(&s.description)
        .bind(s.ip_version).bind(&s.cidr).bind(&s.gateway_ip).bind(to_json(&s.dns_nameservers))
        .bind(to_json(&s.host_routes)).bind(s.enable_dhcp).bind(&s.ipv6_ra_mode).bind(&s.ipv6_address_mode)
        .bind(s.dns_publish_fixed_ip).bind(s.revision_number).bind(&s.created_at).bind(&s.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    replace_pools(tx, &s.id, pools).await
}

pub async fn replace_pools(
    tx: &mut Tx,
    subnet_id: &str,
    pools: &[StoredPool],
) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query("DELETE FROM subnet_allocation_pools WHERE subnet_id = $1")
        .bind(subnet_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    for (i, p) in pools.iter().enumerate() {
        dispatch!(tx.conn(), c => sqlx::query(
            "INSERT INTO subnet_allocation_pools (subnet_id, position, first_ip, last_ip, first_offset, last_offset) \
             VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(subnet_id).bind(i as i64).bind(&p.first_ip).bind(&p.last_ip).bind(p.first_offset).bind(p.last_offset)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Subnet>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM subnets WHERE id = $1");
    let row = dispatch!(db.read(), c => sqlx::query_as::<_, SubnetRow>(trusted(&sql)).bind(id).fetch_optional(c).await)?;
    let Some(row) = row else { return Ok(None) };
    let mut s = row.into_model();
    s.allocation_pools = pools(db, &s.id).await?.into_iter().map(to_pool).collect();
    s.tags = tags::get(db, "subnets", &s.id).await?;
    Ok(Some(s))
}

/// Inside a write transaction; tags are not loaded.
pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<Subnet>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM subnets WHERE id = $1");
    let row = dispatch!(tx.conn(), c => sqlx::query_as::<_, SubnetRow>(trusted(&sql)).bind(id).fetch_optional(&mut *c).await)?;
    let Some(row) = row else { return Ok(None) };
    let mut s = row.into_model();
    s.allocation_pools = pools_tx(tx, &s.id)
        .await?
        .into_iter()
        .map(to_pool)
        .collect();
    Ok(Some(s))
}

/// Every subnet of a network, oldest first (pools included, tags not).
pub async fn for_network_tx(tx: &mut Tx, network_id: &str) -> Result<Vec<Subnet>, StoreError> {
    Ok(for_network_with_pools_tx(tx, network_id).await?.0)
}

/// The pools of each subnet as stored (with offsets), by subnet id.
pub type PoolsBySubnet = HashMap<String, Vec<StoredPool>>;

#[derive(FromRow)]
struct SubnetPoolRow {
    #[sqlx(flatten)]
    subnet: SubnetRow,
    first_ip: Option<String>,
    last_ip: Option<String>,
    first_offset: Option<i64>,
    last_offset: Option<i64>,
}

/// [`for_network_tx`], also giving the stored pools, in one statement.
pub async fn for_network_with_pools_tx(
    tx: &mut Tx,
    network_id: &str,
) -> Result<(Vec<Subnet>, PoolsBySubnet), StoreError> {
    let cols = qualified(COLUMNS, "s");
    let sql = format!(
        "SELECT {cols}, p.first_ip, p.last_ip, p.first_offset, p.last_offset \
         FROM subnets s LEFT JOIN subnet_allocation_pools p ON p.subnet_id = s.id \
         WHERE s.network_id = $1 ORDER BY s.created_at, s.id, p.position"
    );
    let rows = dispatch!(tx.conn(), c => sqlx::query_as::<_, SubnetPoolRow>(trusted(&sql)).bind(network_id).fetch_all(&mut *c).await)?;
    let mut out: Vec<Subnet> = Vec::new();
    let mut pools = PoolsBySubnet::new();
    for r in rows {
        if out.last().is_none_or(|s| s.id != r.subnet.id) {
            pools.insert(r.subnet.id.clone(), Vec::new());
            out.push(r.subnet.into_model());
        }
        let (Some(first_ip), Some(last_ip), Some(first_offset), Some(last_offset)) =
            (r.first_ip, r.last_ip, r.first_offset, r.last_offset)
        else {
            continue;
        };
        let s = out.last_mut().expect("pushed above");
        let p = StoredPool {
            first_ip,
            last_ip,
            first_offset,
            last_offset,
        };
        s.allocation_pools.push(to_pool(p.clone()));
        pools.get_mut(&s.id).expect("inserted above").push(p);
    }
    Ok((out, pools))
}

fn to_pool(p: StoredPool) -> AllocationPool {
    AllocationPool {
        start: p.first_ip,
        end: p.last_ip,
    }
}

#[derive(FromRow)]
struct PoolRow {
    subnet_id: String,
    first_ip: String,
    last_ip: String,
    first_offset: i64,
    last_offset: i64,
}

impl From<PoolRow> for StoredPool {
    fn from(r: PoolRow) -> Self {
        StoredPool {
            first_ip: r.first_ip,
            last_ip: r.last_ip,
            first_offset: r.first_offset,
            last_offset: r.last_offset,
        }
    }
}

const POOL_SQL: &str = "SELECT subnet_id, first_ip, last_ip, first_offset, last_offset FROM subnet_allocation_pools \
     WHERE subnet_id = $1 ORDER BY position";

pub async fn pools(db: &Db, subnet_id: &str) -> Result<Vec<StoredPool>, StoreError> {
    let rows = dispatch!(db.read(), c => sqlx::query_as::<_, PoolRow>(POOL_SQL).bind(subnet_id).fetch_all(c).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn pools_tx(tx: &mut Tx, subnet_id: &str) -> Result<Vec<StoredPool>, StoreError> {
    let rows = dispatch!(tx.conn(), c => sqlx::query_as::<_, PoolRow>(POOL_SQL).bind(subnet_id).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

#[derive(Clone, Debug, Default)]
pub struct SubnetQuery {
    /// `None` for admins; otherwise the caller's project, which also sees
    /// subnets of shared and external networks.
    pub visible_to: Option<String>,
    pub ids: Vec<String>,
    pub network_ids: Vec<String>,
}

pub async fn list(db: &Db, q: &SubnetQuery) -> Result<Vec<Subnet>, StoreError> {
    let cols = qualified(COLUMNS, "s");
    let mut sql = format!(
        "SELECT {cols} FROM subnets s JOIN networks ON networks.id = s.network_id WHERE TRUE"
    );
    let mut args: Vec<String> = Vec::new();
    if let Some(p) = &q.visible_to {
        args.push(p.clone());
        sql.push_str(&format!(
            " AND (s.project_id = $1 OR {})",
            crate::networks::VISIBLE_TO_1
        ));
    }
    if !q.ids.is_empty() {
        sql.push_str(&format!(
            " AND s.id IN ({})",
            placeholders(args.len() + 1, q.ids.len())
        ));
        args.extend(q.ids.iter().cloned());
    }
    if !q.network_ids.is_empty() {
        sql.push_str(&format!(
            " AND s.network_id IN ({})",
            placeholders(args.len() + 1, q.network_ids.len())
        ));
        args.extend(q.network_ids.iter().cloned());
    }
    sql.push_str(" ORDER BY s.id");
    let rows = dispatch!(db.read(), c => {
        let mut query = sqlx::query_as::<_, SubnetRow>(trusted(&sql));
        for a in &args { query = query.bind(a); }
        query.fetch_all(c).await
    })?;
    let pool_rows: Vec<PoolRow> = dispatch!(db.read(), c => sqlx::query_as::<_, PoolRow>(
        "SELECT subnet_id, first_ip, last_ip, first_offset, last_offset FROM subnet_allocation_pools ORDER BY subnet_id, position")
        .fetch_all(c).await)?;
    let mut pools: HashMap<String, Vec<AllocationPool>> = HashMap::new();
    for p in pool_rows {
        pools
            .entry(p.subnet_id.clone())
            .or_default()
            .push(to_pool(p.into()));
    }
    let mut tag_map = tags::for_type(db, "subnets").await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut s = r.into_model();
            s.allocation_pools = pools.remove(&s.id).unwrap_or_default();
            s.tags = tag_map.remove(&s.id).unwrap_or_default();
            s
        })
        .collect())
}

/// Writes every mutable column and bumps the revision.
pub async fn update(tx: &mut Tx, s: &Subnet) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE subnets SET name = $2, description = $3, gateway_ip = $4, dns_nameservers = $5, host_routes = $6, \
         enable_dhcp = $7, dns_publish_fixed_ip = $8, revision_number = revision_number + 1, updated_at = $9 WHERE id = $1")
        .bind(&s.id).bind(&s.name).bind(&s.description).bind(&s.gateway_ip).bind(to_json(&s.dns_nameservers))
        .bind(to_json(&s.host_routes)).bind(s.enable_dhcp).bind(s.dns_publish_fixed_ip).bind(&s.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Bumps the revision of a subnet whose related objects (its tags) changed.
pub async fn touch(tx: &mut Tx, id: &str, now: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE subnets SET revision_number = revision_number + 1, updated_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    tags::delete_all(tx, "subnets", id).await?;
    let res = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM subnets WHERE id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(res > 0)
}
