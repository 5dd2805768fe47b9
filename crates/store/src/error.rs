//! The store's one error type.

use std::fmt;

/// Why a store operation failed. Messages are safe to show an operator: no SQL text,
/// no connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The row does not exist.
    NotFound(String),
    /// A uniqueness or state rule refused the write (duplicate serial, already revoked…).
    Conflict(String),
    /// The input is not acceptable (bad URL, bad enum value).
    Invalid(String),
    /// The database failed or is unreachable.
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound(s) => write!(f, "not found: {s}"),
            StoreError::Conflict(s) => write!(f, "conflict: {s}"),
            StoreError::Invalid(s) => write!(f, "invalid: {s}"),
            StoreError::Backend(s) => write!(f, "database: {s}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound("no such row".into()),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::Invalid(db.message().to_string())
            }
            sqlx::Error::Database(db) if db.is_check_violation() => {
                StoreError::Invalid(db.message().to_string())
            }
            _ => StoreError::Backend(e.to_string()),
        }
    }
}
