//! Importing from a URL: fetched to a temporary file, put in the store, completed and
//! scanned like an upload.

use fluidcloud_core::content_type::canonical_content_type;
use fluidcloud_core::model::File;
use fluidcloud_core::names::{
    DEFAULT_APP, validate_app_name, validate_client_key, validate_entry_name,
};
use fluidcloud_core::time::now;
use fluidcloud_db::{Completed, Completion, NewUpload, QuotaExceeded};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::complete::{scan_job_due, scan_within_budget};
use super::{UploadError, Uploader};
use crate::ServiceContext;
use crate::fetch::{ImportError, Importer};

#[derive(Deserialize, ToSchema)]
pub struct ImportUrl {
    /// An http or https URL on the public internet.
    pub url: String,
    pub space_id: Uuid,
    pub folder_id: Option<Uuid>,
    /// Defaults to the last segment of the URL's path, else `download`.
    #[schema(schema_with = fluidcloud_core::names::json_schema::opt_entry_name)]
    pub original_name: Option<String>,
    #[schema(schema_with = fluidcloud_core::names::json_schema::opt_client_key)]
    pub client_key: Option<String>,
    #[schema(schema_with = fluidcloud_core::names::json_schema::opt_app)]
    pub app: Option<String>,
}

/// Fetches a file from a URL into storage and scans it like an upload. Private,
/// loopback, link-local and metadata addresses are refused (also behind redirects).
/// If the store refuses the bytes, the reservation is released before the error.
pub async fn import_url(
    context: &ServiceContext,
    importer: &Importer,
    uploader: &Uploader,
    body: &ImportUrl,
) -> Result<File, UploadError> {
    let tenant = uploader.tenant_id;
    if let Some(name) = &body.original_name {
        validate_entry_name(name)?;
    }
    if let Some(client_key) = &body.client_key {
        validate_client_key(client_key)
            .map_err(|e| UploadError::BadRequest(format!("client_key: {e}")))?;
    }
    let app = body.app.as_deref().unwrap_or(DEFAULT_APP);
    validate_app_name(app)?;
    let store = &context.store;
    // Fail fast on a wrong target, before fetching anything.
    store.space(tenant, body.space_id).await?;
    if let Some(folder_id) = body.folder_id {
        store.folder(tenant, folder_id).await?;
    }
    let settings = &context.settings;
    let plan_limit = u64::try_from(uploader.max_file_size).ok();
    let max_bytes = [
        Some(settings.import.max_bytes),
        Some(settings.uploads.max_file_bytes),
        plan_limit,
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(0);
    // A tenant out of room is told so before anything is downloaded, and a download
    // stops as soon as it outgrows the room (the reservation below still decides).
    let (bytes_limit, counted) = store.storage_counted(tenant).await?;
    let headroom = (bytes_limit >= 0).then(|| u64::try_from(bytes_limit - counted).unwrap_or(0));
    let over_quota = |requested: u64| {
        UploadError::QuotaExceeded(QuotaExceeded {
            limit: "storage",
            used: counted,
            limit_value: bytes_limit,
            requested: i64::try_from(requested).unwrap_or(i64::MAX),
        })
    };
    if headroom == Some(0) {
        return Err(over_quota(1));
    }
    let fetch_limit = headroom.map_or(max_bytes, |room| room.min(max_bytes));
    let fetched = importer
        .fetch(tenant, &body.url, fetch_limit)
        .await
        .map_err(|err| match err {
            // Stopped by the room left, not by a size limit: quota, unless the URL
            // announced a size past the limits anyway.
            ImportError::TooLarge { limit, size }
                if limit < max_bytes && size.is_none_or(|size| size <= max_bytes) =>
            {
                over_quota(size.unwrap_or(limit + 1))
            }
            ImportError::TooLarge { .. } => UploadError::TooLarge(err.to_string()),
            ImportError::Local(io) => UploadError::Internal(io.into()),
            ImportError::Busy => UploadError::Busy,
            other => UploadError::BadRequest(other.to_string()),
        })?;
    let name = body
        .original_name
        .clone()
        .or(fetched.name_hint.clone())
        .unwrap_or_else(|| "download".into());
    let content_type = fetched
        .content_type
        .as_deref()
        .and_then(|t| canonical_content_type(t).ok())
        // Whatever the source claims beyond a plain type is not believed; the scan
        // detects the real one from the bytes.
        .unwrap_or_else(|| "application/octet-stream".into());
    let size =
        i64::try_from(fetched.size).map_err(|_| UploadError::TooLarge("file too large".into()))?;
    // No URL is handed out; the upload only has to outlive the put below.
    let expiry =
        chrono::TimeDelta::seconds(i64::try_from(settings.uploads.url_ttl_secs).unwrap_or(3600));
    let upload = store
        .initiate_upload(&NewUpload {
            tenant_id: tenant,
            space_id: body.space_id,
            folder_id: body.folder_id,
            original_name: name.clone(),
            content_type: content_type.clone(),
            size,
            source_app: app.to_owned(),
            part_size: None,
            created_by: uploader.key_id,
            expires_at: now() + expiry,
        })
        .await?;
    let bytes = aws_smithy_types::byte_stream::ByteStream::from_path(&fetched.file).await;
    let stored = match bytes {
        Ok(bytes) => context
            .objects
            .put(&upload.object_key, &content_type, bytes, fetched.size)
            .await
            .map_err(UploadError::from),
        Err(err) => Err(UploadError::Internal(err.into())),
    };
    if let Err(err) = stored {
        store.reject_upload(&upload).await?;
        return Err(err);
    }
    let completion = Completion {
        fingerprint: format!("import-url:{}", fetched.sha256),
        original_name: name,
        mime: content_type,
        sha256: fetched.sha256.clone(),
        client_key: body.client_key.clone(),
        scan_at: scan_job_due(settings),
    };
    context.metrics.imported();
    let Completed::Created(file) = store.complete_upload(&upload, &completion).await? else {
        return Err(UploadError::Conflict(
            "the import was interrupted; try again".into(),
        ));
    };
    scan_within_budget(context, file.id).await?;
    Ok(store.file(tenant, file.id).await?)
}
