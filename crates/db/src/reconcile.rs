//! What `fluidcloud admin reconcile` asks of the rows: which objects they stand for,
//! which files' bytes should be in the store, and taking a file whose bytes are gone
//! out of service.

use fluidcloud_core::time::now;
use uuid::Uuid;

use crate::backend::{Dialect, Store};
use crate::changes::{Change, Publish};
use crate::error::StoreResult;
use crate::quota::BYTES_KEPT;

/// What `fluidcloud admin reconcile` found wrong between rows and objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct FileRef {
    pub file_id: Uuid,
    pub tenant_id: Uuid,
}

impl Store {
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
}
