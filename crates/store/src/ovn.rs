//! The data-plane journal, the sync lease, and what the data plane reports
//! back about ports.
//!
//! Journal rows are written by triggers (see the `ovn_journal` migration), so
//! this module only reads and deletes them.

use crate::{Db, StoreError, dispatch};

/// One journal row: re-read `object_type` `object_id` and realize it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct JournalEntry {
    pub seq: i64,
    pub object_type: String,
    pub object_id: String,
}

/// The oldest `limit` journal rows.
pub async fn pending(db: &Db, limit: i64) -> Result<Vec<JournalEntry>, StoreError> {
    Ok(dispatch!(db.read(), c => sqlx::query_as(
        "SELECT seq, object_type, object_id FROM ovn_journal ORDER BY seq LIMIT $1")
        .bind(limit).fetch_all(c).await)?)
}

pub async fn pending_count(db: &Db) -> Result<i64, StoreError> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_scalar("SELECT COUNT(*) FROM ovn_journal")
        .fetch_one(c).await)?,
    )
}

/// Deletes the rows that were processed (exactly those: rows committed
/// meanwhile, even with a lower sequence number, stay for the next pass).
pub async fn done(db: &Db, seqs: &[i64]) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    for chunk in seqs.chunks(500) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // Integers only: nothing from outside reaches this statement.
        let sql = format!("DELETE FROM ovn_journal WHERE seq IN ({list})");
        dispatch!(tx.conn(), c => sqlx::query(crate::rows::trusted(&sql)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    tx.commit().await
}

/// Empties the journal: for servers that drive no data plane, whose next
/// start with one begins with a full audit anyway.
pub async fn clear(db: &Db) -> Result<u64, StoreError> {
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM ovn_journal")
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n)
}

/// Takes or renews the sync lease for `holder` until `now + ttl` (unix
/// seconds). True when `holder` holds it afterwards.
pub async fn take_lease(db: &Db, holder: &str, now: i64, ttl: i64) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE ovn_sync_lease SET holder = $1, expires_at = $2 \
         WHERE id = 1 AND (holder = $1 OR expires_at < $3)")
        .bind(holder).bind(now + ttl).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n == 1)
}

/// Gives the lease up (on shutdown), so another server takes over at once.
pub async fn release_lease(db: &Db, holder: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE ovn_sync_lease SET holder = '', expires_at = 0 WHERE id = 1 AND holder = $1")
        .bind(holder).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await
}

/// What the data plane says about a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortBinding {
    pub status: String,
    pub host_id: String,
    pub vif_type: String,
    pub vif_details: serde_json::Value,
}

/// Records a port's binding as the data plane reports it. Only a real
/// change is written (and bumps the revision, as Neutron does for status
/// changes); returns whether anything changed.
pub async fn set_port_binding(
    db: &Db,
    port_id: &str,
    b: &PortBinding,
    now: &str,
) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let details = b.vif_details.to_string();
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE ports SET status = $2, binding_host_id = $3, binding_vif_type = $4, binding_vif_details = $5, \
         revision_number = revision_number + 1, updated_at = $6 \
         WHERE id = $1 AND (status <> $2 OR binding_host_id <> $3 OR binding_vif_type <> $4 OR binding_vif_details <> $5)")
        .bind(port_id).bind(&b.status).bind(&b.host_id).bind(&b.vif_type).bind(&details).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n > 0)
}

/// Every port's (id, status, binding host), to compare with the data plane.
pub async fn port_states(db: &Db) -> Result<Vec<(String, String, String)>, StoreError> {
    Ok(dispatch!(db.read(), c => sqlx::query_as(
        "SELECT id, status, binding_host_id FROM ports").fetch_all(c).await)?)
}
