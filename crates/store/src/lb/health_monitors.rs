//! Health monitors (at most one per pool).

use neutrino_lb_types::enums::{
    HealthMonitorType, HttpMethod, OperatingStatus, ProvisioningStatus,
};
use neutrino_lb_types::model::HealthMonitor;

use super::{Exec, Filter, Object, Reader, enum_col, execute, fetch_all, opt_enum_col, tags};
use crate::{Db, StoreError, Tx, dispatch};

#[derive(sqlx::FromRow)]
struct HealthMonitorRow {
    id: String,
    project_id: String,
    pool_id: String,
    name: Option<String>,
    enabled: bool,
    provisioning_status: String,
    operating_status: String,
    #[sqlx(rename = "type")]
    hm_type: String,
    delay: i64,
    timeout: i64,
    rise_threshold: i64,
    fall_threshold: i64,
    http_method: Option<String>,
    url_path: Option<String>,
    expected_codes: Option<String>,
    http_version: Option<f64>,
    domain_name: Option<String>,
    created_at: String,
    updated_at: Option<String>,
}

const COLUMNS: &str = "id, project_id, pool_id, name, enabled, provisioning_status, \
     operating_status, type, delay, timeout, rise_threshold, fall_threshold, http_method, url_path, \
     expected_codes, http_version, domain_name, created_at, updated_at";

pub(crate) async fn fetch(
    e: &mut impl Exec,
    f: &Filter<'_>,
) -> Result<Vec<HealthMonitor>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM lb_health_monitors WHERE {} ORDER BY created_at, id",
        f.sql
    );
    let rows: Vec<HealthMonitorRow> = fetch_all(e, &sql, &f.binds).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut tags = tags::load(e, Object::HealthMonitor, f).await?;
    rows.into_iter()
        .map(|r| {
            Ok(HealthMonitor {
                tags: tags.remove(&r.id).unwrap_or_default(),
                provisioning_status: enum_col(
                    "lb_health_monitors.provisioning_status",
                    &r.provisioning_status,
                    ProvisioningStatus::parse,
                )?,
                operating_status: enum_col(
                    "lb_health_monitors.operating_status",
                    &r.operating_status,
                    OperatingStatus::parse,
                )?,
                hm_type: enum_col(
                    "lb_health_monitors.type",
                    &r.hm_type,
                    HealthMonitorType::parse,
                )?,
                http_method: opt_enum_col(
                    "lb_health_monitors.http_method",
                    r.http_method.as_deref(),
                    HttpMethod::parse,
                )?,
                id: r.id,
                project_id: r.project_id,
                pool_id: r.pool_id,
                name: r.name,
                admin_state_up: r.enabled,
                delay: r.delay,
                timeout: r.timeout,
                max_retries: r.rise_threshold,
                max_retries_down: r.fall_threshold,
                url_path: r.url_path,
                expected_codes: r.expected_codes,
                http_version: r.http_version,
                domain_name: r.domain_name,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// Inserts a health monitor and its tags. A second one on a pool is a
/// unique violation.
pub async fn insert(tx: &mut Tx, h: &HealthMonitor) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_health_monitors (id, project_id, pool_id, name, enabled, provisioning_status, \
         operating_status, type, delay, timeout, rise_threshold, fall_threshold, http_method, url_path, \
         expected_codes, http_version, domain_name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)")
        .bind(&h.id).bind(&h.project_id).bind(&h.pool_id).bind(&h.name).bind(h.admin_state_up)
        .bind(h.provisioning_status.as_str()).bind(h.operating_status.as_str()).bind(h.hm_type.as_str())
        .bind(h.delay).bind(h.timeout).bind(h.max_retries).bind(h.max_retries_down)
        .bind(h.http_method.map(|m| m.as_str())).bind(&h.url_path).bind(&h.expected_codes)
        .bind(h.http_version).bind(&h.domain_name).bind(&h.created_at).bind(&h.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    tags::replace(tx, Object::HealthMonitor, &h.id, &h.tags).await
}

pub async fn get(db: &Db, id: &str) -> Result<Option<HealthMonitor>, StoreError> {
    Ok(fetch(&mut Reader::new(db).await?, &Filter::id(id))
        .await?
        .pop())
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<HealthMonitor>, StoreError> {
    Ok(fetch(tx, &Filter::id(id)).await?.pop())
}

/// One project's health monitors, or all (`None`), oldest first.
pub async fn list(db: &Db, project: Option<&str>) -> Result<Vec<HealthMonitor>, StoreError> {
    fetch(&mut Reader::new(db).await?, &Filter::project(project)).await
}

/// The health monitor of a pool, if it has one.
pub async fn get_by_pool_tx(
    tx: &mut Tx,
    pool_id: &str,
) -> Result<Option<HealthMonitor>, StoreError> {
    Ok(fetch(tx, &Filter::column("pool_id = $1", pool_id))
        .await?
        .pop())
}

/// Writes every mutable attribute (all but id, project, pool, type and
/// creation time) and the tags. Returns whether it exists.
pub async fn update(tx: &mut Tx, h: &HealthMonitor) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_health_monitors SET name = $2, enabled = $3, provisioning_status = $4, \
         operating_status = $5, delay = $6, timeout = $7, rise_threshold = $8, fall_threshold = $9, \
         http_method = $10, url_path = $11, expected_codes = $12, http_version = $13, domain_name = $14, \
         updated_at = $15 WHERE id = $1")
        .bind(&h.id).bind(&h.name).bind(h.admin_state_up).bind(h.provisioning_status.as_str())
        .bind(h.operating_status.as_str()).bind(h.delay).bind(h.timeout).bind(h.max_retries)
        .bind(h.max_retries_down).bind(h.http_method.map(|m| m.as_str())).bind(&h.url_path)
        .bind(&h.expected_codes).bind(h.http_version).bind(&h.domain_name).bind(&h.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    tags::replace(tx, Object::HealthMonitor, &h.id, &h.tags).await?;
    Ok(true)
}

/// Deletes a health monitor and its tags. Returns whether it existed.
pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    tags::delete_where(
        tx,
        Object::HealthMonitor,
        "SELECT id FROM lb_health_monitors WHERE id = $1",
        &[id],
    )
    .await?;
    Ok(execute(tx, "DELETE FROM lb_health_monitors WHERE id = $1", &[id]).await? == 1)
}

/// The members of monitor `id`'s pool back to NO_MONITOR: what deleting a
/// monitor leaves them (upstream's `UpdatePoolMembersOperatingStatusInDB`
/// in its delete flow). Call before deleting the monitor. Returns how many
/// members changed.
pub async fn unmonitor_members(tx: &mut Tx, id: &str) -> Result<u64, StoreError> {
    execute(
        tx,
        "UPDATE lb_members SET operating_status = 'NO_MONITOR' \
         WHERE pool_id IN (SELECT pool_id FROM lb_health_monitors WHERE id = $1)",
        &[id],
    )
    .await
}
