//! Every SQL statement of the identity service. Queries are written once
//! with `$N` placeholders and run on SQLite or PostgreSQL via `dispatch!`.
//! Optional list filters use `($N IS NULL OR col = $N)` so that the SQL
//! stays static.

use neutrino_store::{Db, StoreError, dispatch, now_timestamp};

type Result<T> = std::result::Result<T, StoreError>;

/// Commits a transaction that may change what validating a token yields,
/// bumping `identity_epoch` in it. The bump is the last statement so the
/// counter's row lock is the last one taken, and held only to the commit.
async fn commit_changed(mut tx: neutrino_store::Tx) -> Result<()> {
    dispatch!(tx.conn(), c => sqlx::query("UPDATE identity_epoch SET value = value + 1 WHERE id = 1")
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await
}

/// The current `identity_epoch`: one primary-key read of a one-row table.
pub async fn epoch(db: &Db) -> Result<i64> {
    Ok(dispatch!(db.read(), c => sqlx::query_scalar::<_, i64>(
        "SELECT value FROM identity_epoch WHERE id = 1")
        .fetch_one(c).await)?)
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct DomainRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    /// JSON array of strings.
    pub tags: String,
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct ProjectRow {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub parent_id: Option<String>,
    pub tags: String,
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct UserRow {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub enabled: bool,
    pub password_hash: Option<String>,
    pub default_project_id: Option<String>,
    /// JSON object of the attributes Keystone keeps verbatim.
    pub extra: String,
    pub revoked_before: i64,
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct RoleRow {
    pub id: String,
    pub name: String,
    /// '' for a global role.
    pub domain_id: String,
    pub description: Option<String>,
}

#[derive(sqlx::FromRow, Clone, Debug, PartialEq, Eq)]
pub struct AssignmentRow {
    pub user_id: String,
    pub target_kind: String,
    pub target_id: String,
    pub role_id: String,
}

pub const TARGET_PROJECT: &str = "project";
pub const TARGET_DOMAIN: &str = "domain";
pub const TARGET_SYSTEM: &str = "system";
pub const SYSTEM_ALL: &str = "all";

// sqlx wants static SQL; these macros splice the column lists in at
// compile time.
macro_rules! select_domain {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, description, enabled, tags FROM identity_domains ",
            $tail
        )
    };
}
macro_rules! select_project { ($tail:literal) => { concat!("SELECT id, domain_id, name, description, enabled, parent_id, tags FROM identity_projects ", $tail) } }
macro_rules! select_user { ($tail:literal) => { concat!("SELECT id, domain_id, name, enabled, password_hash, default_project_id, extra, revoked_before FROM identity_users ", $tail) } }
macro_rules! select_role {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, domain_id, description FROM identity_roles ",
            $tail
        )
    };
}

// ---------------------------------------------------------------- domains

pub async fn insert_domain(db: &Db, d: &DomainRow) -> Result<()> {
    let mut tx = db.begin().await?;
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO identity_domains (id, name, description, enabled, tags, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&d.id).bind(&d.name).bind(&d.description).bind(d.enabled).bind(&d.tags)
        .bind(now_timestamp())
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await
}

pub async fn get_domain(db: &Db, id: &str) -> Result<Option<DomainRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, DomainRow>(select_domain!("WHERE id = $1"))
        .bind(id).fetch_optional(c).await)?,
    )
}

pub async fn get_domain_by_name(db: &Db, name: &str) -> Result<Option<DomainRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, DomainRow>(select_domain!("WHERE name = $1"))
        .bind(name).fetch_optional(c).await)?,
    )
}

pub async fn list_domains(
    db: &Db,
    name: Option<&str>,
    enabled: Option<bool>,
) -> Result<Vec<DomainRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, DomainRow>(select_domain!(
        "WHERE ($1 IS NULL OR name = $1) AND ($2 IS NULL OR enabled = $2) ORDER BY name, id"))
        .bind(name).bind(enabled).fetch_all(c).await)?,
    )
}

pub async fn update_domain(db: &Db, d: &DomainRow) -> Result<bool> {
    let mut tx = db.begin().await?;
    let r = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE identity_domains SET name = $2, description = $3, enabled = $4, tags = $5 WHERE id = $1")
        .bind(&d.id).bind(&d.name).bind(&d.description).bind(d.enabled).bind(&d.tags)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(r > 0)
}

/// Deletes a domain with everything in it, as Keystone does.
pub async fn delete_domain(db: &Db, id: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    for sql in [
        "DELETE FROM identity_assignments WHERE target_kind = 'domain' AND target_id = $1",
        "DELETE FROM identity_assignments WHERE target_kind = 'project' AND target_id IN \
         (SELECT id FROM identity_projects WHERE domain_id = $1)",
        "DELETE FROM identity_assignments WHERE user_id IN \
         (SELECT id FROM identity_users WHERE domain_id = $1)",
        "DELETE FROM identity_projects WHERE domain_id = $1",
        "DELETE FROM identity_users WHERE domain_id = $1",
        "DELETE FROM identity_roles WHERE domain_id = $1",
    ] {
        dispatch!(tx.conn(), c => sqlx::query(sql).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    let r = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM identity_domains WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(r > 0)
}

// ---------------------------------------------------------------- projects

pub async fn insert_project(db: &Db, p: &ProjectRow) -> Result<()> {
    let mut tx = db.begin().await?;
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO identity_projects (id, domain_id, name, description, enabled, parent_id, tags, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&p.id).bind(&p.domain_id).bind(&p.name).bind(&p.description).bind(p.enabled)
        .bind(&p.parent_id).bind(&p.tags).bind(now_timestamp())
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await
}

pub async fn get_project(db: &Db, id: &str) -> Result<Option<ProjectRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, ProjectRow>(select_project!("WHERE id = $1"))
        .bind(id).fetch_optional(c).await)?,
    )
}

pub async fn get_project_by_name(
    db: &Db,
    domain_id: &str,
    name: &str,
) -> Result<Option<ProjectRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, ProjectRow>(select_project!(
        "WHERE domain_id = $1 AND name = $2"))
        .bind(domain_id).bind(name).fetch_optional(c).await)?,
    )
}

#[derive(Default)]
pub struct ProjectFilter<'a> {
    pub name: Option<&'a str>,
    pub domain_id: Option<&'a str>,
    pub parent_id: Option<&'a str>,
    pub enabled: Option<bool>,
}

pub async fn list_projects(db: &Db, f: &ProjectFilter<'_>) -> Result<Vec<ProjectRow>> {
    // A top-level project's parent is reported as its domain, so a parent
    // filter naming a domain matches projects stored with no parent.
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, ProjectRow>(select_project!(
        "WHERE ($1 IS NULL OR name = $1) AND ($2 IS NULL OR domain_id = $2) \
         AND ($3 IS NULL OR parent_id = $3 OR (parent_id IS NULL AND domain_id = $3)) \
         AND ($4 IS NULL OR enabled = $4) ORDER BY name, id"))
        .bind(f.name).bind(f.domain_id).bind(f.parent_id).bind(f.enabled)
        .fetch_all(c).await)?,
    )
}

pub async fn update_project(db: &Db, p: &ProjectRow) -> Result<bool> {
    let mut tx = db.begin().await?;
    let r = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE identity_projects SET name = $2, description = $3, enabled = $4, tags = $5 WHERE id = $1")
        .bind(&p.id).bind(&p.name).bind(&p.description).bind(p.enabled).bind(&p.tags)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(r > 0)
}

pub async fn count_child_projects(db: &Db, id: &str) -> Result<i64> {
    Ok(dispatch!(db.read(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM identity_projects WHERE parent_id = $1")
        .bind(id).fetch_one(c).await)?)
}

pub async fn delete_project(db: &Db, id: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM identity_assignments WHERE target_kind = 'project' AND target_id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let r = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM identity_projects WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(r > 0)
}

/// Projects on which the user holds at least one role.
pub async fn projects_of_user(db: &Db, user_id: &str) -> Result<Vec<ProjectRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, ProjectRow>(select_project!(
        "WHERE id IN (SELECT target_id FROM identity_assignments \
                      WHERE user_id = $1 AND target_kind = 'project') ORDER BY name, id"))
        .bind(user_id).fetch_all(c).await)?,
    )
}

/// Domains on which the user holds at least one role.
pub async fn domains_of_user(db: &Db, user_id: &str) -> Result<Vec<DomainRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, DomainRow>(select_domain!(
        "WHERE id IN (SELECT target_id FROM identity_assignments \
                      WHERE user_id = $1 AND target_kind = 'domain') ORDER BY name, id"))
        .bind(user_id).fetch_all(c).await)?,
    )
}

// ---------------------------------------------------------------- users

pub async fn insert_user(db: &Db, u: &UserRow) -> Result<()> {
    let mut tx = db.begin().await?;
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO identity_users (id, domain_id, name, enabled, password_hash, default_project_id, \
                                     extra, revoked_before, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&u.id).bind(&u.domain_id).bind(&u.name).bind(u.enabled).bind(&u.password_hash)
        .bind(&u.default_project_id).bind(&u.extra).bind(u.revoked_before).bind(now_timestamp())
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await
}

pub async fn get_user(db: &Db, id: &str) -> Result<Option<UserRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, UserRow>(select_user!("WHERE id = $1"))
        .bind(id).fetch_optional(c).await)?,
    )
}

pub async fn get_user_by_name(db: &Db, domain_id: &str, name: &str) -> Result<Option<UserRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, UserRow>(select_user!(
        "WHERE domain_id = $1 AND name = $2"))
        .bind(domain_id).bind(name).fetch_optional(c).await)?,
    )
}

pub async fn list_users(
    db: &Db,
    name: Option<&str>,
    domain_id: Option<&str>,
    enabled: Option<bool>,
) -> Result<Vec<UserRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, UserRow>(select_user!(
        "WHERE ($1 IS NULL OR name = $1) AND ($2 IS NULL OR domain_id = $2) \
         AND ($3 IS NULL OR enabled = $3) ORDER BY name, id"))
        .bind(name).bind(domain_id).bind(enabled).fetch_all(c).await)?,
    )
}

pub async fn update_user(db: &Db, u: &UserRow) -> Result<bool> {
    let mut tx = db.begin().await?;
    let r = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE identity_users SET name = $2, enabled = $3, password_hash = $4, \
                default_project_id = $5, extra = $6, revoked_before = $7 WHERE id = $1")
        .bind(&u.id).bind(&u.name).bind(u.enabled).bind(&u.password_hash)
        .bind(&u.default_project_id).bind(&u.extra).bind(u.revoked_before)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(r > 0)
}

pub async fn delete_user(db: &Db, id: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    dispatch!(tx.conn(), c => sqlx::query("DELETE FROM identity_assignments WHERE user_id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let r = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM identity_users WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(r > 0)
}

// ---------------------------------------------------------------- roles

pub async fn insert_role(db: &Db, r: &RoleRow) -> Result<()> {
    let mut tx = db.begin().await?;
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO identity_roles (id, name, domain_id, description, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&r.id).bind(&r.name).bind(&r.domain_id).bind(&r.description).bind(now_timestamp())
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await
}

pub async fn get_role(db: &Db, id: &str) -> Result<Option<RoleRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, RoleRow>(select_role!("WHERE id = $1"))
        .bind(id).fetch_optional(c).await)?,
    )
}

/// A global role by name.
pub async fn get_role_by_name(db: &Db, name: &str) -> Result<Option<RoleRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, RoleRow>(select_role!(
        "WHERE name = $1 AND domain_id = ''"))
        .bind(name).fetch_optional(c).await)?,
    )
}

pub async fn list_roles(
    db: &Db,
    name: Option<&str>,
    domain_id: Option<&str>,
) -> Result<Vec<RoleRow>> {
    // Without a domain filter Keystone lists the global roles only.
    let domain_id = domain_id.unwrap_or("");
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, RoleRow>(select_role!(
        "WHERE ($1 IS NULL OR name = $1) AND domain_id = $2 ORDER BY name, id"))
        .bind(name).bind(domain_id).fetch_all(c).await)?,
    )
}

pub async fn update_role(db: &Db, r: &RoleRow) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE identity_roles SET name = $2, description = $3 WHERE id = $1")
        .bind(&r.id).bind(&r.name).bind(&r.description)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(n > 0)
}

pub async fn delete_role(db: &Db, id: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    for sql in [
        "DELETE FROM identity_assignments WHERE role_id = $1",
        "DELETE FROM identity_implied_roles WHERE prior_role_id = $1 OR implied_role_id = $1",
    ] {
        dispatch!(tx.conn(), c => sqlx::query(sql).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    let n = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM identity_roles WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(n > 0)
}

/// All (prior, implied) pairs; the table is tiny.
pub async fn list_implied_roles(db: &Db) -> Result<Vec<(String, String)>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, (String, String)>(
        "SELECT prior_role_id, implied_role_id FROM identity_implied_roles ORDER BY prior_role_id, implied_role_id")
        .fetch_all(c).await)?,
    )
}

/// Every implication as (prior id, implied id, implied name).
pub async fn implied_role_edges(db: &Db) -> Result<Vec<(String, String, String)>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, (String, String, String)>(
        "SELECT i.prior_role_id, r.id, r.name FROM identity_implied_roles i \
         JOIN identity_roles r ON r.id = i.implied_role_id ORDER BY r.name")
        .fetch_all(c).await)?,
    )
}

/// Returns whether the rule is new.
pub async fn add_implied_role(db: &Db, prior: &str, implied: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO identity_implied_roles (prior_role_id, implied_role_id) VALUES ($1, $2) \
         ON CONFLICT DO NOTHING")
        .bind(prior).bind(implied).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(n > 0)
}

pub async fn delete_implied_role(db: &Db, prior: &str, implied: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM identity_implied_roles WHERE prior_role_id = $1 AND implied_role_id = $2")
        .bind(prior).bind(implied).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(n > 0)
}

// ---------------------------------------------------------------- assignments

/// Returns whether the assignment is new.
pub async fn grant(
    db: &Db,
    user_id: &str,
    kind: &str,
    target_id: &str,
    role_id: &str,
) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO identity_assignments (user_id, target_kind, target_id, role_id) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(user_id).bind(kind).bind(target_id).bind(role_id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(n > 0)
}

pub async fn revoke_grant(
    db: &Db,
    user_id: &str,
    kind: &str,
    target_id: &str,
    role_id: &str,
) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM identity_assignments \
         WHERE user_id = $1 AND target_kind = $2 AND target_id = $3 AND role_id = $4")
        .bind(user_id).bind(kind).bind(target_id).bind(role_id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await?;
    Ok(n > 0)
}

#[derive(Default)]
pub struct AssignmentFilter<'a> {
    pub user_id: Option<&'a str>,
    pub target_kind: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub role_id: Option<&'a str>,
}

pub async fn list_assignments(db: &Db, f: &AssignmentFilter<'_>) -> Result<Vec<AssignmentRow>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, AssignmentRow>(
        "SELECT user_id, target_kind, target_id, role_id FROM identity_assignments \
         WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR target_kind = $2) \
           AND ($3 IS NULL OR target_id = $3) AND ($4 IS NULL OR role_id = $4) \
         ORDER BY target_kind, target_id, user_id, role_id")
        .bind(f.user_id).bind(f.target_kind).bind(f.target_id).bind(f.role_id)
        .fetch_all(c).await)?,
    )
}

/// The roles directly assigned to a user on a target.
pub async fn direct_roles(
    db: &Db,
    user_id: &str,
    kind: &str,
    target_id: &str,
) -> Result<Vec<RoleRow>> {
    Ok(dispatch!(db.read(), c => sqlx::query_as::<_, RoleRow>(
        "SELECT r.id, r.name, r.domain_id, r.description FROM identity_assignments a \
         JOIN identity_roles r ON r.id = a.role_id \
         WHERE a.user_id = $1 AND a.target_kind = $2 AND a.target_id = $3 ORDER BY r.name, r.id")
        .bind(user_id).bind(kind).bind(target_id).fetch_all(c).await)?)
}

// ---------------------------------------------------------------- revocations

pub async fn revoke_token(db: &Db, audit_id: &str, expires_at: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO identity_revoked_tokens (audit_id, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(audit_id).bind(expires_at).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    commit_changed(tx).await
}

/// Whether any of the audit ids (a token's own, or its chain's) is revoked.
pub async fn is_revoked(db: &Db, audit_id: &str, chain_id: Option<&str>) -> Result<bool> {
    let n = dispatch!(db.read(), c => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM identity_revoked_tokens WHERE audit_id = $1 OR audit_id = $2")
        .bind(audit_id).bind(chain_id.unwrap_or(audit_id)).fetch_one(c).await)?;
    Ok(n > 0)
}

pub async fn prune_revocations(db: &Db, now: i64) -> Result<u64> {
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM identity_revoked_tokens WHERE expires_at < $1")
        .bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n)
}

// ---------------------------------------------------------------- regions

pub async fn ensure_region(db: &Db, id: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO identity_regions (id, description) VALUES ($1, '') ON CONFLICT DO NOTHING")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await
}

pub async fn list_regions(db: &Db) -> Result<Vec<String>> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_scalar::<_, String>("SELECT id FROM identity_regions ORDER BY id")
        .fetch_all(c).await)?,
    )
}
