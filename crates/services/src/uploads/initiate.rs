//! Opening an upload: the reservation, then presigned URLs for the bytes.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fluidcloud_core::content_type::canonical_content_type;
use fluidcloud_core::lenient;
use fluidcloud_core::model::UNLIMITED;
use fluidcloud_core::names::{DEFAULT_APP, validate_app_name, validate_entry_name};
use fluidcloud_core::time::now;
use fluidcloud_db::{NewUpload, Upload};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{UploadError, Uploader};
use crate::ServiceContext;

#[derive(Deserialize, ToSchema)]
pub struct InitiateUpload {
    #[schema(schema_with = fluidcloud_core::names::json_schema::entry_name)]
    pub original_name: String,
    /// The type the PUT must declare (and the file's type until it is scanned):
    /// `type/subtype`, at most a `charset` parameter (else 422).
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r#"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:; ?[Cc][Hh][Aa][Rr][Ss][Ee][Tt]=(?:[!#$%&*+.^_~0-9A-Za-z-]+|"[!#$%&*+.^_~0-9A-Za-z-]+"))?$"#
    )]
    pub content_type: String,
    /// Exact size in bytes; the PUT must send exactly this many.
    #[serde(deserialize_with = "lenient::int")]
    #[schema(maximum = 9_223_372_036_854_775_807_u64)]
    pub size: u64,
    pub space_id: Uuid,
    pub folder_id: Option<Uuid>,
    /// App namespace; `fluidcloud` when absent.
    #[schema(schema_with = fluidcloud_core::names::json_schema::opt_app)]
    pub app: Option<String>,
}

/// How the bytes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UploadMode {
    /// One presigned PUT of the whole file.
    Single,
    /// One presigned PUT per part, then `complete` with the parts' ETags.
    Multipart,
}

impl UploadMode {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadMode::Single => "single",
            UploadMode::Multipart => "multipart",
        }
    }
}

/// Where and how to upload the bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadTicket {
    /// `single` (one presigned PUT) or `multipart` (one presigned PUT per part).
    pub mode: UploadMode,
    pub file_id: Uuid,
    /// The object key; send it back to `complete`.
    pub key: String,
    pub expires_at: DateTime<Utc>,
    /// `single`: PUT the whole file here with exactly `headers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    /// `single`: headers the PUT must carry (Content-Length comes from the body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct PartUrl {
    pub part_number: u32,
    pub url: String,
}

/// The part size for a multipart upload: at least the configured minimum, and large
/// enough that `max_parts` parts hold the file; whole MiB.
pub fn part_size(size: u64, min_part: u64, max_parts: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    let needed = size.div_ceil(max_parts.max(1));
    needed.max(min_part).div_ceil(MIB) * MIB
}

/// Opens an upload and returns presigned URLs for the bytes. The declared size is
/// reserved against the storage pool until `complete` or expiry; if presigning fails
/// the reservation is released before the error is returned.
pub async fn initiate(
    context: &ServiceContext,
    uploader: &Uploader,
    body: &InitiateUpload,
) -> Result<UploadTicket, UploadError> {
    validate_entry_name(&body.original_name)?;
    // Stored and served canonical; the PUT is signed for the type as declared, which
    // is what the client will send.
    let content_type = canonical_content_type(&body.content_type)
        .map_err(|e| UploadError::Unprocessable(format!("content_type: {e}")))?;
    let app = body.app.as_deref().unwrap_or(DEFAULT_APP);
    validate_app_name(app)?;
    // Sizes are stored as 64-bit signed integers, as the document's `int64` says: past
    // that the value is outside the field, not merely larger than a limit.
    if i64::try_from(body.size).is_err() {
        return Err(UploadError::Unprocessable(format!(
            "size: must be at most {}",
            i64::MAX
        )));
    }
    let uploads = &context.settings.uploads;
    let plan_limit = uploader.max_file_size;
    if body.size > uploads.max_file_bytes {
        return Err(UploadError::TooLarge(format!(
            "size {} is larger than this server accepts ({} bytes)",
            body.size, uploads.max_file_bytes
        )));
    }
    if plan_limit != UNLIMITED && body.size > u64::try_from(plan_limit).unwrap_or(0) {
        return Err(UploadError::TooLarge(format!(
            "size {} is larger than the plan's max_file_size ({plan_limit} bytes)",
            body.size
        )));
    }
    let size = i64::try_from(body.size)
        .map_err(|_| UploadError::Unprocessable("size: too large".into()))?;
    let multipart = body.size >= uploads.multipart_threshold_bytes;
    let part_size =
        multipart.then(|| part_size(body.size, uploads.min_part_size_bytes, uploads.max_parts));
    // The upload lapses with its URLs: a URL can never outlive the reservation that
    // pays for what is sent through it.
    let valid_for = Duration::from_secs(if multipart {
        uploads.part_url_ttl_secs
    } else {
        uploads.url_ttl_secs
    });
    let upload = context
        .store
        .initiate_upload(&NewUpload {
            tenant_id: uploader.tenant_id,
            space_id: body.space_id,
            folder_id: body.folder_id,
            original_name: body.original_name.clone(),
            content_type,
            size,
            source_app: app.to_owned(),
            part_size: part_size.and_then(|p| i64::try_from(p).ok()),
            created_by: uploader.key_id,
            expires_at: now()
                + chrono::TimeDelta::from_std(valid_for).unwrap_or(chrono::TimeDelta::days(1)),
        })
        .await?;
    let declared = body.content_type.trim_matches([' ', '\t']);
    match presign(context, &upload, declared, body.size, part_size, valid_for).await {
        Ok(ticket) => {
            context.metrics.upload_initiated(ticket.mode.as_str());
            Ok(ticket)
        }
        Err(err) => {
            // Nothing usable was handed out: give the reservation back at once.
            if let Err(release) = context.store.reject_upload(&upload).await {
                tracing::warn!(error = %release, "could not release a failed upload's reservation");
            }
            Err(err)
        }
    }
}

async fn presign(
    context: &ServiceContext,
    upload: &Upload,
    declared_type: &str,
    size: u64,
    part_size: Option<u64>,
    valid_for: Duration,
) -> Result<UploadTicket, UploadError> {
    let objects = &context.objects;
    let mut ticket = UploadTicket {
        mode: UploadMode::Single,
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
                .presign_put(&upload.object_key, declared_type, size, valid_for)
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
            let urls = match part_urls(context, upload, &multipart_id, size, part_size, valid_for)
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
            ticket.mode = UploadMode::Multipart;
            ticket.upload_id = Some(multipart_id);
            ticket.part_size = Some(part_size);
            ticket.part_urls = Some(urls);
        }
    }
    Ok(ticket)
}

/// Records the store's multipart id on the upload and presigns a URL per part.
async fn part_urls(
    context: &ServiceContext,
    upload: &Upload,
    multipart_id: &str,
    size: u64,
    part_size: u64,
    valid_for: Duration,
) -> Result<Vec<PartUrl>, UploadError> {
    context
        .store
        .set_multipart_id(upload.file_id, multipart_id)
        .await?;
    let parts = size.div_ceil(part_size);
    let mut urls = Vec::with_capacity(usize::try_from(parts).unwrap_or(0));
    for number in 1..=u32::try_from(parts).unwrap_or(u32::MAX) {
        let part = i32::try_from(number).unwrap_or(i32::MAX);
        // Every part is exactly `part_size` but the last, which holds the rest.
        let offset = u64::from(number - 1) * part_size;
        let length = part_size.min(size - offset);
        let url = context
            .objects
            .presign_part(&upload.object_key, multipart_id, part, length, valid_for)
            .await?;
        urls.push(PartUrl {
            part_number: number,
            url,
        });
    }
    Ok(urls)
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
