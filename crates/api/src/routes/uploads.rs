//! `/uploads`: presigned direct-to-store uploads. File bytes never pass through here.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use fluidcloud_core::model::{File, UNLIMITED};
use fluidcloud_core::names::{
    DEFAULT_APP, validate_app_name, validate_client_key, validate_content_type, validate_entry_name,
};
use fluidcloud_core::time::now;
use fluidcloud_db::jobs::JobKind;
use fluidcloud_db::{Completed, Completion, NewUpload, Upload};
use fluidcloud_worker::scan::{ScanRun, scan_file};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Authorized, FilesWrite};
use crate::error::ApiError;
use crate::extract::Json;

/// SigV4 presigned URLs cannot outlive a week.
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Deserialize, ToSchema)]
pub struct InitiateUpload {
    pub original_name: String,
    /// The type the PUT must declare (and the file's type until it is scanned).
    pub content_type: String,
    /// Exact size in bytes; the PUT must send exactly this many.
    pub size: u64,
    pub space_id: Uuid,
    pub folder_id: Option<Uuid>,
    /// App namespace; `fluidcloud` when absent.
    pub app: Option<String>,
}

/// Where and how to upload the bytes.
#[derive(Serialize, ToSchema)]
pub struct UploadTicket {
    /// `single` (one presigned PUT) or `multipart` (one presigned PUT per part).
    pub mode: &'static str,
    pub file_id: Uuid,
    /// The object key; send it back to `complete`.
    pub key: String,
    pub expires_at: DateTime<Utc>,
    /// `single`: PUT the whole file here with exactly `headers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    /// `single`: headers the PUT must carry (Content-Length comes from the body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// `multipart`: the store's upload id; send it back to `complete`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// `multipart`: every part but the last has exactly this many bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_size: Option<u64>,
    /// `multipart`: ceil(size / part_size) URLs, numbered from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_urls: Option<Vec<PartUrl>>,
}

#[derive(Serialize, ToSchema)]
pub struct PartUrl {
    pub part_number: u32,
    pub url: String,
}

/// A part as the store acknowledged it (names as in S3's API).
#[derive(Deserialize, Serialize, ToSchema)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
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
    pub original_name: String,
    /// The declared type; the scanner replaces it with the detected one.
    pub mime: Option<String>,
    pub size: u64,
    /// Hex SHA-256 of the bytes; the scan verifies it.
    pub sha256: Option<String>,
    pub space_id: Uuid,
    pub folder_id: Option<Uuid>,
    pub app: Option<String>,
    /// Your own key for the file, for `GET /files/resolve`.
    pub client_key: Option<String>,
}

/// The part size for a multipart upload: at least the configured minimum, and large
/// enough that `max_parts` parts hold the file; whole MiB.
pub fn part_size(size: u64, min_part: u64, max_parts: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    let needed = size.div_ceil(max_parts.max(1));
    needed.max(min_part).div_ceil(MIB) * MIB
}

/// Opens an upload and returns presigned URLs for the bytes. The declared size is
/// reserved against the storage pool until `complete` or expiry.
#[utoipa::path(
    post, path = "/uploads/initiate", tag = "uploads", request_body = InitiateUpload,
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 200, body = UploadTicket), (status = 400), (status = 402), (status = 404), (status = 413), (status = 422))
)]
pub async fn initiate(
    auth: Authorized<FilesWrite>,
    State(state): State<AppState>,
    Json(body): Json<InitiateUpload>,
) -> Result<axum::Json<UploadTicket>, ApiError> {
    validate_entry_name(&body.original_name)?;
    validate_content_type(&body.content_type)
        .map_err(|e| ApiError::BadRequest(format!("content_type: {e}")))?;
    let app = body.app.as_deref().unwrap_or(DEFAULT_APP);
    validate_app_name(app)?;
    let uploads = &state.settings.uploads;
    let plan_limit = auth.plan().max_file_size;
    if body.size > uploads.max_file_bytes {
        return Err(ApiError::PayloadTooLarge(format!(
            "size {} is larger than this server accepts ({} bytes)",
            body.size, uploads.max_file_bytes
        )));
    }
    if plan_limit != UNLIMITED && body.size > u64::try_from(plan_limit).unwrap_or(0) {
        return Err(ApiError::PayloadTooLarge(format!(
            "size {} is larger than the plan's max_file_size ({plan_limit} bytes)",
            body.size
        )));
    }
    let size =
        i64::try_from(body.size).map_err(|_| ApiError::Unprocessable("size: too large".into()))?;
    let multipart = body.size >= uploads.multipart_threshold_bytes;
    let part_size =
        multipart.then(|| part_size(body.size, uploads.min_part_size_bytes, uploads.max_parts));
    let valid_for = Duration::from_secs(uploads.expiry_secs);
    let upload = state
        .store
        .initiate_upload(&NewUpload {
            tenant_id: auth.tenant_id(),
            space_id: body.space_id,
            folder_id: body.folder_id,
            original_name: body.original_name.clone(),
            content_type: body.content_type.clone(),
            size,
            source_app: app.to_owned(),
            part_size: part_size.and_then(|p| i64::try_from(p).ok()),
            created_by: auth.key().id,
            expires_at: now()
                + chrono::TimeDelta::from_std(valid_for).unwrap_or(chrono::TimeDelta::days(1)),
        })
        .await?;
    match presign(
        &state,
        &upload,
        body.size,
        part_size,
        valid_for.min(MAX_PRESIGN),
    )
    .await
    {
        Ok(ticket) => {
            state.metrics.inc(
                "fluidcloud_uploads_initiated_total",
                "Upload tickets handed out, by mode.",
                &[("mode", ticket.mode)],
            );
            Ok(axum::Json(ticket))
        }
        Err(err) => {
            // Nothing usable was handed out: give the reservation back at once.
            if let Err(release) = state.store.reject_upload(&upload).await {
                tracing::warn!(error = %release, "could not release a failed upload's reservation");
            }
            Err(err)
        }
    }
}

async fn presign(
    state: &AppState,
    upload: &Upload,
    size: u64,
    part_size: Option<u64>,
    valid_for: Duration,
) -> Result<UploadTicket, ApiError> {
    let objects = &state.jobs.objects;
    let mut ticket = UploadTicket {
        mode: "single",
        file_id: upload.file_id,
        key: upload.object_key.clone(),
        expires_at: upload.expires_at,
        upload_url: None,
        headers: None,
        upload_id: None,
        part_size: None,
        part_urls: None,
    };
    match part_size {
        None => {
            let presigned = objects
                .presign_put(&upload.object_key, &upload.content_type, size, valid_for)
                .await?;
            ticket.upload_url = Some(presigned.url);
            ticket.headers = Some(
                presigned
                    .headers
                    .into_iter()
                    .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
                    .collect(),
            );
        }
        Some(part_size) => {
            let multipart_id = objects
                .create_multipart(&upload.object_key, &upload.content_type)
                .await?;
            let urls = match part_urls(state, upload, &multipart_id, size, part_size, valid_for)
                .await
            {
                Ok(urls) => urls,
                Err(err) => {
                    // The caller releases the reservation; the store's half is ours,
                    // whether or not its id made it into the row.
                    if let Err(abort) = objects
                        .abort_multipart(&upload.object_key, &multipart_id)
                        .await
                    {
                        tracing::warn!(error = %abort, "could not abort a multipart upload nobody will use");
                    }
                    return Err(err);
                }
            };
            ticket.mode = "multipart";
            ticket.upload_id = Some(multipart_id);
            ticket.part_size = Some(part_size);
            ticket.part_urls = Some(urls);
        }
    }
    Ok(ticket)
}

/// Records the store's multipart id on the upload and presigns a URL per part.
async fn part_urls(
    state: &AppState,
    upload: &Upload,
    multipart_id: &str,
    size: u64,
    part_size: u64,
    valid_for: Duration,
) -> Result<Vec<PartUrl>, ApiError> {
    state
        .store
        .set_multipart_id(upload.file_id, multipart_id)
        .await?;
    let parts = size.div_ceil(part_size);
    let mut urls = Vec::with_capacity(usize::try_from(parts).unwrap_or(0));
    for number in 1..=u32::try_from(parts).unwrap_or(u32::MAX) {
        let part = i32::try_from(number).unwrap_or(i32::MAX);
        let url = state
            .jobs
            .objects
            .presign_part(&upload.object_key, multipart_id, part, valid_for)
            .await?;
        urls.push(PartUrl {
            part_number: number,
            url,
        });
    }
    Ok(urls)
}

/// Fingerprint of a complete request: the same data always gives the same value.
fn fingerprint(body: &CompleteUpload) -> String {
    let canonical = serde_json::to_vec(body).expect("complete bodies serialize");
    hex::encode(Sha256::digest(canonical))
}

/// Turns an uploaded object into a file. Files up to `scan.inline_max_bytes` are
/// scanned before the answer, which is then already `clean` (or not); larger ones
/// answer `pending`. Repeating the same call returns the same file.
#[utoipa::path(
    post, path = "/uploads/complete", tag = "uploads", request_body = CompleteUpload,
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 201, body = File), (status = 400), (status = 404), (status = 409), (status = 422), (status = 503))
)]
pub async fn complete(
    auth: Authorized<FilesWrite>,
    State(state): State<AppState>,
    Json(mut body): Json<CompleteUpload>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = auth.tenant_id();
    let upload = state
        .store
        .upload(tenant, body.file_id)
        .await?
        .filter(|upload| upload.object_key == body.key)
        .ok_or(ApiError::NotFound("upload"))?;
    if let Some(sha256) = &mut body.sha256 {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::Unprocessable(
                "sha256: expected 64 hex digits".into(),
            ));
        }
        sha256.make_ascii_lowercase();
    }
    let fingerprint = fingerprint(&body);
    match upload.state.as_str() {
        // Past its expiry an upload is gone, whether or not the worker swept it yet.
        "open" if upload.expires_at <= now() => {
            return Err(ApiError::NotFound("upload (it expired)"));
        }
        "open" => {}
        "completed" => return repeat_completion(&state, tenant, &upload, &fingerprint).await,
        "expired" => return Err(ApiError::NotFound("upload (it expired)")),
        _ => {
            return Err(ApiError::Conflict(
                "this upload was discarded; start a new one".into(),
            ));
        }
    }
    check_matches_upload(&body, &upload)?;

    let objects = &state.jobs.objects;
    if let Some(multipart_id) = &upload.multipart_id {
        if body.upload_id.as_deref() != Some(multipart_id.as_str()) {
            return Err(ApiError::BadRequest(
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
            return Err(ApiError::BadRequest(format!(
                "parts: expected {expected} parts numbered 1 to {expected}, in order"
            )));
        }
        let parts: Vec<(i32, String)> = parts
            .iter()
            .map(|p| (p.part_number, p.etag.clone()))
            .collect();
        match objects
            .complete_multipart(&upload.object_key, multipart_id, &parts)
            .await
        {
            // NotFound: completed already (by a racing call); the HEAD below decides.
            Ok(()) | Err(fluidcloud_storage::StorageError::NotFound) => {}
            Err(fluidcloud_storage::StorageError::Rejected(reason)) => {
                return Err(ApiError::BadRequest(format!(
                    "the object store refused the parts: {reason}"
                )));
            }
            Err(other) => return Err(other.into()),
        }
    } else if body.upload_id.is_some() || body.parts.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(ApiError::BadRequest(
            "upload_id and parts are only for multipart uploads".into(),
        ));
    }

    let stored = objects.head(&upload.object_key).await?;
    let Some(stored) = stored else {
        return Err(ApiError::BadRequest(
            "nothing has been uploaded for this file yet".into(),
        ));
    };
    if stored.size != body.size {
        // Wrong bytes: nothing is kept and the reservation is released.
        if let Err(err) = objects.delete(&upload.object_key).await {
            tracing::warn!(error = %err, "could not delete a mismatched upload yet; a job will");
        }
        state.store.reject_upload(&upload).await?;
        return Err(ApiError::BadRequest(format!(
            "the store holds {} bytes but {} were declared; the upload was discarded",
            stored.size, body.size
        )));
    }

    let inline = body.size <= state.settings.scan.inline_max_bytes;
    let completion = Completion {
        fingerprint,
        original_name: body.original_name.clone(),
        mime: body
            .mime
            .clone()
            .unwrap_or_else(|| upload.content_type.clone()),
        sha256: body.sha256.clone().unwrap_or_default(),
        client_key: body.client_key.clone(),
        // A file scanned inline still gets a job, due later, in case this process
        // dies before recording the verdict.
        scan_at: now()
            + if inline {
                chrono::TimeDelta::minutes(2)
            } else {
                chrono::TimeDelta::zero()
            },
    };
    let file = match state.store.complete_upload(&upload, &completion).await? {
        Completed::Created(file) => {
            state.metrics.inc(
                "fluidcloud_uploads_completed_total",
                "Uploads turned into files.",
                &[],
            );
            file
        }
        Completed::NotOpen => {
            let current = state
                .store
                .upload(tenant, upload.file_id)
                .await?
                .ok_or(ApiError::NotFound("upload"))?;
            return repeat_completion(&state, tenant, &current, &completion.fingerprint).await;
        }
    };
    if inline {
        scan_inline(&state, file.id).await?;
    }
    let file = state.store.file(tenant, file.id).await?;
    Ok((StatusCode::CREATED, axum::Json(file)).into_response())
}

/// Scans a just-completed file before answering. Without a verdict (scanner or store
/// unreachable) the file stays pending and its scan job is made due at once.
async fn scan_inline(state: &AppState, file_id: Uuid) -> Result<(), ApiError> {
    let verdict = match scan_file(&state.jobs, file_id, false).await {
        Ok(ScanRun::Retry(reason)) => Err(reason),
        Ok(_) => Ok(()),
        Err(err) => Err(format!("{err:#}")),
    };
    if let Err(reason) = verdict {
        tracing::warn!(%file_id, reason, "no verdict inline; the worker will retry");
        state.store.expedite(&JobKind::Scan { file_id }).await?;
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct ImportUrl {
    /// An http or https URL on the public internet.
    pub url: String,
    pub space_id: Uuid,
    pub folder_id: Option<Uuid>,
    /// Defaults to the last segment of the URL's path, else `download`.
    pub original_name: Option<String>,
    pub client_key: Option<String>,
    pub app: Option<String>,
}

/// Fetches a file from a URL into storage and scans it like an upload. Private,
/// loopback, link-local and metadata addresses are refused (also behind redirects).
#[utoipa::path(
    post, path = "/uploads/import-url", tag = "uploads", request_body = ImportUrl,
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 201, body = File), (status = 400), (status = 402), (status = 404), (status = 413), (status = 422))
)]
pub async fn import_url(
    auth: Authorized<FilesWrite>,
    State(state): State<AppState>,
    Json(body): Json<ImportUrl>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = auth.tenant_id();
    if let Some(name) = &body.original_name {
        validate_entry_name(name)?;
    }
    if let Some(client_key) = &body.client_key {
        validate_client_key(client_key)
            .map_err(|e| ApiError::BadRequest(format!("client_key: {e}")))?;
    }
    let app = body.app.as_deref().unwrap_or(DEFAULT_APP);
    validate_app_name(app)?;
    // Fail fast on a wrong target, before fetching anything.
    state.store.space(tenant, body.space_id).await?;
    if let Some(folder_id) = body.folder_id {
        state.store.folder(tenant, folder_id).await?;
    }
    let plan_limit = u64::try_from(auth.plan().max_file_size).ok();
    let max_bytes = [
        Some(state.settings.import.max_bytes),
        Some(state.settings.uploads.max_file_bytes),
        plan_limit,
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(0);
    // A tenant out of room is told so before anything is downloaded, and a download
    // stops as soon as it outgrows the room (the reservation below still decides).
    let (bytes_limit, counted) = state.store.storage_counted(tenant).await?;
    let headroom = (bytes_limit >= 0).then(|| u64::try_from(bytes_limit - counted).unwrap_or(0));
    let over_quota = |requested: u64| {
        ApiError::from(fluidcloud_db::StoreError::QuotaExceeded(
            fluidcloud_db::QuotaExceeded {
                limit: "storage",
                used: counted,
                limit_value: bytes_limit,
                requested: i64::try_from(requested).unwrap_or(i64::MAX),
            },
        ))
    };
    if headroom == Some(0) {
        return Err(over_quota(1));
    }
    let fetch_limit = headroom.map_or(max_bytes, |room| room.min(max_bytes));
    let fetched = state
        .importer
        .fetch(&body.url, fetch_limit)
        .await
        .map_err(|err| match err {
            // Stopped by the room left, not by a size limit: quota, unless the URL
            // announced a size past the limits anyway.
            crate::import::ImportError::TooLarge { limit, size }
                if limit < max_bytes && size.is_none_or(|size| size <= max_bytes) =>
            {
                over_quota(size.unwrap_or(limit + 1))
            }
            crate::import::ImportError::TooLarge { .. } => {
                ApiError::PayloadTooLarge(err.to_string())
            }
            crate::import::ImportError::Local(io) => ApiError::Internal(io.into()),
            crate::import::ImportError::Busy => {
                ApiError::Unavailable("too many imports in progress; retry shortly")
            }
            other => ApiError::BadRequest(other.to_string()),
        })?;
    let name = body
        .original_name
        .clone()
        .or(fetched.name_hint.clone())
        .unwrap_or_else(|| "download".into());
    let content_type = fetched
        .content_type
        .clone()
        .filter(|t| validate_content_type(t).is_ok())
        .unwrap_or_else(|| "application/octet-stream".into());
    let size = i64::try_from(fetched.size)
        .map_err(|_| ApiError::PayloadTooLarge("file too large".into()))?;
    let expiry = chrono::TimeDelta::seconds(
        i64::try_from(state.settings.uploads.expiry_secs).unwrap_or(86_400),
    );
    let upload = state
        .store
        .initiate_upload(&NewUpload {
            tenant_id: tenant,
            space_id: body.space_id,
            folder_id: body.folder_id,
            original_name: name.clone(),
            content_type: content_type.clone(),
            size,
            source_app: app.to_owned(),
            part_size: None,
            created_by: auth.key().id,
            expires_at: now() + expiry,
        })
        .await?;
    let bytes = aws_smithy_types::byte_stream::ByteStream::from_path(&fetched.file).await;
    let stored = match bytes {
        Ok(bytes) => state
            .jobs
            .objects
            .put(&upload.object_key, &content_type, bytes, fetched.size)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(ApiError::Internal(err.into())),
    };
    if let Err(err) = stored {
        state.store.reject_upload(&upload).await?;
        return Err(err);
    }
    let inline = fetched.size <= state.settings.scan.inline_max_bytes;
    let completion = Completion {
        fingerprint: format!("import-url:{}", fetched.sha256),
        original_name: name,
        mime: content_type,
        sha256: fetched.sha256.clone(),
        client_key: body.client_key.clone(),
        scan_at: now()
            + if inline {
                chrono::TimeDelta::minutes(2)
            } else {
                chrono::TimeDelta::zero()
            },
    };
    state
        .metrics
        .inc("fluidcloud_imports_total", "Files imported from URLs.", &[]);
    let Completed::Created(file) = state.store.complete_upload(&upload, &completion).await? else {
        return Err(ApiError::Conflict(
            "the import was interrupted; try again".into(),
        ));
    };
    if inline {
        scan_inline(&state, file.id).await?;
    }
    let file = state.store.file(tenant, file.id).await?;
    Ok((StatusCode::CREATED, axum::Json(file)))
}

/// The answer to a `complete` for an upload already completed.
async fn repeat_completion(
    state: &AppState,
    tenant: Uuid,
    upload: &Upload,
    fingerprint: &str,
) -> Result<axum::response::Response, ApiError> {
    if upload.state == "completed" && upload.completion.as_deref() == Some(fingerprint) {
        let file = state.store.file(tenant, upload.file_id).await?;
        return Ok((StatusCode::CREATED, axum::Json(file)).into_response());
    }
    if upload.state == "completed" {
        return Err(ApiError::Conflict(
            "this upload was already completed with different data".into(),
        ));
    }
    if upload.state == "expired" || upload.expires_at <= now() {
        return Err(ApiError::NotFound("upload (it expired)"));
    }
    Err(ApiError::Conflict(
        "this upload is no longer open; start a new one".into(),
    ))
}

/// The completing request must describe the upload that was initiated.
fn check_matches_upload(body: &CompleteUpload, upload: &Upload) -> Result<(), ApiError> {
    validate_entry_name(&body.original_name)?;
    if let Some(mime) = &body.mime {
        validate_content_type(mime).map_err(|e| ApiError::BadRequest(format!("mime: {e}")))?;
    }
    if let Some(client_key) = &body.client_key {
        validate_client_key(client_key)
            .map_err(|e| ApiError::BadRequest(format!("client_key: {e}")))?;
    }
    if u64::try_from(upload.size).ok() != Some(body.size) {
        return Err(ApiError::BadRequest(format!(
            "size {} differs from the {} bytes declared at initiate",
            body.size, upload.size
        )));
    }
    if body.space_id != upload.space_id || body.folder_id != upload.folder_id {
        return Err(ApiError::BadRequest(
            "space_id and folder_id must be those given at initiate".into(),
        ));
    }
    if body
        .app
        .as_deref()
        .is_some_and(|app| app != upload.source_app)
    {
        return Err(ApiError::BadRequest(
            "app must be the one given at initiate".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::part_size;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn parts_are_at_least_eight_mib_and_at_most_ten_thousand() {
        assert_eq!(part_size(100 * MIB, 8 * MIB, 10_000), 8 * MIB);
        let huge = 5 * 1024 * 1024 * MIB; // 5 TiB
        let part = part_size(huge, 8 * MIB, 10_000);
        assert!(huge.div_ceil(part) <= 10_000);
        assert_eq!(part % MIB, 0);
        assert_eq!(part_size(80_000 * MIB + 1, 8 * MIB, 10_000), 9 * MIB);
    }
}
