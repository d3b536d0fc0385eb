//! The tags of every taggable resource, in one table keyed by resource type.

use std::collections::HashMap;

use crate::{Db, StoreError, Tx, dispatch};

/// All tags of one resource type, by resource id, each list sorted.
pub async fn for_type(
    db: &Db,
    resource_type: &str,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let rows: Vec<(String, String)> = dispatch!(db.read(), c => sqlx::query_as(
        "SELECT resource_id, tag FROM tags WHERE resource_type = $1 ORDER BY resource_id, tag")
        .bind(resource_type).fetch_all(c).await)?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (id, tag) in rows {
        out.entry(id).or_default().push(tag);
    }
    Ok(out)
}

/// Tags of the given resources, by id. Used instead of [`for_type`] when
/// only a handful of resources are wanted, so one read does not scan them all.
pub async fn for_ids(
    db: &Db,
    resource_type: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT resource_id, tag FROM tags WHERE resource_type = $1 AND resource_id IN ({}) ORDER BY resource_id, tag",
        crate::rows::placeholders(2, ids.len())
    );
    let rows: Vec<(String, String)> = dispatch!(db.read(), c => {
        let mut q = sqlx::query_as(crate::rows::trusted(&sql)).bind(resource_type);
        for i in ids { q = q.bind(i); }
        q.fetch_all(c).await
    })?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (id, tag) in rows {
        out.entry(id).or_default().push(tag);
    }
    Ok(out)
}

/// [`for_ids`] for short lists, [`for_type`] otherwise.
pub async fn for_some(
    db: &Db,
    resource_type: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    if ids.len() <= 500 {
        for_ids(db, resource_type, ids).await
    } else {
        for_type(db, resource_type).await
    }
}

pub async fn get(db: &Db, resource_type: &str, id: &str) -> Result<Vec<String>, StoreError> {
    Ok(dispatch!(db.read(), c => sqlx::query_scalar(
        "SELECT tag FROM tags WHERE resource_type = $1 AND resource_id = $2 ORDER BY tag")
        .bind(resource_type).bind(id).fetch_all(c).await)?)
}

pub async fn get_tx(tx: &mut Tx, resource_type: &str, id: &str) -> Result<Vec<String>, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT tag FROM tags WHERE resource_type = $1 AND resource_id = $2 ORDER BY tag")
        .bind(resource_type).bind(id).fetch_all(&mut *c).await)?)
}

/// Replaces the tag set of one resource.
pub async fn replace(
    tx: &mut Tx,
    resource_type: &str,
    id: &str,
    tags: &[String],
) -> Result<(), StoreError> {
    delete_all(tx, resource_type, id).await?;
    for t in tags {
        add(tx, resource_type, id, t).await?;
    }
    Ok(())
}

/// Adds one tag; adding an existing tag is a no-op.
pub async fn add(tx: &mut Tx, resource_type: &str, id: &str, tag: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO tags (resource_type, resource_id, tag) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(resource_type).bind(id).bind(tag).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn remove(
    tx: &mut Tx,
    resource_type: &str,
    id: &str,
    tag: &str,
) -> Result<bool, StoreError> {
    let res = dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM tags WHERE resource_type = $1 AND resource_id = $2 AND tag = $3")
        .bind(resource_type).bind(id).bind(tag).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(res > 0)
}

pub async fn delete_all(tx: &mut Tx, resource_type: &str, id: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query("DELETE FROM tags WHERE resource_type = $1 AND resource_id = $2")
        .bind(resource_type).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
