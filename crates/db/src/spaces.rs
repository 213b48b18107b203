//! Spaces: the top-level containers of a tenant, and purging one with everything in
//! it (hidden at once, erased by the worker batch by batch).

use fluidcloud_core::model::Space;
use fluidcloud_core::names::DEFAULT_APP;
use fluidcloud_core::paging::{Page, PageRequest};
use fluidcloud_core::time::now;
use uuid::Uuid;

use crate::backend::{Dialect, Store, page_bounds};
use crate::changes::{Change, Publish};
use crate::error::{StoreError, StoreResult};
use crate::jobs::{Enqueue, JobKind};
use crate::quota::{COUNTED_BYTES, COUNTED_FILE};

pub(crate) const SPACE_COLUMNS: &str = "id, tenant_id, name, app, created_at, updated_at";

/// Name of the space every tenant gets when it has none (SPEC §4). It belongs to the
/// default app namespace ([`DEFAULT_APP`]), as on the hosted service.
pub const DEFAULT_SPACE_NAME: &str = "My files";

impl Store {
    /// The tenant's spaces, oldest first. A tenant with no space gets the default one
    /// created first, so the list is never empty.
    pub async fn list_spaces(
        &self,
        tenant_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Space>> {
        let fetched = self.fetch_spaces(tenant_id, page).await?;
        if !fetched.is_empty() || page.after.is_some() {
            return Ok(Page::from_fetched(fetched, page));
        }
        self.create_default_space(tenant_id).await?;
        Ok(Page::from_fetched(
            self.fetch_spaces(tenant_id, page).await?,
            page,
        ))
    }

    async fn fetch_spaces(&self, tenant_id: Uuid, page: &PageRequest) -> StoreResult<Vec<Space>> {
        let sql = format!(
            "SELECT {SPACE_COLUMNS} FROM spaces WHERE tenant_id = $1 AND NOT deleting \
             AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4"
        );
        let (after_at, after_id) = page_bounds(page);
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(tenant_id)
                .bind(after_at)
                .bind(after_id)
                .bind(page.fetch_limit())
                .fetch_all(pool)
                .await
        })?)
    }

    async fn create_default_space(&self, tenant_id: Uuid) -> StoreResult<()> {
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            // Two first calls racing must not both create a default space: the tenant
            // row lock (PostgreSQL) or the write lock (SQLite) orders them.
            let lock = format!("SELECT id FROM tenants WHERE id = $1{}", Db::FOR_UPDATE);
            let tenant: Option<Uuid> = sqlx::query_scalar(&lock)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            if tenant.is_none() {
                return Err(StoreError::NotFound("tenant"));
            }
            let at = now();
            sqlx::query(
                "INSERT INTO spaces (id, tenant_id, name, app, created_at, updated_at) \
                 SELECT $1, $2, $3, $5, $4, $4 \
                 WHERE NOT EXISTS (SELECT 1 FROM spaces WHERE tenant_id = $2 AND NOT deleting)",
            )
            .bind(Uuid::new_v4())
            .bind(tenant_id)
            .bind(DEFAULT_SPACE_NAME)
            .bind(at)
            .bind(DEFAULT_APP)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn create_space(
        &self,
        tenant_id: Uuid,
        name: &str,
        app: Option<&str>,
    ) -> StoreResult<Space> {
        let at = now();
        let sql = format!(
            "INSERT INTO spaces (id, tenant_id, name, app, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING {SPACE_COLUMNS}"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(Uuid::new_v4())
                .bind(tenant_id)
                .bind(name)
                .bind(app)
                .bind(at)
                .fetch_one(pool)
                .await
        })?)
    }

    /// One of the tenant's spaces; another tenant's space is not found.
    pub async fn space(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<Space> {
        let sql = format!(
            "SELECT {SPACE_COLUMNS} FROM spaces WHERE id = $1 AND tenant_id = $2 AND NOT deleting"
        );
        with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(pool)
                .await
        })?
        .ok_or(StoreError::NotFound("space"))
    }

    pub async fn rename_space(&self, tenant_id: Uuid, id: Uuid, name: &str) -> StoreResult<Space> {
        let sql = format!(
            "UPDATE spaces SET name = $3, updated_at = $4 \
             WHERE id = $1 AND tenant_id = $2 AND NOT deleting RETURNING {SPACE_COLUMNS}"
        );
        with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(id)
                .bind(tenant_id)
                .bind(name)
                .bind(now())
                .fetch_optional(pool)
                .await
        })?
        .ok_or(StoreError::NotFound("space"))
    }

    /// Deletes an empty space. A space holding any folder or file, live or in the
    /// Trash, is a conflict: purge it instead.
    pub async fn delete_space(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<()> {
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let lock = format!(
                "SELECT id FROM spaces WHERE id = $1 AND tenant_id = $2 AND NOT deleting{}",
                Db::FOR_UPDATE
            );
            let found: Option<Uuid> = sqlx::query_scalar(&lock)
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(StoreError::NotFound("space"));
            }
            let occupied: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM folders WHERE space_id = $1) \
                 OR EXISTS (SELECT 1 FROM files WHERE space_id = $1) \
                 OR EXISTS (SELECT 1 FROM uploads WHERE space_id = $1 AND state = 'open')",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if occupied {
                return Err(StoreError::Conflict(
                    "space is not empty: it holds folders or files (live or in the Trash) or \
                     uploads in progress; delete it with ?purge=true to erase everything in it"
                        .into(),
                ));
            }
            // Uploads that ended without a file only matter while they are open.
            sqlx::query("DELETE FROM uploads WHERE space_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM spaces WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
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
            lock_tenant!(tx, Db, tenant_id);
            let files: Vec<Uuid> =
                sqlx::query_scalar("SELECT id FROM files WHERE space_id = $1 LIMIT $2")
                    .bind(space_id)
                    .bind(batch)
                    .fetch_all(&mut *tx)
                    .await?;
            let mut keys = Vec::with_capacity(files.len());
            let mut apps: Vec<(Uuid, String, i64, i64)> = Vec::with_capacity(files.len());
            let mut freed = 0;
            for id in &files {
                // What was deleted is what is released and erased.
                let deleted: Option<(String, i64, String, i64)> = sqlx::query_as(&format!(
                    "DELETE FROM files WHERE id = $1 RETURNING object_key, {COUNTED_BYTES}, source_app, {COUNTED_FILE}"
                ))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((key, counted, app, kept)) = deleted {
                    Db::publish(&mut tx, &Change::File(*id)).await?;
                    keys.push(key);
                    freed += counted;
                    apps.push((tenant_id, app, counted, kept));
                }
            }
            for ((_, app), (bytes, count)) in
                crate::trash::by_app(apps.iter().map(|(t, app, b, n)| (*t, app, *b, *n)))
            {
                count_app!(tx, tenant_id, &app, -bytes, -count);
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
}
