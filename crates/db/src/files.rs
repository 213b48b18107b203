//! Files: listing a space's files, lookup by id or client key, rename and move.
//!
//! The rest of a file's life has its own module: `trash` (Trash, restore, permanent
//! deletion), `scans` (verdicts and rescans), `quota` (what its bytes count for),
//! `reconcile` (rows against objects); `uploads` creates files.

use fluidcloud_core::model::File;
use fluidcloud_core::paging::{Page, PageRequest};
use fluidcloud_core::time::now;
use uuid::Uuid;

use crate::backend::{Dialect, Store, page_bounds};
use crate::changes::{Change, Publish};
use crate::error::{StoreError, StoreResult};

pub(crate) const FILE_COLUMNS: &str = "id, tenant_id, space_id, folder_id, original_name, mime, size, sha256, \
     scan_status, status, source_app, client_key, created_by, deleted_at, created_at, updated_at, object_key, object_etag";

/// Restricts a query on `files` to rows whose space is not being purged.
pub(crate) const IN_LIVE_SPACE: &str =
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
}
