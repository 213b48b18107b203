//! Timestamps as the metadata store keeps them.
//!
//! PostgreSQL stores microseconds; SQLite stores what we give it. Truncating every
//! timestamp we create to whole microseconds makes the two agree, so a value read back
//! compares equal to the one written (idempotency checks and paging cursors rely on it).

use chrono::{DateTime, SubsecRound, Utc};

/// The current time, truncated to whole microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
