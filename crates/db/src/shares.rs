//! Share links: creation against the link quota, listing, revocation, and what the
//! raw-link server needs to serve one.

use chrono::{DateTime, Utc};
use fluidcloud_core::model::{Permission, ScanStatus, Share};
use fluidcloud_core::paging::{Page, PageRequest};
use fluidcloud_core::time::now;
use uuid::Uuid;

use crate::backend::{Dialect, Store, page_bounds};
use crate::changes::{Change, Publish};
use crate::error::{QuotaExceeded, StoreError, StoreResult};

const SHARE_COLUMNS: &str = "id, file_id, permission, expires_at, max_downloads, download_count, \
     revoked_at IS NOT NULL AS revoked, password_hash IS NOT NULL AS has_password, created_at, updated_at";

/// Live expiring links of a tenant at `$2`: they hold a slot of `links_limit`.
const LIVE_EXPIRING: &str = "tenant_id = $1 AND expires_at IS NOT NULL AND expires_at > $2 \
     AND revoked_at IS NULL AND (max_downloads IS NULL OR download_count < max_downloads)";

/// A link to create. The token is minted by the caller; only its digest is stored.
#[derive(Debug, Clone)]
pub struct NewShare {
    pub tenant_id: Uuid,
    pub file_id: Uuid,
    pub token_digest: [u8; 32],
    pub permission: Permission,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_downloads: Option<i64>,
    pub password_hash: Option<String>,
}

/// Everything the raw-link server needs to answer a token, in one row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShareAccess {
    pub share_id: Uuid,
    pub file_id: Uuid,
    pub permission: Permission,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_downloads: Option<i64>,
    pub download_count: i64,
    pub revoked: bool,
    pub password_hash: Option<String>,
    pub object_key: String,
    pub mime: String,
    pub size: i64,
    pub sha256: String,
    pub original_name: String,
    pub scan_status: ScanStatus,
    pub file_trashed: bool,
    pub file_created_at: DateTime<Utc>,
    /// The entity tag of the bytes that were scanned (see `File::object_etag`).
    pub object_etag: Option<String>,
}

impl Store {
    /// Creates a link to a clean, live file. An expiring link takes a slot of the
    /// tenant's `links_limit` (402 when none is free); a permanent one does not.
    pub async fn create_share(&self, new: &NewShare) -> StoreResult<Share> {
        let insert = format!(
            "INSERT INTO shares (id, tenant_id, file_id, token_digest, permission, expires_at, max_downloads, \
             password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             RETURNING {SHARE_COLUMNS}"
        );
        let share = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            // Creations of one tenant are serialised, so two cannot take the last slot.
            let lock = format!(
                "SELECT links_limit FROM tenants WHERE id = $1{}",
                Db::FOR_UPDATE
            );
            let links_limit: Option<i64> = sqlx::query_scalar(&lock)
                .bind(new.tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            let links_limit = links_limit.ok_or(StoreError::NotFound("tenant"))?;
            let file: Option<(ScanStatus, bool)> = sqlx::query_as(
                "SELECT scan_status, deleted_at IS NOT NULL FROM files WHERE id = $1 AND tenant_id = $2 \
                 AND EXISTS (SELECT 1 FROM spaces s WHERE s.id = files.space_id AND NOT s.deleting)",
            )
            .bind(new.file_id)
            .bind(new.tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
            match file {
                None | Some((_, true)) => return Err(StoreError::NotFound("file")),
                Some((ScanStatus::Clean, false)) => {}
                Some((status, false)) => {
                    return Err(StoreError::Conflict(format!(
                        "File is not shareable yet (scan_status='{}'); must be 'clean'.",
                        status.as_str()
                    )));
                }
            }
            let at = now();
            if new.expires_at.is_some() && links_limit >= 0 {
                let used: i64 = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM shares WHERE {LIVE_EXPIRING}"
                ))
                .bind(new.tenant_id)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
                if used >= links_limit {
                    return Err(StoreError::QuotaExceeded(QuotaExceeded {
                        limit: "share_links",
                        used,
                        limit_value: links_limit,
                        requested: 1,
                    }));
                }
            }
            let share: Share = sqlx::query_as(&insert)
                .bind(Uuid::new_v4())
                .bind(new.tenant_id)
                .bind(new.file_id)
                .bind(&new.token_digest[..])
                .bind(new.permission.as_str())
                .bind(new.expires_at)
                .bind(new.max_downloads)
                .bind(&new.password_hash)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(share)
        })?;
        Ok(share)
    }

    /// The tenant's links, of one file or all; inactive ones (revoked, expired,
    /// exhausted) only when asked for.
    pub async fn list_shares(
        &self,
        tenant_id: Uuid,
        file_id: Option<Uuid>,
        include_inactive: bool,
        page: &PageRequest,
    ) -> StoreResult<Page<Share>> {
        if let Some(file_id) = file_id {
            self.file(tenant_id, file_id).await?;
        }
        let mut sql = format!(
            "SELECT {SHARE_COLUMNS} FROM shares WHERE tenant_id = $1 AND (created_at, id) > ($2, $3)"
        );
        if !include_inactive {
            sql.push_str(
                " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $5) \
                 AND (max_downloads IS NULL OR download_count < max_downloads)",
            );
        }
        if file_id.is_some() {
            sql.push_str(if include_inactive {
                " AND file_id = $5"
            } else {
                " AND file_id = $6"
            });
        }
        sql.push_str(" ORDER BY created_at, id LIMIT $4");
        let (after_at, after_id) = page_bounds(page);
        let rows: Vec<Share> = with_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql)
                .bind(tenant_id)
                .bind(after_at)
                .bind(after_id)
                .bind(page.fetch_limit());
            if !include_inactive {
                query = query.bind(now());
            }
            if let Some(file_id) = file_id {
                query = query.bind(file_id);
            }
            query.fetch_all(pool).await
        })?;
        Ok(Page::from_fetched(rows, page))
    }

    /// Revokes a link; revoking a revoked link changes nothing. Every raw-link server
    /// stops serving it as soon as the change feed delivers the revocation.
    pub async fn revoke_share(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<()> {
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let revoked = sqlx::query(
                "UPDATE shares SET updated_at = CASE WHEN revoked_at IS NULL THEN $3 ELSE updated_at END, \
                 revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND tenant_id = $2",
            )
            .bind(id)
            .bind(tenant_id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            if revoked.rows_affected() == 0 {
                return Err(StoreError::NotFound("share"));
            }
            Db::publish(&mut tx, &Change::Share(id)).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Live expiring links of a tenant right now.
    pub async fn links_used(&self, tenant_id: Uuid) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM shares WHERE {LIVE_EXPIRING}"
            ))
            .bind(tenant_id)
            .bind(now())
            .fetch_one(pool)
            .await
        })?)
    }

    /// The link with this token digest and its file, or `None`.
    pub async fn share_access(&self, token_digest: &[u8; 32]) -> StoreResult<Option<ShareAccess>> {
        const SQL: &str = "SELECT s.id AS share_id, s.file_id, s.permission, s.expires_at, s.max_downloads, \
             s.download_count, s.revoked_at IS NOT NULL AS revoked, s.password_hash, f.object_key, f.mime, f.size, \
             f.sha256, f.original_name, f.scan_status, f.deleted_at IS NOT NULL AS file_trashed, \
             f.created_at AS file_created_at, f.object_etag \
             FROM shares s JOIN files f ON f.id = s.file_id \
             WHERE s.token_digest = $1 \
             AND EXISTS (SELECT 1 FROM spaces sp WHERE sp.id = f.space_id AND NOT sp.deleting)";
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(SQL)
                .bind(&token_digest[..])
                .fetch_optional(pool)
                .await
        })?)
    }

    /// Counts one full download of a link with a cap, atomically: `false` when the cap
    /// was already reached (the link is exhausted).
    pub async fn take_download(&self, share_id: Uuid) -> StoreResult<bool> {
        let taken = with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE shares SET download_count = download_count + 1 \
                 WHERE id = $1 AND (max_downloads IS NULL OR download_count < max_downloads)",
            )
            .bind(share_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(taken == 1)
    }

    /// Adds downloads counted in memory (links without a cap are counted in batches).
    pub async fn add_downloads(&self, counts: &[(Uuid, i64)]) -> StoreResult<()> {
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            for (share_id, count) in counts {
                sqlx::query("UPDATE shares SET download_count = download_count + $2 WHERE id = $1")
                    .bind(share_id)
                    .bind(count)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }
}
