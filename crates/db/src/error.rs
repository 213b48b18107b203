//! Errors of the metadata store, named after what the caller must do about them.

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist, or belongs to another tenant (the two are
    /// indistinguishable on purpose). The string names the kind of record.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request is understood but breaks a rule (a folder cycle, a cross-space move).
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the record's current state.
    #[error("{0}")]
    Conflict(String),
    /// A plan limit would be exceeded.
    #[error("quota exceeded")]
    QuotaExceeded(QuotaExceeded),
    /// The database cannot be reached or has no free connection right now.
    #[error("metadata database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else the database reported: a bug or a broken schema.
    #[error("metadata database error")]
    Database(#[source] sqlx::Error),
    /// The schema is older than this build expects.
    #[error("{0}")]
    Schema(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(err)
            }
            sqlx::Error::Database(ref db) if is_connection_failure(db.code().as_deref()) => {
                StoreError::Unavailable(err)
            }
            other => StoreError::Database(other),
        }
    }
}

/// PostgreSQL "connection exception" (08xxx), "operator intervention" (57xxx, e.g. the
/// server shutting down) and "transaction rollback" (40xxx: a deadlock or serialization
/// failure, whose transaction PostgreSQL rolled back so another could go on) classes,
/// and SQLite's BUSY (5) / LOCKED (6) after the timeout: all pass if the request is
/// simply made again.
fn is_connection_failure(code: Option<&str>) -> bool {
    matches!(code, Some(c) if c.starts_with("08") || c.starts_with("57") || c.starts_with("40") || c == "5" || c == "6")
}

/// Which limit a request would break, and by how much (SPEC §3, 402).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuotaExceeded {
    /// `storage` or `share_links`.
    pub limit: &'static str,
    /// What already counts against the limit (for storage: used plus reserved bytes).
    pub used: i64,
    /// The plan's limit.
    pub limit_value: i64,
    /// What the request asked for.
    pub requested: i64,
}
