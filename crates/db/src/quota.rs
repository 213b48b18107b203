//! Quota: the rule for which bytes count toward a tenant's storage pool, the tenant's
//! usage and limits as the running counters keep them, and the same figures recounted
//! from the rows. Reserving and releasing bytes inside other operations is done with
//! `reserve_bytes!` and `release_used!` (see `macros`).

use fluidcloud_core::model::{File, ScanStatus};
use uuid::Uuid;

use crate::backend::Store;
use crate::error::{StoreError, StoreResult};

// The quota rule, in one place: an infected file's bytes are erased when its verdict
// is recorded (`record_scan` releases them from the pool in the same transaction), so
// from then on they neither count toward the storage pool nor are expected in the
// object store. Every other file's bytes do and are, trashed files' included. Each sum,
// release and reconcile query goes through these, or `bytes_used` drifts from what
// `recount_usage` finds.
macro_rules! bytes_kept {
    () => {
        "scan_status <> 'infected'"
    };
}

/// SQL condition on a `files` row: its bytes are kept, count toward the pool and
/// should be in the object store.
pub(crate) const BYTES_KEPT: &str = bytes_kept!();

/// SQL expression: the bytes of a `files` row that count toward the pool.
pub(crate) const COUNTED_BYTES: &str =
    concat!("CASE WHEN ", bytes_kept!(), " THEN size ELSE 0 END");

/// SQL expression: 1 when a `files` row counts among its app's files, else 0.
pub(crate) const COUNTED_FILE: &str = concat!(
    "CAST(CASE WHEN ",
    bytes_kept!(),
    " THEN 1 ELSE 0 END AS BIGINT)"
);

/// [`COUNTED_BYTES`] of a row already loaded.
pub(crate) fn counted_bytes(file: &File) -> i64 {
    if file.scan_status == ScanStatus::Infected {
        0
    } else {
        file.size
    }
}

/// A tenant's usage and limits (SPEC §4, Quota).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Quota {
    /// Bytes of completed files not yet purged (trashed files count, erased infected
    /// files do not).
    pub bytes_used: i64,
    pub bytes_limit: i64,
    /// Bytes declared by uploads still open (ours): they count against the limit too.
    pub bytes_reserved: i64,
    /// Live expiring share links.
    pub links_used: i64,
    pub links_limit: i64,
    pub by_app: Vec<AppUsage>,
}

/// One app namespace's share of the pool.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AppUsage {
    pub app: String,
    pub bytes: i64,
    pub files: i64,
}

impl Store {
    /// The tenant's storage limit (`-1`: none) and the bytes counted against it (used
    /// plus reserved). Only a hint: reservations are what enforce the limit.
    pub async fn storage_counted(&self, tenant_id: Uuid) -> StoreResult<(i64, i64)> {
        let (limit, counted): (i64, i64) = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT bytes_limit, bytes_used + bytes_reserved FROM tenants WHERE id = $1",
            )
            .bind(tenant_id)
            .fetch_optional(pool)
            .await
        })?
        .ok_or(StoreError::NotFound("tenant"))?;
        Ok((limit, counted))
    }

    /// The tenant's usage and limits, consistent with every committed change.
    pub async fn quota(&self, tenant_id: Uuid) -> StoreResult<Quota> {
        let (bytes_used, bytes_limit, bytes_reserved, links_limit, by_app) = with_pool!(
            self,
            |pool| {
                let mut tx = pool.begin().await?;
                let tenant: Option<(i64, i64, i64, i64)> = sqlx::query_as(
                "SELECT bytes_used, bytes_limit, bytes_reserved, links_limit FROM tenants WHERE id = $1",
            )
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
                // The running counters: a few rows, whatever the number of files.
                let by_app: Vec<AppUsage> = sqlx::query_as(
                    "SELECT app, bytes, files FROM app_usage \
                     WHERE tenant_id = $1 AND files > 0 ORDER BY app",
                )
                .bind(tenant_id)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let (used, limit, reserved, links_limit) =
                    tenant.ok_or(StoreError::NotFound("tenant"))?;
                Ok::<_, StoreError>((used, limit, reserved, links_limit, by_app))
            }
        )?;
        Ok(Quota {
            bytes_used,
            bytes_limit,
            bytes_reserved,
            links_used: self.links_used(tenant_id).await?,
            links_limit,
            by_app,
        })
    }

    /// The tenant's usage recomputed from the rows themselves (files, shares, open
    /// uploads), for checking the running counters. Same shape as [`Store::quota`].
    pub async fn recount_usage(&self, tenant_id: Uuid) -> StoreResult<Quota> {
        let (bytes_used, bytes_reserved, by_app, limits) = with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let used: i64 = sqlx::query_scalar(&format!(
                "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files \
                 WHERE tenant_id = $1 AND {BYTES_KEPT}",
            ))
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
            let reserved: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM uploads WHERE tenant_id = $1 AND state = 'open'",
            )
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
            let by_app: Vec<AppUsage> = sqlx::query_as(&format!(
                    "SELECT source_app AS app, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes, COUNT(*) AS files \
                     FROM files WHERE tenant_id = $1 AND {BYTES_KEPT} \
                     GROUP BY source_app ORDER BY source_app",
                ))
                .bind(tenant_id)
                .fetch_all(&mut *tx)
                .await?;
            let limits: Option<(i64, i64)> =
                sqlx::query_as("SELECT bytes_limit, links_limit FROM tenants WHERE id = $1")
                    .bind(tenant_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok::<_, StoreError>((used, reserved, by_app, limits))
        })?;
        let (bytes_limit, links_limit) = limits.ok_or(StoreError::NotFound("tenant"))?;
        Ok(Quota {
            bytes_used,
            bytes_limit,
            bytes_reserved,
            links_used: self.links_used(tenant_id).await?,
            links_limit,
            by_app,
        })
    }
}
