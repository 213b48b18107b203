//! The Trash: trashing and restoring a file, permanently deleting one file, emptying a
//! tenant's or a space's Trash, and the retention sweep that erases what has been in
//! the Trash too long. Whatever is erased releases its quota and leaves a job to
//! delete its bytes.

use fluidcloud_core::model::{File, ScanStatus};
use fluidcloud_core::time::now;
use uuid::Uuid;

use crate::backend::{Dialect, Store};
use crate::changes::{Change, Publish};
use crate::error::{StoreError, StoreResult};
use crate::files::{FILE_COLUMNS, IN_LIVE_SPACE};
use crate::jobs::Enqueue;
use crate::quota::{COUNTED_BYTES, COUNTED_FILE, counted_bytes};

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

impl Store {
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
            // Conditional on the state read above: a concurrent trash, restore or
            // purge of the same file makes this change nothing, and the answer is the
            // file as that left it (or 404 once purged), never an error.
            let at = now();
            let changed = if trashed {
                sqlx::query(
                    "UPDATE files SET deleted_at = $2, trashed_by = NULL, updated_at = $2 \
                     WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?
            } else {
                sqlx::query(
                    "UPDATE files SET deleted_at = NULL, trashed_by = NULL, updated_at = $2, \
                     folder_id = CASE WHEN EXISTS (SELECT 1 FROM folders f WHERE f.id = files.folder_id \
                       AND f.deleted_at IS NULL) THEN folder_id ELSE NULL END \
                     WHERE id = $1 AND deleted_at IS NOT NULL",
                )
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?
            };
            if changed.rows_affected() > 0 {
                Db::publish(&mut tx, &Change::File(id)).await?;
            }
            let file: Option<File> = sqlx::query_as(&select)
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            let file = file.ok_or(StoreError::NotFound("file"))?;
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
            lock_tenant!(tx, Db, tenant_id);
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
            let kept = i64::from(file.scan_status != ScanStatus::Infected);
            count_app!(tx, tenant_id, &file.source_app, -counted, -kept);
            // The caller erases the bytes at once; the job is there if that fails.
            let keys = [file.object_key.clone()];
            Db::enqueue_deletes(&mut tx, &keys, now() + chrono::TimeDelta::minutes(1)).await?;
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
        // The rows deleted say what to release and erase: a file restored meanwhile is
        // neither deleted nor counted, and its bytes stay.
        let delete_files = format!(
            "DELETE FROM files WHERE {scope} AND deleted_at IS NOT NULL AND {IN_LIVE_SPACE} \
             RETURNING object_key, {COUNTED_BYTES}, source_app, {COUNTED_FILE}"
        );
        let delete_folders = format!(
            "DELETE FROM folders WHERE {scope} AND deleted_at IS NOT NULL \
             AND EXISTS (SELECT 1 FROM spaces s WHERE s.id = folders.space_id AND NOT s.deleting)"
        );
        let emptied = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            lock_tenant!(tx, Db, tenant_id);
            let files: Vec<(String, i64, String, i64)> = sqlx::query_as(&delete_files)
                .bind(tenant_id)
                .bind(space_id)
                .fetch_all(&mut *tx)
                .await?;
            // A trashed folder holds only trashed things, so no live row still points
            // at a folder deleted here.
            let folders = sqlx::query(&delete_folders)
                .bind(tenant_id)
                .bind(space_id)
                .execute(&mut *tx)
                .await?;
            let freed: i64 = files.iter().map(|(_, counted, _, _)| counted).sum();
            release_used!(tx, tenant_id, freed);
            for ((_, app), (bytes, count)) in
                by_app(files.iter().map(|(_, b, app, n)| (tenant_id, app, *b, *n)))
            {
                count_app!(tx, tenant_id, &app, -bytes, -count);
            }
            let keys: Vec<String> = files.iter().map(|(key, _, _, _)| key.clone()).collect();
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

    /// Permanently erases up to `batch` files trashed before `cutoff` (and then the
    /// trashed folders emptied by that), across every tenant. Returns the counts.
    pub async fn purge_trash_before(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        batch: i64,
    ) -> StoreResult<TrashEmptied> {
        let emptied = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let candidates: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT id, tenant_id FROM files WHERE deleted_at IS NOT NULL AND deleted_at < $1 LIMIT $2",
            )
            .bind(cutoff)
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
            // Tenants first, in one order for every purge (the lock order in `macros`).
            let tenants: std::collections::BTreeSet<Uuid> =
                candidates.iter().map(|(_, tenant_id)| *tenant_id).collect();
            for tenant_id in &tenants {
                lock_tenant!(tx, Db, tenant_id);
            }
            let mut files: Vec<(Uuid, Uuid, String, i64)> = Vec::with_capacity(candidates.len());
            let mut apps: Vec<(Uuid, String, i64, i64)> = Vec::with_capacity(candidates.len());
            let mut freed: std::collections::HashMap<Uuid, i64> = std::collections::HashMap::new();
            for (id, _) in &candidates {
                sqlx::query("DELETE FROM shares WHERE file_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                // Still trashed long enough now that it is locked? Restored or purged
                // meanwhile: not this purge's to erase.
                let deleted: Option<(Uuid, String, i64, String, i64)> = sqlx::query_as(&format!(
                    "DELETE FROM files WHERE id = $1 AND deleted_at IS NOT NULL AND deleted_at < $2 \
                     RETURNING tenant_id, object_key, {COUNTED_BYTES}, source_app, {COUNTED_FILE}"
                ))
                .bind(id)
                .bind(cutoff)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((tenant_id, key, counted, app, kept)) = deleted {
                    *freed.entry(tenant_id).or_default() += counted;
                    apps.push((tenant_id, app, counted, kept));
                    files.push((*id, tenant_id, key, counted));
                }
            }
            for (tenant_id, bytes) in freed {
                release_used!(tx, tenant_id, bytes);
            }
            for ((tenant_id, app), (bytes, count)) in
                by_app(apps.iter().map(|(t, app, b, n)| (*t, app, *b, *n)))
            {
                count_app!(tx, tenant_id, &app, -bytes, -count);
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

/// Bytes and files per (tenant, app), summed from deleted rows, in a stable order.
pub(crate) fn by_app<'a>(
    rows: impl Iterator<Item = (Uuid, &'a String, i64, i64)>,
) -> std::collections::BTreeMap<(Uuid, String), (i64, i64)> {
    let mut sums = std::collections::BTreeMap::new();
    for (tenant_id, app, bytes, files) in rows {
        let entry: &mut (i64, i64) = sums.entry((tenant_id, app.clone())).or_default();
        entry.0 += bytes;
        entry.1 += files;
    }
    sums
}
