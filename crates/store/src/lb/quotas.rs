//! Load-balancer quotas (§5): the per-project overrides in `lb_quotas`
//! and the usage check of a creating transaction.
//!
//! Usage is never stored: [`check_tx`] counts the real rows after taking
//! the per-(project, resource) lock of [`crate::quotas::lock`], so
//! concurrent creates of one project queue up and each counts what the
//! previous ones committed.

use neutrino_lb_types::model::Quota;

use super::{Reader, execute, fetch_all};
use crate::{Db, StoreError, Tx, dispatch, quotas};

/// A countable load-balancer resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbResource {
    LoadBalancer,
    Listener,
    Pool,
    HealthMonitor,
    Member,
    L7Policy,
    L7Rule,
}

impl LbResource {
    fn table(self) -> &'static str {
        match self {
            LbResource::LoadBalancer => "lb_load_balancers",
            LbResource::Listener => "lb_listeners",
            LbResource::Pool => "lb_pools",
            LbResource::HealthMonitor => "lb_health_monitors",
            LbResource::Member => "lb_members",
            LbResource::L7Policy => "lb_l7policies",
            LbResource::L7Rule => "lb_l7rules",
        }
    }

    /// The project's override for this resource, if any.
    pub fn of(self, q: &Quota) -> Option<i64> {
        match self {
            LbResource::LoadBalancer => q.load_balancer,
            LbResource::Listener => q.listener,
            LbResource::Pool => q.pool,
            LbResource::HealthMonitor => q.health_monitor,
            LbResource::Member => q.member,
            LbResource::L7Policy => q.l7policy,
            LbResource::L7Rule => q.l7rule,
        }
    }
}

#[derive(sqlx::FromRow)]
struct QuotaRow {
    project_id: String,
    load_balancer: Option<i64>,
    listener: Option<i64>,
    pool: Option<i64>,
    health_monitor: Option<i64>,
    member: Option<i64>,
    l7policy: Option<i64>,
    l7rule: Option<i64>,
}

impl QuotaRow {
    fn split(self) -> (String, Quota) {
        (
            self.project_id,
            Quota {
                load_balancer: self.load_balancer,
                listener: self.listener,
                pool: self.pool,
                health_monitor: self.health_monitor,
                member: self.member,
                l7policy: self.l7policy,
                l7rule: self.l7rule,
            },
        )
    }
}

const SELECT: &str = "SELECT project_id, load_balancer, listener, pool, health_monitor, member, \
     l7policy, l7rule FROM lb_quotas";

/// A project's stored quota row (`None`: no row, all defaults).
pub async fn get(db: &Db, project: &str) -> Result<Option<Quota>, StoreError> {
    let sql = format!("{SELECT} WHERE project_id = $1");
    let rows: Vec<QuotaRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[project]).await?;
    Ok(rows.into_iter().next().map(|r| r.split().1))
}

pub async fn get_tx(tx: &mut Tx, project: &str) -> Result<Option<Quota>, StoreError> {
    let sql = format!("{SELECT} WHERE project_id = $1");
    let rows: Vec<QuotaRow> = fetch_all(tx, &sql, &[project]).await?;
    Ok(rows.into_iter().next().map(|r| r.split().1))
}

/// Every project with a row, by project id.
pub async fn list(db: &Db) -> Result<Vec<(String, Quota)>, StoreError> {
    let sql = format!("{SELECT} ORDER BY project_id");
    let rows: Vec<QuotaRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[]).await?;
    Ok(rows.into_iter().map(QuotaRow::split).collect())
}

/// Stores a project's quota row as given (`None` = back to the default).
pub async fn set(tx: &mut Tx, project: &str, q: &Quota) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_quotas (project_id, load_balancer, listener, pool, health_monitor, member, \
         l7policy, l7rule) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (project_id) DO UPDATE SET load_balancer = excluded.load_balancer, \
         listener = excluded.listener, pool = excluded.pool, health_monitor = excluded.health_monitor, \
         member = excluded.member, l7policy = excluded.l7policy, l7rule = excluded.l7rule")
        .bind(project).bind(q.load_balancer).bind(q.listener).bind(q.pool).bind(q.health_monitor)
        .bind(q.member).bind(q.l7policy).bind(q.l7rule)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Removes a project's row (back to all defaults). Returns whether there
/// was one (none → 404 `Quotas {id} not found.`).
pub async fn delete(tx: &mut Tx, project: &str) -> Result<bool, StoreError> {
    Ok(execute(
        tx,
        "DELETE FROM lb_quotas WHERE project_id = $1",
        &[project],
    )
    .await?
        == 1)
}

/// How many `resource` rows `project` has, as this transaction sees them.
pub async fn count_tx(tx: &mut Tx, project: &str, resource: LbResource) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE project_id = $1",
        resource.table()
    );
    Ok(
        dispatch!(tx.conn(), c => sqlx::query_scalar(crate::rows::trusted(&sql))
        .bind(project).fetch_one(&mut *c).await)?,
    )
}

/// The quota check of a create, inside its transaction and before its
/// inserts: locks (project, resource) until the transaction ends, then
/// answers whether `adding` more rows fit under the project's limit (its
/// override, else `default_limit`; -1 = unlimited). Rows in PENDING_DELETE
/// still count, as upstream's counters do until the delete finishes.
pub async fn check_tx(
    tx: &mut Tx,
    project: &str,
    resource: LbResource,
    adding: i64,
    default_limit: i64,
) -> Result<bool, StoreError> {
    quotas::lock(tx, project, resource.table()).await?;
    let limit = get_tx(tx, project)
        .await?
        .and_then(|q| resource.of(&q))
        .unwrap_or(default_limit);
    if limit < 0 {
        return Ok(true);
    }
    Ok(count_tx(tx, project, resource).await? + adding <= limit)
}
