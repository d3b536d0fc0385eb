//! Pool members.

use neutrino_lb_types::enums::{OperatingStatus, ProvisioningStatus, VnicType};
use neutrino_lb_types::model::Member;

use super::{Exec, Filter, Object, Reader, enum_col, execute, fetch_all, tags};
use crate::{Db, StoreError, Tx, dispatch};

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: String,
    project_id: String,
    pool_id: String,
    name: Option<String>,
    enabled: bool,
    provisioning_status: String,
    operating_status: String,
    ip_address: String,
    protocol_port: i64,
    weight: i64,
    backup: bool,
    subnet_id: Option<String>,
    monitor_address: Option<String>,
    monitor_port: Option<i64>,
    vnic_type: String,
    created_at: String,
    updated_at: Option<String>,
}

const COLUMNS: &str = "id, project_id, pool_id, name, enabled, provisioning_status, \
     operating_status, ip_address, protocol_port, weight, backup, subnet_id, monitor_address, \
     monitor_port, vnic_type, created_at, updated_at";

pub(crate) async fn fetch(e: &mut impl Exec, f: &Filter<'_>) -> Result<Vec<Member>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM lb_members WHERE {} ORDER BY created_at, id",
        f.sql
    );
    let rows: Vec<MemberRow> = fetch_all(e, &sql, &f.binds).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut tags = tags::load(e, Object::Member, f).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Member {
                tags: tags.remove(&r.id).unwrap_or_default(),
                provisioning_status: enum_col(
                    "lb_members.provisioning_status",
                    &r.provisioning_status,
                    ProvisioningStatus::parse,
                )?,
                operating_status: enum_col(
                    "lb_members.operating_status",
                    &r.operating_status,
                    OperatingStatus::parse,
                )?,
                vnic_type: enum_col("lb_members.vnic_type", &r.vnic_type, VnicType::parse)?,
                id: r.id,
                project_id: r.project_id,
                pool_id: r.pool_id,
                name: r.name,
                admin_state_up: r.enabled,
                address: r.ip_address,
                protocol_port: r.protocol_port,
                weight: r.weight,
                backup: r.backup,
                subnet_id: r.subnet_id,
                monitor_address: r.monitor_address,
                monitor_port: r.monitor_port,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// Inserts a member and its tags. The same address and port twice in one
/// pool is a unique violation.
pub async fn insert(tx: &mut Tx, m: &Member) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_members (id, project_id, pool_id, name, enabled, provisioning_status, \
         operating_status, ip_address, protocol_port, weight, backup, subnet_id, monitor_address, \
         monitor_port, vnic_type, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)")
        .bind(&m.id).bind(&m.project_id).bind(&m.pool_id).bind(&m.name).bind(m.admin_state_up)
        .bind(m.provisioning_status.as_str()).bind(m.operating_status.as_str()).bind(&m.address)
        .bind(m.protocol_port).bind(m.weight).bind(m.backup).bind(&m.subnet_id)
        .bind(&m.monitor_address).bind(m.monitor_port).bind(m.vnic_type.as_str())
        .bind(&m.created_at).bind(&m.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    tags::replace(tx, Object::Member, &m.id, &m.tags).await
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Member>, StoreError> {
    Ok(fetch(&mut Reader::new(db).await?, &Filter::id(id))
        .await?
        .pop())
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<Member>, StoreError> {
    Ok(fetch(tx, &Filter::id(id)).await?.pop())
}

/// One project's members, or all (`None`), oldest first.
pub async fn list(db: &Db, project: Option<&str>) -> Result<Vec<Member>, StoreError> {
    fetch(&mut Reader::new(db).await?, &Filter::project(project)).await
}

/// The members of one pool, oldest first.
pub async fn list_by_pool(db: &Db, pool_id: &str) -> Result<Vec<Member>, StoreError> {
    let f = Filter::column("pool_id = $1", pool_id);
    fetch(&mut Reader::new(db).await?, &f).await
}

pub async fn list_by_pool_tx(tx: &mut Tx, pool_id: &str) -> Result<Vec<Member>, StoreError> {
    fetch(tx, &Filter::column("pool_id = $1", pool_id)).await
}

/// Writes every mutable attribute (all but id, project, pool, address,
/// port, subnet and creation time) and the tags. Returns whether it exists.
pub async fn update(tx: &mut Tx, m: &Member) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_members SET name = $2, enabled = $3, provisioning_status = $4, operating_status = $5, \
         weight = $6, backup = $7, monitor_address = $8, monitor_port = $9, vnic_type = $10, \
         updated_at = $11 WHERE id = $1")
        .bind(&m.id).bind(&m.name).bind(m.admin_state_up).bind(m.provisioning_status.as_str())
        .bind(m.operating_status.as_str()).bind(m.weight).bind(m.backup).bind(&m.monitor_address)
        .bind(m.monitor_port).bind(m.vnic_type.as_str()).bind(&m.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    tags::replace(tx, Object::Member, &m.id, &m.tags).await?;
    Ok(true)
}

/// Deletes a member and its tags. Returns whether it existed.
pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    tags::delete_where(
        tx,
        Object::Member,
        "SELECT id FROM lb_members WHERE id = $1",
        &[id],
    )
    .await?;
    Ok(execute(tx, "DELETE FROM lb_members WHERE id = $1", &[id]).await? == 1)
}
