//! The start-up audit (design §7.2): nothing may stay PENDING_* without a
//! flow to settle it. Every PENDING_* status is written in the same
//! transaction as its flow, and the flow's last transaction writes the
//! final status, so this finds nothing unless there is a bug; if it does,
//! the objects go to ERROR (deletable) and the log says so loudly.

use neutrino_store::{Db, StoreError, lb::load_balancers};

/// Runs the audit once; returns how many objects it moved to ERROR.
pub async fn pending_without_flow(db: &Db) -> Result<u64, StoreError> {
    let mut tx = db.begin().await?;
    let n = load_balancers::error_pending_without_flow(&mut tx).await?;
    tx.commit().await?;
    if n > 0 {
        tracing::error!(
            objects = n,
            "load-balancer objects were PENDING without a flow; set to ERROR"
        );
    }
    Ok(n)
}
