//! Files: listing, lookup by id or client key, rename and move, Trash and restore,
//! permanent deletion, space purges, and recording scan verdicts.

use fluidcloud_core::model::{File, FileStatus, ScanStatus};
use fluidcloud_core::paging::{Page, PageRequest};
use fluidcloud_core::time::now;
use uuid::Uuid;

use crate::backend::{Dialect, Store, page_bounds};
use crate::changes::{Change, Publish};
use crate::error::{StoreError, StoreResult};
use crate::jobs::{Enqueue, JobKind};

pub(crate) const FILE_COLUMNS: &str = "id, tenant_id, space_id, folder_id, original_name, mime, size, sha256, \
     scan_status, status, source_app, client_key, created_by, deleted_at, created_at, updated_at, object_key, object_etag";

/// Restricts a query on `files` to rows whose space is not being purged.
const IN_LIVE_SPACE: &str =
    "EXISTS (SELECT 1 FROM spaces s WHERE s.id = files.space_id AND NOT s.deleting)";

/// Which files of a space to list.
#[derive(Debug, Clone, Default)]
pub struct FileFilter {
    /// Files directly in this folder (the space root when `None`).
    pub folder_id: Option<Uuid>,
    /// Every live file of the space, whatever its folder.
    pub recursive: bool,
    /// Every trashed file of the space instead of live ones.
    pub trash: bool,
    /// Only files of this app namespace.
    pub app: Option<String>,
}

/// A rename and/or move. `folder_id: Some(None)` moves the file to the space root.
#[derive(Debug, Clone, Default)]
pub struct FileUpdate {
    pub original_name: Option<String>,
    pub folder_id: Option<Option<Uuid>>,
}

/// What permanently deleting a file freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    pub bytes_freed: i64,
    pub shares_revoked: i64,
}

/// What emptying a Trash removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TrashEmptied {
    pub files: i64,
    pub folders: i64,
}

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

impl Store {
    /// One page of a space's files, as `filter` selects them.
    pub async fn list_files(
        &self,
        tenant_id: Uuid,
        space_id: Uuid,
        filter: &FileFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<File>> {
        self.space(tenant_id, space_id).await?;
        if let Some(folder_id) = filter.folder_id {
            let folder = self.folder(tenant_id, folder_id).await?;
            if folder.space_id != space_id {
                return Err(StoreError::NotFound("folder"));
            }
        }
        // $1 space, $2-$3 cursor, $4 limit, then optional $5 folder, $5/$6 app.
        let mut clauses = vec![
            if filter.trash {
                "deleted_at IS NOT NULL"
            } else {
                "deleted_at IS NULL"
            }
            .to_owned(),
        ];
        let mut next = 5;
        let folder = if filter.trash || filter.recursive {
            None
        } else {
            Some(filter.folder_id)
        };
        match folder {
            Some(Some(_)) => {
                clauses.push(format!("folder_id = ${next}"));
                next += 1;
            }
            Some(None) => clauses.push("folder_id IS NULL".to_owned()),
            None => {}
        }
        if filter.app.is_some() {
            clauses.push(format!("source_app = ${next}"));
        }
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE space_id = $1 AND {} \
             AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4",
            clauses.join(" AND ")
        );
        let (after_at, after_id) = page_bounds(page);
        let rows: Vec<File> = with_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql)
                .bind(space_id)
                .bind(after_at)
                .bind(after_id)
                .bind(page.fetch_limit());
            if let Some(Some(folder_id)) = folder {
                query = query.bind(folder_id);
            }
            if let Some(app) = &filter.app {
                query = query.bind(app);
            }
            query.fetch_all(pool).await
        })?;
        Ok(Page::from_fetched(
            rows.into_iter().map(File::finish).collect(),
            page,
        ))
    }

    /// A file of the tenant, live or in the Trash.
    pub async fn file(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<File> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND tenant_id = $2 AND {IN_LIVE_SPACE}"
        );
        let file: Option<File> = with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(pool)
            .await)?;
        file.map(File::finish).ok_or(StoreError::NotFound("file"))
    }

    /// A file by id alone, for the services that serve or scan it.
    pub async fn file_by_id(&self, id: Uuid) -> StoreResult<Option<File>> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND {IN_LIVE_SPACE}");
        let file: Option<File> = with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(file.map(File::finish))
    }

    /// The newest live file with this client key in the tenant's app namespace.
    pub async fn resolve_file(
        &self,
        tenant_id: Uuid,
        client_key: &str,
        app: &str,
    ) -> StoreResult<File> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = $1 AND source_app = $2 AND client_key = $3 \
             AND deleted_at IS NULL AND {IN_LIVE_SPACE} ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        let file: Option<File> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(tenant_id)
                .bind(app)
                .bind(client_key)
                .fetch_optional(pool)
                .await
        })?;
        file.map(File::finish).ok_or(StoreError::NotFound("file"))
    }

    /// Renames and/or moves a live file within its space.
    pub async fn update_file(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        update: &FileUpdate,
    ) -> StoreResult<File> {
        let select = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND tenant_id = $2 AND {IN_LIVE_SPACE}"
        );
        let apply = format!(
            "UPDATE files SET original_name = COALESCE($2, original_name), \
             folder_id = CASE WHEN $3 THEN $4 ELSE folder_id END, updated_at = $5 \
             WHERE id = $1 RETURNING {FILE_COLUMNS}"
        );
        let file = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let file: Option<File> = sqlx::query_as(&select)
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            let file = file.ok_or(StoreError::NotFound("file"))?;
            if file.deleted_at.is_some() {
                return Err(StoreError::Conflict(
                    "file is in the Trash; restore it first".into(),
                ));
            }
            if let Some(folder_id) = update.folder_id {
                check_target!(tx, Db, tenant_id, file.space_id, folder_id);
            }
            let file: File = sqlx::query_as(&apply)
                .bind(id)
                .bind(&update.original_name)
                .bind(update.folder_id.is_some())
                .bind(update.folder_id.flatten())
                .bind(now())
                .fetch_one(&mut *tx)
                .await?;
            if update.original_name.is_some() {
                // Raw links name the file in Content-Disposition.
                Db::publish(&mut tx, &Change::File(id)).await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(file)
        })?;
        Ok(file.finish())
    }

    /// Moves a file to the Trash. Its bytes keep counting; raw links stop serving it.
    /// Trashing a trashed file changes nothing.
    pub async fn trash_file(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<File> {
        self.set_file_trashed(tenant_id, id, true).await
    }

    /// Brings a file back from the Trash, to the space root if its folder is not live.
    pub async fn restore_file(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<File> {
        self.set_file_trashed(tenant_id, id, false).await
    }

    async fn set_file_trashed(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        trashed: bool,
    ) -> StoreResult<File> {
        let select = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND tenant_id = $2 AND {IN_LIVE_SPACE}"
        );
        let file = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let file: Option<File> = sqlx::query_as(&select)
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            let file = file.ok_or(StoreError::NotFound("file"))?;
            if file.deleted_at.is_some() == trashed {
                return Ok(file);
            }
            // A restore checks its folder is live; no folder trash may run meanwhile.
            sqlx::query(&format!(
                "SELECT id FROM spaces WHERE id = $1{}",
                Db::FOR_SHARE
            ))
            .bind(file.space_id)
            .fetch_optional(&mut *tx)
            .await?;
            let at = now();
            if trashed {
                sqlx::query("UPDATE files SET deleted_at = $2, trashed_by = NULL, updated_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(
                    "UPDATE files SET deleted_at = NULL, trashed_by = NULL, updated_at = $2, \
                     folder_id = CASE WHEN EXISTS (SELECT 1 FROM folders f WHERE f.id = files.folder_id \
                       AND f.deleted_at IS NULL) THEN folder_id ELSE NULL END \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            Db::publish(&mut tx, &Change::File(id)).await?;
            let file: File = sqlx::query_as(&select)
                .bind(id)
                .bind(tenant_id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(file)
        })?;
        Ok(file.finish())
    }

    /// Permanently deletes a file, live or trashed: the record goes, its quota is
    /// released, and its bytes are erased (by the caller at once, and by a job as a
    /// guarantee). Every raw-link server stops serving it when this returns.
    pub async fn purge_file(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<(Purged, String)> {
        let outcome = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let select = format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND tenant_id = $2 AND {IN_LIVE_SPACE}{}",
                Db::FOR_UPDATE
            );
            let file: Option<File> = sqlx::query_as(&select)
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            let file = file.ok_or(StoreError::NotFound("file"))?;
            // The links go with the file (those not yet revoked are counted as revoked
            // now); the File change below makes every raw-link server drop them before
            // this call returns.
            let shares_revoked: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM shares WHERE file_id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM shares WHERE file_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM files WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let counted = counted_bytes(&file);
            release_used!(tx, tenant_id, counted);
            let delete = JobKind::DeleteObjects {
                object_keys: vec![file.object_key.clone()],
            };
            Db::enqueue(&mut tx, &delete, now() + chrono::TimeDelta::minutes(1)).await?;
            Db::publish(&mut tx, &Change::File(id)).await?;
            tx.commit().await?;
            Ok::<_, StoreError>((
                Purged {
                    bytes_freed: counted,
                    shares_revoked,
                },
                file.object_key,
            ))
        })?;
        self.jobs_enqueued();
        Ok(outcome)
    }
}

impl Store {
    /// Permanently erases everything in the Trash of one space (or of every space of
    /// the tenant): the rows go at once, so the items vanish from every listing, and
    /// their bytes are deleted by the worker.
    pub async fn empty_trash(
        &self,
        tenant_id: Uuid,
        space_id: Option<Uuid>,
    ) -> StoreResult<TrashEmptied> {
        if let Some(space_id) = space_id {
            self.space(tenant_id, space_id).await?;
        }
        let scope = if space_id.is_some() {
            "tenant_id = $1 AND space_id = $2"
        } else {
            "tenant_id = $1 AND $2 IS NULL"
        };
        let trashed_files = format!(
            "SELECT object_key, {COUNTED_BYTES} FROM files \
             WHERE {scope} AND deleted_at IS NOT NULL AND {IN_LIVE_SPACE}"
        );
        let delete_files = format!(
            "DELETE FROM files WHERE {scope} AND deleted_at IS NOT NULL AND {IN_LIVE_SPACE}"
        );
        let delete_folders = format!(
            "DELETE FROM folders WHERE {scope} AND deleted_at IS NOT NULL \
             AND EXISTS (SELECT 1 FROM spaces s WHERE s.id = folders.space_id AND NOT s.deleting)"
        );
        let emptied = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let files: Vec<(String, i64)> = sqlx::query_as(&trashed_files)
                .bind(tenant_id)
                .bind(space_id)
                .fetch_all(&mut *tx)
                .await?;
            sqlx::query(&delete_files)
                .bind(tenant_id)
                .bind(space_id)
                .execute(&mut *tx)
                .await?;
            // A trashed folder holds only trashed things, so no live row still points
            // at a folder deleted here.
            let folders = sqlx::query(&delete_folders)
                .bind(tenant_id)
                .bind(space_id)
                .execute(&mut *tx)
                .await?;
            let freed: i64 = files.iter().map(|(_, counted)| counted).sum();
            release_used!(tx, tenant_id, freed);
            let keys: Vec<String> = files.iter().map(|(key, _)| key.clone()).collect();
            Db::enqueue_deletes(&mut tx, &keys, now()).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(TrashEmptied {
                files: i64::try_from(files.len()).unwrap_or(i64::MAX),
                folders: i64::try_from(folders.rows_affected()).unwrap_or(i64::MAX),
            })
        })?;
        self.jobs_enqueued();
        Ok(emptied)
    }

    /// Hides a space at once and leaves the erasing of everything in it to the worker.
    pub async fn start_space_purge(&self, tenant_id: Uuid, space_id: Uuid) -> StoreResult<()> {
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let marked = sqlx::query(
                "UPDATE spaces SET deleting = true, updated_at = $3 WHERE id = $1 AND tenant_id = $2 AND NOT deleting",
            )
            .bind(space_id)
            .bind(tenant_id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            if marked.rows_affected() == 0 {
                return Err(StoreError::NotFound("space"));
            }
            // The rows go batch by batch in the worker; the links stop now.
            let live: Vec<Uuid> = sqlx::query_scalar(
                "SELECT id FROM files WHERE space_id = $1 AND deleted_at IS NULL",
            )
            .bind(space_id)
            .fetch_all(&mut *tx)
            .await?;
            Db::publish_files(&mut tx, &live).await?;
            Db::enqueue(&mut tx, &JobKind::PurgeSpace { space_id }, now()).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.jobs_enqueued();
        Ok(())
    }

    /// Erases up to `batch` files of a space being purged (and then its open uploads,
    /// folders and the space itself), releasing quota and enqueueing the deletion of
    /// the bytes. Returns `true` once the space is gone; call again until then.
    pub async fn purge_space_step(&self, space_id: Uuid, batch: i64) -> StoreResult<bool> {
        let done = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let tenant: Option<Uuid> =
                sqlx::query_scalar("SELECT tenant_id FROM spaces WHERE id = $1 AND deleting")
                    .bind(space_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(tenant_id) = tenant else {
                return Ok(true);
            };
            let files: Vec<(Uuid, String, i64)> = sqlx::query_as(&format!(
                "SELECT id, object_key, {COUNTED_BYTES} FROM files WHERE space_id = $1 LIMIT $2"
            ))
            .bind(space_id)
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
            let mut keys = Vec::with_capacity(files.len());
            let mut freed = 0;
            for (id, key, counted) in &files {
                sqlx::query("DELETE FROM files WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                Db::publish(&mut tx, &Change::File(*id)).await?;
                keys.push(key.clone());
                freed += counted;
            }
            release_used!(tx, tenant_id, freed);
            let finished = i64::try_from(files.len()).unwrap_or(i64::MAX) < batch;
            if finished {
                // Open uploads into the space: release their reservations and discard.
                let open: Vec<(Uuid, String, Option<String>, i64)> = sqlx::query_as(
                    "SELECT file_id, object_key, multipart_id, size FROM uploads WHERE space_id = $1 AND state = 'open'",
                )
                .bind(space_id)
                .fetch_all(&mut *tx)
                .await?;
                let reserved: i64 = open.iter().map(|u| u.3).sum();
                sqlx::query(
                    "UPDATE tenants SET bytes_reserved = bytes_reserved - $2 WHERE id = $1",
                )
                .bind(tenant_id)
                .bind(reserved)
                .execute(&mut *tx)
                .await?;
                for (_, object_key, multipart_id, _) in open {
                    Db::enqueue(
                        &mut tx,
                        &JobKind::DiscardUpload {
                            object_key,
                            multipart_id,
                        },
                        now(),
                    )
                    .await?;
                }
                sqlx::query("DELETE FROM uploads WHERE space_id = $1")
                    .bind(space_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM folders WHERE space_id = $1")
                    .bind(space_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM spaces WHERE id = $1")
                    .bind(space_id)
                    .execute(&mut *tx)
                    .await?;
            }
            Db::enqueue_deletes(&mut tx, &keys, now()).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(finished)
        })?;
        self.jobs_enqueued();
        Ok(done)
    }

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
            let row: Option<(Uuid, String, i64)> = sqlx::query_as(
                "UPDATE files SET scan_status = $2, status = $3, mime = COALESCE($4, mime), \
                 sha256 = COALESCE($5, sha256), scanner = $6, scan_signature = $7, scanned_at = $8, updated_at = $8, \
                 object_etag = COALESCE($10, object_etag) \
                 WHERE id = $1 AND scan_status = $9 RETURNING tenant_id, object_key, size",
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
            let Some((tenant_id, object_key, size)) = row else {
                return Ok(false);
            };
            if outcome.scan_status == ScanStatus::Infected {
                release_used!(tx, tenant_id, size);
                let erase = JobKind::DeleteObjects {
                    object_keys: vec![object_key],
                };
                Db::enqueue(&mut tx, &erase, now() + chrono::TimeDelta::minutes(1)).await?;
            }
            Db::publish(&mut tx, &Change::File(file_id)).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })?;
        self.jobs_enqueued();
        Ok(recorded)
    }
}

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

/// [`COUNTED_BYTES`] of a row already loaded.
fn counted_bytes(file: &File) -> i64 {
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
                let by_app: Vec<AppUsage> = sqlx::query_as(&format!(
                "SELECT source_app AS app, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes, COUNT(*) AS files \
                 FROM files WHERE tenant_id = $1 AND {BYTES_KEPT} \
                 GROUP BY source_app ORDER BY source_app",
            ))
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
}

impl Store {
    /// The tenant's usage recomputed from the rows themselves (files, shares, open
    /// uploads), for checking the running counters. Same shape as [`Store::quota`].
    pub async fn recount_usage(&self, tenant_id: Uuid) -> StoreResult<Quota> {
        let (bytes_used, bytes_reserved, limits): (i64, i64, Option<(i64, i64)>) = with_pool!(
            self,
            |pool| {
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
                let limits: Option<(i64, i64)> =
                    sqlx::query_as("SELECT bytes_limit, links_limit FROM tenants WHERE id = $1")
                        .bind(tenant_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.commit().await?;
                Ok::<_, StoreError>((used, reserved, limits))
            }
        )?;
        let (bytes_limit, links_limit) = limits.ok_or(StoreError::NotFound("tenant"))?;
        let quota = self.quota(tenant_id).await?;
        Ok(Quota {
            bytes_used,
            bytes_limit,
            bytes_reserved,
            links_used: self.links_used(tenant_id).await?,
            links_limit,
            by_app: quota.by_app,
        })
    }
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

/// What `fluidcloud admin reconcile` found wrong between rows and objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct FileRef {
    pub file_id: Uuid,
    pub tenant_id: Uuid,
}

impl Store {
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

    /// Every object key a row stands for: files whose bytes are kept, and open uploads.
    pub async fn referenced_object_keys(&self) -> StoreResult<std::collections::HashSet<String>> {
        let keys: Vec<String> = with_pool!(self, |pool| {
            sqlx::query_scalar(&format!(
                "SELECT object_key FROM files WHERE {BYTES_KEPT} \
                 UNION SELECT object_key FROM uploads WHERE state = 'open'",
            ))
            .fetch_all(pool)
            .await
        })?;
        Ok(keys.into_iter().collect())
    }

    /// Files whose bytes should be in the store (not infected), with their keys.
    pub async fn stored_files(&self) -> StoreResult<Vec<(FileRef, String)>> {
        let rows: Vec<(Uuid, Uuid, String)> = with_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT id, tenant_id, object_key FROM files WHERE {BYTES_KEPT}"
            ))
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(file_id, tenant_id, key)| (FileRef { file_id, tenant_id }, key))
            .collect())
    }

    /// Takes a file whose bytes are gone out of service: `failed`, with the reason, and
    /// every raw-link server stops serving it. Infected files (whose bytes are erased on
    /// purpose) are left as they are.
    pub async fn mark_bytes_missing(&self, file_id: Uuid) -> StoreResult<()> {
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            sqlx::query(&format!(
                "UPDATE files SET scan_status = 'failed', status = 'quarantined', \
                 scan_signature = 'the stored object is missing', updated_at = $2 \
                 WHERE id = $1 AND {BYTES_KEPT}",
            ))
            .bind(file_id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            Db::publish(&mut tx, &Change::File(file_id)).await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Permanently erases up to `batch` files trashed before `cutoff` (and then the
    /// trashed folders emptied by that), across every tenant. Returns the counts.
    pub async fn purge_trash_before(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        batch: i64,
    ) -> StoreResult<TrashEmptied> {
        let emptied = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let files: Vec<(Uuid, Uuid, String, i64)> = sqlx::query_as(&format!(
                "SELECT id, tenant_id, object_key, {COUNTED_BYTES} \
                 FROM files WHERE deleted_at IS NOT NULL AND deleted_at < $1 LIMIT $2"
            ))
            .bind(cutoff)
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
            let mut freed: std::collections::HashMap<Uuid, i64> = std::collections::HashMap::new();
            for (id, tenant_id, _, counted) in &files {
                sqlx::query("DELETE FROM shares WHERE file_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM files WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                *freed.entry(*tenant_id).or_default() += counted;
            }
            for (tenant_id, bytes) in freed {
                release_used!(tx, tenant_id, bytes);
            }
            let keys: Vec<String> = files.iter().map(|f| f.2.clone()).collect();
            Db::enqueue_deletes(&mut tx, &keys, now()).await?;
            // Folders go leaves first: a folder is erased once nothing is left in it.
            let mut folders = 0;
            loop {
                let deleted = sqlx::query(
                    "DELETE FROM folders WHERE deleted_at IS NOT NULL AND deleted_at < $1 \
                     AND NOT EXISTS (SELECT 1 FROM folders c WHERE c.parent_id = folders.id) \
                     AND NOT EXISTS (SELECT 1 FROM files f WHERE f.folder_id = folders.id)",
                )
                .bind(cutoff)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if deleted == 0 {
                    break;
                }
                folders += deleted;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(TrashEmptied {
                files: i64::try_from(files.len()).unwrap_or(i64::MAX),
                folders: i64::try_from(folders).unwrap_or(i64::MAX),
            })
        })?;
        if emptied.files > 0 {
            self.jobs_enqueued();
        }
        Ok(emptied)
    }
}
