//! Cancelling an upload that was never completed.

use fluidcloud_core::model::UploadState;
use fluidcloud_storage::StorageError;
use uuid::Uuid;

use super::{UploadError, Uploader};
use crate::ServiceContext;

/// Cancels the tenant's upload `file_id` unless it was completed: the reservation is
/// released at once and what was sent is erased (now, and again by a job once its URLs
/// have lapsed). Cancelling an upload already closed (cancelled, rejected, expired)
/// changes nothing; a completed one is a conflict.
pub async fn cancel(
    context: &ServiceContext,
    uploader: &Uploader,
    file_id: Uuid,
) -> Result<(), UploadError> {
    let store = &context.store;
    let upload = store
        .upload(uploader.tenant_id, file_id)
        .await?
        .ok_or(UploadError::NotFound("upload"))?;
    let closed = match upload.state {
        UploadState::Open => store.reject_upload(&upload).await?,
        UploadState::Completed => return Err(completed()),
        UploadState::Expired | UploadState::Rejected => return Ok(()),
    };
    if !closed {
        // Closed meanwhile by a racing call: completed is a conflict, anything else done.
        let now = store.upload(uploader.tenant_id, file_id).await?;
        return match now.map(|upload| upload.state) {
            Some(UploadState::Completed) => Err(completed()),
            _ => Ok(()),
        };
    }
    // The jobs enqueued with the release guarantee the erasure; this only makes it
    // immediate when the store answers.
    if let Some(multipart_id) = &upload.multipart_id {
        match context
            .objects
            .abort_multipart(&upload.object_key, multipart_id)
            .await
        {
            Ok(()) | Err(StorageError::NotFound | StorageError::Rejected(_)) => {}
            Err(err) => {
                tracing::warn!(%file_id, error = %err, "could not abort the multipart upload yet; a job will")
            }
        }
    }
    if let Err(err) = context.objects.delete(&upload.object_key).await {
        tracing::warn!(%file_id, error = %err, "could not erase a cancelled upload yet; a job will");
    }
    Ok(())
}

fn completed() -> UploadError {
    UploadError::Conflict("this upload was completed; delete or trash the file instead".into())
}
