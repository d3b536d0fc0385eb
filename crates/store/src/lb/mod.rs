//! Storage of the Octavia v2 model (design: docs/design/load-balancing.md
//! §1.2, §3.3–3.5, §5): one module per resource family, reading and
//! writing the records of `neutrino-lb-types`.
//!
//! Reads are written once against [`Exec`], so `get` (a pooled reader) and
//! `get_tx` (the caller's transaction) share their SQL. A record's derived
//! lists (a pool's members, a listener's policies, tags, ...) are filled by
//! one query per list over the same filter as the main query, never one
//! query per row.

pub mod amphorae;
pub mod flavors;
pub mod health;
pub mod health_monitors;
pub mod l7policies;
pub mod l7rules;
pub mod listeners;
pub mod load_balancers;
pub mod members;
pub mod pools;
pub mod quotas;
pub mod stats;
pub mod status;
mod tags;

use std::collections::HashMap;

use neutrino_lb_types::enums::ProvisioningStatus;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};

use crate::rows::{placeholders, trusted};
use crate::{Db, StoreError, Target, Tx, dispatch};

/// Something reads can run on: a write transaction or a pooled reader.
pub(crate) trait Exec: Send {
    fn target(&mut self) -> Target<&mut SqliteConnection, &mut PgConnection>;
}

impl Exec for Tx {
    fn target(&mut self) -> Target<&mut SqliteConnection, &mut PgConnection> {
        self.conn()
    }
}

/// A read-only transaction on a reader connection, so the few queries of
/// one read (a record, then its derived lists) see one snapshot: without
/// it, PostgreSQL's READ COMMITTED could show a pool whose member list was
/// read after a commit its row was not. Dropping it rolls back.
pub(crate) struct Reader(Target<Transaction<'static, Sqlite>, Transaction<'static, Postgres>>);

impl Reader {
    pub(crate) async fn new(db: &Db) -> Result<Reader, StoreError> {
        Ok(Reader(match db.read() {
            // WAL: a deferred transaction reads one snapshot from its
            // first SELECT on.
            Target::Sqlite(p) => Target::Sqlite(p.begin().await?),
            Target::Postgres(p) => Target::Postgres(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        }))
    }
}

impl Exec for Reader {
    fn target(&mut self) -> Target<&mut SqliteConnection, &mut PgConnection> {
        match &mut self.0 {
            Target::Sqlite(t) => Target::Sqlite(&mut **t),
            Target::Postgres(t) => Target::Postgres(&mut **t),
        }
    }
}

/// A row type both backends can decode.
pub(crate) trait Row:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}
impl<R> Row for R where
    R: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

/// Runs a query assembled from constant SQL whose parameters are all text.
pub(crate) async fn fetch_all<R: Row>(
    e: &mut impl Exec,
    sql: &str,
    binds: &[&str],
) -> Result<Vec<R>, StoreError> {
    Ok(dispatch!(e.target(), c => {
        let mut q = sqlx::query_as::<_, R>(trusted(sql));
        for b in binds {
            q = q.bind(*b);
        }
        q.fetch_all(&mut *c).await
    })?)
}

/// [`fetch_all`] for statements that return nothing; the affected rows.
pub(crate) async fn execute(tx: &mut Tx, sql: &str, binds: &[&str]) -> Result<u64, StoreError> {
    Ok(dispatch!(tx.conn(), c => {
        let mut q = sqlx::query(trusted(sql));
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(&mut *c).await.map(|r| r.rows_affected())
    })?)
}

/// Which rows of a table a read wants: a `WHERE` clause over its own
/// columns with text parameters `$1..`. Derived lists reuse it in
/// subqueries (`... IN (SELECT id FROM table WHERE {sql})`).
#[derive(Clone, Debug)]
pub(crate) struct Filter<'a> {
    pub sql: &'static str,
    pub binds: Vec<&'a str>,
    /// Whether to fill the tags and derived id lists (false: one query,
    /// for readers that need only the rows' own columns).
    pub lists: bool,
}

impl<'a> Filter<'a> {
    pub(crate) fn id(id: &'a str) -> Self {
        Filter::column("id = $1", id)
    }

    /// One project's rows, or everybody's.
    pub(crate) fn project(project: Option<&'a str>) -> Self {
        match project {
            Some(p) => Filter::column("project_id = $1", p),
            None => Filter {
                sql: "1 = 1",
                binds: vec![],
                lists: true,
            },
        }
    }

    pub(crate) fn column(sql: &'static str, value: &'a str) -> Self {
        Filter {
            sql,
            binds: vec![value],
            lists: true,
        }
    }

    /// The same rows without tags and derived lists.
    pub(crate) fn rows_only(self) -> Self {
        Filter {
            lists: false,
            ..self
        }
    }
}

/// `(parent id, child id)` pairs grouped by parent, order kept.
pub(crate) fn group(pairs: Vec<(String, String)>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (parent, child) in pairs {
        out.entry(parent).or_default().push(child);
    }
    out
}

/// A derived list of the rows `f` selects: `sql` returns (parent id,
/// child id) pairs over `f`'s parameters; grouped by parent, order kept.
/// Empty without running anything when `f` wants rows only.
pub(crate) async fn derived(
    e: &mut impl Exec,
    f: &Filter<'_>,
    sql: &str,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    if !f.lists {
        return Ok(HashMap::new());
    }
    Ok(group(fetch_all(e, sql, &f.binds).await?))
}

/// The objects whose statuses the load-balancer state machine moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    LoadBalancer,
    Listener,
    Pool,
    Member,
    HealthMonitor,
    L7Policy,
    L7Rule,
}

impl Object {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Object::LoadBalancer => "lb_load_balancers",
            Object::Listener => "lb_listeners",
            Object::Pool => "lb_pools",
            Object::Member => "lb_members",
            Object::HealthMonitor => "lb_health_monitors",
            Object::L7Policy => "lb_l7policies",
            Object::L7Rule => "lb_l7rules",
        }
    }

    /// Its `resource_type` in `lb_tags`.
    pub(crate) fn tag_type(self) -> &'static str {
        match self {
            Object::LoadBalancer => "loadbalancer",
            Object::Listener => "listener",
            Object::Pool => "pool",
            Object::Member => "member",
            Object::HealthMonitor => "healthmonitor",
            Object::L7Policy => "l7policy",
            Object::L7Rule => "l7rule",
        }
    }
}

/// Sets the provisioning status (and `updated_at`) of some objects of one
/// kind, e.g. the listeners an operation touches → PENDING_UPDATE in the
/// request's transaction, or a finished flow's objects → ACTIVE. Returns
/// how many rows changed.
pub async fn set_provisioning_status(
    tx: &mut Tx,
    object: Object,
    ids: &[&str],
    status: ProvisioningStatus,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE {} SET provisioning_status = $1, updated_at = $2 WHERE id IN ({})",
        object.table(),
        placeholders(3, ids.len())
    );
    let now = now();
    let mut binds = vec![status.as_str(), now.as_str()];
    binds.extend_from_slice(ids);
    execute(tx, &sql, &binds).await
}

/// Sets the operating status of some objects of one kind (no
/// `updated_at`: upstream leaves it to provisioning changes).
pub async fn set_operating_status(
    tx: &mut Tx,
    object: Object,
    ids: &[&str],
    status: neutrino_lb_types::enums::OperatingStatus,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE {} SET operating_status = $1 WHERE id IN ({})",
        object.table(),
        placeholders(2, ids.len())
    );
    let mut binds = vec![status.as_str()];
    binds.extend_from_slice(ids);
    execute(tx, &sql, &binds).await
}

/// Now, as the load-balancer API stores and renders timestamps: UTC,
/// whole seconds, no zone (WSME prints a naive datetime).
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn decode_error(msg: String) -> StoreError {
    StoreError::Sqlx(sqlx::Error::Decode(msg.into()))
}

/// A stored enum column back to its variant; anything else is a decode
/// error rather than a silent default.
pub(crate) fn enum_col<T>(
    column: &str,
    s: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(s).ok_or_else(|| decode_error(format!("{column}: unknown value {s:?}")))
}

pub(crate) fn opt_enum_col<T>(
    column: &str,
    s: Option<&str>,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    s.map(|s| enum_col(column, s, parse)).transpose()
}

pub(crate) fn json_col<T: serde::de::DeserializeOwned>(
    column: &str,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| decode_error(format!("{column}: {e}")))
}

pub(crate) fn opt_json_col<T: serde::de::DeserializeOwned>(
    column: &str,
    s: Option<&str>,
) -> Result<Option<T>, StoreError> {
    s.map(|s| json_col(column, s)).transpose()
}

/// Deletes one object of any kind with what hangs under it (its module's
/// `delete`); a load balancer also takes its VIP rows but not its VIP
/// port, which the caller releases. Returns whether it existed.
pub async fn delete_object(tx: &mut Tx, object: Object, id: &str) -> Result<bool, StoreError> {
    match object {
        Object::LoadBalancer => load_balancers::delete(tx, id).await,
        Object::Listener => listeners::delete(tx, id).await,
        Object::Pool => pools::delete(tx, id).await,
        Object::Member => members::delete(tx, id).await,
        Object::HealthMonitor => health_monitors::delete(tx, id).await,
        Object::L7Policy => l7policies::delete(tx, id).await,
        Object::L7Rule => l7rules::delete(tx, id).await,
    }
}

/// ONLINE when the object is enabled, else OFFLINE: what a finished flow
/// reports for objects without heartbeats of their own (monitors, L7
/// policies and rules; design §3.2).
pub async fn set_operating_by_enabled(
    tx: &mut Tx,
    object: Object,
    id: &str,
) -> Result<u64, StoreError> {
    let sql = format!(
        "UPDATE {} SET operating_status = CASE WHEN enabled THEN 'ONLINE' ELSE 'OFFLINE' END \
         WHERE id = $1",
        object.table()
    );
    execute(tx, &sql, &[id]).await
}
