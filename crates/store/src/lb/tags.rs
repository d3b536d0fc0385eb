//! `lb_tags`: the tags of every load-balancer object, by resource type.
//! Written with the object (insert/update replace them), read with it.

use std::collections::HashMap;

use super::{Exec, Filter, Object, execute, fetch_all, group};
use crate::{StoreError, Tx};

/// Tags of the `object` rows `f` selects, by id, each list sorted.
pub(crate) async fn load(
    e: &mut impl Exec,
    object: Object,
    f: &Filter<'_>,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    if !f.lists {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT resource_id, tag FROM lb_tags WHERE resource_type = '{}' \
         AND resource_id IN (SELECT id FROM {} WHERE {}) ORDER BY resource_id, tag",
        object.tag_type(),
        object.table(),
        f.sql
    );
    Ok(group(fetch_all(e, &sql, &f.binds).await?))
}

/// Makes `tags` the tags of one object (duplicates stored once).
pub(crate) async fn replace(
    tx: &mut Tx,
    object: Object,
    id: &str,
    tags: &[String],
) -> Result<(), StoreError> {
    execute(
        tx,
        "DELETE FROM lb_tags WHERE resource_type = $1 AND resource_id = $2",
        &[object.tag_type(), id],
    )
    .await?;
    let mut unique: Vec<&str> = tags.iter().map(String::as_str).collect();
    unique.sort_unstable();
    unique.dedup();
    if unique.is_empty() {
        return Ok(());
    }
    let values = (0..unique.len())
        .map(|i| format!("($1, $2, ${})", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO lb_tags (resource_type, resource_id, tag) VALUES {values}");
    let mut binds = vec![object.tag_type(), id];
    binds.extend(unique);
    execute(tx, &sql, &binds).await?;
    Ok(())
}

/// Deletes the tags of the `object` rows selected by `ids_sql` (a
/// `SELECT id ...` over constant SQL with text parameters). Row deletes
/// cascade through foreign keys; tags have none, so each delete path
/// removes them first, while the rows still say whose they are.
pub(crate) async fn delete_where(
    tx: &mut Tx,
    object: Object,
    ids_sql: &str,
    binds: &[&str],
) -> Result<(), StoreError> {
    let n = binds.len();
    let sql = format!(
        "DELETE FROM lb_tags WHERE resource_type = ${} AND resource_id IN ({ids_sql})",
        n + 1
    );
    let mut all = binds.to_vec();
    all.push(object.tag_type());
    execute(tx, &sql, &all).await?;
    Ok(())
}
