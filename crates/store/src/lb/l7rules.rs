//! L7 rules.

use neutrino_lb_types::enums::{
    L7RuleCompareType, L7RuleType, OperatingStatus, ProvisioningStatus,
};
use neutrino_lb_types::model::L7Rule;

use super::{Exec, Filter, Object, Reader, enum_col, execute, fetch_all, tags};
use crate::{Db, StoreError, Tx, dispatch};

#[derive(sqlx::FromRow)]
struct L7RuleRow {
    id: String,
    project_id: String,
    l7policy_id: String,
    enabled: bool,
    provisioning_status: String,
    operating_status: String,
    #[sqlx(rename = "type")]
    rule_type: String,
    compare_type: String,
    key: Option<String>,
    value: String,
    invert: bool,
    created_at: String,
    updated_at: Option<String>,
}

const COLUMNS: &str = "id, project_id, l7policy_id, enabled, provisioning_status, \
     operating_status, type, compare_type, key, value, invert, created_at, updated_at";

pub(crate) async fn fetch(e: &mut impl Exec, f: &Filter<'_>) -> Result<Vec<L7Rule>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM lb_l7rules WHERE {} ORDER BY created_at, id",
        f.sql
    );
    let rows: Vec<L7RuleRow> = fetch_all(e, &sql, &f.binds).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut tags = tags::load(e, Object::L7Rule, f).await?;
    rows.into_iter()
        .map(|r| {
            Ok(L7Rule {
                tags: tags.remove(&r.id).unwrap_or_default(),
                provisioning_status: enum_col(
                    "lb_l7rules.provisioning_status",
                    &r.provisioning_status,
                    ProvisioningStatus::parse,
                )?,
                operating_status: enum_col(
                    "lb_l7rules.operating_status",
                    &r.operating_status,
                    OperatingStatus::parse,
                )?,
                rule_type: enum_col("lb_l7rules.type", &r.rule_type, L7RuleType::parse)?,
                compare_type: enum_col(
                    "lb_l7rules.compare_type",
                    &r.compare_type,
                    L7RuleCompareType::parse,
                )?,
                id: r.id,
                project_id: r.project_id,
                l7policy_id: r.l7policy_id,
                admin_state_up: r.enabled,
                key: r.key,
                value: r.value,
                invert: r.invert,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

pub async fn insert(tx: &mut Tx, r: &L7Rule) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_l7rules (id, project_id, l7policy_id, enabled, provisioning_status, \
         operating_status, type, compare_type, key, value, invert, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        .bind(&r.id).bind(&r.project_id).bind(&r.l7policy_id).bind(r.admin_state_up)
        .bind(r.provisioning_status.as_str()).bind(r.operating_status.as_str())
        .bind(r.rule_type.as_str()).bind(r.compare_type.as_str()).bind(&r.key).bind(&r.value)
        .bind(r.invert).bind(&r.created_at).bind(&r.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    tags::replace(tx, Object::L7Rule, &r.id, &r.tags).await
}

pub async fn get(db: &Db, id: &str) -> Result<Option<L7Rule>, StoreError> {
    Ok(fetch(&mut Reader::new(db).await?, &Filter::id(id))
        .await?
        .pop())
}

pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<L7Rule>, StoreError> {
    Ok(fetch(tx, &Filter::id(id)).await?.pop())
}

/// One project's rules, or all (`None`), oldest first.
pub async fn list(db: &Db, project: Option<&str>) -> Result<Vec<L7Rule>, StoreError> {
    fetch(&mut Reader::new(db).await?, &Filter::project(project)).await
}

/// The rules of one policy, oldest first.
pub async fn list_by_policy(db: &Db, l7policy_id: &str) -> Result<Vec<L7Rule>, StoreError> {
    let f = Filter::column("l7policy_id = $1", l7policy_id);
    fetch(&mut Reader::new(db).await?, &f).await
}

/// How many rules a policy has (the 50-rule limit), in the transaction.
pub async fn count_by_policy_tx(tx: &mut Tx, l7policy_id: &str) -> Result<i64, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM lb_l7rules WHERE l7policy_id = $1")
        .bind(l7policy_id).fetch_one(&mut *c).await)?)
}

/// Writes every mutable attribute (all but id, project, policy and
/// creation time) and the tags. Returns whether it exists.
pub async fn update(tx: &mut Tx, r: &L7Rule) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_l7rules SET enabled = $2, provisioning_status = $3, operating_status = $4, type = $5, \
         compare_type = $6, key = $7, value = $8, invert = $9, updated_at = $10 WHERE id = $1")
        .bind(&r.id).bind(r.admin_state_up).bind(r.provisioning_status.as_str())
        .bind(r.operating_status.as_str()).bind(r.rule_type.as_str()).bind(r.compare_type.as_str())
        .bind(&r.key).bind(&r.value).bind(r.invert).bind(&r.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    tags::replace(tx, Object::L7Rule, &r.id, &r.tags).await?;
    Ok(true)
}

/// Deletes a rule and its tags. Returns whether it existed.
pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    tags::delete_where(
        tx,
        Object::L7Rule,
        "SELECT id FROM lb_l7rules WHERE id = $1",
        &[id],
    )
    .await?;
    Ok(execute(tx, "DELETE FROM lb_l7rules WHERE id = $1", &[id]).await? == 1)
}
