//! Queries for security groups, their rules and the per-project default group.
//!
//! Two things here must hold when several API servers write at once, and
//! each is guarded by a unique index rather than by a read beforehand:
//! one default group per project (`security_groups_default`) and no two
//! equal rules in a group (`security_group_rules_key`).

use std::collections::HashMap;

use neutrino_types::model::{SecurityGroup, SecurityGroupRule};
use sqlx::FromRow;

use crate::rows::{placeholders, trusted};
use crate::{Db, StoreError, Tx, dispatch, tags};

/// The tag resource type of security groups (the URL collection name).
pub const TAG_TYPE: &str = "security-groups";

#[derive(FromRow)]
struct GroupRow {
    id: String,
    project_id: String,
    name: String,
    description: String,
    stateful: bool,
    is_default: bool,
    revision_number: i64,
    created_at: String,
    updated_at: String,
}

impl GroupRow {
    fn into_model(self) -> SecurityGroup {
        SecurityGroup {
            id: self.id,
            project_id: self.project_id,
            name: self.name,
            description: self.description,
            stateful: self.stateful,
            is_default: self.is_default,
            revision_number: self.revision_number,
            created_at: self.created_at,
            updated_at: self.updated_at,
            tags: Vec::new(),
            rules: Vec::new(),
        }
    }
}

const GROUP_COLUMNS: &str = "id, project_id, name, description, stateful, is_default, revision_number, created_at, updated_at";

#[derive(FromRow)]
struct RuleRow {
    id: String,
    project_id: String,
    security_group_id: String,
    direction: String,
    ethertype: String,
    protocol: Option<String>,
    port_range_min: Option<i64>,
    port_range_max: Option<i64>,
    remote_ip_prefix: Option<String>,
    remote_group_id: Option<String>,
    description: Option<String>,
    revision_number: i64,
    created_at: String,
    updated_at: String,
    belongs_to_default_sg: bool,
}

impl RuleRow {
    fn into_model(self) -> SecurityGroupRule {
        SecurityGroupRule {
            id: self.id,
            project_id: self.project_id,
            security_group_id: self.security_group_id,
            direction: self.direction,
            ethertype: self.ethertype,
            protocol: self.protocol,
            port_range_min: self.port_range_min,
            port_range_max: self.port_range_max,
            remote_ip_prefix: self.remote_ip_prefix,
            remote_group_id: self.remote_group_id,
            description: self.description,
            belongs_to_default_sg: self.belongs_to_default_sg,
            revision_number: self.revision_number,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Rule columns joined with their group (for `belongs_to_default_sg` and
/// the owner of the group).
const RULE_SELECT: &str = "SELECT r.id, r.project_id, r.security_group_id, r.direction, r.ethertype, r.protocol, \
     r.port_range_min, r.port_range_max, r.remote_ip_prefix, r.remote_group_id, r.description, \
     r.revision_number, r.created_at, r.updated_at, g.is_default AS belongs_to_default_sg \
     FROM security_group_rules r JOIN security_groups g ON g.id = r.security_group_id";

// ------------------------------------------------------------------ groups

/// Inserts a group row. `Ok(false)` when it is a default group and its
/// project already has one (the unique index decides).
pub async fn insert(tx: &mut Tx, g: &SecurityGroup) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO security_groups ({GROUP_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING"
    );
    let n = dispatch!(tx.conn(), c => sqlx::query(trusted(&sql))
        .bind(&g.id).bind(&g.project_id).bind(&g.name).bind(&g.description).bind(g.stateful)
        .bind(g.is_default).bind(g.revision_number).bind(&g.created_at).bind(&g.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The id of a project's default group, if it has one.
pub async fn default_id(db: &Db, project_id: &str) -> Result<Option<String>, StoreError> {
    Ok(dispatch!(db.read(), c => sqlx::query_scalar(
        "SELECT id FROM security_groups WHERE project_id = $1 AND is_default")
        .bind(project_id).fetch_optional(c).await)?)
}

pub async fn default_id_tx(tx: &mut Tx, project_id: &str) -> Result<Option<String>, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT id FROM security_groups WHERE project_id = $1 AND is_default")
        .bind(project_id).fetch_optional(&mut *c).await)?)
}

#[derive(Clone, Debug, Default)]
pub struct GroupQuery {
    /// `None` for admins; otherwise the only project whose groups are seen.
    pub visible_to: Option<String>,
    pub ids: Vec<String>,
}

/// Groups with their rules and tags.
pub async fn list(db: &Db, q: &GroupQuery) -> Result<Vec<SecurityGroup>, StoreError> {
    let mut sql = format!("SELECT {GROUP_COLUMNS} FROM security_groups WHERE TRUE");
    let mut args: Vec<String> = Vec::new();
    if let Some(p) = &q.visible_to {
        args.push(p.clone());
        sql.push_str(" AND project_id = $1");
    }
    if !q.ids.is_empty() {
        sql.push_str(&format!(
            " AND id IN ({})",
            placeholders(args.len() + 1, q.ids.len())
        ));
        args.extend(q.ids.iter().cloned());
    }
    sql.push_str(" ORDER BY id");
    let rows = dispatch!(db.read(), c => {
        let mut query = sqlx::query_as::<_, GroupRow>(trusted(&sql));
        for a in &args { query = query.bind(a); }
        query.fetch_all(c).await
    })?;
    let mut groups: Vec<SecurityGroup> = rows.into_iter().map(GroupRow::into_model).collect();
    if groups.is_empty() {
        return Ok(groups);
    }
    let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let rules = list_rules(
        db,
        &RuleQuery {
            security_group_ids: if ids.len() <= 50 {
                ids.clone()
            } else {
                Vec::new()
            },
            visible_to: q.visible_to.clone(),
            ..Default::default()
        },
    )
    .await?;
    let mut by_group: HashMap<String, Vec<SecurityGroupRule>> = HashMap::new();
    for r in rules {
        by_group
            .entry(r.security_group_id.clone())
            .or_default()
            .push(r);
    }
    let mut tag_map = tags::for_some(db, TAG_TYPE, &ids).await?;
    for g in &mut groups {
        g.rules = by_group.remove(&g.id).unwrap_or_default();
        g.tags = tag_map.remove(&g.id).unwrap_or_default();
    }
    Ok(groups)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<SecurityGroup>, StoreError> {
    let q = GroupQuery {
        ids: vec![id.to_string()],
        ..Default::default()
    };
    Ok(list(db, &q).await?.pop())
}

/// A group row (without rules and tags) inside a write transaction.
pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<SecurityGroup>, StoreError> {
    let sql = format!("SELECT {GROUP_COLUMNS} FROM security_groups WHERE id = $1");
    let row = dispatch!(tx.conn(), c => sqlx::query_as::<_, GroupRow>(trusted(&sql))
        .bind(id).fetch_optional(&mut *c).await)?;
    Ok(row.map(GroupRow::into_model))
}

/// The groups among `ids` that exist, as rows without rules. On PostgreSQL
/// the rows are share-locked until the transaction ends, so a concurrent
/// delete waits for us (and we never bind or reference a group that a
/// transaction committing under us has just deleted).
pub async fn lock(tx: &mut Tx, ids: &[String]) -> Result<Vec<SecurityGroup>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = format!(
        "SELECT {GROUP_COLUMNS} FROM security_groups WHERE id IN ({})",
        placeholders(1, ids.len())
    );
    if tx.is_postgres() {
        // SQLite has no row locks (nor the syntax): its writers are serialised.
        sql.push_str(" FOR KEY SHARE");
    }
    let rows = dispatch!(tx.conn(), c => {
        let mut query = sqlx::query_as::<_, GroupRow>(trusted(&sql));
        for i in ids { query = query.bind(i); }
        query.fetch_all(&mut *c).await
    })?;
    Ok(rows.into_iter().map(GroupRow::into_model).collect())
}

/// Writes name, description and statefulness and bumps the revision.
pub async fn update(tx: &mut Tx, g: &SecurityGroup) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE security_groups SET name = $2, description = $3, stateful = $4, \
         revision_number = revision_number + 1, updated_at = $5 WHERE id = $1")
        .bind(&g.id).bind(&g.name).bind(&g.description).bind(g.stateful).bind(&g.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Bumps the revision of a group whose rules or tags changed.
pub async fn touch(tx: &mut Tx, id: &str, now: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE security_groups SET revision_number = revision_number + 1, updated_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// How many ports are bound to a group.
pub async fn port_count(tx: &mut Tx, id: &str) -> Result<i64, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM port_security_groups WHERE security_group_id = $1")
        .bind(id).fetch_one(&mut *c).await)?)
}

pub enum DeleteGroup {
    Deleted,
    NotFound,
    /// A port is bound to it (seen by the foreign key, i.e. a binding that
    /// committed while we were deciding).
    InUse,
}

/// Deletes a group, its rules, the rules of other groups that name it as
/// their remote group, and its tags.
pub async fn delete(tx: &mut Tx, id: &str) -> Result<DeleteGroup, StoreError> {
    tags::delete_all(tx, TAG_TYPE, id).await?;
    dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM security_group_rules WHERE security_group_id = $1 OR remote_group_id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let res = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM security_groups WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()));
    match res {
        Ok(0) => Ok(DeleteGroup::NotFound),
        Ok(_) => Ok(DeleteGroup::Deleted),
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_foreign_key_violation()) =>
        {
            Ok(DeleteGroup::InUse)
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------ rules

/// Inserts a rule whose comparison form is `key`. `Ok(Some(id))` names the
/// equal rule already in the group (and nothing was inserted).
pub async fn insert_rule(
    tx: &mut Tx,
    r: &SecurityGroupRule,
    key: &str,
) -> Result<Option<String>, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO security_group_rules (id, project_id, security_group_id, direction, ethertype, protocol, \
         port_range_min, port_range_max, remote_ip_prefix, remote_group_id, description, rule_key, \
         revision_number, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) \
         ON CONFLICT (security_group_id, rule_key) DO NOTHING")
        .bind(&r.id).bind(&r.project_id).bind(&r.security_group_id).bind(&r.direction).bind(&r.ethertype)
        .bind(&r.protocol).bind(r.port_range_min).bind(r.port_range_max).bind(&r.remote_ip_prefix)
        .bind(&r.remote_group_id).bind(&r.description).bind(key).bind(r.revision_number)
        .bind(&r.created_at).bind(&r.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 1 {
        return Ok(None);
    }
    let existing: Option<String> = dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT id FROM security_group_rules WHERE security_group_id = $1 AND rule_key = $2")
        .bind(&r.security_group_id).bind(key).fetch_optional(&mut *c).await)?;
    // A conflict on anything but the rule key (a reused id) still refuses.
    Ok(Some(existing.unwrap_or_else(|| r.id.clone())))
}

#[derive(Clone, Debug, Default)]
pub struct RuleQuery {
    /// `None` for admins; otherwise the project whose groups' rules are seen.
    pub visible_to: Option<String>,
    pub ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

pub async fn list_rules(db: &Db, q: &RuleQuery) -> Result<Vec<SecurityGroupRule>, StoreError> {
    let mut sql = format!("{RULE_SELECT} WHERE TRUE");
    let mut args: Vec<String> = Vec::new();
    if let Some(p) = &q.visible_to {
        args.push(p.clone());
        sql.push_str(" AND g.project_id = $1");
    }
    for (col, vals) in [
        ("r.id", &q.ids),
        ("r.security_group_id", &q.security_group_ids),
    ] {
        if !vals.is_empty() {
            sql.push_str(&format!(
                " AND {col} IN ({})",
                placeholders(args.len() + 1, vals.len())
            ));
            args.extend(vals.iter().cloned());
        }
    }
    sql.push_str(" ORDER BY r.security_group_id, r.id");
    let rows = dispatch!(db.read(), c => {
        let mut query = sqlx::query_as::<_, RuleRow>(trusted(&sql));
        for a in &args { query = query.bind(a); }
        query.fetch_all(c).await
    })?;
    Ok(rows.into_iter().map(RuleRow::into_model).collect())
}

/// The rules of group `id`, inside a write transaction.
pub async fn rules_of_tx(tx: &mut Tx, id: &str) -> Result<Vec<SecurityGroupRule>, StoreError> {
    let sql = format!("{RULE_SELECT} WHERE r.security_group_id = $1 ORDER BY r.id");
    let rows = dispatch!(tx.conn(), c => sqlx::query_as::<_, RuleRow>(trusted(&sql))
        .bind(id).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(RuleRow::into_model).collect())
}

/// A rule and the project owning its group.
pub async fn get_rule(
    db: &Db,
    id: &str,
) -> Result<Option<(SecurityGroupRule, String)>, StoreError> {
    let owner: Option<String> = dispatch!(db.read(), c => sqlx::query_scalar(
        "SELECT g.project_id FROM security_group_rules r JOIN security_groups g ON g.id = r.security_group_id WHERE r.id = $1")
        .bind(id).fetch_optional(c).await)?;
    let Some(owner) = owner else { return Ok(None) };
    let q = RuleQuery {
        ids: vec![id.to_string()],
        ..Default::default()
    };
    Ok(list_rules(db, &q).await?.pop().map(|r| (r, owner)))
}

/// The group of a rule, inside a write transaction.
pub async fn rule_group_tx(tx: &mut Tx, id: &str) -> Result<Option<String>, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT security_group_id FROM security_group_rules WHERE id = $1")
        .bind(id).fetch_optional(&mut *c).await)?)
}

pub async fn delete_rule(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM security_group_rules WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
