//! Uploads: reservation at initiate, conversion at complete, release at expiry.

use chrono::{DateTime, Utc};
use fluidcloud_core::model::{File, UploadState};
use fluidcloud_core::time::now;
use uuid::Uuid;

use crate::backend::{Dialect, Store};
use crate::error::{StoreError, StoreResult};
use crate::files::FILE_COLUMNS;
use crate::jobs::{Enqueue, JobKind};

const UPLOAD_COLUMNS: &str = "file_id, tenant_id, space_id, folder_id, object_key, original_name, content_type, \
     size, source_app, multipart_id, part_size, state, completion, created_by, expires_at, created_at";

/// An upload to open.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub tenant_id: Uuid,
    pub space_id: Uuid,
    pub folder_id: Option<Uuid>,
    pub original_name: String,
    pub content_type: String,
    pub size: i64,
    pub source_app: String,
    pub part_size: Option<i64>,
    pub created_by: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// An upload as recorded at initiate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Upload {
    pub file_id: Uuid,
    pub tenant_id: Uuid,
    pub space_id: Uuid,
    pub folder_id: Option<Uuid>,
    pub object_key: String,
    pub original_name: String,
    pub content_type: String,
    pub size: i64,
    pub source_app: String,
    pub multipart_id: Option<String>,
    pub part_size: Option<i64>,
    pub state: UploadState,
    pub completion: Option<String>,
    pub created_by: Uuid,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// What `complete` records about the file.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Fingerprint of the completing request.
    pub fingerprint: String,
    pub original_name: String,
    pub mime: String,
    pub sha256: String,
    pub client_key: Option<String>,
    /// When the scan job becomes due. Files scanned inline get a delay, so the job
    /// only runs if the inline scan never finished.
    pub scan_at: DateTime<Utc>,
}

/// The outcome of [`Store::complete_upload`].
#[derive(Debug)]
pub enum Completed {
    /// The upload is now a file.
    Created(Box<File>),
    /// The upload was no longer open (completed, expired or rejected meanwhile).
    NotOpen,
}

/// The object key of an upload: server-chosen, never reused, no user text.
pub fn object_key(tenant_id: Uuid, file_id: Uuid) -> String {
    format!("t/{tenant_id}/f/{file_id}")
}

impl Store {
    /// Opens an upload: checks the target, reserves the declared size against the
    /// storage pool with one conditional update, and records the upload.
    pub async fn initiate_upload(&self, new: &NewUpload) -> StoreResult<Upload> {
        let file_id = Uuid::new_v4();
        let key = object_key(new.tenant_id, file_id);
        let insert = format!(
            "INSERT INTO uploads (file_id, tenant_id, space_id, folder_id, object_key, original_name, content_type, \
             size, source_app, part_size, state, created_by, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12, $13, $13) RETURNING {UPLOAD_COLUMNS}"
        );
        let upload = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            check_target!(tx, Db, new.tenant_id, new.space_id, new.folder_id);
            reserve_bytes!(tx, new.tenant_id, new.size);
            let upload: Upload = sqlx::query_as(&insert)
                .bind(file_id)
                .bind(new.tenant_id)
                .bind(new.space_id)
                .bind(new.folder_id)
                .bind(&key)
                .bind(&new.original_name)
                .bind(&new.content_type)
                .bind(new.size)
                .bind(&new.source_app)
                .bind(new.part_size)
                .bind(new.created_by)
                .bind(new.expires_at)
                .bind(now())
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(upload)
        })?;
        Ok(upload)
    }

    /// Records the multipart upload id the store assigned.
    pub async fn set_multipart_id(&self, file_id: Uuid, multipart_id: &str) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query("UPDATE uploads SET multipart_id = $2 WHERE file_id = $1")
                .bind(file_id)
                .bind(multipart_id)
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }

    /// The tenant's upload with this file id, in any state.
    pub async fn upload(&self, tenant_id: Uuid, file_id: Uuid) -> StoreResult<Option<Upload>> {
        let sql =
            format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE file_id = $1 AND tenant_id = $2");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(file_id)
                .bind(tenant_id)
                .fetch_optional(pool)
                .await
        })?)
    }

    /// Turns an open upload into a pending file: the reservation becomes used bytes and
    /// the scan is enqueued, all in one transaction. If the upload's folder is gone or
    /// in the Trash, the file lands at the space root.
    pub async fn complete_upload(
        &self,
        upload: &Upload,
        completion: &Completion,
    ) -> StoreResult<Completed> {
        let insert = format!(
            "INSERT INTO files (id, tenant_id, space_id, folder_id, original_name, mime, size, sha256, object_key, \
             scan_status, status, source_app, client_key, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 'draft', $10, $11, $12, $13, $13) \
             RETURNING {FILE_COLUMNS}"
        );
        let at = now();
        let outcome = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            lock_tenant!(tx, Db, upload.tenant_id);
            let claimed = sqlx::query(
                "UPDATE uploads SET state = 'completed', completion = $2, updated_at = $3 \
                 WHERE file_id = $1 AND state = 'open' AND expires_at > $3",
            )
            .bind(upload.file_id)
            .bind(&completion.fingerprint)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() == 0 {
                return Ok(Completed::NotOpen);
            }
            // Share mode on the space row: its folders cannot be trashed until the file
            // has landed, so it never lands live in a folder that is in the Trash.
            sqlx::query(&format!(
                "SELECT id FROM spaces WHERE id = $1{}",
                Db::FOR_SHARE
            ))
            .bind(upload.space_id)
            .fetch_optional(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE tenants SET bytes_reserved = bytes_reserved - $2, bytes_used = bytes_used + $2 WHERE id = $1",
            )
            .bind(upload.tenant_id)
            .bind(upload.size)
            .execute(&mut *tx)
            .await?;
            let folder_id = match upload.folder_id {
                Some(folder_id) => sqlx::query_scalar::<_, Uuid>(
                    "SELECT id FROM folders WHERE id = $1 AND space_id = $2 AND deleted_at IS NULL",
                )
                .bind(folder_id)
                .bind(upload.space_id)
                .fetch_optional(&mut *tx)
                .await?,
                None => None,
            };
            let file: File = sqlx::query_as(&insert)
                .bind(upload.file_id)
                .bind(upload.tenant_id)
                .bind(upload.space_id)
                .bind(folder_id)
                .bind(&completion.original_name)
                .bind(&completion.mime)
                .bind(upload.size)
                .bind(&completion.sha256)
                .bind(&upload.object_key)
                .bind(&upload.source_app)
                .bind(&completion.client_key)
                .bind(upload.created_by)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
            count_app!(tx, upload.tenant_id, &upload.source_app, upload.size, 1);
            Db::enqueue(
                &mut tx,
                &JobKind::Scan { file_id: file.id },
                completion.scan_at,
            )
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Completed::Created(Box::new(file.finish())))
        })?;
        self.jobs_enqueued();
        Ok(outcome)
    }

    /// Closes an open upload without a file (its object did not match, or the store
    /// failed while opening it): the reservation is released and what the store holds
    /// is discarded in the background. Returns whether the upload was still open.
    pub async fn reject_upload(&self, upload: &Upload) -> StoreResult<bool> {
        let rejected = self.close_upload(upload, UploadState::Rejected).await?;
        Ok(rejected)
    }

    /// Expires up to `limit` open uploads past their deadline, releasing their
    /// reservations and enqueueing the cleanup of their objects. Returns how many.
    pub async fn expire_uploads(&self, limit: i64) -> StoreResult<usize> {
        let sql = format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE state = 'open' AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
        );
        let due: Vec<Upload> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(now())
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        let mut expired = 0;
        for upload in &due {
            // Another worker may get there first; closing is conditional.
            if self.close_upload(upload, UploadState::Expired).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    async fn close_upload(&self, upload: &Upload, state: UploadState) -> StoreResult<bool> {
        let closed = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            lock_tenant!(tx, Db, upload.tenant_id);
            let closed = sqlx::query(
                "UPDATE uploads SET state = $2, updated_at = $3 WHERE file_id = $1 AND state = 'open'",
            )
            .bind(upload.file_id)
            .bind(state.as_str())
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if closed {
                sqlx::query(
                    "UPDATE tenants SET bytes_reserved = bytes_reserved - $2 WHERE id = $1",
                )
                .bind(upload.tenant_id)
                .bind(upload.size)
                .execute(&mut *tx)
                .await?;
                let discard = JobKind::DiscardUpload {
                    object_key: upload.object_key.clone(),
                    multipart_id: upload.multipart_id.clone(),
                };
                Db::enqueue(&mut tx, &discard, now()).await?;
                // A refused upload's URL stays valid until the upload's expiry: erase
                // once more after that whatever was put through it meanwhile.
                if upload.expires_at > now() {
                    let late = JobKind::DeleteObjects {
                        object_keys: vec![upload.object_key.clone()],
                    };
                    Db::enqueue(
                        &mut tx,
                        &late,
                        upload.expires_at + chrono::TimeDelta::minutes(1),
                    )
                    .await?;
                }
            }
            tx.commit().await?;
            Ok::<_, StoreError>(closed)
        })?;
        if closed {
            self.jobs_enqueued();
        }
        Ok(closed)
    }
}
