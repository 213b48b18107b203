//! Deleting many objects: `DeleteObjects` in batches of at most [`DELETE_OBJECTS_MAX`]
//! keys, with the `Content-MD5` header S3 defines for it.
//!
//! The SDK, limited to the checksums S3 requires, sends only a CRC32 checksum for this
//! call; stores that implement the older contract (several MinIO, Ceph and Backblaze
//! versions) refuse a `DeleteObjects` without `Content-MD5`, so the digest is always
//! added. A store that does not implement the call at all gets one `DeleteObject` per
//! key instead.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use base64::Engine as _;
use md5::{Digest, Md5};

use super::{ObjectStore, StorageError, StorageResult, classify};

/// The most keys S3 accepts in one `DeleteObjects` request.
pub const DELETE_OBJECTS_MAX: usize = 1000;

/// Per-key error codes that mean the object is already gone.
const GONE: &[&str] = &["NoSuchKey", "NotFound"];

impl ObjectStore {
    /// Deletes every object in `keys`; missing objects count as deleted. On an error
    /// some of the keys may already be gone: calling again with the same keys is safe.
    pub async fn delete_many(&self, keys: &[String]) -> StorageResult<()> {
        for batch in keys.chunks(DELETE_OBJECTS_MAX) {
            match self.delete_batch(batch).await {
                Err(StorageError::Rejected(reason)) if unsupported(&reason) => {
                    tracing::debug!(reason, "DeleteObjects unsupported: deleting one by one");
                    for key in batch {
                        self.delete(key).await?;
                    }
                }
                other => other?,
            }
        }
        Ok(())
    }

    async fn delete_batch(&self, keys: &[String]) -> StorageResult<()> {
        let objects = keys
            .iter()
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StorageError::Rejected(format!("invalid object key: {e}")))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| StorageError::Rejected(format!("invalid delete request: {e}")))?;
        let output = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(delete)
            .customize()
            .mutate_request(|request| {
                if let Some(body) = request.body().bytes() {
                    let digest =
                        base64::engine::general_purpose::STANDARD.encode(Md5::digest(body));
                    request.headers_mut().insert("content-md5", digest);
                }
            })
            .send()
            .await
            .map_err(classify)?;
        // Per-key failures arrive in a 200 answer; a missing key is not one.
        let failed: Vec<String> = output
            .errors()
            .iter()
            .filter(|error| !error.code().is_some_and(|code| GONE.contains(&code)))
            .map(|error| {
                format!(
                    "{}: {}",
                    error.key().unwrap_or("?"),
                    error.code().unwrap_or("error")
                )
            })
            .collect();
        match failed.first() {
            None => Ok(()),
            Some(first) => Err(StorageError::Unavailable(format!(
                "{} of {} deletions failed (first: {first})",
                failed.len(),
                keys.len()
            ))),
        }
    }
}

/// Whether a refusal says the store lacks `DeleteObjects`, rather than refusing these keys.
fn unsupported(reason: &str) -> bool {
    ["NotImplemented", "MethodNotAllowed", "InvalidRequest"]
        .iter()
        .any(|code| reason.starts_with(code))
}
