//! Quota limits and usage.
//!
//! Usage is never stored: it is a COUNT of the real rows, taken inside the
//! creating transaction after a lock on (project, resource). SQLite write
//! transactions are already exclusive; on PostgreSQL a transaction-scoped
//! advisory lock makes concurrent creates of one project queue up, so each
//! counts what the previous one committed and a quota cannot be overrun.

use crate::rows::trusted;
use crate::{Db, StoreError, Tx, dispatch};

/// The table holding each countable resource, by Neutron's quota name.
pub const RESOURCES: &[(&str, &str)] = &[
    ("network", "networks"),
    ("subnet", "subnets"),
    ("port", "ports"),
    ("router", "routers"),
    ("floatingip", "floatingips"),
    ("security_group", "security_groups"),
    ("security_group_rule", "security_group_rules"),
    ("rbac_policy", "network_rbacs"),
];

fn table_of(resource: &str) -> Option<&'static str> {
    RESOURCES
        .iter()
        .find(|(r, _)| *r == resource)
        .map(|(_, t)| *t)
}

/// Serialises quota checks of one project and resource until the
/// transaction ends (a no-op on SQLite, whose writers are exclusive).
pub async fn lock(tx: &mut Tx, project: &str, resource: &str) -> Result<(), StoreError> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("quota:{project}:{resource}"))
            .execute(&mut **t)
            .await?;
    }
    Ok(())
}

/// How many `resource` rows `project` has, as this transaction sees them.
pub async fn count_tx(tx: &mut Tx, project: &str, resource: &str) -> Result<i64, StoreError> {
    let Some(table) = table_of(resource) else {
        return Ok(0);
    };
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE project_id = $1");
    Ok(
        dispatch!(tx.conn(), c => sqlx::query_scalar(trusted(&sql)).bind(project).fetch_one(&mut *c).await)?,
    )
}

pub async fn count(db: &Db, project: &str, resource: &str) -> Result<i64, StoreError> {
    let Some(table) = table_of(resource) else {
        return Ok(0);
    };
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE project_id = $1");
    Ok(
        dispatch!(db.read(), c => sqlx::query_scalar(trusted(&sql)).bind(project).fetch_one(c).await)?,
    )
}

/// The overrides of a project: (resource, limit).
pub async fn overrides(db: &Db, project: &str) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(dispatch!(db.read(), c => sqlx::query_as(
        "SELECT resource, hard_limit FROM quotas WHERE project_id = $1 ORDER BY resource")
        .bind(project).fetch_all(c).await)?)
}

pub async fn override_tx(
    tx: &mut Tx,
    project: &str,
    resource: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT hard_limit FROM quotas WHERE project_id = $1 AND resource = $2")
        .bind(project).bind(resource).fetch_optional(&mut *c).await)?)
}

/// Projects with at least one override.
pub async fn projects(db: &Db) -> Result<Vec<String>, StoreError> {
    Ok(dispatch!(db.read(), c => sqlx::query_scalar(
        "SELECT DISTINCT project_id FROM quotas ORDER BY project_id").fetch_all(c).await)?)
}

pub async fn set(tx: &mut Tx, project: &str, resource: &str, limit: i64) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO quotas (project_id, resource, hard_limit) VALUES ($1, $2, $3) \
         ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit")
        .bind(project).bind(resource).bind(limit).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn reset(tx: &mut Tx, project: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query("DELETE FROM quotas WHERE project_id = $1")
        .bind(project).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
