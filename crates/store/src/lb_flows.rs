//! Persisted load-balancer flows (`lb_flows`, `lb_flow_steps`): the rows a
//! flow engine claims, advances and deletes.
//!
//! Every write that moves a flow on is conditional on the writer still
//! holding the flow's lease (`lease_holder = $holder`): a worker that lost
//! its lease (it stalled past the expiry and another server claimed the
//! flow) changes nothing and is told so by a `false`. Times are unix
//! milliseconds chosen by the caller, so leases can be tested without
//! waiting.

use serde_json::Value;

use crate::rows::to_json;
use crate::{Db, StoreError, Tx, dispatch, now_timestamp};

/// Which way a flow is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Executing steps from `cursor` upwards.
    Forward,
    /// Undoing steps from `cursor` down to 0.
    Revert,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Revert => "revert",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "forward" => Ok(Direction::Forward),
            "revert" => Ok(Direction::Revert),
            other => Err(decode_error(format!(
                "lb_flows.direction {other:?} is neither forward nor revert"
            ))),
        }
    }
}

/// A flow to insert.
#[derive(Clone, Debug)]
pub struct NewFlow<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub lb_id: Option<&'a str>,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub steps: &'a [String],
    pub input: &'a Value,
}

/// A stored flow.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub id: String,
    pub kind: String,
    pub lb_id: Option<String>,
    pub object_type: String,
    pub object_id: String,
    pub direction: Direction,
    pub cursor: i64,
    pub steps: Vec<String>,
    pub input: Value,
    pub attempt: i64,
    pub last_error: Option<String>,
    pub lease_holder: String,
    pub lease_expires: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A flow just claimed, with the outputs of the steps it completed.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedFlow {
    pub flow: Flow,
    /// (step index, output), ascending.
    pub outputs: Vec<(i64, Value)>,
}

/// Who claims, and until when.
#[derive(Clone, Debug)]
pub struct Claim<'a> {
    /// Written into `lease_holder`; every write that moves the flow on
    /// must present it again.
    pub holder: &'a str,
    /// Leases whose holder starts with `takeover_prefix` but not with
    /// `own_prefix` are taken at once, expired or not: a restarted server
    /// recognising the leases of its previous incarnation (same instance
    /// name, older boot). Empty: no takeover.
    pub takeover_prefix: &'a str,
    pub own_prefix: &'a str,
    pub now: i64,
    pub until: i64,
}

#[derive(sqlx::FromRow)]
struct FlowRecord {
    id: String,
    kind: String,
    lb_id: Option<String>,
    object_type: String,
    object_id: String,
    direction: String,
    cursor: i64,
    steps: String,
    input: String,
    attempt: i64,
    last_error: Option<String>,
    lease_holder: String,
    lease_expires: i64,
    created_at: String,
    updated_at: String,
}

const COLUMNS: &str = "id, kind, lb_id, object_type, object_id, direction, cursor, steps, input, \
     attempt, last_error, lease_holder, lease_expires, created_at, updated_at";

fn decode_error(msg: String) -> StoreError {
    StoreError::Sqlx(sqlx::Error::Decode(msg.into()))
}

fn parse_json<T: serde::de::DeserializeOwned>(column: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| decode_error(format!("{column}: {e}")))
}

impl TryFrom<FlowRecord> for Flow {
    type Error = StoreError;

    fn try_from(r: FlowRecord) -> Result<Self, StoreError> {
        Ok(Flow {
            direction: Direction::parse(&r.direction)?,
            steps: parse_json("lb_flows.steps", &r.steps)?,
            input: parse_json("lb_flows.input", &r.input)?,
            id: r.id,
            kind: r.kind,
            lb_id: r.lb_id,
            object_type: r.object_type,
            object_id: r.object_id,
            cursor: r.cursor,
            attempt: r.attempt,
            last_error: r.last_error,
            lease_holder: r.lease_holder,
            lease_expires: r.lease_expires,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Inserts a new flow, unleased and due at once, in the caller's
/// transaction (the one that writes the PENDING_* statuses it will settle).
/// A second flow for the same load balancer fails with a unique violation.
pub async fn insert(tx: &mut Tx, f: &NewFlow<'_>) -> Result<(), StoreError> {
    let now = now_timestamp();
    let steps = to_json(&f.steps);
    let input = to_json(f.input);
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_flows (id, kind, lb_id, object_type, object_id, direction, cursor, steps, input, \
         attempt, last_error, lease_holder, lease_expires, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'forward', 0, $6, $7, 0, NULL, '', 0, $8, $8)")
        .bind(f.id).bind(f.kind).bind(f.lb_id).bind(f.object_type).bind(f.object_id)
        .bind(&steps).bind(&input).bind(&now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Claims the oldest due flow: lease expired, or held by a previous
/// incarnation of the claimer (holder starting with `$4` but not `$6`). SQLite has one
/// writer at a time, so the subquery and the update cannot interleave with
/// another claim.
const CLAIM_SQLITE: &str = "UPDATE lb_flows SET lease_holder = $1, lease_expires = $3, updated_at = $5 \
     WHERE id = (SELECT id FROM lb_flows \
                 WHERE lease_expires < $2 OR ($4 <> '' AND substr(lease_holder, 1, length($4)) = $4 \
                       AND substr(lease_holder, 1, length($6)) <> $6) \
                 ORDER BY created_at, id LIMIT 1) \
       AND (lease_expires < $2 OR ($4 <> '' AND substr(lease_holder, 1, length($4)) = $4 \
            AND substr(lease_holder, 1, length($6)) <> $6)) \
     RETURNING id, kind, lb_id, object_type, object_id, direction, cursor, steps, input, \
     attempt, last_error, lease_holder, lease_expires, created_at, updated_at";

/// The same on PostgreSQL, where two servers may claim at once: the row
/// lock taken by the subquery, skipping rows another claim has locked,
/// makes each take a different flow rather than queue behind one. The
/// condition is repeated outside because PostgreSQL re-checks only the
/// outer WHERE against a row that changed while it waited.
const CLAIM_POSTGRES: &str = "UPDATE lb_flows SET lease_holder = $1, lease_expires = $3, updated_at = $5 \
     WHERE id = (SELECT id FROM lb_flows \
                 WHERE lease_expires < $2 OR ($4 <> '' AND substr(lease_holder, 1, length($4)) = $4 \
                       AND substr(lease_holder, 1, length($6)) <> $6) \
                 ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
       AND (lease_expires < $2 OR ($4 <> '' AND substr(lease_holder, 1, length($4)) = $4 \
            AND substr(lease_holder, 1, length($6)) <> $6)) \
     RETURNING id, kind, lb_id, object_type, object_id, direction, cursor, steps, input, \
     attempt, last_error, lease_holder, lease_expires, created_at, updated_at";

/// Claims one due flow for `claim.holder` until `claim.until`, in one
/// conditional statement, and reads the outputs of its completed steps.
/// `None` when no flow is due.
pub async fn claim(db: &Db, claim: &Claim<'_>) -> Result<Option<ClaimedFlow>, StoreError> {
    let now = now_timestamp();
    let mut tx = db.begin().await?;
    let sql = if tx.is_postgres() {
        CLAIM_POSTGRES
    } else {
        CLAIM_SQLITE
    };
    let record: Option<FlowRecord> = dispatch!(tx.conn(), c => sqlx::query_as(sql)
        .bind(claim.holder).bind(claim.now).bind(claim.until).bind(claim.takeover_prefix).bind(&now)
        .bind(claim.own_prefix)
        .fetch_optional(&mut *c).await)?;
    let Some(record) = record else {
        return Ok(None);
    };
    let outputs = outputs_in(&mut tx, &record.id).await?;
    tx.commit().await?;
    Ok(Some(ClaimedFlow {
        flow: record.try_into()?,
        outputs,
    }))
}

async fn outputs_in(tx: &mut Tx, flow_id: &str) -> Result<Vec<(i64, Value)>, StoreError> {
    let rows: Vec<(i64, String)> = dispatch!(tx.conn(), c => sqlx::query_as(
        "SELECT idx, output FROM lb_flow_steps WHERE flow_id = $1 ORDER BY idx")
        .bind(flow_id).fetch_all(&mut *c).await)?;
    rows.into_iter()
        .map(|(idx, out)| Ok((idx, parse_json("lb_flow_steps.output", &out)?)))
        .collect()
}

/// Records that forward step `idx` completed with `output` and moves the
/// cursor past it (clearing the retry count), extending the lease to
/// `until`. False, and nothing written, unless `holder` holds the lease and
/// the flow is running forward at `idx`.
pub async fn record_step(
    db: &Db,
    flow_id: &str,
    holder: &str,
    idx: i64,
    output: &Value,
    until: i64,
) -> Result<bool, StoreError> {
    let now = now_timestamp();
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_flows SET cursor = $3 + 1, attempt = 0, last_error = NULL, lease_expires = $4, updated_at = $5 \
         WHERE id = $1 AND lease_holder = $2 AND direction = 'forward' AND cursor = $3")
        .bind(flow_id).bind(holder).bind(idx).bind(until).bind(&now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    // The row can exist only from an earlier run that crashed after its
    // commit, which moved the cursor past `idx`; the guard above rules that
    // out, but an overwrite is the right answer anyway.
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_flow_steps (flow_id, idx, output, done_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (flow_id, idx) DO UPDATE SET output = excluded.output, done_at = excluded.done_at")
        .bind(flow_id).bind(idx).bind(to_json(output)).bind(&now)
        .execute(&mut *c).await.map(|_| ()))?;
    tx.commit().await?;
    Ok(true)
}

/// Turns a forward flow around at step `idx` (whose own undo runs first),
/// recording why. False unless `holder` holds the lease of a forward flow.
pub async fn start_revert(
    db: &Db,
    flow_id: &str,
    holder: &str,
    idx: i64,
    error: &str,
    until: i64,
) -> Result<bool, StoreError> {
    let now = now_timestamp();
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_flows SET direction = 'revert', cursor = $3, attempt = 0, last_error = $4, \
         lease_expires = $5, updated_at = $6 \
         WHERE id = $1 AND lease_holder = $2 AND direction = 'forward'")
        .bind(flow_id).bind(holder).bind(idx).bind(error).bind(until).bind(&now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n == 1)
}

/// Records that the undo of step `idx` completed: the cursor moves to
/// `idx - 1`. False unless `holder` holds the lease of a flow reverting at
/// `idx`.
pub async fn record_undo(
    db: &Db,
    flow_id: &str,
    holder: &str,
    idx: i64,
    until: i64,
) -> Result<bool, StoreError> {
    let now = now_timestamp();
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_flows SET cursor = $3 - 1, attempt = 0, lease_expires = $4, updated_at = $5 \
         WHERE id = $1 AND lease_holder = $2 AND direction = 'revert' AND cursor = $3")
        .bind(flow_id).bind(holder).bind(idx).bind(until).bind(&now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n == 1)
}

/// Gives the flow up after a transient failure: one more attempt counted,
/// the error kept for operators, and no worker may claim it before
/// `retry_at`. False unless `holder` held the lease.
pub async fn retry_later(
    db: &Db,
    flow_id: &str,
    holder: &str,
    error: &str,
    retry_at: i64,
) -> Result<bool, StoreError> {
    let now = now_timestamp();
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_flows SET attempt = attempt + 1, last_error = $3, lease_holder = '', \
         lease_expires = $4, updated_at = $5 \
         WHERE id = $1 AND lease_holder = $2")
        .bind(flow_id).bind(holder).bind(error).bind(retry_at).bind(&now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n == 1)
}

/// Hands the flow back unchanged (a worker shutting down), claimable from
/// `at` on. False unless `holder` held the lease.
pub async fn release(db: &Db, flow_id: &str, holder: &str, at: i64) -> Result<bool, StoreError> {
    set_lease(db, flow_id, holder, "", at).await
}

/// Extends the lease to `until`. False when `holder` no longer holds it.
pub async fn renew(db: &Db, flow_id: &str, holder: &str, until: i64) -> Result<bool, StoreError> {
    set_lease(db, flow_id, holder, holder, until).await
}

async fn set_lease(
    db: &Db,
    flow_id: &str,
    holder: &str,
    new_holder: &str,
    expires: i64,
) -> Result<bool, StoreError> {
    let now = now_timestamp();
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_flows SET lease_holder = $3, lease_expires = $4, updated_at = $5 \
         WHERE id = $1 AND lease_holder = $2")
        .bind(flow_id).bind(holder).bind(new_holder).bind(expires).bind(&now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n == 1)
}

/// Deletes a finished (or fully reverted) flow with its step outputs, in
/// the caller's transaction: the one writing the flow's final statuses.
/// False, and nothing deleted, when `holder` no longer holds the lease; the
/// caller must then roll back.
pub async fn finish(tx: &mut Tx, flow_id: &str, holder: &str) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM lb_flows WHERE id = $1 AND lease_holder = $2")
        .bind(flow_id).bind(holder).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    // Also what the foreign key's cascade does; explicit so it holds on a
    // SQLite connection opened without foreign keys.
    dispatch!(tx.conn(), c => sqlx::query("DELETE FROM lb_flow_steps WHERE flow_id = $1")
        .bind(flow_id).execute(&mut *c).await.map(|_| ()))?;
    Ok(true)
}

/// Every flow in progress, oldest first (the operator's view).
pub async fn list(db: &Db) -> Result<Vec<Flow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM lb_flows ORDER BY created_at, id");
    let rows: Vec<FlowRecord> = dispatch!(db.read(), c => sqlx::query_as(crate::rows::trusted(&sql))
        .fetch_all(c).await)?;
    rows.into_iter().map(Flow::try_from).collect()
}

/// One flow, if it is still in progress.
pub async fn get(db: &Db, flow_id: &str) -> Result<Option<Flow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM lb_flows WHERE id = $1");
    let row: Option<FlowRecord> = dispatch!(db.read(), c => sqlx::query_as(crate::rows::trusted(&sql))
        .bind(flow_id).fetch_optional(c).await)?;
    row.map(Flow::try_from).transpose()
}

/// The outputs recorded for a flow's completed steps, by index.
pub async fn outputs(db: &Db, flow_id: &str) -> Result<Vec<(i64, Value)>, StoreError> {
    let rows: Vec<(i64, String)> = dispatch!(db.read(), c => sqlx::query_as(
        "SELECT idx, output FROM lb_flow_steps WHERE flow_id = $1 ORDER BY idx")
        .bind(flow_id).fetch_all(c).await)?;
    rows.into_iter()
        .map(|(idx, out)| Ok((idx, parse_json("lb_flow_steps.output", &out)?)))
        .collect()
}

/// Leases a flow just inserted in `tx` to `holder` until `until`: the
/// request that made it holds it while it builds its answer, so the answer
/// shows the PENDING statuses it wrote even when a worker is fast; if the
/// server dies first, the lease simply expires. Hand it over with
/// [`release`].
pub async fn hold(tx: &mut Tx, flow_id: &str, holder: &str, until: i64) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_flows SET lease_holder = $2, lease_expires = $3 WHERE id = $1")
        .bind(flow_id).bind(holder).bind(until).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
