//! One storage interface over two concrete sqlx pools.
//!
//! We do not use `sqlx::AnyPool`: its query builder emits `?` placeholders
//! that PostgreSQL rejects. Instead every query is written once with `$N`
//! placeholders (which SQLite also understands) and compiled twice, once per
//! backend, by the [`dispatch!`] macro.
//!
//! SQLite allows one writer at a time. Rather than letting connections race
//! for the write lock (and fail with SQLITE_BUSY when a deferred transaction
//! upgrades), all writes go through a single connection that transactions
//! take in turn; reads use a separate pool and, thanks to WAL, never block
//! on the writer.

use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::StoreError;

/// Either backend, carrying whatever the caller needs for that backend.
pub enum Target<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// Runs `$body` with `$c` bound to the backend-specific value inside
/// `$target` (a pool or a connection). The body is type-checked for both
/// backends, so a query that only works on one of them fails to compile
/// only if its Rust types differ, and fails the dual-backend test suite if
/// its SQL does.
#[macro_export]
macro_rules! dispatch {
    ($target:expr, $c:ident => $body:expr) => {
        match $target {
            $crate::db::Target::Sqlite($c) => $body,
            $crate::db::Target::Postgres($c) => $body,
        }
    };
}

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite {
        writer: SqliteWriter,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

/// Where SQLite write transactions run.
#[derive(Clone, Debug)]
pub enum SqliteWriter {
    /// An in-memory database: its one connection, shared with the readers.
    Shared(SqlitePool),
    /// A database file: one connection of its own, taken by one transaction
    /// at a time. Not a pool: sqlx pings a pooled connection on every
    /// checkout and return, two extra round trips to the connection's worker
    /// thread on the path every write waits for.
    Dedicated(Arc<Mutex<WriterConn>>),
}

#[derive(Debug)]
pub struct WriterConn {
    /// `None` once the database is closed.
    conn: Option<SqliteConnection>,
    /// A transaction was abandoned without COMMIT and its ROLLBACK has not
    /// run yet: the next user rolls it back first.
    dirty: bool,
    /// Told after each commit; wakes the background checkpointer.
    committed: Arc<Notify>,
}

/// An open write transaction on either backend.
pub enum Tx {
    Sqlite(SqliteTx),
    Postgres(Transaction<'static, Postgres>),
}

/// An open SQLite write transaction.
pub struct SqliteTx(SqliteTxInner);

enum SqliteTxInner {
    Pooled(Transaction<'static, Sqlite>),
    /// `open` until COMMIT succeeded; dropping an open one rolls it back.
    Dedicated {
        guard: Option<OwnedMutexGuard<WriterConn>>,
        open: bool,
    },
}

/// How long a write waits for the SQLite writer before failing (as the
/// writer pool's acquire timeout did).
const WRITER_TIMEOUT: Duration = Duration::from_secs(60);

/// The writer's own automatic checkpoint, in WAL pages (4 KiB each): only a
/// safety net behind the background checkpointer.
const WRITER_AUTOCHECKPOINT: u32 = 20_000;

/// How long the checkpointer lets commits accumulate before copying them
/// back: pages written again in the meantime are copied once.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(100);

/// WAL length (pages) past which the checkpointer makes the WAL start over.
const RESTART_PAGES: i64 = 5_000;

/// Copies committed WAL pages back into the database file, in the
/// background, a little while after commits, until the reader pool closes.
///
/// The pass is PASSIVE: it neither waits for nor blocks the writer or the
/// readers. The WAL file starts over only when a write transaction begins
/// with every page copied back, a moment a steady stream of commits never
/// leaves; so once the WAL is long, a second pass runs holding the writer
/// (commits wait for it): it has only the pages committed during the first
/// pass left to copy, and the next write restarts the log. At that restart
/// `journal_size_limit` cuts the file back to [`RESTART_PAGES`], so a
/// burst's WAL does not stay on disk at its peak size. (A TRUNCATE pass
/// would shrink it to nothing, but cost a tenth of the write rate: the
/// file then grows again page by page.)
async fn checkpointer(reader: SqlitePool, writer: Weak<Mutex<WriterConn>>, committed: Arc<Notify>) {
    loop {
        tokio::select! {
            _ = committed.notified() => {}
            _ = reader.close_event() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECKPOINT_DELAY) => {}
            _ = reader.close_event() => return,
        }
        let pages = match passive_checkpoint(&reader).await {
            Ok(pages) => pages,
            Err(_) if reader.is_closed() => return,
            Err(e) => {
                tracing::warn!(error = %e, "background WAL checkpoint failed");
                continue;
            }
        };
        if pages < RESTART_PAGES {
            continue;
        }
        let Some(writer) = writer.upgrade() else {
            return;
        };
        let _writes_wait = writer.lock().await;
        if let Err(e) = passive_checkpoint(&reader).await
            && !reader.is_closed()
        {
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
    }
}

/// One PASSIVE checkpoint; returns the length of the WAL in pages.
async fn passive_checkpoint(reader: &SqlitePool) -> Result<i64, sqlx::Error> {
    let (_busy, wal_pages, _copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(reader)
            .await?;
    Ok(wal_pages)
}

impl SqliteTx {
    fn conn(&mut self) -> &mut SqliteConnection {
        match &mut self.0 {
            SqliteTxInner::Pooled(t) => t,
            SqliteTxInner::Dedicated { guard, .. } => guard
                .as_mut()
                .and_then(|g| g.conn.as_mut())
                .expect("a live transaction holds an open connection"),
        }
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        match &mut self.0 {
            SqliteTxInner::Pooled(_) => {
                let SqliteTxInner::Pooled(t) = std::mem::replace(
                    &mut self.0,
                    SqliteTxInner::Dedicated {
                        guard: None,
                        open: false,
                    },
                ) else {
                    unreachable!("matched above")
                };
                t.commit().await?;
            }
            SqliteTxInner::Dedicated { guard, open } => {
                let conn = guard
                    .as_mut()
                    .and_then(|g| g.conn.as_mut())
                    .expect("a live transaction holds an open connection");
                sqlx::query("COMMIT").execute(&mut *conn).await?;
                *open = false;
                if let Some(g) = guard.take() {
                    g.committed.notify_one();
                    drop(g);
                    // The next transaction was just woken onto this thread's
                    // run queue, behind the rest of this request; let it
                    // send its BEGIN before this request renders its answer.
                    tokio::task::yield_now().await;
                }
            }
        }
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        let SqliteTxInner::Dedicated { guard, open } = &mut self.0 else {
            // sqlx's own transaction rolls itself back.
            return;
        };
        let Some(mut guard) = guard.take() else {
            return;
        };
        if !*open {
            return;
        }
        // Not committed (an error, or the request was dropped): roll back
        // while still holding the writer, so the next transaction starts
        // clean. Without a runtime, the next `begin` does it.
        guard.dirty = true;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let mut guard = guard;
                rollback_if_dirty(&mut guard).await;
            });
        }
    }
}

/// Rolls back an abandoned transaction. Errors are ignored: "no transaction
/// is active" means the COMMIT had gone through after all.
async fn rollback_if_dirty(w: &mut WriterConn) {
    if !w.dirty {
        return;
    }
    if let Some(conn) = w.conn.as_mut()
        && let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await
    {
        tracing::debug!(error = %e, "rollback of an abandoned transaction");
    }
    w.dirty = false;
}

impl Tx {
    /// The connection of this transaction, for use with [`dispatch!`].
    pub fn conn(&mut self) -> Target<&mut sqlx::SqliteConnection, &mut sqlx::PgConnection> {
        match self {
            Tx::Sqlite(t) => Target::Sqlite(t.conn()),
            Tx::Postgres(t) => Target::Postgres(&mut **t),
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }
}

impl Db {
    /// Connects to `url`: `sqlite://PATH` (created if missing), `sqlite::memory:`
    /// or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(32)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await?;
            return Ok(Db::Postgres(pool));
        }
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Config(format!(
                "unsupported database URL {url:?}: expected sqlite:// or postgres://"
            )));
        }
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let base = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        if memory {
            // An in-memory database lives in one connection: share it.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(base)
                .await?;
            return Ok(Db::Sqlite {
                writer: SqliteWriter::Shared(pool.clone()),
                reader: pool,
            });
        }
        let base = base
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        // Checkpoints (copying the WAL back into the database file, and
        // syncing it) run in the background on a reader connection (see
        // `checkpointer`), not in the writer after every 1000th page: there
        // they cost a third of each write transaction's time. The writer
        // still checkpoints if the WAL grows past WRITER_AUTOCHECKPOINT.
        let writer = SqliteConnection::connect_with(
            &base
                .clone()
                .pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT.to_string())
                .pragma("journal_size_limit", (RESTART_PAGES * 4096).to_string()),
        )
        .await?;
        // As many readers as cores: sqlx gives each SQLite connection its
        // own worker thread, and every thread that once decoded a large
        // result keeps that memory in its allocator heap, so idle extra
        // readers cost memory without adding speed. No ping before each
        // checkout: it is a round trip to the worker thread that checks
        // nothing a local file could lose.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        let reader = SqlitePoolOptions::new()
            .max_connections(cores.max(2))
            .test_before_acquire(false)
            .connect_with(base.read_only(false))
            .await?;
        let committed = Arc::new(Notify::new());
        let writer = Arc::new(Mutex::new(WriterConn {
            conn: Some(writer),
            dirty: false,
            committed: committed.clone(),
        }));
        tokio::spawn(checkpointer(
            reader.clone(),
            Arc::downgrade(&writer),
            committed,
        ));
        Ok(Db::Sqlite {
            writer: SqliteWriter::Dedicated(writer),
            reader,
        })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite {
                writer: SqliteWriter::Shared(pool),
                ..
            } => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Sqlite {
                writer: SqliteWriter::Dedicated(w),
                ..
            } => {
                let mut w = lock_writer(w).await?;
                let conn = w.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                sqlx::migrate!("./migrations/sqlite").run(conn).await?
            }
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// The pool to read from, for use with [`dispatch!`].
    pub fn read(&self) -> Target<&SqlitePool, &PgPool> {
        match self {
            Db::Sqlite { reader, .. } => Target::Sqlite(reader),
            Db::Postgres(p) => Target::Postgres(p),
        }
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        // IMMEDIATE takes the write lock up front: a deferred transaction
        // that reads and then writes fails at once with SQLITE_BUSY when
        // another process wrote in between, instead of waiting its turn.
        Ok(match self {
            Db::Sqlite {
                writer: SqliteWriter::Shared(pool),
                ..
            } => Tx::Sqlite(SqliteTx(SqliteTxInner::Pooled(
                pool.begin_with("BEGIN IMMEDIATE").await?,
            ))),
            Db::Sqlite {
                writer: SqliteWriter::Dedicated(w),
                ..
            } => {
                let mut guard = lock_writer(w).await?;
                // Dirty until BEGIN has returned: if this future is dropped
                // while BEGIN runs (a client went away), the connection may
                // be inside a transaction nobody owns, and the next user
                // must roll it back.
                guard.dirty = true;
                let conn = guard.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                guard.dirty = false;
                Tx::Sqlite(SqliteTx(SqliteTxInner::Dedicated {
                    guard: Some(guard),
                    open: true,
                }))
            }
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { writer, reader } => {
                match writer {
                    SqliteWriter::Shared(pool) => pool.close().await,
                    SqliteWriter::Dedicated(w) => {
                        // Waits for the transaction in progress, if any.
                        let mut w = w.lock().await;
                        rollback_if_dirty(&mut w).await;
                        if let Some(conn) = w.conn.take()
                            && let Err(e) = conn.close().await
                        {
                            tracing::warn!(error = %e, "closing the SQLite writer");
                        }
                    }
                }
                reader.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// Takes the SQLite writer, waiting for the transaction ahead (in arrival
/// order: tokio's mutex is fair) at most [`WRITER_TIMEOUT`], and hands it
/// over outside any transaction.
async fn lock_writer(
    w: &Arc<Mutex<WriterConn>>,
) -> Result<OwnedMutexGuard<WriterConn>, StoreError> {
    let mut guard = tokio::time::timeout(WRITER_TIMEOUT, w.clone().lock_owned())
        .await
        .map_err(|_| StoreError::Sqlx(sqlx::Error::PoolTimedOut))?;
    rollback_if_dirty(&mut guard).await;
    Ok(guard)
}

/// True when `err` is a unique-constraint violation on either backend.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}
