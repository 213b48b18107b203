//! The upload workflows: initiate, complete, import, cancel and their compensations.
//!
//! Each is a sequence of steps over the metadata store and the object store where a
//! later step can fail after an earlier one took something (a reservation, a multipart
//! upload, an object). Every such path gives back what it took before it returns the
//! error, so no failure leaves a reservation held or bytes unaccounted for. The HTTP
//! handlers only parse, authorize and call these.

mod cancel;
mod complete;
mod import;
mod initiate;

use fluidcloud_db::{QuotaExceeded, StoreError};
use fluidcloud_storage::StorageError;
use uuid::Uuid;

pub use cancel::cancel;
pub use complete::{CompleteUpload, CompletedPart, complete};
pub use import::{ImportUrl, import_url};
pub use initiate::{InitiateUpload, PartUrl, UploadMode, UploadTicket, initiate, part_size};

/// Who is uploading: the tenant, the key that asked, and the plan's file-size cap.
#[derive(Debug, Clone, Copy)]
pub struct Uploader {
    pub tenant_id: Uuid,
    pub key_id: Uuid,
    /// The plan's `max_file_size` in bytes (`-1`: unlimited).
    pub max_file_size: i64,
}

/// Why a workflow did not go through. Whatever it had taken is given back first.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The request is well-formed but does not fit the upload (or the store refused it).
    #[error("{0}")]
    BadRequest(String),
    /// A value is malformed.
    #[error("{0}")]
    Unprocessable(String),
    /// No such upload, space or folder for this tenant; names the kind of record.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The upload's state does not allow this.
    #[error("{0}")]
    Conflict(String),
    /// Larger than the server, the plan or the import limit accepts.
    #[error("{0}")]
    TooLarge(String),
    /// A plan limit would be exceeded.
    #[error("quota exceeded")]
    QuotaExceeded(QuotaExceeded),
    /// Every import slot is taken.
    #[error("too many imports in progress; retry shortly")]
    Busy,
    /// The metadata store failed or refused.
    #[error(transparent)]
    Store(StoreError),
    /// The object store failed.
    #[error("object store request failed: {0}")]
    Objects(#[from] StorageError),
    /// A fault on our side (temporary files).
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<StoreError> for UploadError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::QuotaExceeded(exceeded) => UploadError::QuotaExceeded(exceeded),
            StoreError::NotFound(what) => UploadError::NotFound(what),
            other => UploadError::Store(other),
        }
    }
}

impl From<fluidcloud_core::names::InvalidName> for UploadError {
    fn from(err: fluidcloud_core::names::InvalidName) -> Self {
        UploadError::BadRequest(err.to_string())
    }
}

/// The upload's scan job, for a file scanned inline, is due this much later: it only
/// runs if this process dies before recording the verdict.
const INLINE_SCAN_SAFETY_NET: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
