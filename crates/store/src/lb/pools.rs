//! Pools, with session persistence stored inline (`sp_*` columns).

use neutrino_lb_types::enums::{
    LbAlgorithm, OperatingStatus, Protocol, ProvisioningStatus, SessionPersistenceType,
};
use neutrino_lb_types::model::{Pool, SessionPersistence};

use super::{
    Exec, Filter, Object, Reader, derived, enum_col, execute, fetch_all, opt_json_col, tags,
};
use crate::rows::to_json;
use crate::{Db, StoreError, Tx, dispatch};

#[derive(sqlx::FromRow)]
struct PoolRow {
    id: String,
    project_id: String,
    load_balancer_id: String,
    name: Option<String>,
    description: Option<String>,
    enabled: bool,
    provisioning_status: String,
    operating_status: String,
    protocol: String,
    lb_algorithm: String,
    sp_type: Option<String>,
    sp_cookie_name: Option<String>,
    sp_timeout: Option<i64>,
    sp_granularity: Option<String>,
    tls_enabled: bool,
    tls_certificate_id: Option<String>,
    ca_tls_certificate_id: Option<String>,
    crl_container_id: Option<String>,
    tls_ciphers: Option<String>,
    tls_versions: Option<String>,
    alpn_protocols: Option<String>,
    created_at: String,
    updated_at: Option<String>,
}

const COLUMNS: &str = "id, project_id, load_balancer_id, name, description, enabled, \
     provisioning_status, operating_status, protocol, lb_algorithm, sp_type, sp_cookie_name, \
     sp_timeout, sp_granularity, tls_enabled, tls_certificate_id, ca_tls_certificate_id, \
     crl_container_id, tls_ciphers, tls_versions, alpn_protocols, created_at, updated_at";

fn session_persistence(r: &PoolRow) -> Result<Option<SessionPersistence>, StoreError> {
    let Some(t) = r.sp_type.as_deref() else {
        return Ok(None);
    };
    Ok(Some(SessionPersistence {
        sp_type: enum_col("lb_pools.sp_type", t, SessionPersistenceType::parse)?,
        cookie_name: r.sp_cookie_name.clone(),
        persistence_timeout: r.sp_timeout,
        persistence_granularity: r.sp_granularity.clone(),
    }))
}

pub(crate) async fn fetch(e: &mut impl Exec, f: &Filter<'_>) -> Result<Vec<Pool>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM lb_pools WHERE {} ORDER BY created_at, id",
        f.sql
    );
    let rows: Vec<PoolRow> = fetch_all(e, &sql, &f.binds).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sub = format!("SELECT id FROM lb_pools WHERE {}", f.sql);
    // Listeners using a pool: as their default pool or through a policy
    // redirecting to it.
    let mut listeners = derived(
        e,
        f,
        &format!(
            "SELECT default_pool_id, id FROM lb_listeners WHERE default_pool_id IN ({sub}) \
             UNION SELECT redirect_pool_id, listener_id FROM lb_l7policies WHERE redirect_pool_id IN ({sub}) \
             ORDER BY 1, 2"
        ),
    )
    .await?;
    let mut members = derived(
        e,
        f,
        &format!(
            "SELECT pool_id, id FROM lb_members WHERE pool_id IN ({sub}) \
                 ORDER BY pool_id, created_at, id"
        ),
    )
    .await?;
    let mut monitors = derived(
        e,
        f,
        &format!("SELECT pool_id, id FROM lb_health_monitors WHERE pool_id IN ({sub})"),
    )
    .await?;
    let mut tags = tags::load(e, Object::Pool, f).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Pool {
                session_persistence: session_persistence(&r)?,
                tags: tags.remove(&r.id).unwrap_or_default(),
                listener_ids: listeners.remove(&r.id).unwrap_or_default(),
                member_ids: members.remove(&r.id).unwrap_or_default(),
                healthmonitor_id: monitors.remove(&r.id).and_then(|mut v| v.pop()),
                provisioning_status: enum_col(
                    "lb_pools.provisioning_status",
                    &r.provisioning_status,
                    ProvisioningStatus::parse,
                )?,
                operating_status: enum_col(
                    "lb_pools.operating_status",
                    &r.operating_status,
                    OperatingStatus::parse,
                )?,
                protocol: enum_col("lb_pools.protocol", &r.protocol, Protocol::parse)?,
                lb_algorithm: enum_col(
                    "lb_pools.lb_algorithm",
                    &r.lb_algorithm,
                    LbAlgorithm::parse,
                )?,
                tls_versions: opt_json_col("lb_pools.tls_versions", r.tls_versions.as_deref())?,
                alpn_protocols: opt_json_col(
                    "lb_pools.alpn_protocols",
                    r.alpn_protocols.as_deref(),
                )?,
                id: r.id,
                project_id: r.project_id,
                load_balancer_id: r.load_balancer_id,
                name: r.name,
                description: r.description,
                admin_state_up: r.enabled,
                tls_enabled: r.tls_enabled,
                tls_container_ref: r.tls_certificate_id,
                ca_tls_container_ref: r.ca_tls_certificate_id,
                crl_container_ref: r.crl_container_id,
                tls_ciphers: r.tls_ciphers,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// Inserts a pool and its tags (`listener_ids`, `member_ids` and
/// `healthmonitor_id` are derived: set the listener's `default_pool_id`
/// to attach it).
pub async fn insert(tx: &mut Tx, p: &Pool) -> Result<(), StoreError> {
    let sp = p.session_persistence.as_ref();
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_pools (id, project_id, load_balancer_id, name, description, enabled, \
         provisioning_status, operating_status, protocol, lb_algorithm, sp_type, sp_cookie_name, \
         sp_timeout, sp_granularity, tls_enabled, tls_certificate_id, ca_tls_certificate_id, \
         crl_container_id, tls_ciphers, tls_versions, alpn_protocols, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
         $20, $21, $22, $23)")
        .bind(&p.id).bind(&p.project_id).bind(&p.load_balancer_id).bind(&p.name).bind(&p.description)
        .bind(p.admin_state_up).bind(p.provisioning_status.as_str()).bind(p.operating_status.as_str())
        .bind(p.protocol.as_str()).bind(p.lb_algorithm.as_str())
        .bind(sp.map(|s| s.sp_type.as_str())).bind(sp.and_then(|s| s.cookie_name.as_deref()))
        .bind(sp.and_then(|s| s.persistence_timeout))
        .bind(sp.and_then(|s| s.persistence_granularity.as_deref()))
        .bind(p.tls_enabled).bind(&p.tls_container_ref).bind(&p.ca_tls_container_ref)
        .bind(&p.crl_container_ref).bind(&p.tls_ciphers)
        .bind(p.tls_versions.as_ref().map(to_json)).bind(p.alpn_protocols.as_ref().map(to_json))
        .bind(&p.created_at).bind(&p.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    tags::replace(tx, Object::Pool, &p.id, &p.tags).await
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Pool>, StoreError> {
    Ok(fetch(&mut Reader::new(db).await?, &Filter::id(id))
        .await?
        .pop())
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<Pool>, StoreError> {
    Ok(fetch(tx, &Filter::id(id)).await?.pop())
}

/// One project's pools, or all (`None`), oldest first.
pub async fn list(db: &Db, project: Option<&str>) -> Result<Vec<Pool>, StoreError> {
    fetch(&mut Reader::new(db).await?, &Filter::project(project)).await
}

/// The pools of one load balancer, oldest first.
pub async fn list_by_lb(db: &Db, lb_id: &str) -> Result<Vec<Pool>, StoreError> {
    let f = Filter::column("load_balancer_id = $1", lb_id);
    fetch(&mut Reader::new(db).await?, &f).await
}

pub async fn list_by_lb_tx(tx: &mut Tx, lb_id: &str) -> Result<Vec<Pool>, StoreError> {
    fetch(tx, &Filter::column("load_balancer_id = $1", lb_id)).await
}

/// Writes every mutable attribute (all but id, project, load balancer,
/// protocol and creation time) and the tags. Returns whether it exists.
pub async fn update(tx: &mut Tx, p: &Pool) -> Result<bool, StoreError> {
    let sp = p.session_persistence.as_ref();
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_pools SET name = $2, description = $3, enabled = $4, provisioning_status = $5, \
         operating_status = $6, lb_algorithm = $7, sp_type = $8, sp_cookie_name = $9, sp_timeout = $10, \
         sp_granularity = $11, tls_enabled = $12, tls_certificate_id = $13, ca_tls_certificate_id = $14, \
         crl_container_id = $15, tls_ciphers = $16, tls_versions = $17, alpn_protocols = $18, \
         updated_at = $19 WHERE id = $1")
        .bind(&p.id).bind(&p.name).bind(&p.description).bind(p.admin_state_up)
        .bind(p.provisioning_status.as_str()).bind(p.operating_status.as_str()).bind(p.lb_algorithm.as_str())
        .bind(sp.map(|s| s.sp_type.as_str())).bind(sp.and_then(|s| s.cookie_name.as_deref()))
        .bind(sp.and_then(|s| s.persistence_timeout))
        .bind(sp.and_then(|s| s.persistence_granularity.as_deref()))
        .bind(p.tls_enabled).bind(&p.tls_container_ref).bind(&p.ca_tls_container_ref)
        .bind(&p.crl_container_ref).bind(&p.tls_ciphers)
        .bind(p.tls_versions.as_ref().map(to_json)).bind(p.alpn_protocols.as_ref().map(to_json))
        .bind(&p.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    tags::replace(tx, Object::Pool, &p.id, &p.tags).await?;
    Ok(true)
}

/// Deletes a pool with its members and health monitor (foreign keys) and
/// their tags; listeners using it as default pool lose it (`SET NULL`).
/// An L7 policy still redirecting to it makes this fail with a foreign
/// key violation ([`StoreError::Conflict`]): the API checks first and
/// answers PoolInUseByL7Policy. Returns whether it existed.
pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    tags::delete_where(
        tx,
        Object::Member,
        "SELECT id FROM lb_members WHERE pool_id = $1",
        &[id],
    )
    .await?;
    tags::delete_where(
        tx,
        Object::HealthMonitor,
        "SELECT id FROM lb_health_monitors WHERE pool_id = $1",
        &[id],
    )
    .await?;
    tags::delete_where(
        tx,
        Object::Pool,
        "SELECT id FROM lb_pools WHERE id = $1",
        &[id],
    )
    .await?;
    Ok(execute(tx, "DELETE FROM lb_pools WHERE id = $1", &[id]).await? == 1)
}
