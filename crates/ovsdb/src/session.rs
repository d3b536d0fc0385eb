//! A self-healing, replicated view of some tables of one database.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::cluster::{SERVER_MONITOR_ID, ServerStatus};
use crate::connection::{Connection, Update};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::monitor::MonitorRequest;
use crate::op::{Op, OpResult};
use crate::replica::Replica;
use crate::schema::Schema;

/// Tuning of a [`Session`].
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// An `echo` is sent this often; `None` disables keepalives.
    pub keepalive: Option<Duration>,
    /// A keepalive `echo` not answered within this time kills the connection.
    pub keepalive_timeout: Duration,
    /// Per-remote connect timeout.
    pub connect_timeout: Duration,
    /// Deadline of the requests made while (re)connecting (`get_schema`, `monitor_cond`).
    pub setup_timeout: Duration,
    /// First delay between connection attempts; doubled after each failure…
    pub min_backoff: Duration,
    /// …up to this.
    pub max_backoff: Duration,
    /// Only use the leader of a clustered database (like `ovn-nbctl`'s default
    /// `--leader-only`); otherwise any member connected to its cluster will do.
    /// Either way a member that loses its cluster (or, here, leadership) is left for
    /// the next remote of the endpoint list.
    pub leader_only: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            keepalive: Some(Duration::from_secs(5)),
            keepalive_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            setup_timeout: Duration::from_secs(60),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(8),
            leader_only: false,
        }
    }
}

struct Shared {
    endpoints: Endpoint,
    db: String,
    tables: Vec<TableColumns>,
    options: SessionOptions,
    replica: RwLock<Arc<Replica>>,
    connection: Mutex<Option<Connection>>,
    connected: watch::Sender<bool>,
    version: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
    last_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn snapshot(&self) -> Arc<Replica> {
        self.replica
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Makes `conn` and its freshly loaded replica current: the replica is in place
    /// before `connected` turns true, which is before the version bump.
    fn install(&self, conn: Connection, replica: Replica) {
        *self.replica.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(replica);
        self.set_connection(Some(conn));
        self.version.send_modify(|v| *v += 1);
    }

    fn publish(&self, replica: Arc<Replica>) {
        *self.replica.write().unwrap_or_else(|p| p.into_inner()) = replica;
        self.version.send_modify(|v| *v += 1);
    }

    fn set_connection(&self, conn: Option<Connection>) {
        let up = conn.is_some();
        if let Some(old) = std::mem::replace(&mut *lock(&self.connection), conn) {
            old.close();
        }
        self.connected.send_replace(up);
    }

    fn is_shut_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Ends the background task when the last [`Session`] clone is dropped.
struct CloseOnDrop(Arc<Shared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        close(&self.0);
    }
}

fn close(shared: &Shared) {
    shared.shutdown.send_replace(true);
    shared.set_connection(None);
}

/// A replicated session with one database: what the rest of the program uses.
///
/// In the background it connects (trying each remote of the endpoint in turn, with
/// exponential backoff), monitors the requested tables with `monitor_cond`, keeps an
/// in-memory [`Replica`] current from `update2` notifications, sends `echo` keepalives
/// (an unanswered one counts as a dead connection) and, whenever the connection is lost,
/// reconnects and re-monitors, replacing the replica wholesale so changes made while
/// away (deletions included) are seen. While disconnected the last replica stays
/// readable; [`Session::connected`] tells whether it is live.
///
/// Cheap to clone; the background task ends with [`Session::close`] or when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
    _guard: Arc<CloseOnDrop>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("endpoints", &self.shared.endpoints.to_string())
            .field("db", &self.shared.db)
            .field("connected", &self.connected())
            .finish()
    }
}

impl Session {
    /// Starts a session replicating `tables` (each with the columns to replicate, `None`
    /// = all) of database `db`. Returns at once; connecting happens in the background
    /// (see [`Session::wait_connected`]). Must be called inside a tokio runtime.
    pub fn start(endpoints: Endpoint, db: &str, tables: Vec<TableColumns>) -> Session {
        Self::start_with(endpoints, db, tables, SessionOptions::default())
    }

    /// [`Session::start`] with explicit [`SessionOptions`].
    pub fn start_with(
        endpoints: Endpoint,
        db: &str,
        tables: Vec<TableColumns>,
        options: SessionOptions,
    ) -> Session {
        let shared = Arc::new(Shared {
            endpoints,
            db: db.to_string(),
            tables,
            options,
            replica: RwLock::new(Arc::new(Replica::default())),
            connection: Mutex::new(None),
            connected: watch::Sender::new(false),
            version: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
            last_error: Mutex::new(None),
        });
        tokio::spawn(run(shared.clone()));
        Session {
            _guard: Arc::new(CloseOnDrop(shared.clone())),
            shared,
        }
    }

    /// The database this session replicates.
    pub fn db(&self) -> &str {
        &self.shared.db
    }

    /// A consistent snapshot of the replicated tables (never changes once taken).
    pub fn replica(&self) -> Arc<Replica> {
        self.shared.snapshot()
    }

    /// The database schema, once connected.
    pub fn schema(&self) -> Option<Schema> {
        self.shared.snapshot().schema().cloned()
    }

    /// Whether a connection is up and the replica is live.
    pub fn connected(&self) -> bool {
        *self.shared.connected.borrow()
    }

    /// Follows [`Session::connected`].
    pub fn watch_connected(&self) -> watch::Receiver<bool> {
        self.shared.connected.subscribe()
    }

    /// Why the last connection attempt or connection failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.shared.last_error).clone()
    }

    /// The current connection, for raw requests.
    pub fn connection(&self) -> Option<Connection> {
        lock(&self.shared.connection).clone()
    }

    /// Waits until the session is connected and its replica loaded.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), Error> {
        let mut rx = self.shared.connected.subscribe();
        let mut shutdown = self.shared.shutdown.subscribe();
        tokio::select! {
            r = tokio::time::timeout(timeout, rx.wait_for(|up| *up)) => match r {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(_)) => Err(Error::Closed),
                Err(_) => Err(Error::Timeout),
            },
            _ = shutdown.wait_for(|s| *s) => Err(Error::Closed),
        }
    }

    /// A counter bumped after every change of the replica (each applied batch of updates,
    /// and each reconnection, which replaces it).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.version.subscribe()
    }

    /// Runs a transaction on the current connection ([`Error::Disconnected`] if there is
    /// none). The replica shows its effect once the server's update arrives: use
    /// [`Session::wait_for`] to wait for it.
    pub async fn transact(&self, ops: Vec<Op>) -> Result<Vec<OpResult>, Error> {
        if self.shared.is_shut_down() {
            return Err(Error::Closed);
        }
        let conn = self.connection().ok_or(Error::Disconnected)?;
        conn.transact(&self.shared.db, ops).await
    }

    /// Waits until `f` holds for the replica (checked now and after every change).
    pub async fn wait_for<F: Fn(&Replica) -> bool>(
        &self,
        f: F,
        timeout: Duration,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let mut rx = self.subscribe();
        loop {
            rx.borrow_and_update();
            if f(&self.replica()) {
                return Ok(());
            }
            if self.shared.is_shut_down() {
                return Err(Error::Closed);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Error::Closed),
                Err(_) => return Err(Error::Timeout),
            }
        }
    }

    /// Stops the session: the connection is closed and not re-established. The last
    /// replica stays readable.
    pub fn close(&self) {
        close(&self.shared);
    }
}

const MONITOR_ID: &str = "neutrino";

/// A table to replicate and its columns (`None` = all of them).
pub type TableColumns = (String, Option<Vec<String>>);

async fn run(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut backoff = shared.options.min_backoff;
    while !shared.is_shut_down() {
        let attempt = tokio::select! {
            r = connect_and_monitor(&shared) => r,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        match attempt {
            Ok(Live {
                conn,
                replica,
                updates,
                status,
            }) => {
                info!(remote = %conn.remote(), db = %shared.db, "OVSDB session connected");
                backoff = shared.options.min_backoff;
                shared.install(conn.clone(), replica);
                let reason = serve(&shared, &conn, updates, status).await;
                shared.set_connection(None);
                if shared.is_shut_down() {
                    break;
                }
                warn!(remote = %conn.remote(), db = %shared.db, %reason, "OVSDB session lost its connection");
                *lock(&shared.last_error) = Some(reason);
            }
            Err(e) => {
                debug!(endpoints = %shared.endpoints, db = %shared.db, error = %e, "OVSDB session could not connect");
                *lock(&shared.last_error) = Some(e.to_string());
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
        backoff = (backoff * 2).min(shared.options.max_backoff);
    }
    shared.set_connection(None);
    debug!(db = %shared.db, "OVSDB session closed");
}

/// What a successful (re)connection hands to [`serve`].
struct Live {
    conn: Connection,
    replica: Replica,
    updates: mpsc::UnboundedReceiver<Update>,
    status: Option<ServerStatus>,
}

/// Tries each remote of the endpoint in turn.
async fn connect_and_monitor(shared: &Shared) -> Result<Live, Error> {
    let mut last = None;
    for remote in shared.endpoints.remotes() {
        match connect_remote(shared, &Endpoint::from(remote.clone())).await {
            Ok(live) => return Ok(live),
            Err(e) => {
                debug!(%remote, db = %shared.db, error = %e, "OVSDB remote not usable");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::InvalidEndpoint(String::new())))
}

async fn connect_remote(shared: &Shared, ep: &Endpoint) -> Result<Live, Error> {
    let conn = Connection::connect_timeout(ep, shared.options.connect_timeout).await?;
    let setup = shared.options.setup_timeout;
    // Subscribed before any monitor starts, so no notification is missed.
    let updates = conn.updates();
    let status = ServerStatus::monitor(&conn, &shared.db, setup).await?;
    if let Some(why) = status
        .as_ref()
        .and_then(|s| s.unusable(shared.options.leader_only))
    {
        return Err(Error::Unavailable(format!("{ep}: {why}")));
    }
    let schema = tokio::time::timeout(setup, conn.get_schema(&shared.db))
        .await
        .map_err(|_| Error::Timeout)??;
    let mut replica = Replica::new(Arc::new(schema), &shared.tables)?;
    let requests: BTreeMap<String, MonitorRequest> = shared
        .tables
        .iter()
        .map(|(table, columns)| {
            let request = MonitorRequest {
                columns: columns.clone(),
                where_: Vec::new(),
            };
            (table.clone(), request)
        })
        .collect();
    let initial = tokio::time::timeout(
        setup,
        conn.monitor_cond(&shared.db, json!(MONITOR_ID), requests),
    )
    .await
    .map_err(|_| Error::Timeout)??;
    replica.apply(initial)?;
    Ok(Live {
        conn,
        replica,
        updates,
        status,
    })
}

/// Applies updates until the connection ends; returns why it ended.
async fn serve(
    shared: &Shared,
    conn: &Connection,
    mut updates: mpsc::UnboundedReceiver<Update>,
    mut status: Option<ServerStatus>,
) -> String {
    let keepalive = shared
        .options
        .keepalive
        .map(|period| spawn_keepalive(shared, conn, period));
    let mut shutdown = shared.shutdown.subscribe();
    let reason = loop {
        let first = tokio::select! {
            u = updates.recv() => u,
            _ = shutdown.wait_for(|s| *s) => break "session closed".to_string(),
        };
        let Some(first) = first else {
            break "connection closed".to_string();
        };
        // Apply everything already queued as one batch, then publish once.
        let mut batch = vec![first];
        while let Ok(more) = updates.try_recv() {
            batch.push(more);
        }
        match apply_batch(shared, status.as_mut(), batch) {
            Ok(()) => {}
            Err(why) => {
                conn.close();
                break why;
            }
        }
    };
    if let Some(task) = keepalive {
        task.abort();
    }
    reason
}

/// Applies a batch of notifications to the replica (then publishes it) and to the
/// cluster status; `Err` says why the connection must be dropped.
fn apply_batch(
    shared: &Shared,
    mut status: Option<&mut ServerStatus>,
    batch: Vec<Update>,
) -> Result<(), String> {
    let mut replica = shared.snapshot();
    let mut changed = false;
    let mut result = Ok(());
    for (monitor_id, table_updates) in batch {
        if monitor_id == MONITOR_ID {
            changed = true;
            if let Err(e) = Arc::make_mut(&mut replica).apply(table_updates) {
                // The replica can no longer be trusted: resynchronise on a new connection.
                result = Err(format!("could not apply an update ({e}); resynchronising"));
                break;
            }
        } else if monitor_id == SERVER_MONITOR_ID
            && let Some(status) = status.as_deref_mut()
        {
            let unusable = match status.apply(table_updates) {
                Ok(()) => status.unusable(shared.options.leader_only),
                Err(e) => Some(format!("could not follow the cluster status ({e})")),
            };
            if let Some(why) = unusable {
                result = Err(why);
                break;
            }
        }
    }
    if changed && result.is_ok() {
        shared.publish(replica);
    }
    result
}

fn spawn_keepalive(
    shared: &Shared,
    conn: &Connection,
    period: Duration,
) -> tokio::task::JoinHandle<()> {
    let conn = conn.clone();
    let timeout = shared.options.keepalive_timeout;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(period).await;
            match tokio::time::timeout(timeout, conn.echo()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    debug!(remote = %conn.remote(), error = %e, "keepalive echo failed");
                    return;
                }
                Err(_) => {
                    warn!(remote = %conn.remote(), "keepalive echo not answered: dropping the connection");
                    conn.close();
                    return;
                }
            }
        }
    })
}
