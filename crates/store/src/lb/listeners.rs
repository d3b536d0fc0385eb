//! Listeners and their SNI certificate references (`lb_listener_sni`).

use neutrino_lb_types::enums::{
    ClientAuthentication, OperatingStatus, Protocol, ProvisioningStatus,
};
use neutrino_lb_types::model::Listener;

use super::{
    Exec, Filter, Object, Reader, derived, enum_col, execute, fetch_all, json_col, opt_json_col,
    tags,
};
use crate::rows::to_json;
use crate::{Db, StoreError, Tx, dispatch};

#[derive(sqlx::FromRow)]
struct ListenerRow {
    id: String,
    project_id: String,
    load_balancer_id: String,
    name: Option<String>,
    description: Option<String>,
    enabled: bool,
    provisioning_status: String,
    operating_status: String,
    protocol: String,
    protocol_port: i64,
    connection_limit: i64,
    default_pool_id: Option<String>,
    tls_certificate_id: Option<String>,
    client_ca_tls_certificate_id: Option<String>,
    client_authentication: String,
    client_crl_container_id: Option<String>,
    insert_headers: String,
    timeout_client_data: i64,
    timeout_member_connect: i64,
    timeout_member_data: i64,
    timeout_tcp_inspect: i64,
    allowed_cidrs: String,
    tls_ciphers: Option<String>,
    tls_versions: Option<String>,
    alpn_protocols: Option<String>,
    hsts_max_age: Option<i64>,
    hsts_include_subdomains: bool,
    hsts_preload: bool,
    created_at: String,
    updated_at: Option<String>,
}

const COLUMNS: &str = "id, project_id, load_balancer_id, name, description, enabled, \
     provisioning_status, operating_status, protocol, protocol_port, connection_limit, \
     default_pool_id, tls_certificate_id, client_ca_tls_certificate_id, client_authentication, \
     client_crl_container_id, insert_headers, timeout_client_data, timeout_member_connect, \
     timeout_member_data, timeout_tcp_inspect, allowed_cidrs, tls_ciphers, tls_versions, \
     alpn_protocols, hsts_max_age, hsts_include_subdomains, hsts_preload, created_at, updated_at";

pub(crate) async fn fetch(e: &mut impl Exec, f: &Filter<'_>) -> Result<Vec<Listener>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM lb_listeners WHERE {} ORDER BY created_at, id",
        f.sql
    );
    let rows: Vec<ListenerRow> = fetch_all(e, &sql, &f.binds).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sub = format!("SELECT id FROM lb_listeners WHERE {}", f.sql);
    let mut sni = derived(
        e,
        f,
        &format!(
            "SELECT listener_id, tls_container_id FROM lb_listener_sni \
                 WHERE listener_id IN ({sub}) ORDER BY listener_id, position"
        ),
    )
    .await?;
    let mut policies = derived(
        e,
        f,
        &format!(
            "SELECT listener_id, id FROM lb_l7policies WHERE listener_id IN ({sub}) \
                 ORDER BY listener_id, position, created_at, id"
        ),
    )
    .await?;
    let mut tags = tags::load(e, Object::Listener, f).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Listener {
                tags: tags.remove(&r.id).unwrap_or_default(),
                sni_container_refs: sni.remove(&r.id).unwrap_or_default(),
                l7policy_ids: policies.remove(&r.id).unwrap_or_default(),
                provisioning_status: enum_col(
                    "lb_listeners.provisioning_status",
                    &r.provisioning_status,
                    ProvisioningStatus::parse,
                )?,
                operating_status: enum_col(
                    "lb_listeners.operating_status",
                    &r.operating_status,
                    OperatingStatus::parse,
                )?,
                protocol: enum_col("lb_listeners.protocol", &r.protocol, Protocol::parse)?,
                client_authentication: enum_col(
                    "lb_listeners.client_authentication",
                    &r.client_authentication,
                    ClientAuthentication::parse,
                )?,
                insert_headers: json_col("lb_listeners.insert_headers", &r.insert_headers)?,
                allowed_cidrs: json_col("lb_listeners.allowed_cidrs", &r.allowed_cidrs)?,
                tls_versions: opt_json_col("lb_listeners.tls_versions", r.tls_versions.as_deref())?,
                alpn_protocols: opt_json_col(
                    "lb_listeners.alpn_protocols",
                    r.alpn_protocols.as_deref(),
                )?,
                id: r.id,
                project_id: r.project_id,
                load_balancer_id: r.load_balancer_id,
                name: r.name,
                description: r.description,
                admin_state_up: r.enabled,
                protocol_port: r.protocol_port,
                connection_limit: r.connection_limit,
                default_pool_id: r.default_pool_id,
                default_tls_container_ref: r.tls_certificate_id,
                client_ca_tls_container_ref: r.client_ca_tls_certificate_id,
                client_crl_container_ref: r.client_crl_container_id,
                timeout_client_data: r.timeout_client_data,
                timeout_member_connect: r.timeout_member_connect,
                timeout_member_data: r.timeout_member_data,
                timeout_tcp_inspect: r.timeout_tcp_inspect,
                tls_ciphers: r.tls_ciphers,
                hsts_max_age: r.hsts_max_age,
                hsts_include_subdomains: r.hsts_include_subdomains,
                hsts_preload: r.hsts_preload,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// Inserts a listener with its SNI references and tags (`l7policy_ids` is
/// derived, not written). A second listener with the same protocol and
/// port on the load balancer is a unique violation.
pub async fn insert(tx: &mut Tx, l: &Listener) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_listeners (id, project_id, load_balancer_id, name, description, enabled, \
         provisioning_status, operating_status, protocol, protocol_port, connection_limit, \
         default_pool_id, tls_certificate_id, client_ca_tls_certificate_id, client_authentication, \
         client_crl_container_id, insert_headers, timeout_client_data, timeout_member_connect, \
         timeout_member_data, timeout_tcp_inspect, allowed_cidrs, tls_ciphers, tls_versions, \
         alpn_protocols, hsts_max_age, hsts_include_subdomains, hsts_preload, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
         $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)")
        .bind(&l.id).bind(&l.project_id).bind(&l.load_balancer_id).bind(&l.name).bind(&l.description)
        .bind(l.admin_state_up).bind(l.provisioning_status.as_str()).bind(l.operating_status.as_str())
        .bind(l.protocol.as_str()).bind(l.protocol_port).bind(l.connection_limit)
        .bind(&l.default_pool_id).bind(&l.default_tls_container_ref)
        .bind(&l.client_ca_tls_container_ref).bind(l.client_authentication.as_str())
        .bind(&l.client_crl_container_ref).bind(to_json(&l.insert_headers))
        .bind(l.timeout_client_data).bind(l.timeout_member_connect).bind(l.timeout_member_data)
        .bind(l.timeout_tcp_inspect).bind(to_json(&l.allowed_cidrs)).bind(&l.tls_ciphers)
        .bind(l.tls_versions.as_ref().map(to_json)).bind(l.alpn_protocols.as_ref().map(to_json))
        .bind(l.hsts_max_age).bind(l.hsts_include_subdomains).bind(l.hsts_preload)
        .bind(&l.created_at).bind(&l.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    write_sni(tx, &l.id, &l.sni_container_refs).await?;
    tags::replace(tx, Object::Listener, &l.id, &l.tags).await
}

async fn write_sni(tx: &mut Tx, id: &str, refs: &[String]) -> Result<(), StoreError> {
    execute(
        tx,
        "DELETE FROM lb_listener_sni WHERE listener_id = $1",
        &[id],
    )
    .await?;
    for (position, r) in refs.iter().enumerate() {
        dispatch!(tx.conn(), c => sqlx::query(
            "INSERT INTO lb_listener_sni (listener_id, position, tls_container_id) VALUES ($1, $2, $3)")
            .bind(id).bind(position as i64).bind(r).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Listener>, StoreError> {
    Ok(fetch(&mut Reader::new(db).await?, &Filter::id(id))
        .await?
        .pop())
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<Listener>, StoreError> {
    Ok(fetch(tx, &Filter::id(id)).await?.pop())
}

/// One project's listeners, or all (`None`), oldest first.
pub async fn list(db: &Db, project: Option<&str>) -> Result<Vec<Listener>, StoreError> {
    fetch(&mut Reader::new(db).await?, &Filter::project(project)).await
}

/// The listeners of one load balancer, oldest first.
pub async fn list_by_lb(db: &Db, lb_id: &str) -> Result<Vec<Listener>, StoreError> {
    let f = Filter::column("load_balancer_id = $1", lb_id);
    fetch(&mut Reader::new(db).await?, &f).await
}

pub async fn list_by_lb_tx(tx: &mut Tx, lb_id: &str) -> Result<Vec<Listener>, StoreError> {
    fetch(tx, &Filter::column("load_balancer_id = $1", lb_id)).await
}

/// Writes every mutable attribute (all but id, project, load balancer,
/// protocol, port and creation time), the SNI list and the tags. Returns
/// whether the row exists.
pub async fn update(tx: &mut Tx, l: &Listener) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_listeners SET name = $2, description = $3, enabled = $4, provisioning_status = $5, \
         operating_status = $6, connection_limit = $7, default_pool_id = $8, tls_certificate_id = $9, \
         client_ca_tls_certificate_id = $10, client_authentication = $11, client_crl_container_id = $12, \
         insert_headers = $13, timeout_client_data = $14, timeout_member_connect = $15, \
         timeout_member_data = $16, timeout_tcp_inspect = $17, allowed_cidrs = $18, tls_ciphers = $19, \
         tls_versions = $20, alpn_protocols = $21, hsts_max_age = $22, hsts_include_subdomains = $23, \
         hsts_preload = $24, updated_at = $25 WHERE id = $1")
        .bind(&l.id).bind(&l.name).bind(&l.description).bind(l.admin_state_up)
        .bind(l.provisioning_status.as_str()).bind(l.operating_status.as_str())
        .bind(l.connection_limit).bind(&l.default_pool_id).bind(&l.default_tls_container_ref)
        .bind(&l.client_ca_tls_container_ref).bind(l.client_authentication.as_str())
        .bind(&l.client_crl_container_ref).bind(to_json(&l.insert_headers))
        .bind(l.timeout_client_data).bind(l.timeout_member_connect).bind(l.timeout_member_data)
        .bind(l.timeout_tcp_inspect).bind(to_json(&l.allowed_cidrs)).bind(&l.tls_ciphers)
        .bind(l.tls_versions.as_ref().map(to_json)).bind(l.alpn_protocols.as_ref().map(to_json))
        .bind(l.hsts_max_age).bind(l.hsts_include_subdomains).bind(l.hsts_preload)
        .bind(&l.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    write_sni(tx, &l.id, &l.sni_container_refs).await?;
    tags::replace(tx, Object::Listener, &l.id, &l.tags).await?;
    Ok(true)
}

/// Deletes a listener with its SNI rows, L7 policies and rules (foreign
/// keys) and all their tags; its default pool stays (§3.4). Returns
/// whether it existed.
pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    tags::delete_where(
        tx,
        Object::L7Rule,
        "SELECT r.id FROM lb_l7rules r JOIN lb_l7policies p ON p.id = r.l7policy_id WHERE p.listener_id = $1",
        &[id],
    )
    .await?;
    tags::delete_where(
        tx,
        Object::L7Policy,
        "SELECT id FROM lb_l7policies WHERE listener_id = $1",
        &[id],
    )
    .await?;
    tags::delete_where(
        tx,
        Object::Listener,
        "SELECT id FROM lb_listeners WHERE id = $1",
        &[id],
    )
    .await?;
    Ok(execute(tx, "DELETE FROM lb_listeners WHERE id = $1", &[id]).await? == 1)
}
