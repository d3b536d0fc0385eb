//! Network RBAC policies: who, besides its owner, may see or use a network.

use std::collections::HashMap;

use neutrino_types::model::{NetworkAccess, RbacPolicy};
use sqlx::FromRow;

use crate::rows::{placeholders, trusted};
use crate::{Db, StoreError, Tx, dispatch};

#[derive(FromRow)]
struct RbacRow {
    id: String,
    project_id: String,
    object_id: String,
    action: String,
    target_project: String,
    created_at: String,
    updated_at: String,
}

impl From<RbacRow> for RbacPolicy {
    fn from(r: RbacRow) -> Self {
        RbacPolicy {
            id: r.id,
            project_id: r.project_id,
            object_id: r.object_id,
            action: r.action,
            target_project: r.target_project,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "id, project_id, object_id, action, target_project, created_at, updated_at";

/// Grants per network id, for the given networks (or all when `None`).
pub async fn access_for(
    db: &Db,
    ids: Option<&[String]>,
) -> Result<HashMap<String, Vec<NetworkAccess>>, StoreError> {
    let sql = match ids {
        Some([]) => return Ok(HashMap::new()),
        Some(ids) => format!(
            "SELECT object_id, action, target_project FROM network_rbacs WHERE object_id IN ({}) ORDER BY object_id, action, target_project",
            placeholders(1, ids.len())
        ),
        None => "SELECT object_id, action, target_project FROM network_rbacs ORDER BY object_id, action, target_project".into(),
    };
    let rows: Vec<(String, String, String)> = dispatch!(db.read(), c => {
        let mut q = sqlx::query_as(trusted(&sql));
        for i in ids.unwrap_or(&[]) { q = q.bind(i); }
        q.fetch_all(c).await
    })?;
    let mut out: HashMap<String, Vec<NetworkAccess>> = HashMap::new();
    for (net, action, target) in rows {
        out.entry(net)
            .or_default()
            .push(NetworkAccess { action, target });
    }
    Ok(out)
}

pub async fn access_tx(tx: &mut Tx, network_id: &str) -> Result<Vec<NetworkAccess>, StoreError> {
    let rows: Vec<(String, String)> = dispatch!(tx.conn(), c => sqlx::query_as(
        "SELECT action, target_project FROM network_rbacs WHERE object_id = $1 ORDER BY action, target_project")
        .bind(network_id).fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .map(|(action, target)| NetworkAccess { action, target })
        .collect())
}

/// Inserts a policy; `Ok(false)` when the same grant already exists.
pub async fn insert(tx: &mut Tx, p: &RbacPolicy) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO network_rbacs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
    );
    let n = dispatch!(tx.conn(), c => sqlx::query(trusted(&sql))
        .bind(&p.id).bind(&p.project_id).bind(&p.object_id).bind(&p.action).bind(&p.target_project)
        .bind(&p.created_at).bind(&p.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<RbacPolicy>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM network_rbacs WHERE id = $1");
    let row = dispatch!(db.read(), c => sqlx::query_as::<_, RbacRow>(trusted(&sql)).bind(id).fetch_optional(c).await)?;
    Ok(row.map(Into::into))
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<RbacPolicy>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM network_rbacs WHERE id = $1");
    let row = dispatch!(tx.conn(), c => sqlx::query_as::<_, RbacRow>(trusted(&sql)).bind(id).fetch_optional(&mut *c).await)?;
    Ok(row.map(Into::into))
}

/// Every policy on networks visible through `visible_to` (all for admins).
pub async fn list(db: &Db, visible_to: Option<&str>) -> Result<Vec<RbacPolicy>, StoreError> {
    let rows = match visible_to {
        None => {
            let sql = format!("SELECT {COLUMNS} FROM network_rbacs ORDER BY id");
            dispatch!(db.read(), c => sqlx::query_as::<_, RbacRow>(trusted(&sql)).fetch_all(c).await)?
        }
        // Policies are visible to their creator only.
        Some(p) => {
            let sql =
                format!("SELECT {COLUMNS} FROM network_rbacs WHERE project_id = $1 ORDER BY id");
            dispatch!(db.read(), c => sqlx::query_as::<_, RbacRow>(trusted(&sql)).bind(p).fetch_all(c).await)?
        }
    };
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Re-targets a policy; `Ok(false)` when that grant already exists.
pub async fn set_target(
    tx: &mut Tx,
    id: &str,
    target: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let res = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE network_rbacs SET target_project = $2, updated_at = $3 WHERE id = $1")
        .bind(id).bind(target).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()));
    match res {
        Ok(_) => Ok(true),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM network_rbacs WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Removes every grant of `action` on a network (e.g. when it stops being external).
pub async fn delete_action(tx: &mut Tx, network_id: &str, action: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query("DELETE FROM network_rbacs WHERE object_id = $1 AND action = $2")
        .bind(network_id).bind(action).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes the wildcard grant of `action` on a network, if any.
pub async fn delete_wildcard(
    tx: &mut Tx,
    network_id: &str,
    action: &str,
) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM network_rbacs WHERE object_id = $1 AND action = $2 AND target_project = '*'")
        .bind(network_id).bind(action).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Projects that use a network in the way `action` grants: ports for
/// `access_as_shared`; router gateways and floating IPs for `access_as_external`.
pub async fn users_tx(
    tx: &mut Tx,
    network_id: &str,
    action: &str,
) -> Result<Vec<String>, StoreError> {
    let sql = if action == neutrino_types::model::ACCESS_AS_SHARED {
        "SELECT DISTINCT project_id FROM ports WHERE network_id = $1 AND project_id <> ''"
    } else {
        "SELECT DISTINCT project_id FROM routers WHERE gw_network_id = $1 \
         UNION SELECT DISTINCT project_id FROM floatingips WHERE floating_network_id = $1"
    };
    Ok(
        dispatch!(tx.conn(), c => sqlx::query_scalar(sql).bind(network_id).fetch_all(&mut *c).await)?,
    )
}
