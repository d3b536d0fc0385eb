//! One storage interface over two concrete sqlx pools.
//!
//! We do not use `sqlx::AnyPool`: its query builder emits `?` placeholders
//! that PostgreSQL rejects. Instead every query is written once with `$N`
//! placeholders (which SQLite also understands) and compiled twice, once per
//! backend, by the [`dispatch!`] macro.
//!
//! SQLite allows one writer at a time. Rather than letting connections race
//! for the write lock (and fail with SQLITE_BUSY when a deferred transaction
//! upgrades), all writes go through a single-connection pool; reads use a
//! separate pool and, thanks to WAL, never block on the writer.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

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
        writer: SqlitePool,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

/// An open write transaction on either backend.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    /// The connection of this transaction, for use with [`dispatch!`].
    pub fn conn(&mut self) -> Target<&mut sqlx::SqliteConnection, &mut sqlx::PgConnection> {
        match self {
            Tx::Sqlite(t) => Target::Sqlite(&mut **t),
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
                writer: pool.clone(),
                reader: pool,
            });
        }
        let base = base
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(base.clone())
            .await?;
        // As many readers as cores: sqlx gives each SQLite connection its
        // own worker thread, and every thread that once decoded a large
        // result keeps that memory in its allocator heap, so idle extra
        // readers cost memory without adding speed.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        let reader = SqlitePoolOptions::new()
            .max_connections(cores.max(2))
            .connect_with(base.read_only(false))
            .await?;
        Ok(Db::Sqlite { writer, reader })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite { writer, .. } => sqlx::migrate!("./migrations/sqlite").run(writer).await?,
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
        Ok(match self {
            // IMMEDIATE takes the write lock up front: a deferred transaction
            // that reads and then writes fails at once with SQLITE_BUSY when
            // another process wrote in between, instead of waiting its turn.
            Db::Sqlite { writer, .. } => Tx::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?),
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
                writer.close().await;
                reader.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// True when `err` is a unique-constraint violation on either backend.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}
