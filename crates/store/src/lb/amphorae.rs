//! Amphorae (admin API §2.15; the flows of part two write them).

use neutrino_lb_types::enums::{AmphoraRole, AmphoraStatus};
use neutrino_lb_types::model::Amphora;

use super::{Exec, Filter, Reader, enum_col, execute, fetch_all, opt_enum_col};
use crate::{Db, StoreError, Tx, dispatch};

#[derive(sqlx::FromRow)]
struct AmphoraRow {
    id: String,
    load_balancer_id: Option<String>,
    compute_id: Option<String>,
    lb_network_ip: Option<String>,
    vrrp_ip: Option<String>,
    ha_ip: Option<String>,
    vrrp_port_id: Option<String>,
    ha_port_id: Option<String>,
    cert_expiration: Option<String>,
    cert_busy: bool,
    role: Option<String>,
    status: String,
    vrrp_interface: Option<String>,
    vrrp_id: Option<i64>,
    vrrp_priority: Option<i64>,
    cached_zone: Option<String>,
    image_id: Option<String>,
    compute_flavor: Option<String>,
    created_at: String,
    updated_at: Option<String>,
}

const COLUMNS: &str = "id, load_balancer_id, compute_id, lb_network_ip, vrrp_ip, ha_ip, \
     vrrp_port_id, ha_port_id, cert_expiration, cert_busy, role, status, vrrp_interface, vrrp_id, \
     vrrp_priority, cached_zone, image_id, compute_flavor, created_at, updated_at";

async fn fetch(e: &mut impl Exec, f: &Filter<'_>) -> Result<Vec<Amphora>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM lb_amphorae WHERE {} ORDER BY created_at, id",
        f.sql
    );
    let rows: Vec<AmphoraRow> = fetch_all(e, &sql, &f.binds).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Amphora {
                role: opt_enum_col("lb_amphorae.role", r.role.as_deref(), AmphoraRole::parse)?,
                status: enum_col("lb_amphorae.status", &r.status, AmphoraStatus::parse)?,
                id: r.id,
                load_balancer_id: r.load_balancer_id,
                compute_id: r.compute_id,
                lb_network_ip: r.lb_network_ip,
                vrrp_ip: r.vrrp_ip,
                ha_ip: r.ha_ip,
                vrrp_port_id: r.vrrp_port_id,
                ha_port_id: r.ha_port_id,
                cert_expiration: r.cert_expiration,
                cert_busy: r.cert_busy,
                vrrp_interface: r.vrrp_interface,
                vrrp_id: r.vrrp_id,
                vrrp_priority: r.vrrp_priority,
                cached_zone: r.cached_zone,
                image_id: r.image_id,
                compute_flavor: r.compute_flavor,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

pub async fn insert(tx: &mut Tx, a: &Amphora) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_amphorae (id, load_balancer_id, compute_id, lb_network_ip, vrrp_ip, ha_ip, \
         vrrp_port_id, ha_port_id, cert_expiration, cert_busy, role, status, vrrp_interface, vrrp_id, \
         vrrp_priority, cached_zone, image_id, compute_flavor, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)")
        .bind(&a.id).bind(&a.load_balancer_id).bind(&a.compute_id).bind(&a.lb_network_ip)
        .bind(&a.vrrp_ip).bind(&a.ha_ip).bind(&a.vrrp_port_id).bind(&a.ha_port_id)
        .bind(&a.cert_expiration).bind(a.cert_busy).bind(a.role.map(|r| r.as_str()))
        .bind(a.status.as_str()).bind(&a.vrrp_interface).bind(a.vrrp_id).bind(a.vrrp_priority)
        .bind(&a.cached_zone).bind(&a.image_id).bind(&a.compute_flavor)
        .bind(&a.created_at).bind(&a.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Amphora>, StoreError> {
    Ok(fetch(&mut Reader::new(db).await?, &Filter::id(id))
        .await?
        .pop())
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<Amphora>, StoreError> {
    Ok(fetch(tx, &Filter::id(id)).await?.pop())
}

/// The amphorae of one project's load balancers (an amphora belongs to
/// its load balancer's project), or all amphorae (`None`), oldest first.
pub async fn list(db: &Db, project: Option<&str>) -> Result<Vec<Amphora>, StoreError> {
    let f = match project {
        Some(p) => Filter::column(
            "load_balancer_id IN (SELECT id FROM lb_load_balancers WHERE project_id = $1)",
            p,
        ),
        None => Filter::project(None),
    };
    fetch(&mut Reader::new(db).await?, &f).await
}

/// The amphorae of one load balancer, oldest first.
pub async fn list_by_lb_tx(tx: &mut Tx, lb_id: &str) -> Result<Vec<Amphora>, StoreError> {
    fetch(tx, &Filter::column("load_balancer_id = $1", lb_id)).await
}

/// Writes every attribute but the id and creation time. Returns whether
/// it exists.
pub async fn update(tx: &mut Tx, a: &Amphora) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_amphorae SET load_balancer_id = $2, compute_id = $3, lb_network_ip = $4, vrrp_ip = $5, \
         ha_ip = $6, vrrp_port_id = $7, ha_port_id = $8, cert_expiration = $9, cert_busy = $10, \
         role = $11, status = $12, vrrp_interface = $13, vrrp_id = $14, vrrp_priority = $15, \
         cached_zone = $16, image_id = $17, compute_flavor = $18, updated_at = $19 WHERE id = $1")
        .bind(&a.id).bind(&a.load_balancer_id).bind(&a.compute_id).bind(&a.lb_network_ip)
        .bind(&a.vrrp_ip).bind(&a.ha_ip).bind(&a.vrrp_port_id).bind(&a.ha_port_id)
        .bind(&a.cert_expiration).bind(a.cert_busy).bind(a.role.map(|r| r.as_str()))
        .bind(a.status.as_str()).bind(&a.vrrp_interface).bind(a.vrrp_id).bind(a.vrrp_priority)
        .bind(&a.cached_zone).bind(&a.image_id).bind(&a.compute_flavor).bind(&a.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    Ok(execute(tx, "DELETE FROM lb_amphorae WHERE id = $1", &[id]).await? == 1)
}
