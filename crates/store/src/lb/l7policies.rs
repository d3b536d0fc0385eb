//! L7 policies. Positions are compacted to 1..n per listener by the API,
//! in the writing transaction ([`set_positions`]).

use neutrino_lb_types::enums::{L7PolicyAction, OperatingStatus, ProvisioningStatus};
use neutrino_lb_types::model::L7Policy;

use super::{Exec, Filter, Object, Reader, derived, enum_col, execute, fetch_all, tags};
use crate::{Db, StoreError, Tx, dispatch};

#[derive(sqlx::FromRow)]
struct L7PolicyRow {
    id: String,
    project_id: String,
    listener_id: String,
    name: Option<String>,
    description: Option<String>,
    enabled: bool,
    provisioning_status: String,
    operating_status: String,
    action: String,
    redirect_pool_id: Option<String>,
    redirect_url: Option<String>,
    redirect_prefix: Option<String>,
    redirect_http_code: Option<i64>,
    position: i64,
    created_at: String,
    updated_at: Option<String>,
}

const COLUMNS: &str = "id, project_id, listener_id, name, description, enabled, \
     provisioning_status, operating_status, action, redirect_pool_id, redirect_url, \
     redirect_prefix, redirect_http_code, position, created_at, updated_at";

pub(crate) async fn fetch(e: &mut impl Exec, f: &Filter<'_>) -> Result<Vec<L7Policy>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM lb_l7policies WHERE {} ORDER BY created_at, id",
        f.sql
    );
    let rows: Vec<L7PolicyRow> = fetch_all(e, &sql, &f.binds).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut rules = derived(
        e,
        f,
        &format!(
            "SELECT l7policy_id, id FROM lb_l7rules WHERE l7policy_id IN \
                 (SELECT id FROM lb_l7policies WHERE {}) ORDER BY l7policy_id, created_at, id",
            f.sql
        ),
    )
    .await?;
    let mut tags = tags::load(e, Object::L7Policy, f).await?;
    rows.into_iter()
        .map(|r| {
            Ok(L7Policy {
                tags: tags.remove(&r.id).unwrap_or_default(),
                rule_ids: rules.remove(&r.id).unwrap_or_default(),
                provisioning_status: enum_col(
                    "lb_l7policies.provisioning_status",
                    &r.provisioning_status,
                    ProvisioningStatus::parse,
                )?,
                operating_status: enum_col(
                    "lb_l7policies.operating_status",
                    &r.operating_status,
                    OperatingStatus::parse,
                )?,
                action: enum_col("lb_l7policies.action", &r.action, L7PolicyAction::parse)?,
                id: r.id,
                project_id: r.project_id,
                listener_id: r.listener_id,
                name: r.name,
                description: r.description,
                admin_state_up: r.enabled,
                redirect_pool_id: r.redirect_pool_id,
                redirect_url: r.redirect_url,
                redirect_prefix: r.redirect_prefix,
                redirect_http_code: r.redirect_http_code,
                position: r.position,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// Inserts a policy and its tags (`rule_ids` is derived).
pub async fn insert(tx: &mut Tx, p: &L7Policy) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_l7policies (id, project_id, listener_id, name, description, enabled, \
         provisioning_status, operating_status, action, redirect_pool_id, redirect_url, \
         redirect_prefix, redirect_http_code, position, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
        .bind(&p.id).bind(&p.project_id).bind(&p.listener_id).bind(&p.name).bind(&p.description)
        .bind(p.admin_state_up).bind(p.provisioning_status.as_str()).bind(p.operating_status.as_str())
        .bind(p.action.as_str()).bind(&p.redirect_pool_id).bind(&p.redirect_url)
        .bind(&p.redirect_prefix).bind(p.redirect_http_code).bind(p.position)
        .bind(&p.created_at).bind(&p.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    tags::replace(tx, Object::L7Policy, &p.id, &p.tags).await
}

pub async fn get(db: &Db, id: &str) -> Result<Option<L7Policy>, StoreError> {
    Ok(fetch(&mut Reader::new(db).await?, &Filter::id(id))
        .await?
        .pop())
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<L7Policy>, StoreError> {
    Ok(fetch(tx, &Filter::id(id)).await?.pop())
}

/// One project's policies, or all (`None`), oldest first.
pub async fn list(db: &Db, project: Option<&str>) -> Result<Vec<L7Policy>, StoreError> {
    fetch(&mut Reader::new(db).await?, &Filter::project(project)).await
}

/// The policies of one listener, in position order (what renumbering
/// works from).
pub async fn list_by_listener_tx(
    tx: &mut Tx,
    listener_id: &str,
) -> Result<Vec<L7Policy>, StoreError> {
    let mut v = fetch(tx, &Filter::column("listener_id = $1", listener_id)).await?;
    v.sort_by(|a, b| (a.position, &a.created_at, &a.id).cmp(&(b.position, &b.created_at, &b.id)));
    Ok(v)
}

/// Renumbers a listener's policies: `ids[i]` gets position `i + 1`.
pub async fn set_positions(tx: &mut Tx, ids: &[&str]) -> Result<(), StoreError> {
    for (i, id) in ids.iter().enumerate() {
        dispatch!(tx.conn(), c => sqlx::query("UPDATE lb_l7policies SET position = $2 WHERE id = $1")
            .bind(*id).bind(i as i64 + 1).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// Writes every mutable attribute (all but id, project, listener and
/// creation time) and the tags. Returns whether it exists.
pub async fn update(tx: &mut Tx, p: &L7Policy) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_l7policies SET name = $2, description = $3, enabled = $4, provisioning_status = $5, \
         operating_status = $6, action = $7, redirect_pool_id = $8, redirect_url = $9, \
         redirect_prefix = $10, redirect_http_code = $11, position = $12, updated_at = $13 WHERE id = $1")
        .bind(&p.id).bind(&p.name).bind(&p.description).bind(p.admin_state_up)
        .bind(p.provisioning_status.as_str()).bind(p.operating_status.as_str()).bind(p.action.as_str())
        .bind(&p.redirect_pool_id).bind(&p.redirect_url).bind(&p.redirect_prefix)
        .bind(p.redirect_http_code).bind(p.position).bind(&p.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    tags::replace(tx, Object::L7Policy, &p.id, &p.tags).await?;
    Ok(true)
}

/// Renumbers a listener's policies 1..n in their current order (after
/// one of them is gone).
pub async fn renumber(tx: &mut Tx, listener_id: &str) -> Result<(), StoreError> {
    let policies = list_by_listener_tx(tx, listener_id).await?;
    let ids: Vec<&str> = policies.iter().map(|p| p.id.as_str()).collect();
    set_positions(tx, &ids).await
}

/// Deletes a policy with its rules (foreign key) and their tags, and
/// renumbers the rest of its listener's policies (upstream reorders when
/// the row goes, at the end of the delete flow). Returns whether it
/// existed.
pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    let listener: Option<String> = dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT listener_id FROM lb_l7policies WHERE id = $1")
        .bind(id).fetch_optional(&mut *c).await)?;
    tags::delete_where(
        tx,
        Object::L7Rule,
        "SELECT id FROM lb_l7rules WHERE l7policy_id = $1",
        &[id],
    )
    .await?;
    tags::delete_where(
        tx,
        Object::L7Policy,
        "SELECT id FROM lb_l7policies WHERE id = $1",
        &[id],
    )
    .await?;
    let existed = execute(tx, "DELETE FROM lb_l7policies WHERE id = $1", &[id]).await? == 1;
    if let Some(listener) = listener {
        renumber(tx, &listener).await?;
    }
    Ok(existed)
}
