//! Scan verdicts: what a scanner needs to know about a file, recording its verdict
//! (an infected file's bytes stop counting and are erased), and queueing rescans.

use fluidcloud_core::model::{FileStatus, ScanStatus};
use fluidcloud_core::time::now;
use uuid::Uuid;

use crate::backend::{Dialect, Store};
use crate::changes::{Change, Publish};
use crate::error::{StoreError, StoreResult};
use crate::jobs::{Enqueue, JobKind};

/// A scan's result, as the worker or the API records it.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    pub scan_status: ScanStatus,
    /// The type detected from the bytes (clean files).
    pub mime: Option<String>,
    /// The SHA-256 computed over the bytes, when they were read.
    pub sha256: Option<String>,
    /// e.g. `clamd ClamAV 1.4.6/27000` or `builtin/1 (…)`.
    pub scanner: String,
    /// What was found, or why the scan failed.
    pub signature: Option<String>,
    /// The store's entity tag of the bytes judged, when they were read.
    pub object_etag: Option<String>,
}

/// A file's row state a scanner needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScanTarget {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub object_key: String,
    pub size: i64,
    pub sha256: String,
    pub mime: String,
    pub scan_status: ScanStatus,
}

/// Which files `fluidcloud admin rescan` scans again.
#[derive(Debug, Clone)]
pub enum RescanFilter {
    /// Every judged file.
    All,
    /// Files whose verdict is older than this.
    ScannedBefore(chrono::DateTime<chrono::Utc>),
    /// Files judged by any other scanner or signature version than this one.
    NotScannedBy(String),
}

impl Store {
    /// What the scanner needs to know about a file, or `None` if it is gone.
    pub async fn scan_target(&self, file_id: Uuid) -> StoreResult<Option<ScanTarget>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, tenant_id, object_key, size, sha256, mime, scan_status FROM files WHERE id = $1",
            )
            .bind(file_id)
            .fetch_optional(pool)
            .await
        })?)
    }

    /// Records a verdict on a file whose status is still `judged` (`pending` for a first
    /// scan, its old verdict for a rescan); a file that changed meanwhile is left alone,
    /// so a repeated scan changes nothing. An infected file's bytes stop counting toward
    /// the pool (the caller erases them; a job guarantees it). Returns whether the
    /// verdict was recorded.
    pub async fn record_scan(
        &self,
        file_id: Uuid,
        judged: ScanStatus,
        outcome: &ScanOutcome,
    ) -> StoreResult<bool> {
        let status = match outcome.scan_status {
            ScanStatus::Clean => FileStatus::Ready,
            ScanStatus::Pending => return Ok(false),
            ScanStatus::Infected | ScanStatus::Failed => FileStatus::Quarantined,
        };
        let recorded = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            if outcome.scan_status == ScanStatus::Infected {
                // Releasing the bytes changes the tenant's counters: its row first.
                let tenant: Option<Uuid> =
                    sqlx::query_scalar("SELECT tenant_id FROM files WHERE id = $1")
                        .bind(file_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some(tenant_id) = tenant {
                    lock_tenant!(tx, Db, tenant_id);
                }
            }
            let row: Option<(Uuid, String, i64, String)> = sqlx::query_as(
                "UPDATE files SET scan_status = $2, status = $3, mime = COALESCE($4, mime), \
                 sha256 = COALESCE($5, sha256), scanner = $6, scan_signature = $7, scanned_at = $8, updated_at = $8, \
                 object_etag = COALESCE($10, object_etag) \
                 WHERE id = $1 AND scan_status = $9 RETURNING tenant_id, object_key, size, source_app",
            )
            .bind(file_id)
            .bind(outcome.scan_status.as_str())
            .bind(status.as_str())
            .bind(&outcome.mime)
            .bind(&outcome.sha256)
            .bind(&outcome.scanner)
            .bind(&outcome.signature)
            .bind(now())
            .bind(judged.as_str())
            .bind(&outcome.object_etag)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((tenant_id, object_key, size, app)) = row else {
                return Ok(false);
            };
            if outcome.scan_status == ScanStatus::Infected {
                release_used!(tx, tenant_id, size);
                count_app!(tx, tenant_id, &app, -size, -1);
                let keys = [object_key];
                Db::enqueue_deletes(&mut tx, &keys, now() + chrono::TimeDelta::minutes(1)).await?;
            }
            Db::publish(&mut tx, &Change::File(file_id)).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })?;
        self.jobs_enqueued();
        Ok(recorded)
    }

    /// Enqueues a rescan of every judged file (clean or failed) the filter selects;
    /// returns how many.
    pub async fn enqueue_rescans(&self, filter: &RescanFilter) -> StoreResult<u64> {
        let ids: Vec<Uuid> = with_pool!(self, |pool| {
            let base = "SELECT id FROM files WHERE scan_status IN ('clean', 'failed')";
            match filter {
                RescanFilter::All => sqlx::query_scalar(base).fetch_all(pool).await,
                RescanFilter::ScannedBefore(at) => {
                    sqlx::query_scalar(&format!(
                        "{base} AND (scanned_at IS NULL OR scanned_at < $1)"
                    ))
                    .bind(*at)
                    .fetch_all(pool)
                    .await
                }
                RescanFilter::NotScannedBy(scanner) => {
                    sqlx::query_scalar(&format!("{base} AND (scanner IS NULL OR scanner <> $1)"))
                        .bind(scanner)
                        .fetch_all(pool)
                        .await
                }
            }
        })?;
        for chunk in ids.chunks(500) {
            with_pool!(self, |pool, Db| {
                let mut tx = Db::begin_write(pool).await?;
                for file_id in chunk {
                    Db::enqueue(&mut tx, &JobKind::Rescan { file_id: *file_id }, now()).await?;
                }
                tx.commit().await
            })?;
        }
        self.jobs_enqueued();
        Ok(ids.len() as u64)
    }
}
