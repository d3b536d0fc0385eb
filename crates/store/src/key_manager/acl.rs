//! ACLs of secrets and containers (Barbican's `secret_acls`,
//! `container_acls`): per operation, whether the owner project's members
//! keep access (`project_access`) and which users are granted it. No row
//! means upstream's default ACL (project access, no users).

use super::{LIVE, SECRET_COLUMNS, Secret};
use crate::{Db, StoreError, Tx, dispatch};

/// What an ACL is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    Secret,
    Container,
}

impl Entity {
    /// (object table, ACL table, users table, key column).
    fn tables(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Entity::Secret => (
                "km_secrets",
                "km_secret_acls",
                "km_secret_acl_users",
                "secret_id",
            ),
            Entity::Container => (
                "km_containers",
                "km_container_acls",
                "km_container_acl_users",
                "container_id",
            ),
        }
    }
}

/// One operation's ACL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acl {
    pub operation: String,
    pub project_access: bool,
    /// In the order first given, without repeats.
    pub users: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(sqlx::FromRow)]
struct AclRow {
    operation: String,
    project_access: bool,
    created_at: String,
    updated_at: String,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    operation: String,
    user_id: String,
}

fn assemble(rows: Vec<AclRow>, users: Vec<UserRow>) -> Vec<Acl> {
    rows.into_iter()
        .map(|r| Acl {
            users: users
                .iter()
                .filter(|u| u.operation == r.operation)
                .map(|u| u.user_id.clone())
                .collect(),
            operation: r.operation,
            project_access: r.project_access,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect()
}

fn select_sql(entity: Entity) -> (String, String) {
    let (_, acls, users, key) = entity.tables();
    (
        format!(
            "SELECT operation, project_access, created_at, updated_at FROM {acls} \
             WHERE {key} = $1 ORDER BY operation"
        ),
        format!(
            "SELECT operation, user_id FROM {users} WHERE {key} = $1 \
             ORDER BY operation, position"
        ),
    )
}

/// The ACLs of an object (empty: the default ACL).
pub async fn acls(db: &Db, entity: Entity, id: &str) -> Result<Vec<Acl>, StoreError> {
    let (acl_sql, user_sql) = select_sql(entity);
    let rows: Vec<AclRow> = dispatch!(db.read(), c =>
        sqlx::query_as(crate::rows::trusted(&acl_sql)).bind(id).fetch_all(c).await)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<UserRow> = dispatch!(db.read(), c =>
        sqlx::query_as(crate::rows::trusted(&user_sql)).bind(id).fetch_all(c).await)?;
    Ok(assemble(rows, users))
}

/// Creates or updates one operation's ACL, as upstream's
/// `create_or_replace_from`: `project_access` `None` keeps the current
/// flag (true for a new ACL); `users` `None` keeps the current users,
/// otherwise replaces them. The object's `updated_at` moves to `now`
/// too. The caller holds the object locked.
pub async fn put_acl(
    tx: &mut Tx,
    entity: Entity,
    id: &str,
    operation: &str,
    project_access: Option<bool>,
    users: Option<&[String]>,
    now: &str,
) -> Result<(), StoreError> {
    let (objects, acls, users_table, key) = entity.tables();
    let update = format!(
        "UPDATE {acls} SET project_access = COALESCE($3, project_access), updated_at = $4 \
         WHERE {key} = $1 AND operation = $2"
    );
    let n = dispatch!(tx.conn(), c => sqlx::query(crate::rows::trusted(&update))
        .bind(id).bind(operation).bind(project_access).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        let insert = format!(
            "INSERT INTO {acls} ({key}, operation, project_access, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)"
        );
        dispatch!(tx.conn(), c => sqlx::query(crate::rows::trusted(&insert))
            .bind(id).bind(operation).bind(project_access.unwrap_or(true)).bind(now)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    if let Some(users) = users {
        let delete = format!("DELETE FROM {users_table} WHERE {key} = $1 AND operation = $2");
        dispatch!(tx.conn(), c => sqlx::query(crate::rows::trusted(&delete))
            .bind(id).bind(operation).execute(&mut *c).await.map(|_| ()))?;
        let insert = format!(
            "INSERT INTO {users_table} ({key}, operation, user_id, position) \
             VALUES ($1, $2, $3, $4)"
        );
        let mut seen = std::collections::HashSet::new();
        for (position, user) in users.iter().filter(|u| seen.insert(*u)).enumerate() {
            dispatch!(tx.conn(), c => sqlx::query(crate::rows::trusted(&insert))
                .bind(id).bind(operation).bind(user).bind(position as i64)
                .execute(&mut *c).await.map(|_| ()))?;
        }
    }
    let touch = format!("UPDATE {objects} SET updated_at = $2 WHERE id = $1");
    dispatch!(tx.conn(), c => sqlx::query(crate::rows::trusted(&touch))
        .bind(id).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes an object's ACLs but those of `keep` (their users with them);
/// how many went.
pub async fn delete_acls(
    tx: &mut Tx,
    entity: Entity,
    id: &str,
    keep: &[&str],
) -> Result<u64, StoreError> {
    let (_, acls, _, key) = entity.tables();
    let sql = if keep.is_empty() {
        format!("DELETE FROM {acls} WHERE {key} = $1")
    } else {
        format!(
            "DELETE FROM {acls} WHERE {key} = $1 AND operation NOT IN ({})",
            crate::rows::placeholders(2, keep.len())
        )
    };
    Ok(dispatch!(tx.conn(), c => {
        let mut q = sqlx::query(crate::rows::trusted(&sql)).bind(id);
        for op in keep { q = q.bind(*op); }
        q.execute(&mut *c).await.map(|r| r.rows_affected())
    })?)
}

/// Every live secret, of any project, whose ACLs name `user_id`
/// (upstream's `acl_only` listing), oldest first.
pub async fn secrets_shared_with(
    db: &Db,
    user_id: &str,
    now: &str,
) -> Result<Vec<Secret>, StoreError> {
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM km_secrets WHERE id IN \
         (SELECT secret_id FROM km_secret_acl_users WHERE user_id = $1) AND {LIVE} \
         ORDER BY created_at, id"
    );
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, Secret>(crate::rows::trusted(&sql))
        .bind(user_id).bind(now).fetch_all(c).await)?,
    )
}
