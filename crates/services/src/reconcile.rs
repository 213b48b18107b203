//! `fluidcloud admin reconcile`: the database compared with the bucket.

use std::collections::HashSet;

use fluidcloud_db::{FileRef, Store};
use fluidcloud_storage::ObjectStore;
use serde::Serialize;

/// Orphans past which `--fix` wants `--force` when they are most of the bucket.
const SUSPICIOUS_ORPHANS: usize = 100;

/// What `fluidcloud admin reconcile` found (and fixed, with `--fix`).
#[derive(Debug, Serialize)]
pub struct Reconciliation {
    /// Objects under `t/` that no file or open upload refers to.
    pub objects_without_rows: Vec<String>,
    /// Files whose bytes should be stored but are not.
    pub rows_without_objects: Vec<MissingObject>,
    /// Whether the findings were fixed: orphans deleted, files without bytes `failed`.
    pub fixed: bool,
}

#[derive(Debug, Serialize)]
pub struct MissingObject {
    #[serde(flatten)]
    pub file: FileRef,
    pub object_key: String,
}

/// Compares rows with objects, safe to run while the service is in use. Files are read
/// before the bucket is listed (a file's bytes exist before its row does, so any file
/// read then must be in the listing) and the keys rows refer to after it (an upload's
/// row exists before its bytes, so any object listed has its row by then): nothing
/// written meanwhile is taken for an orphan or a file without bytes. A file reported
/// without bytes is looked up once more before being failed.
///
/// With `fix`, orphans are deleted — unless they are most of a sizeable bucket, which
/// rather means the database is not this bucket's (a restored copy, the wrong URL or
/// bucket); `force` deletes them anyway.
pub async fn reconcile(
    store: &Store,
    objects: &ObjectStore,
    fix: bool,
    force: bool,
) -> anyhow::Result<Reconciliation> {
    let stored_files = store.stored_files().await?;
    let keys: HashSet<String> = objects.list_keys("t/").await?.into_iter().collect();
    let referenced = store.referenced_object_keys().await?;
    let mut orphans: Vec<String> = keys
        .iter()
        .filter(|key| !referenced.contains(*key))
        .cloned()
        .collect();
    orphans.sort();
    let missing: Vec<MissingObject> = stored_files
        .into_iter()
        .filter(|(_, key)| !keys.contains(key))
        .map(|(file, object_key)| MissingObject { file, object_key })
        .collect();
    if fix && !force && orphans.len() > SUSPICIOUS_ORPHANS && orphans.len() * 2 > keys.len() {
        anyhow::bail!(
            "refusing to delete {} of the bucket's {} objects: this database may not be the \
             bucket's (check the database URL and storage.bucket); if they really are \
             orphans, run again with --force",
            orphans.len(),
            keys.len()
        );
    }
    if fix {
        objects.delete_many(&orphans).await?;
        for missing in &missing {
            if objects.head(&missing.object_key).await?.is_none() {
                store.mark_bytes_missing(missing.file.file_id).await?;
            }
        }
    }
    Ok(Reconciliation {
        objects_without_rows: orphans,
        rows_without_objects: missing,
        fixed: fix,
    })
}
