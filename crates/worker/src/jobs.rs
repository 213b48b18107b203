//! What each kind of job does. Every job is idempotent: running it again after a
//! crash (or alongside a racing copy) changes nothing more.

use fluidcloud_db::jobs::{JobKind, MAX_ATTEMPTS};
use fluidcloud_storage::StorageError;

use fluidcloud_services::ServiceContext;
use fluidcloud_services::scan::{ScanRun, rescan_file, scan_file};

/// Files removed per transaction when purging a space.
const PURGE_BATCH: i64 = 200;

pub(crate) async fn run(
    context: &ServiceContext,
    kind: &JobKind,
    attempts: i32,
) -> anyhow::Result<()> {
    match kind {
        JobKind::Scan { file_id } => {
            match scan_file(context, *file_id, attempts >= MAX_ATTEMPTS).await? {
                ScanRun::Retry(reason) => Err(anyhow::anyhow!("scan postponed: {reason}")),
                ScanRun::Recorded(_) | ScanRun::NotPending => Ok(()),
            }
        }
        JobKind::DiscardUpload {
            object_key,
            multipart_id,
        } => {
            if let Some(multipart_id) = multipart_id {
                match context
                    .objects
                    .abort_multipart(object_key, multipart_id)
                    .await
                {
                    Ok(()) => {}
                    // Refused outright (already aborted or completed): nothing to retry.
                    Err(StorageError::Rejected(reason)) => {
                        tracing::info!(object_key, reason, "multipart upload already gone");
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            context.objects.delete(object_key).await?;
            Ok(())
        }
        JobKind::DeleteObjects { object_keys } => {
            context.objects.delete_many(object_keys).await?;
            Ok(())
        }
        JobKind::Rescan { file_id } => match rescan_file(context, *file_id).await? {
            ScanRun::Retry(reason) => Err(anyhow::anyhow!("rescan postponed: {reason}")),
            ScanRun::Recorded(_) | ScanRun::NotPending => Ok(()),
        },
        JobKind::PurgeSpace { space_id } => {
            while !context
                .store
                .purge_space_step(*space_id, PURGE_BATCH)
                .await?
            {}
            Ok(())
        }
    }
}
