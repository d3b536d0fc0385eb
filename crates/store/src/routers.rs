//! Queries for routers. Their interfaces are ports whose `device_id` is the
//! router; the gateway is a port too, owned by no project.

use neutrino_types::model::{FixedIp, Route, Router};
use sqlx::FromRow;

use crate::rows::{json_list, to_json, trusted};
use crate::{Db, StoreError, Tx, dispatch, tags};

#[derive(FromRow)]
struct RouterRow {
    id: String,
    project_id: String,
    name: String,
    description: String,
    admin_state_up: bool,
    status: String,
    gw_network_id: Option<String>,
    gw_port_id: Option<String>,
    enable_snat: bool,
    routes: String,
    availability_zone_hints: String,
    revision_number: i64,
    created_at: String,
    updated_at: String,
}

impl RouterRow {
    fn into_model(self) -> Router {
        Router {
            routes: serde_json::from_str::<Vec<Route>>(&self.routes).unwrap_or_default(),
            availability_zone_hints: json_list(&self.availability_zone_hints),
            id: self.id,
            project_id: self.project_id,
            name: self.name,
            description: self.description,
            admin_state_up: self.admin_state_up,
            status: self.status,
            gw_network_id: self.gw_network_id,
            gw_port_id: self.gw_port_id,
            enable_snat: self.enable_snat,
            revision_number: self.revision_number,
            created_at: self.created_at,
            updated_at: self.updated_at,
            tags: Vec::new(),
            gw_fixed_ips: Vec::new(),
        }
    }
}

const COLUMNS: &str = "id, project_id, name, description, admin_state_up, status, gw_network_id, gw_port_id, \
     enable_snat, routes, availability_zone_hints, revision_number, created_at, updated_at";

pub async fn insert(tx: &mut Tx, r: &Router) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO routers ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)"
    );
    dispatch!(tx.conn(), c => sqlx::query(trusted(&sql))
        .bind(&r.id).bind(&r.project_id).bind(&r.name).bind(&r.description).bind(r.admin_state_up)
        .bind(&r.status).bind(&r.gw_network_id).bind(&r.gw_port_id).bind(r.enable_snat)
        .bind(to_json(&r.routes)).bind(to_json(&r.availability_zone_hints)).bind(r.revision_number)
        .bind(&r.created_at).bind(&r.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Writes every mutable column and bumps the revision.
pub async fn update(tx: &mut Tx, r: &Router) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE routers SET name = $2, description = $3, admin_state_up = $4, gw_network_id = $5, gw_port_id = $6, \
         enable_snat = $7, routes = $8, revision_number = revision_number + 1, updated_at = $9 WHERE id = $1")
        .bind(&r.id).bind(&r.name).bind(&r.description).bind(r.admin_state_up).bind(&r.gw_network_id)
        .bind(&r.gw_port_id).bind(r.enable_snat).bind(to_json(&r.routes)).bind(&r.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Bumps the revision of a router whose interfaces changed.
pub async fn touch(tx: &mut Tx, id: &str, now: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE routers SET revision_number = revision_number + 1, updated_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    tags::delete_all(tx, "routers", id).await?;
    let n = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM routers WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

async fn gateway_ips(db: &Db, port_id: &str) -> Result<Vec<FixedIp>, StoreError> {
    let rows: Vec<(String, String)> = dispatch!(db.read(), c => sqlx::query_as(
        "SELECT subnet_id, ip_address FROM ip_allocations WHERE port_id = $1 ORDER BY ip_offset, ip_address")
        .bind(port_id).fetch_all(c).await)?;
    Ok(rows
        .into_iter()
        .map(|(subnet_id, ip_address)| FixedIp {
            subnet_id,
            ip_address,
        })
        .collect())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Router>, StoreError> {
    Ok(list(db, None, Some(id)).await?.pop())
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<Router>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM routers WHERE id = $1");
    let row = dispatch!(tx.conn(), c => sqlx::query_as::<_, RouterRow>(trusted(&sql)).bind(id).fetch_optional(&mut *c).await)?;
    let Some(row) = row else { return Ok(None) };
    let mut r = row.into_model();
    if let Some(port) = &r.gw_port_id {
        let rows: Vec<(String, String)> = dispatch!(tx.conn(), c => sqlx::query_as(
            "SELECT subnet_id, ip_address FROM ip_allocations WHERE port_id = $1 ORDER BY ip_offset, ip_address")
            .bind(port).fetch_all(&mut *c).await)?;
        r.gw_fixed_ips = rows
            .into_iter()
            .map(|(subnet_id, ip_address)| FixedIp {
                subnet_id,
                ip_address,
            })
            .collect();
    }
    Ok(Some(r))
}

/// Routers of a project (all for `None`), or one router by id.
pub async fn list(
    db: &Db,
    project: Option<&str>,
    id: Option<&str>,
) -> Result<Vec<Router>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM routers WHERE TRUE");
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
        let mut q = sqlx::query_as::<_, RouterRow>(trusted(&sql));
        for a in &args { q = q.bind(a); }
        q.fetch_all(c).await
    })?;
    let mut routers: Vec<Router> = rows.into_iter().map(RouterRow::into_model).collect();
    let ids: Vec<String> = routers.iter().map(|r| r.id.clone()).collect();
    let mut tag_map = tags::for_some(db, "routers", &ids).await?;
    for r in &mut routers {
        r.tags = tag_map.remove(&r.id).unwrap_or_default();
        if let Some(port) = r.gw_port_id.clone() {
            r.gw_fixed_ips = gateway_ips(db, &port).await?;
        }
    }
    Ok(routers)
}

/// Subnet ids and addresses of a router's interface ports.
pub async fn interface_ips_tx(
    tx: &mut Tx,
    router_id: &str,
) -> Result<Vec<(String, String, String)>, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_as(
        "SELECT p.id, a.subnet_id, a.ip_address FROM ports p JOIN ip_allocations a ON a.port_id = p.id \
         WHERE p.device_id = $1 AND p.device_owner = 'network:router_interface' ORDER BY p.id")
        .bind(router_id).fetch_all(&mut *c).await)?)
}

/// Claims a port for a router, but only if no device holds it: the
/// single UPDATE is what lets exactly one of two racing routers win.
pub async fn claim_port(
    tx: &mut Tx,
    port_id: &str,
    router_id: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE ports SET device_id = $2, device_owner = 'network:router_interface', \
         revision_number = revision_number + 1, updated_at = $3 WHERE id = $1 AND device_id = ''")
        .bind(port_id).bind(router_id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Routers with a gateway on `network_id` and an interface on `subnet_id`:
/// the routers through which that subnet reaches that network.
pub async fn routers_linking_tx(
    tx: &mut Tx,
    network_id: &str,
    subnet_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT DISTINCT r.id FROM routers r JOIN ports p ON p.device_id = r.id AND p.device_owner = 'network:router_interface' \
         JOIN ip_allocations a ON a.port_id = p.id WHERE r.gw_network_id = $1 AND a.subnet_id = $2 ORDER BY r.id")
        .bind(network_id).bind(subnet_id).fetch_all(&mut *c).await)?)
}

/// Routers using a network as their gateway (optionally only those of a project).
pub async fn count_with_gateway_tx(
    tx: &mut Tx,
    network_id: &str,
    project: Option<&str>,
) -> Result<i64, StoreError> {
    Ok(match project {
        Some(p) => dispatch!(tx.conn(), c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM routers WHERE gw_network_id = $1 AND project_id = $2")
            .bind(network_id).bind(p).fetch_one(&mut *c).await)?,
        None => dispatch!(tx.conn(), c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM routers WHERE gw_network_id = $1")
            .bind(network_id).fetch_one(&mut *c).await)?,
    })
}
