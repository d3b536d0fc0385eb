use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlx(sqlx::Error),
    /// A concurrent transaction got in the way: a deadlock, a serialization
    /// failure, a lock wait that timed out, or a row this one referenced
    /// deleted under it (a foreign key violation). Nothing was written; the
    /// request may be retried. The API answers 409, never 500.
    #[error("conflict with a concurrent request")]
    Conflict(sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid database configuration: {0}")]
    Config(String),
}

/// SQLSTATEs (PostgreSQL) and extended result codes (SQLite) that mean a
/// concurrent writer, not a bug or an outage.
const CONFLICT_CODES: &[&str] = &[
    "40001", // serialization_failure
    "40P01", // deadlock_detected
    "55P03", // lock_not_available (lock_timeout)
    "23503", // foreign_key_violation
    "787",   // SQLITE_CONSTRAINT_FOREIGNKEY
];

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let conflict = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| CONFLICT_CODES.contains(&code.as_ref()));
        if conflict {
            StoreError::Conflict(e)
        } else {
            StoreError::Sqlx(e)
        }
    }
}

impl StoreError {
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Sqlx(e) if crate::db::is_unique_violation(e))
    }

    /// See [`StoreError::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }
}
