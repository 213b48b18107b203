//! The job queue: background work stored next to the data it concerns.
//!
//! Jobs are inserted in the same transaction as the change that needs them (the
//! crate's `Enqueue` trait), claimed with a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; SQLite's single writer needs no skip), retried with backoff, and taken
//! again when a worker dies mid-job and its lease lapses. Every job must be idempotent.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use fluidcloud_core::time::now;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::backend::{Dialect, Store};
use crate::changes::JOBS_CHANNEL;
use crate::error::StoreResult;

/// Attempts before a job is given up on and kept as dead.
pub const MAX_ATTEMPTS: i32 = 20;

/// The work a job does. Stored as JSON; unknown kinds are kept dead, not dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Scan a pending file and record the verdict.
    Scan { file_id: Uuid },
    /// Abort a multipart upload (if any) and delete what an upload left in the store.
    DiscardUpload {
        object_key: String,
        multipart_id: Option<String>,
    },
    /// Delete objects whose rows are gone.
    DeleteObjects { object_keys: Vec<String> },
    /// Erase a space marked `deleting` and everything in it.
    PurgeSpace { space_id: Uuid },
    /// Scan a judged file again with the current signatures: a clean file changes only
    /// to infected (or failed, if its bytes no longer match), a failed one may become
    /// clean; scanner errors leave the standing verdict.
    Rescan { file_id: Uuid },
}

/// The kinds this build runs, as an SQL list. A worker claims only these: during a
/// rolling upgrade an older worker leaves a newer kind to the workers that know it
/// instead of killing it as unreadable.
const KNOWN_KINDS: &str = "'scan', 'discard_upload', 'delete_objects', 'purge_space', 'rescan'";

impl JobKind {
    /// A short name for logs and metrics (and the `kind` column).
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::Scan { .. } => "scan",
            JobKind::DiscardUpload { .. } => "discard_upload",
            JobKind::DeleteObjects { .. } => "delete_objects",
            JobKind::PurgeSpace { .. } => "purge_space",
            JobKind::Rescan { .. } => "rescan",
        }
    }
}

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    /// `Err` holds the raw payload of a job this build does not understand.
    pub kind: Result<JobKind, String>,
    /// Including this one.
    pub attempts: i32,
    /// This claim's token: only its holder may renew, finish or fail the job.
    pub lease: Uuid,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    payload: String,
    attempts: i32,
    lease_token: Uuid,
}

/// Delay before retry number `attempts` (1-based): 2 s doubling to at most 10 min.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 10) - 1).unwrap_or(0);
    Duration::from_secs(2u64.saturating_mul(1 << exponent)).min(Duration::from_secs(600))
}

/// Object keys deleted per [`JobKind::DeleteObjects`] job.
const DELETE_BATCH: usize = 500;

const INSERT_JOB: &str =
    "INSERT INTO jobs (kind, payload, run_at, created_at) VALUES ($1, $2, $3, $4)";

/// How a transaction enqueues work: the job is inserted in the caller's transaction,
/// so it exists exactly when the change that needs it commits.
pub(crate) trait Enqueue: sqlx::Database {
    /// Inserts one job, due at `run_at`.
    fn enqueue(
        conn: &mut Self::Connection,
        kind: &JobKind,
        run_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// When the last upload URL that can still write one of `object_keys` lapses, if
    /// any can.
    fn last_url_lapse(
        conn: &mut Self::Connection,
        object_keys: &[String],
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, sqlx::Error>> + Send;

    /// Enqueues the deletion of these objects, [`DELETE_BATCH`] keys per job (no job
    /// for no keys). Where an upload URL for one of the keys is still valid, the batch
    /// is erased once more a minute after it lapses: a client holding the URL could
    /// otherwise put the bytes back, unrecorded and uncharged.
    fn enqueue_deletes(
        conn: &mut Self::Connection,
        object_keys: &[String],
        run_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        async move {
            for batch in object_keys.chunks(DELETE_BATCH) {
                let delete = JobKind::DeleteObjects {
                    object_keys: batch.to_vec(),
                };
                Self::enqueue(&mut *conn, &delete, run_at).await?;
                if let Some(lapse) = Self::last_url_lapse(&mut *conn, batch).await? {
                    let again = lapse + TimeDelta::minutes(1);
                    Self::enqueue(&mut *conn, &delete, again.max(run_at)).await?;
                }
            }
            Ok(())
        }
    }
}

/// `SELECT expires_at FROM uploads WHERE object_key IN ($2, …) AND expires_at > $1`.
fn url_lapses_sql(keys: usize) -> String {
    let placeholders: Vec<String> = (2..keys + 2).map(|n| format!("${n}")).collect();
    format!(
        "SELECT expires_at FROM uploads WHERE expires_at > $1 AND object_key IN ({})",
        placeholders.join(", ")
    )
}

/// Both dialects run the same statement; only the connection type differs.
macro_rules! last_url_lapse {
    ($conn:expr, $keys:expr) => {{
        if $keys.is_empty() {
            return Ok(None);
        }
        let sql = url_lapses_sql($keys.len());
        let mut query = sqlx::query_scalar::<_, DateTime<Utc>>(&sql).bind(now());
        for key in $keys {
            query = query.bind(key);
        }
        Ok(query.fetch_all($conn).await?.into_iter().max())
    }};
}

impl Enqueue for sqlx::Postgres {
    async fn last_url_lapse(
        conn: &mut sqlx::PgConnection,
        object_keys: &[String],
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        last_url_lapse!(conn, object_keys)
    }

    async fn enqueue(
        conn: &mut sqlx::PgConnection,
        kind: &JobKind,
        run_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(INSERT_JOB)
            .bind(kind.name())
            .bind(encode(kind))
            .bind(run_at)
            .bind(now())
            .execute(&mut *conn)
            .await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(JOBS_CHANNEL)
            .execute(conn)
            .await
            .map(drop)
    }
}

impl Enqueue for sqlx::Sqlite {
    async fn last_url_lapse(
        conn: &mut sqlx::SqliteConnection,
        object_keys: &[String],
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        last_url_lapse!(conn, object_keys)
    }

    async fn enqueue(
        conn: &mut sqlx::SqliteConnection,
        kind: &JobKind,
        run_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(INSERT_JOB)
            .bind(kind.name())
            .bind(encode(kind))
            .bind(run_at)
            .bind(now())
            .execute(conn)
            .await
            .map(drop)
    }
}

fn encode(kind: &JobKind) -> String {
    serde_json::to_string(kind).expect("job kinds always serialize")
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

impl Store {
    /// Enqueues a job on its own (outside any other change).
    pub async fn enqueue(&self, kind: &JobKind, run_at: DateTime<Utc>) -> StoreResult<()> {
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            Db::enqueue(&mut tx, kind, run_at).await?;
            tx.commit().await?;
            self.jobs_enqueued();
            Ok(())
        })
    }

    /// Claims the next due job for `lease`, or `None` when nothing is due. First scans
    /// go first: a backlog of rescans or deletions never keeps a new upload waiting.
    pub async fn claim_job(&self, lease: Duration) -> StoreResult<Option<Job>> {
        let mut row = self.claim_due(lease, "= 'scan'").await?;
        if row.is_none() {
            row = self
                .claim_due(lease, &format!("IN ({KNOWN_KINDS})"))
                .await?;
        }
        Ok(row.map(|row| Job {
            id: row.id,
            kind: serde_json::from_str(&row.payload).map_err(|_| row.payload),
            attempts: row.attempts,
            lease: row.lease_token,
        }))
    }

    /// Claims the oldest due job whose kind matches `kind_filter` (SQL after `kind`).
    async fn claim_due(&self, lease: Duration, kind_filter: &str) -> StoreResult<Option<JobRow>> {
        let at = now();
        Ok(with_pool!(self, |pool, Db| {
            let sql = format!(
                "UPDATE jobs SET locked_until = $1, attempts = attempts + 1, lease_token = $3 \
                 WHERE id = (SELECT id FROM jobs WHERE NOT dead AND run_at <= $2 \
                   AND (locked_until IS NULL OR locked_until < $2) AND kind {kind_filter} \
                   ORDER BY run_at, id LIMIT 1{}) \
                 RETURNING id, payload, attempts, lease_token",
                Db::SKIP_LOCKED
            );
            sqlx::query_as(&sql)
                .bind(at + delta(lease))
                .bind(at)
                .bind(Uuid::new_v4())
                .fetch_optional(pool)
                .await
        })?)
    }

    /// Keeps a running job's lease from lapsing. `false` when the claim was lost: the
    /// lease lapsed and another claim took the job over.
    pub async fn extend_lease(&self, job: &Job, lease: Duration) -> StoreResult<bool> {
        let renewed = with_pool!(self, |pool| {
            sqlx::query("UPDATE jobs SET locked_until = $2 WHERE id = $1 AND lease_token = $3")
                .bind(job.id)
                .bind(now() + delta(lease))
                .bind(job.lease)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(renewed == 1)
    }

    /// Removes a finished job (unless another claim holds it now: that one finishes it).
    pub async fn finish_job(&self, job: &Job) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_token = $2")
                .bind(job.id)
                .bind(job.lease)
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }

    /// Schedules another attempt after a failure, or marks the job dead once it has
    /// used [`MAX_ATTEMPTS`]. Returns whether it will run again.
    pub async fn fail_job(&self, job: &Job, error: &str) -> StoreResult<bool> {
        let retry = job.attempts < MAX_ATTEMPTS && job.kind.is_ok();
        let run_at = now() + delta(backoff(job.attempts));
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET locked_until = NULL, last_error = $2, run_at = $3, dead = $4 \
                 WHERE id = $1 AND lease_token = $5",
            )
            .bind(job.id)
            .bind(error)
            .bind(run_at)
            .bind(!retry)
            .bind(job.lease)
            .execute(pool)
            .await
            .map(drop)
        })?;
        Ok(retry)
    }

    /// Makes a waiting job due now, e.g. the safety-net scan of a file whose inline
    /// scan could not reach a verdict.
    pub async fn expedite(&self, kind: &JobKind) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query("UPDATE jobs SET run_at = $2 WHERE payload = $1 AND NOT dead AND locked_until IS NULL")
                .bind(encode(kind))
                .bind(now())
                .execute(pool)
                .await
                .map(drop)
        })?;
        self.jobs_enqueued();
        Ok(())
    }

    /// Attempts so far and the last error of a queued job (dead ones included), for
    /// operators and tests.
    pub async fn job_state(&self, kind: &JobKind) -> StoreResult<Option<(i32, Option<String>)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT attempts, last_error FROM jobs WHERE payload = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(encode(kind))
            .fetch_optional(pool)
            .await
        })?)
    }

    /// Jobs waiting or running (dead ones excluded).
    pub async fn queue_depth(&self) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE NOT dead")
                .fetch_one(pool)
                .await
        })?)
    }

    /// The jobs of a kind that are waiting, for tests and the operator.
    pub async fn pending_jobs(&self) -> StoreResult<Vec<JobKind>> {
        let payloads: Vec<String> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT payload FROM jobs WHERE NOT dead ORDER BY id")
                .fetch_all(pool)
                .await
        })?;
        Ok(payloads
            .iter()
            .filter_map(|p| serde_json::from_str(p).ok())
            .collect())
    }

    /// Wakes this process's workers after an enqueue committed. Other processes hear
    /// of it through `NOTIFY` (PostgreSQL) or their polling.
    pub(crate) fn jobs_enqueued(&self) {
        // `notify_one` keeps a permit when nobody waits yet, so a worker that is busy
        // claiming right now still sees the wake-up on its next wait.
        self.feed.jobs.notify_one();
    }

    /// Completes when jobs may have been enqueued (by this process, or by any process
    /// on PostgreSQL). Workers also poll, so a missed wake-up only delays work.
    pub async fn jobs_wakeup(&self) {
        self.feed.jobs.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_claimable() {
        for kind in [
            JobKind::Scan {
                file_id: Uuid::nil(),
            },
            JobKind::DiscardUpload {
                object_key: String::new(),
                multipart_id: None,
            },
            JobKind::DeleteObjects {
                object_keys: vec![],
            },
            JobKind::PurgeSpace {
                space_id: Uuid::nil(),
            },
            JobKind::Rescan {
                file_id: Uuid::nil(),
            },
        ] {
            assert!(
                KNOWN_KINDS.contains(&format!("'{}'", kind.name())),
                "{} is missing from KNOWN_KINDS",
                kind.name()
            );
        }
        assert_eq!(KNOWN_KINDS.matches('\'').count(), 2 * 5);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(20), Duration::from_secs(600));
    }

    #[test]
    fn kinds_round_trip_as_json() {
        let kind = JobKind::DiscardUpload {
            object_key: "t/x".into(),
            multipart_id: Some("m".into()),
        };
        let json = encode(&kind);
        assert!(json.contains("\"kind\":\"discard_upload\""));
        assert_eq!(serde_json::from_str::<JobKind>(&json).unwrap(), kind);
    }
}
