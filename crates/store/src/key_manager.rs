//! The key manager (a Barbican v1 subset): secrets, their payloads, and
//! containers naming secrets.
//!
//! Timestamps are naive UTC text with six fractional digits, so text
//! comparison is instant comparison; "now" comes from the caller, which
//! owns the format. An expired secret (expiration at or before now) is
//! invisible to every read here, as upstream's queries filter it out.

use std::collections::HashMap;

use crate::{Db, StoreError, Tx, dispatch};

pub mod acl;

/// A secret's metadata (the payload is read separately).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Secret {
    pub id: String,
    pub project_id: String,
    pub creator_id: String,
    pub name: Option<String>,
    pub secret_type: String,
    pub algorithm: Option<String>,
    pub bit_length: Option<i64>,
    pub mode: Option<String>,
    pub expiration: Option<String>,
    /// The normalised type the payload was stored as; `None` without one.
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub has_payload: bool,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

const SECRET_COLUMNS: &str = "id, project_id, creator_id, name, secret_type, algorithm, \
     bit_length, mode, expiration, content_type, content_encoding, \
     (payload IS NOT NULL) AS has_payload, status, created_at, updated_at";

/// Not expired at `$2`.
const LIVE: &str = "(expiration IS NULL OR expiration > $2)";

/// Stores a new secret, with its payload when it has one (`has_payload`
/// is ignored: the payload decides).
pub async fn insert_secret(
    tx: &mut Tx,
    s: &Secret,
    payload: Option<&[u8]>,
) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO km_secrets (id, project_id, creator_id, name, secret_type, algorithm, \
         bit_length, mode, expiration, payload, content_type, content_encoding, status, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
        .bind(&s.id).bind(&s.project_id).bind(&s.creator_id).bind(&s.name)
        .bind(&s.secret_type).bind(&s.algorithm).bind(s.bit_length).bind(&s.mode)
        .bind(&s.expiration).bind(payload).bind(&s.content_type).bind(&s.content_encoding)
        .bind(&s.status).bind(&s.created_at).bind(&s.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The live secret `id`, whatever its project.
pub async fn secret(db: &Db, id: &str, now: &str) -> Result<Option<Secret>, StoreError> {
    let sql = format!("SELECT {SECRET_COLUMNS} FROM km_secrets WHERE id = $1 AND {LIVE}");
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, Secret>(crate::rows::trusted(&sql))
        .bind(id).bind(now).fetch_optional(c).await)?,
    )
}

/// The live secret `id` and its payload (`None`: stored without one yet).
pub async fn secret_with_payload(
    db: &Db,
    id: &str,
    now: &str,
) -> Result<Option<(Secret, Option<Vec<u8>>)>, StoreError> {
    let Some(s) = secret(db, id, now).await? else {
        return Ok(None);
    };
    // A second read: the payload is never part of the metadata rows, and
    // a payload stored in between is only ever added (never changed).
    let payload: Option<Option<Vec<u8>>> = dispatch!(db.read(), c => sqlx::query_scalar(
        "SELECT payload FROM km_secrets WHERE id = $1")
        .bind(id).fetch_optional(c).await)?;
    match payload {
        Some(p) => {
            let has_payload = p.is_some();
            Ok(Some((Secret { has_payload, ..s }, p)))
        }
        None => Ok(None),
    }
}

/// Every live secret of a project, oldest first.
pub async fn secrets_of_project(
    db: &Db,
    project_id: &str,
    now: &str,
) -> Result<Vec<Secret>, StoreError> {
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM km_secrets WHERE project_id = $1 AND {LIVE} \
         ORDER BY created_at, id"
    );
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, Secret>(crate::rows::trusted(&sql))
        .bind(project_id).bind(now).fetch_all(c).await)?,
    )
}

/// The live secret `id`, locked for update or delete until the
/// transaction ends (PostgreSQL; SQLite's writer is exclusive already).
pub async fn lock_secret(tx: &mut Tx, id: &str, now: &str) -> Result<Option<Secret>, StoreError> {
    let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {SECRET_COLUMNS} FROM km_secrets WHERE id = $1 AND {LIVE}{lock}");
    Ok(
        dispatch!(tx.conn(), c => sqlx::query_as::<_, Secret>(crate::rows::trusted(&sql))
        .bind(id).bind(now).fetch_optional(&mut *c).await)?,
    )
}

/// Stores the payload of a secret that has none yet. False when it
/// already had one (or is gone): a payload is written once.
pub async fn store_payload(
    tx: &mut Tx,
    id: &str,
    payload: &[u8],
    content_type: &str,
    content_encoding: Option<&str>,
    updated_at: &str,
) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE km_secrets SET payload = $2, content_type = $3, content_encoding = $4, \
         updated_at = $5 WHERE id = $1 AND payload IS NULL")
        .bind(id).bind(payload).bind(content_type).bind(content_encoding).bind(updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes a secret; the containers naming it lose that reference.
pub async fn delete_secret(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM km_secrets WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Which of `ids` are live secrets of `project_id`; those are held (FOR
/// KEY SHARE on PostgreSQL) until the transaction ends, so a container
/// naming them cannot lose them to a concurrent delete before it commits.
pub async fn share_secrets(
    tx: &mut Tx,
    project_id: &str,
    ids: &[String],
    now: &str,
) -> Result<Vec<String>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sorted: Vec<&String> = ids.iter().collect();
    sorted.sort();
    sorted.dedup();
    let lock = if tx.is_postgres() {
        " FOR KEY SHARE"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id FROM km_secrets WHERE project_id = $1 AND (expiration IS NULL OR expiration > $2) \
         AND id IN ({}) ORDER BY id{lock}",
        crate::rows::placeholders(3, sorted.len())
    );
    Ok(dispatch!(tx.conn(), c => {
        let mut q = sqlx::query_scalar(crate::rows::trusted(&sql)).bind(project_id).bind(now);
        for id in &sorted { q = q.bind(*id); }
        q.fetch_all(&mut *c).await
    })?)
}

/// A container and the secrets it names, in the order given at creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub project_id: String,
    pub creator_id: String,
    pub name: Option<String>,
    pub container_type: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub secrets: Vec<ContainerSecret>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSecret {
    pub name: Option<String>,
    pub secret_id: String,
}

#[derive(sqlx::FromRow)]
struct ContainerRow {
    id: String,
    project_id: String,
    creator_id: String,
    name: Option<String>,
    container_type: String,
    status: String,
    created_at: String,
    updated_at: String,
}

#[derive(sqlx::FromRow)]
struct RefRow {
    container_id: String,
    secret_id: String,
    name: Option<String>,
}

const CONTAINER_COLUMNS: &str =
    "id, project_id, creator_id, name, container_type, status, created_at, updated_at";

fn container(r: ContainerRow, secrets: Vec<ContainerSecret>) -> Container {
    Container {
        id: r.id,
        project_id: r.project_id,
        creator_id: r.creator_id,
        name: r.name,
        container_type: r.container_type,
        status: r.status,
        created_at: r.created_at,
        updated_at: r.updated_at,
        secrets,
    }
}

fn by_container(refs: Vec<RefRow>) -> HashMap<String, Vec<ContainerSecret>> {
    let mut out: HashMap<String, Vec<ContainerSecret>> = HashMap::new();
    for r in refs {
        out.entry(r.container_id)
            .or_default()
            .push(ContainerSecret {
                name: r.name,
                secret_id: r.secret_id,
            });
    }
    out
}

/// Stores a new container and its secret references. The caller has
/// checked (and, through [`share_secrets`], holds) every secret named.
pub async fn insert_container(tx: &mut Tx, ct: &Container) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO km_containers (id, project_id, creator_id, name, container_type, status, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&ct.id).bind(&ct.project_id).bind(&ct.creator_id).bind(&ct.name)
        .bind(&ct.container_type).bind(&ct.status).bind(&ct.created_at).bind(&ct.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    for (position, s) in ct.secrets.iter().enumerate() {
        dispatch!(tx.conn(), c => sqlx::query(
            "INSERT INTO km_container_secrets (container_id, position, secret_id, name) \
             VALUES ($1, $2, $3, $4)")
            .bind(&ct.id).bind(position as i64).bind(&s.secret_id).bind(&s.name)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// The container `id`, whatever its project.
pub async fn get_container(db: &Db, id: &str) -> Result<Option<Container>, StoreError> {
    let sql = format!("SELECT {CONTAINER_COLUMNS} FROM km_containers WHERE id = $1");
    let row: Option<ContainerRow> = dispatch!(db.read(), c =>
        sqlx::query_as(crate::rows::trusted(&sql)).bind(id).fetch_optional(c).await)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let refs: Vec<RefRow> = dispatch!(db.read(), c => sqlx::query_as(
        "SELECT container_id, secret_id, name FROM km_container_secrets \
         WHERE container_id = $1 ORDER BY position")
        .bind(id).fetch_all(c).await)?;
    let secrets = by_container(refs).remove(id).unwrap_or_default();
    Ok(Some(container(row, secrets)))
}

/// Every container of a project, oldest first.
pub async fn containers_of_project(
    db: &Db,
    project_id: &str,
) -> Result<Vec<Container>, StoreError> {
    let sql = format!(
        "SELECT {CONTAINER_COLUMNS} FROM km_containers WHERE project_id = $1 \
         ORDER BY created_at, id"
    );
    let rows: Vec<ContainerRow> = dispatch!(db.read(), c =>
        sqlx::query_as(crate::rows::trusted(&sql)).bind(project_id).fetch_all(c).await)?;
    let refs: Vec<RefRow> = dispatch!(db.read(), c => sqlx::query_as(
        "SELECT cs.container_id, cs.secret_id, cs.name FROM km_container_secrets cs \
         JOIN km_containers ct ON ct.id = cs.container_id \
         WHERE ct.project_id = $1 ORDER BY cs.container_id, cs.position")
        .bind(project_id).fetch_all(c).await)?;
    let mut refs = by_container(refs);
    Ok(rows
        .into_iter()
        .map(|r| {
            let secrets = refs.remove(&r.id).unwrap_or_default();
            container(r, secrets)
        })
        .collect())
}

/// The container `id` (without its references), locked for delete until
/// the transaction ends (PostgreSQL).
pub async fn lock_container(tx: &mut Tx, id: &str) -> Result<Option<Container>, StoreError> {
    let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {CONTAINER_COLUMNS} FROM km_containers WHERE id = $1{lock}");
    let row: Option<ContainerRow> = dispatch!(tx.conn(), c =>
        sqlx::query_as(crate::rows::trusted(&sql)).bind(id).fetch_optional(&mut *c).await)?;
    Ok(row.map(|r| container(r, Vec::new())))
}

/// Deletes a container and its references (not the secrets).
pub async fn delete_container(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM km_containers WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
