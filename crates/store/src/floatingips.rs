//! Queries for floating IPs.

use neutrino_types::model::FloatingIp;
use sqlx::FromRow;

use crate::rows::trusted;
use crate::{Db, StoreError, Tx, dispatch, tags};

#[derive(FromRow)]
struct FipRow {
    id: String,
    project_id: String,
    description: String,
    floating_network_id: String,
    floating_ip_address: String,
    floating_port_id: String,
    port_id: Option<String>,
    fixed_ip_address: Option<String>,
    router_id: Option<String>,
    status: String,
    revision_number: i64,
    created_at: String,
    updated_at: String,
}

impl From<FipRow> for FloatingIp {
    fn from(r: FipRow) -> Self {
        FloatingIp {
            id: r.id,
            project_id: r.project_id,
            description: r.description,
            floating_network_id: r.floating_network_id,
            floating_ip_address: r.floating_ip_address,
            floating_port_id: r.floating_port_id,
            port_id: r.port_id,
            fixed_ip_address: r.fixed_ip_address,
            router_id: r.router_id,
            status: r.status,
            revision_number: r.revision_number,
            created_at: r.created_at,
            updated_at: r.updated_at,
            tags: Vec::new(),
        }
    }
}

const COLUMNS: &str = "id, project_id, description, floating_network_id, floating_ip_address, floating_port_id, \
     port_id, fixed_ip_address, router_id, status, revision_number, created_at, updated_at";

pub async fn insert(tx: &mut Tx, f: &FloatingIp) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO floatingips ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)"
    );
    dispatch!(tx.conn(), c => sqlx::query(trusted(&sql))
        .bind(&f.id).bind(&f.project_id).bind(&f.description).bind(&f.floating_network_id)
        .bind(&f.floating_ip_address).bind(&f.floating_port_id).bind(&f.port_id).bind(&f.fixed_ip_address)
        .bind(&f.router_id).bind(&f.status).bind(f.revision_number).bind(&f.created_at).bind(&f.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets the association; `Ok(false)` if that fixed address already has a
/// floating IP (the unique index decides).
pub async fn associate(tx: &mut Tx, f: &FloatingIp) -> Result<bool, StoreError> {
    let res = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE floatingips SET port_id = $2, fixed_ip_address = $3, router_id = $4, description = $5, \
         revision_number = revision_number + 1, updated_at = $6 WHERE id = $1")
        .bind(&f.id).bind(&f.port_id).bind(&f.fixed_ip_address).bind(&f.router_id).bind(&f.description)
        .bind(&f.updated_at).execute(&mut *c).await.map(|r| r.rows_affected()));
    match res {
        Ok(_) => Ok(true),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    tags::delete_all(tx, "floatingips", id).await?;
    let n = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM floatingips WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<FloatingIp>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM floatingips WHERE id = $1");
    let row = dispatch!(tx.conn(), c => sqlx::query_as::<_, FipRow>(trusted(&sql)).bind(id).fetch_optional(&mut *c).await)?;
    Ok(row.map(Into::into))
}

pub async fn get(db: &Db, id: &str) -> Result<Option<FloatingIp>, StoreError> {
    Ok(list(db, None, Some(id)).await?.pop())
}

pub async fn list(
    db: &Db,
    project: Option<&str>,
    id: Option<&str>,
) -> Result<Vec<FloatingIp>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM floatingips WHERE TRUE");
    let mut args = Vec::new();
    if let Some(p) = project {
        args.push(p.to_string());
        sql.push_str(&format!(" AND project_id = ${}", args.len()));
    }
    if let Some(i) = id {
        args.push(i.to_string());
        sql.push_str(&format!(" AND id = ${}", args.len()));
    }
    sql.push_str(" ORDER BY id");
    let rows = dispatch!(db.read(), c => {
        let mut q = sqlx::query_as::<_, FipRow>(trusted(&sql));
        for a in &args { q = q.bind(a); }
        q.fetch_all(c).await
    })?;
    let mut fips: Vec<FloatingIp> = rows.into_iter().map(Into::into).collect();
    let ids: Vec<String> = fips.iter().map(|f| f.id.clone()).collect();
    let mut tag_map = tags::for_some(db, "floatingips", &ids).await?;
    for f in &mut fips {
        f.tags = tag_map.remove(&f.id).unwrap_or_default();
    }
    Ok(fips)
}

/// Floating IPs routed through `router_id` (optionally only those whose
/// fixed address is on one of `subnet_ids`' ports).
pub async fn count_via_router_tx(tx: &mut Tx, router_id: &str) -> Result<i64, StoreError> {
    Ok(
        dispatch!(tx.conn(), c => sqlx::query_scalar("SELECT COUNT(*) FROM floatingips WHERE router_id = $1")
        .bind(router_id).fetch_one(&mut *c).await)?,
    )
}

/// Floating IPs through `router_id` whose fixed address is on `subnet_id`.
pub async fn count_via_router_subnet_tx(
    tx: &mut Tx,
    router_id: &str,
    subnet_id: &str,
) -> Result<i64, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM floatingips f JOIN ip_allocations a ON a.port_id = f.port_id AND a.ip_address = f.fixed_ip_address \
         WHERE f.router_id = $1 AND a.subnet_id = $2")
        .bind(router_id).bind(subnet_id).fetch_one(&mut *c).await)?)
}

/// Forgets the association of every floating IP bound to a port (the port is going away).
pub async fn disassociate_port(tx: &mut Tx, port_id: &str, now: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE floatingips SET port_id = NULL, fixed_ip_address = NULL, router_id = NULL, status = 'DOWN', \
         revision_number = revision_number + 1, updated_at = $2 WHERE port_id = $1")
        .bind(port_id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Floating IPs on a network held by projects other than `project` (all when `None`).
pub async fn count_on_network_tx(
    tx: &mut Tx,
    network_id: &str,
    project: Option<&str>,
) -> Result<i64, StoreError> {
    Ok(match project {
        Some(p) => dispatch!(tx.conn(), c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM floatingips WHERE floating_network_id = $1 AND project_id = $2")
            .bind(network_id).bind(p).fetch_one(&mut *c).await)?,
        None => dispatch!(tx.conn(), c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM floatingips WHERE floating_network_id = $1")
            .bind(network_id).fetch_one(&mut *c).await)?,
    })
}

/// Bumps the revision of a floating IP whose tags changed.
pub async fn touch(tx: &mut Tx, id: &str, now: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE floatingips SET revision_number = revision_number + 1, updated_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every floating IP allocated on a network.
pub async fn on_network_tx(tx: &mut Tx, network_id: &str) -> Result<Vec<FloatingIp>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM floatingips WHERE floating_network_id = $1");
    let rows = dispatch!(tx.conn(), c => sqlx::query_as::<_, FipRow>(trusted(&sql)).bind(network_id).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}
