//! What the heartbeat receiver reads and writes (design §7.6,
//! domain-facts §3.1): an amphora's load balancer flattened to the
//! statuses the health update compares (upstream's
//! `get_lb_for_health_update`), `lb_amphora_health` and the counters of
//! `lb_listener_stats`.
//!
//! The counters are changed by single-statement upserts, so servers that
//! process heartbeats concurrently never lose an increment.

use std::collections::BTreeMap;

use neutrino_lb_types::enums::{OperatingStatus, ProvisioningStatus};
use neutrino_lb_types::model::Stats;

use super::{Object, Reader, enum_col, execute, fetch_all};
use crate::{Db, StoreError, Tx, dispatch};

/// An amphora's load balancer as the health update needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthLb {
    pub id: String,
    pub enabled: bool,
    pub provisioning_status: ProvisioningStatus,
    pub operating_status: OperatingStatus,
    /// By listener id.
    pub listeners: BTreeMap<String, HealthListener>,
    /// Every pool of the load balancer, by id.
    pub pools: BTreeMap<String, HealthPool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthListener {
    pub enabled: bool,
    pub operating_status: OperatingStatus,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthPool {
    pub operating_status: OperatingStatus,
    /// Member id → operating status.
    pub members: BTreeMap<String, OperatingStatus>,
}

/// Whom a heartbeat's amphora id names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// No amphora row at all.
    Unknown,
    /// An amphora row (possibly DELETED) without a live load balancer:
    /// upstream deletes its compute instance.
    NoLoadBalancer {
        compute_id: Option<String>,
    },
    LoadBalancer(HealthLb),
}

#[derive(sqlx::FromRow)]
struct LbRow {
    id: String,
    enabled: bool,
    provisioning_status: String,
    operating_status: String,
}

#[derive(sqlx::FromRow)]
struct ChildRow {
    id: String,
    enabled: bool,
    operating_status: String,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: String,
    pool_id: String,
    operating_status: String,
}

#[derive(sqlx::FromRow)]
struct ComputeRow {
    compute_id: Option<String>,
}

fn op(column: &str, s: &str) -> Result<OperatingStatus, StoreError> {
    enum_col(column, s, OperatingStatus::parse)
}

/// The load balancer of amphora `amphora_id` (not DELETED), read in the
/// update's transaction.
pub async fn lookup(tx: &mut Tx, amphora_id: &str) -> Result<Lookup, StoreError> {
    let lb: Option<LbRow> = fetch_all(
        tx,
        "SELECT l.id, l.enabled, l.provisioning_status, l.operating_status \
         FROM lb_amphorae a JOIN lb_load_balancers l ON l.id = a.load_balancer_id \
         WHERE a.id = $1 AND a.status <> 'DELETED'",
        &[amphora_id],
    )
    .await?
    .pop();
    let Some(lb) = lb else {
        let amp: Option<ComputeRow> = fetch_all(
            tx,
            "SELECT compute_id FROM lb_amphorae WHERE id = $1",
            &[amphora_id],
        )
        .await?
        .pop();
        return Ok(match amp {
            None => Lookup::Unknown,
            Some(a) => Lookup::NoLoadBalancer {
                compute_id: a.compute_id,
            },
        });
    };
    let listeners: Vec<ChildRow> = fetch_all(
        tx,
        "SELECT id, enabled, operating_status FROM lb_listeners WHERE load_balancer_id = $1",
        &[&lb.id],
    )
    .await?;
    let pools: Vec<ChildRow> = fetch_all(
        tx,
        "SELECT id, enabled, operating_status FROM lb_pools WHERE load_balancer_id = $1",
        &[&lb.id],
    )
    .await?;
    let members: Vec<MemberRow> = fetch_all(
        tx,
        "SELECT m.id, m.pool_id, m.operating_status FROM lb_members m \
         JOIN lb_pools p ON p.id = m.pool_id WHERE p.load_balancer_id = $1",
        &[&lb.id],
    )
    .await?;
    let mut out = HealthLb {
        enabled: lb.enabled,
        provisioning_status: enum_col(
            "lb_load_balancers.provisioning_status",
            &lb.provisioning_status,
            ProvisioningStatus::parse,
        )?,
        operating_status: op("lb_load_balancers.operating_status", &lb.operating_status)?,
        id: lb.id,
        listeners: BTreeMap::new(),
        pools: BTreeMap::new(),
    };
    for l in listeners {
        let operating_status = op("lb_listeners.operating_status", &l.operating_status)?;
        out.listeners.insert(
            l.id,
            HealthListener {
                enabled: l.enabled,
                operating_status,
            },
        );
    }
    for p in pools {
        let operating_status = op("lb_pools.operating_status", &p.operating_status)?;
        out.pools.insert(
            p.id,
            HealthPool {
                operating_status,
                members: BTreeMap::new(),
            },
        );
    }
    for m in members {
        let status = op("lb_members.operating_status", &m.operating_status)?;
        if let Some(p) = out.pools.get_mut(&m.pool_id) {
            p.members.insert(m.id, status);
        }
    }
    Ok(Lookup::LoadBalancer(out))
}

/// Sets one object's operating status and `updated_at` (upstream's
/// `repo.update` stamps it through the ORM's `onupdate`). Whether it
/// exists.
pub async fn set_operating_status(
    tx: &mut Tx,
    object: Object,
    id: &str,
    status: OperatingStatus,
    now: &str,
) -> Result<bool, StoreError> {
    let sql = format!(
        "UPDATE {} SET operating_status = $1, updated_at = $2 WHERE id = $3",
        object.table()
    );
    Ok(execute(tx, &sql, &[status.as_str(), now, id]).await? == 1)
}

/// Records a heartbeat of amphora `amphora_id` at `now` (upstream's
/// `AmphoraHealthRepository.replace`; `busy` is left alone). False when
/// the amphora row is gone.
pub async fn touch(tx: &mut Tx, amphora_id: &str, now: &str) -> Result<bool, StoreError> {
    let n = execute(
        tx,
        "INSERT INTO lb_amphora_health (amphora_id, last_update) \
         SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM lb_amphorae WHERE id = $1) \
         ON CONFLICT (amphora_id) DO UPDATE SET last_update = excluded.last_update",
        &[amphora_id, now],
    )
    .await?;
    Ok(n == 1)
}

/// One amphora's health row.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AmphoraHealth {
    pub amphora_id: String,
    pub last_update: String,
    pub busy: bool,
}

pub async fn get(db: &Db, amphora_id: &str) -> Result<Option<AmphoraHealth>, StoreError> {
    Ok(fetch_all(
        &mut Reader::new(db).await?,
        "SELECT amphora_id, last_update, busy FROM lb_amphora_health WHERE amphora_id = $1",
        &[amphora_id],
    )
    .await?
    .pop())
}

/// How reported counters combine with the stored ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsMode {
    /// Message version 3: counters are deltas, added (upstream's
    /// `ListenerStatisticsRepository.increment`); active connections are
    /// a current count and replace.
    Add,
    /// Message version 2: absolute values that replace (`replace`).
    Replace,
}

const ADD: &str = "bytes_in = lb_listener_stats.bytes_in + excluded.bytes_in, \
     bytes_out = lb_listener_stats.bytes_out + excluded.bytes_out, \
     active_connections = excluded.active_connections, \
     total_connections = lb_listener_stats.total_connections + excluded.total_connections, \
     request_errors = lb_listener_stats.request_errors + excluded.request_errors";
const REPLACE: &str = "bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, \
     active_connections = excluded.active_connections, \
     total_connections = excluded.total_connections, request_errors = excluded.request_errors";

/// Writes one amphora's report for one listener in one statement. False
/// (nothing written) when the listener does not exist.
pub async fn record_listener_stats(
    tx: &mut Tx,
    listener_id: &str,
    amphora_id: &str,
    stats: &Stats,
    mode: StatsMode,
) -> Result<bool, StoreError> {
    let set = match mode {
        StatsMode::Add => ADD,
        StatsMode::Replace => REPLACE,
    };
    let sql = format!(
        "INSERT INTO lb_listener_stats (listener_id, amphora_id, bytes_in, bytes_out, \
         active_connections, total_connections, request_errors) \
         SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM lb_listeners WHERE id = $1) \
         ON CONFLICT (listener_id, amphora_id) DO UPDATE SET {set}"
    );
    let n = dispatch!(tx.conn(), c => sqlx::query(crate::rows::trusted(&sql))
        .bind(listener_id).bind(amphora_id).bind(stats.bytes_in).bind(stats.bytes_out)
        .bind(stats.active_connections).bind(stats.total_connections).bind(stats.request_errors)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
