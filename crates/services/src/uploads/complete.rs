//! Completing an upload: the object checked against the declaration, the upload turned
//! into a file, and — for small files — the scan run before the answer.

use chrono::{DateTime, Utc};
use fluidcloud_core::config::Settings;
use fluidcloud_core::content_type::canonical_content_type;
use fluidcloud_core::lenient;
use fluidcloud_core::model::{File, UploadState};
use fluidcloud_core::names::{validate_client_key, validate_entry_name};
use fluidcloud_core::time::now;
use fluidcloud_db::jobs::JobKind;
use fluidcloud_db::{Completed, Completion, Upload};
use fluidcloud_storage::StorageError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{INLINE_SCAN_SAFETY_NET, UploadError, Uploader};
use crate::ServiceContext;
use crate::scan::{ScanRun, scan_file};

/// A part as the store acknowledged it (names as in S3's API).
#[derive(Deserialize, Serialize, ToSchema)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber", deserialize_with = "lenient::int")]
    #[schema(minimum = 1, maximum = 10000)]
    pub part_number: i32,
    #[serde(rename = "ETag")]
    pub etag: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct CompleteUpload {
    pub file_id: Uuid,
    pub key: String,
    /// `multipart`: the ticket's `upload_id`.
    pub upload_id: Option<String>,
    /// `multipart`: every part, with the ETag the store returned for it.
    pub parts: Option<Vec<CompletedPart>>,
    #[schema(schema_with = fluidcloud_core::names::json_schema::entry_name)]
    pub original_name: String,
    /// The declared type (`type/subtype`, at most a `charset`; else 422); the
    /// scanner replaces it with the detected one.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r#"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:; ?[Cc][Hh][Aa][Rr][Ss][Ee][Tt]=(?:[!#$%&*+.^_~0-9A-Za-z-]+|"[!#$%&*+.^_~0-9A-Za-z-]+"))?$"#
    )]
    pub mime: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub size: u64,
    /// Hex SHA-256 of the bytes; the scan verifies it.
    #[schema(pattern = "^[0-9A-Fa-f]{64}$")]
    pub sha256: Option<String>,
    pub space_id: Uuid,
    pub folder_id: Option<Uuid>,
    #[schema(schema_with = fluidcloud_core::names::json_schema::opt_app)]
    pub app: Option<String>,
    #[schema(schema_with = fluidcloud_core::names::json_schema::opt_client_key)]
    pub client_key: Option<String>,
}

/// Fingerprint of a complete request: the same data always gives the same value.
fn fingerprint(body: &CompleteUpload) -> String {
    let canonical = serde_json::to_vec(body).expect("complete bodies serialize");
    hex::encode(Sha256::digest(canonical))
}

/// Turns an uploaded object into a file and scans it before answering, for at most
/// `scan.inline_budget_secs`: the answer is then already `clean`, `infected` or
/// `failed`; a scan that takes longer answers `pending` and the worker finishes it. Repeating the same call returns the same file. An object of the
/// wrong size is deleted and its reservation released before the error is returned.
pub async fn complete(
    context: &ServiceContext,
    uploader: &Uploader,
    mut body: CompleteUpload,
) -> Result<File, UploadError> {
    let tenant = uploader.tenant_id;
    let upload = context
        .store
        .upload(tenant, body.file_id)
        .await?
        .filter(|upload| upload.object_key == body.key)
        .ok_or(UploadError::NotFound("upload"))?;
    if let Some(sha256) = &mut body.sha256 {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(UploadError::Unprocessable(
                "sha256: expected 64 hex digits".into(),
            ));
        }
        sha256.make_ascii_lowercase();
    }
    let fingerprint = fingerprint(&body);
    match upload.state {
        // Past its expiry an upload is gone, whether or not the worker swept it yet.
        UploadState::Open if upload.expires_at <= now() => {
            return Err(UploadError::NotFound("upload (it expired)"));
        }
        UploadState::Open => {}
        UploadState::Completed => {
            return repeat_completion(context, tenant, &upload, &fingerprint).await;
        }
        UploadState::Expired => return Err(UploadError::NotFound("upload (it expired)")),
        UploadState::Rejected => {
            return Err(UploadError::Conflict(
                "this upload was rejected; start a new one".into(),
            ));
        }
    }
    check_matches_upload(&mut body, &upload)?;
    assemble_parts(context, &upload, &body).await?;

    let objects = &context.objects;
    let Some(stored) = objects.head(&upload.object_key).await? else {
        return Err(UploadError::BadRequest(
            "nothing has been uploaded for this file yet".into(),
        ));
    };
    if stored.size != body.size {
        // Wrong bytes: nothing is kept and the reservation is released.
        if let Err(err) = objects.delete(&upload.object_key).await {
            tracing::warn!(error = %err, "could not delete a mismatched upload yet; a job will");
        }
        context.store.reject_upload(&upload).await?;
        return Err(UploadError::BadRequest(format!(
            "the store holds {} bytes but {} were declared; the upload was discarded",
            stored.size, body.size
        )));
    }

    let completion = Completion {
        fingerprint,
        mime: body
            .mime
            .take()
            .unwrap_or_else(|| upload.content_type.clone()),
        original_name: body.original_name,
        sha256: body.sha256.unwrap_or_default(),
        client_key: body.client_key,
        scan_at: scan_job_due(&context.settings),
    };
    let file = match context.store.complete_upload(&upload, &completion).await? {
        Completed::Created(file) => {
            context.metrics.upload_completed();
            file
        }
        Completed::NotOpen => {
            let current = context
                .store
                .upload(tenant, upload.file_id)
                .await?
                .ok_or(UploadError::NotFound("upload"))?;
            return repeat_completion(context, tenant, &current, &completion.fingerprint).await;
        }
    };
    scan_within_budget(context, file.id).await?;
    Ok(context.store.file(tenant, file.id).await?)
}

/// For a multipart upload, asks the store to assemble the parts the client names.
async fn assemble_parts(
    context: &ServiceContext,
    upload: &Upload,
    body: &CompleteUpload,
) -> Result<(), UploadError> {
    let Some(multipart_id) = &upload.multipart_id else {
        if body.upload_id.is_some() || body.parts.as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(UploadError::BadRequest(
                "upload_id and parts are only for multipart uploads".into(),
            ));
        }
        return Ok(());
    };
    if body.upload_id.as_deref() != Some(multipart_id.as_str()) {
        return Err(UploadError::BadRequest(
            "upload_id does not match this upload".into(),
        ));
    }
    let parts = body.parts.as_deref().unwrap_or_default();
    let expected = upload
        .part_size
        .and_then(|p| u64::try_from(p).ok())
        .map_or(0, |p| body.size.div_ceil(p));
    let numbered = parts.iter().zip(1..).all(|(part, n)| part.part_number == n);
    if parts.len() as u64 != expected || !numbered {
        return Err(UploadError::BadRequest(format!(
            "parts: expected {expected} parts numbered 1 to {expected}, in order"
        )));
    }
    let parts: Vec<(i32, String)> = parts
        .iter()
        .map(|p| (p.part_number, p.etag.clone()))
        .collect();
    match context
        .objects
        .complete_multipart(&upload.object_key, multipart_id, &parts)
        .await
    {
        // NotFound: completed already (by a racing call); the HEAD afterwards decides.
        Ok(()) | Err(StorageError::NotFound) => Ok(()),
        Err(StorageError::Rejected(reason)) => Err(UploadError::BadRequest(format!(
            "the object store refused the parts: {reason}"
        ))),
        Err(other) => Err(other.into()),
    }
}

/// When a just-completed file's scan job becomes due: right away when nothing is
/// scanned inline, else after the inline budget and a margin, so the job only runs if
/// this process dies before recording the verdict (and never races the inline scan).
pub(super) fn scan_job_due(settings: &Settings) -> DateTime<Utc> {
    let budget = settings.scan.inline_budget_secs;
    if budget == 0 {
        return now();
    }
    now()
        + chrono::TimeDelta::seconds(i64::try_from(budget).unwrap_or(i64::MAX / 2_000))
        + INLINE_SCAN_SAFETY_NET
}

/// Scans a just-completed file before answering, for at most `scan.inline_budget_secs`:
/// the answer then carries the verdict. Without one in time (a slow scan, the scanner
/// or store unreachable) the file stays pending and its scan job is made due at once.
pub(super) async fn scan_within_budget(
    context: &ServiceContext,
    file_id: Uuid,
) -> Result<(), UploadError> {
    let budget = context.settings.scan.inline_budget_secs;
    if budget == 0 {
        return Ok(());
    }
    // A scan cut short records nothing: its verdict is one conditional write at the end.
    let verdict = match tokio::time::timeout(
        std::time::Duration::from_secs(budget),
        scan_file(context, file_id, false),
    )
    .await
    {
        Ok(Ok(ScanRun::Retry(reason))) => Err(reason),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("{err:#}")),
        Err(_) => {
            tracing::info!(%file_id, budget_secs = budget, "no verdict within the inline budget; the worker finishes the scan");
            Err(String::new())
        }
    };
    if let Err(reason) = verdict {
        if !reason.is_empty() {
            tracing::warn!(%file_id, reason, "no verdict inline; the worker will retry");
        }
        context.store.expedite(&JobKind::Scan { file_id }).await?;
    }
    Ok(())
}

/// The answer to a `complete` for an upload no longer open.
async fn repeat_completion(
    context: &ServiceContext,
    tenant: Uuid,
    upload: &Upload,
    fingerprint: &str,
) -> Result<File, UploadError> {
    match upload.state {
        UploadState::Completed if upload.completion.as_deref() == Some(fingerprint) => {
            Ok(context.store.file(tenant, upload.file_id).await?)
        }
        UploadState::Completed => Err(UploadError::Conflict(
            "this upload was already completed with different data".into(),
        )),
        UploadState::Expired => Err(UploadError::NotFound("upload (it expired)")),
        _ if upload.expires_at <= now() => Err(UploadError::NotFound("upload (it expired)")),
        _ => Err(UploadError::Conflict(
            "this upload is no longer open; start a new one".into(),
        )),
    }
}

/// The completing request must describe the upload that was initiated.
fn check_matches_upload(body: &mut CompleteUpload, upload: &Upload) -> Result<(), UploadError> {
    validate_entry_name(&body.original_name)?;
    if let Some(mime) = &mut body.mime {
        *mime = canonical_content_type(mime)
            .map_err(|e| UploadError::Unprocessable(format!("mime: {e}")))?;
    }
    if let Some(client_key) = &body.client_key {
        validate_client_key(client_key)
            .map_err(|e| UploadError::BadRequest(format!("client_key: {e}")))?;
    }
    if u64::try_from(upload.size).ok() != Some(body.size) {
        return Err(UploadError::BadRequest(format!(
            "size {} differs from the {} bytes declared at initiate",
            body.size, upload.size
        )));
    }
    if body.space_id != upload.space_id || body.folder_id != upload.folder_id {
        return Err(UploadError::BadRequest(
            "space_id and folder_id must be those given at initiate".into(),
        ));
    }
    if body
        .app
        .as_deref()
        .is_some_and(|app| app != upload.source_app)
    {
        return Err(UploadError::BadRequest(
            "app must be the one given at initiate".into(),
        ));
    }
    Ok(())
}
