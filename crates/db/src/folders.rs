//! Folder trees: listing, creation, rename and move with cycle checks, recursive trash
//! and restore, and subtree statistics.

use fluidcloud_core::model::{Folder, FolderStats};
use fluidcloud_core::paging::{Page, PageRequest};
use fluidcloud_core::time::now;
use uuid::Uuid;

use crate::backend::{Dialect, Store, page_bounds};
use crate::changes::Publish;
use crate::error::{StoreError, StoreResult};
use crate::quota::BYTES_KEPT;

const FOLDER_COLUMNS: &str =
    "id, tenant_id, space_id, parent_id, name, deleted_at, created_at, updated_at";

/// Restricts a query on `folders` to rows whose space is not being purged.
const IN_LIVE_SPACE: &str =
    "EXISTS (SELECT 1 FROM spaces s WHERE s.id = folders.space_id AND NOT s.deleting)";

/// The ids of a folder and of every live folder below it.
const LIVE_SUBTREE: &str = "WITH RECURSIVE subtree(id) AS ( \
     SELECT id FROM folders WHERE id = $1 \
     UNION SELECT f.id FROM folders f JOIN subtree s ON f.parent_id = s.id WHERE f.deleted_at IS NULL)";

/// A rename and/or move. `parent_id: Some(None)` moves the folder to the space root.
#[derive(Debug, Clone, Default)]
pub struct FolderUpdate {
    pub name: Option<String>,
    pub parent_id: Option<Option<Uuid>>,
}

impl Store {
    /// Live folders directly under `parent_id` (the space root when `None`).
    pub async fn list_folders(
        &self,
        tenant_id: Uuid,
        space_id: Uuid,
        parent_id: Option<Uuid>,
        page: &PageRequest,
    ) -> StoreResult<Page<Folder>> {
        self.space(tenant_id, space_id).await?;
        if let Some(parent_id) = parent_id {
            let parent = self.folder(tenant_id, parent_id).await?;
            if parent.space_id != space_id {
                return Err(StoreError::NotFound("folder"));
            }
        }
        // Two texts rather than `IS NOT DISTINCT FROM`, which PostgreSQL cannot answer
        // from an index.
        let parent_clause = if parent_id.is_some() {
            "parent_id = $5"
        } else {
            "parent_id IS NULL"
        };
        self.fetch_folders(
            &format!("{parent_clause} AND deleted_at IS NULL"),
            space_id,
            parent_id,
            page,
        )
        .await
    }

    /// Every folder of the space that is in the Trash, flat.
    pub async fn list_trashed_folders(
        &self,
        tenant_id: Uuid,
        space_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Folder>> {
        self.space(tenant_id, space_id).await?;
        self.fetch_folders("deleted_at IS NOT NULL", space_id, None, page)
            .await
    }

    /// One page of the space's folders matching `filter`, which may use `$5` for
    /// `parent_id` when one is given.
    async fn fetch_folders(
        &self,
        filter: &str,
        space_id: Uuid,
        parent_id: Option<Uuid>,
        page: &PageRequest,
    ) -> StoreResult<Page<Folder>> {
        let sql = format!(
            "SELECT {FOLDER_COLUMNS} FROM folders WHERE space_id = $1 AND {filter} \
             AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4"
        );
        let (after_at, after_id) = page_bounds(page);
        let rows = with_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql)
                .bind(space_id)
                .bind(after_at)
                .bind(after_id)
                .bind(page.fetch_limit());
            if let Some(parent_id) = parent_id {
                query = query.bind(parent_id);
            }
            query.fetch_all(pool).await
        })?;
        Ok(Page::from_fetched(rows, page))
    }

    /// A folder of the tenant, live or in the Trash.
    pub async fn folder(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<Folder> {
        let sql = format!(
            "SELECT {FOLDER_COLUMNS} FROM folders WHERE id = $1 AND tenant_id = $2 AND {IN_LIVE_SPACE}"
        );
        with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(pool)
            .await)?
        .ok_or(StoreError::NotFound("folder"))
    }

    /// Creates a folder under a live parent of the same space (or at the root).
    pub async fn create_folder(
        &self,
        tenant_id: Uuid,
        space_id: Uuid,
        parent_id: Option<Uuid>,
        name: &str,
    ) -> StoreResult<Folder> {
        let insert = format!(
            "INSERT INTO folders (id, tenant_id, space_id, parent_id, name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {FOLDER_COLUMNS}"
        );
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            check_target!(tx, Db, tenant_id, space_id, parent_id);
            let folder: Folder = sqlx::query_as(&insert)
                .bind(Uuid::new_v4())
                .bind(tenant_id)
                .bind(space_id)
                .bind(parent_id)
                .bind(name)
                .bind(now())
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(folder)
        })
    }

    /// Renames and/or moves a live folder. A move must stay within the space and may
    /// not go into the folder itself or one of its descendants.
    pub async fn update_folder(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        update: &FolderUpdate,
    ) -> StoreResult<Folder> {
        let select =
            format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE id = $1 AND tenant_id = $2");
        let apply = format!(
            "UPDATE folders SET name = COALESCE($2, name), \
             parent_id = CASE WHEN $3 THEN $4 ELSE parent_id END, updated_at = $5 \
             WHERE id = $1 RETURNING {FOLDER_COLUMNS}"
        );
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let folder: Option<Folder> = sqlx::query_as(&select)
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            let folder = folder.ok_or(StoreError::NotFound("folder"))?;
            // Moves within one space are serialised on the space row, so two moves
            // racing cannot together build a cycle that neither would alone.
            let space_lock = format!(
                "SELECT id FROM spaces WHERE id = $1 AND NOT deleting{}",
                Db::FOR_UPDATE
            );
            let space: Option<Uuid> = sqlx::query_scalar(&space_lock)
                .bind(folder.space_id)
                .fetch_optional(&mut *tx)
                .await?;
            if space.is_none() {
                return Err(StoreError::NotFound("folder"));
            }
            if folder.deleted_at.is_some() {
                return Err(StoreError::Conflict(
                    "folder is in the Trash; restore it first".into(),
                ));
            }
            if let Some(Some(parent_id)) = update.parent_id {
                let parent: Option<(Uuid, bool)> = sqlx::query_as(
                    "SELECT space_id, deleted_at IS NULL FROM folders WHERE id = $1 AND tenant_id = $2",
                )
                .bind(parent_id)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
                match parent {
                    None | Some((_, false)) => return Err(StoreError::NotFound("parent folder")),
                    Some((parent_space, true)) if parent_space != folder.space_id => {
                        return Err(StoreError::Invalid(
                            "cannot move a folder to another space".into(),
                        ));
                    }
                    Some(_) => {}
                }
                // Walk up from the new parent: meeting the folder means a cycle.
                let cycle: bool = sqlx::query_scalar(
                    "WITH RECURSIVE ancestors(id, parent_id) AS ( \
                       SELECT id, parent_id FROM folders WHERE id = $1 \
                       UNION SELECT f.id, f.parent_id FROM folders f JOIN ancestors a ON f.id = a.parent_id) \
                     SELECT EXISTS (SELECT 1 FROM ancestors WHERE id = $2)",
                )
                .bind(parent_id)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if cycle {
                    return Err(StoreError::Invalid(
                        "cannot move a folder into itself or one of its descendants".into(),
                    ));
                }
            }
            let folder: Folder = sqlx::query_as(&apply)
                .bind(id)
                .bind(&update.name)
                .bind(update.parent_id.is_some())
                .bind(update.parent_id.flatten())
                .bind(now())
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(folder)
        })
    }

    /// Moves a folder, its live subfolders and their live files to the Trash. Things
    /// already in the Trash stay as they were, so restoring this folder later brings
    /// back exactly what this call trashed. Trashing a trashed folder changes nothing.
    pub async fn trash_folder(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<Folder> {
        let select =
            format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE id = $1 AND tenant_id = $2");
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let folder: Option<Folder> = sqlx::query_as(&select)
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            let folder = folder.ok_or(StoreError::NotFound("folder"))?;
            let space_lock = format!(
                "SELECT id FROM spaces WHERE id = $1 AND NOT deleting{}",
                Db::FOR_UPDATE
            );
            let space: Option<Uuid> = sqlx::query_scalar(&space_lock)
                .bind(folder.space_id)
                .fetch_optional(&mut *tx)
                .await?;
            if space.is_none() {
                return Err(StoreError::NotFound("folder"));
            }
            if folder.deleted_at.is_some() {
                return Ok(folder);
            }
            let at = now();
            // Files first: the walk below the folder follows live folders only.
            let trashed: Vec<Uuid> = sqlx::query_scalar(&format!(
                "{LIVE_SUBTREE} UPDATE files SET deleted_at = $2, trashed_by = $1, updated_at = $2 \
                 WHERE folder_id IN (SELECT id FROM subtree) AND deleted_at IS NULL RETURNING id"
            ))
            .bind(id)
            .bind(at)
            .fetch_all(&mut *tx)
            .await?;
            Db::publish_files(&mut tx, &trashed).await?;
            sqlx::query(&format!(
                "{LIVE_SUBTREE} UPDATE folders SET deleted_at = $2, trashed_by = $1, updated_at = $2 \
                 WHERE id IN (SELECT id FROM subtree) AND deleted_at IS NULL"
            ))
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let folder: Folder = sqlx::query_as(&select)
                .bind(id)
                .bind(tenant_id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(folder)
        })
    }

    /// Brings back what the delete that trashed this folder trashed below it. When its
    /// parent is still in the Trash (or gone), the folder lands at the space root.
    /// Restoring a live folder changes nothing.
    pub async fn restore_folder(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<Folder> {
        let select =
            format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE id = $1 AND tenant_id = $2");
        // The folder and the folders below it that the same delete trashed.
        let trashed_subtree = "WITH RECURSIVE subtree(id) AS ( \
             SELECT id FROM folders WHERE id = $1 \
             UNION SELECT f.id FROM folders f JOIN subtree s ON f.parent_id = s.id WHERE f.trashed_by = $2)";
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let row: Option<(Uuid, Option<Uuid>)> = sqlx::query_as(
                "SELECT space_id, trashed_by FROM folders WHERE id = $1 AND tenant_id = $2",
            )
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
            let (space_id, trashed_by) = row.ok_or(StoreError::NotFound("folder"))?;
            let space_lock = format!(
                "SELECT id FROM spaces WHERE id = $1 AND NOT deleting{}",
                Db::FOR_UPDATE
            );
            let space: Option<Uuid> = sqlx::query_scalar(&space_lock)
                .bind(space_id)
                .fetch_optional(&mut *tx)
                .await?;
            if space.is_none() {
                return Err(StoreError::NotFound("folder"));
            }
            let Some(trashed_by) = trashed_by else {
                let folder: Folder = sqlx::query_as(&select)
                    .bind(id)
                    .bind(tenant_id)
                    .fetch_one(&mut *tx)
                    .await?;
                return Ok(folder);
            };
            let at = now();
            let restored: Vec<Uuid> = sqlx::query_scalar(&format!(
                "{trashed_subtree} UPDATE files SET deleted_at = NULL, trashed_by = NULL, updated_at = $3 \
                 WHERE trashed_by = $2 AND folder_id IN (SELECT id FROM subtree) RETURNING id"
            ))
            .bind(id)
            .bind(trashed_by)
            .bind(at)
            .fetch_all(&mut *tx)
            .await?;
            // Links cached while these were in the Trash answer 404 until looked up again.
            Db::publish_files(&mut tx, &restored).await?;
            sqlx::query(&format!(
                "{trashed_subtree} UPDATE folders SET deleted_at = NULL, trashed_by = NULL, updated_at = $3 \
                 WHERE id IN (SELECT id FROM subtree)"
            ))
            .bind(id)
            .bind(trashed_by)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            // A folder whose parent is still trashed would be unreachable: root it.
            sqlx::query(
                "UPDATE folders SET parent_id = NULL WHERE id = $1 AND parent_id IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM folders p WHERE p.id = folders.parent_id AND p.deleted_at IS NULL)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let folder: Folder = sqlx::query_as(&select)
                .bind(id)
                .bind(tenant_id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(folder)
        })
    }

    /// File and folder counts and bytes over the folder's live subtree.
    pub async fn folder_stats(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<FolderStats> {
        self.folder(tenant_id, id).await?;
        let sql = format!(
            "{LIVE_SUBTREE} SELECT \
               (SELECT COUNT(*) FROM subtree) - 1, \
               (SELECT COUNT(*) FROM files WHERE folder_id IN (SELECT id FROM subtree) AND deleted_at IS NULL), \
               (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files \
                  WHERE folder_id IN (SELECT id FROM subtree) AND deleted_at IS NULL AND {BYTES_KEPT})"
        );
        let (folder_count, file_count, total_bytes): (i64, i64, i64) =
            with_pool!(self, |pool| sqlx::query_as(&sql)
                .bind(id)
                .fetch_one(pool)
                .await)?;
        Ok(FolderStats {
            folder_id: id,
            file_count,
            folder_count,
            total_bytes,
        })
    }
}
