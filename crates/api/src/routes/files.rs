//! `/files`: listing, lookup, rename and move, Trash and restore, and the owner's
//! short-lived download and preview URLs.

use axum::extract::State;
use chrono::{DateTime, Utc};
use fluidcloud_core::lenient;
use fluidcloud_core::model::{File, ScanStatus};
use fluidcloud_core::names::{
    DEFAULT_APP, validate_app_name, validate_client_key, validate_entry_name,
};
use fluidcloud_core::signing::{Disposition, DownloadGrant};
use fluidcloud_core::time::now;
use fluidcloud_db::{FileFilter, FileUpdate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Listed;
use crate::AppState;
use crate::auth::{Authorized, FilesRead, FilesWrite};
use crate::error::ApiError;
use crate::extract::{Json, Paging, PathId, Query, explicit_null};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListFiles {
    pub space_id: Uuid,
    /// Files directly in this folder; omitted means the space root.
    pub folder_id: Option<Uuid>,
    /// `true`: every trashed file of the space.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[param(value_type = Option<bool>)]
    pub trash: Option<bool>,
    /// `true`: every live file of the space, whatever its folder.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[param(value_type = Option<bool>)]
    pub recursive: Option<bool>,
    /// Only files of this app namespace.
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]+$")]
    pub app: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResolveParams {
    /// The key given at upload. A value no upload could have been given (see
    /// `client_key` there) finds nothing: 404.
    #[param(min_length = 1, max_length = 255)]
    pub client_key: String,
    /// App namespace; `fluidcloud` when omitted.
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]+$")]
    pub app: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateFile {
    #[schema(schema_with = fluidcloud_core::names::json_schema::opt_entry_name)]
    pub original_name: Option<String>,
    /// New folder; absent leaves it, `null` moves the file to the space root.
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<Uuid>)]
    pub folder_id: Option<Option<Uuid>>,
}

/// A short-lived URL on the files server.
#[derive(Serialize, ToSchema)]
pub struct SignedUrl {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Files directly in a folder (or the root), every live file (`recursive=true`), or
/// every trashed file (`trash=true`) of a space.
#[utoipa::path(
    get, path = "/files", tag = "files", params(ListFiles, Paging),
    security(("api_key" = ["files:read"]), ("bearer" = ["files:read"])),
    responses((status = 200, body = [File]), (status = 404), (status = 422))
)]
pub async fn list_files(
    auth: Authorized<FilesRead>,
    State(state): State<AppState>,
    Query(params): Query<ListFiles>,
    Query(paging): Query<Paging>,
) -> Result<Listed<File>, ApiError> {
    let page = paging.to_request()?;
    let filter = FileFilter {
        folder_id: params.folder_id,
        recursive: params.recursive == Some(true),
        trash: params.trash == Some(true),
        app: match params.app {
            Some(app) => {
                validate_app_name(&app)
                    .map_err(|e| ApiError::Unprocessable(format!("app: {e}")))?;
                Some(app)
            }
            None => None,
        },
    };
    Ok(Listed(
        state
            .store
            .list_files(auth.tenant_id(), params.space_id, &filter, &page)
            .await?,
    ))
}

/// A file, live or in the Trash. Poll it for `scan_status`.
#[utoipa::path(
    get, path = "/files/{id}", tag = "files", params(("id" = Uuid, Path)),
    security(("api_key" = ["files:read"]), ("bearer" = ["files:read"])),
    responses((status = 200, body = File), (status = 404))
)]
pub async fn get_file(
    auth: Authorized<FilesRead>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<axum::Json<File>, ApiError> {
    Ok(axum::Json(state.store.file(auth.tenant_id(), id).await?))
}

/// The newest live file with this `client_key` in the app namespace.
#[utoipa::path(
    get, path = "/files/resolve", tag = "files", params(ResolveParams),
    security(("api_key" = ["files:read"]), ("bearer" = ["files:read"])),
    responses((status = 200, body = File), (status = 404), (status = 422))
)]
pub async fn resolve_file(
    auth: Authorized<FilesRead>,
    State(state): State<AppState>,
    Query(params): Query<ResolveParams>,
) -> Result<axum::Json<File>, ApiError> {
    let app = params.app.as_deref().unwrap_or(DEFAULT_APP);
    validate_app_name(app).map_err(|e| ApiError::Unprocessable(format!("app: {e}")))?;
    // A key no upload could have been given matches no file: the answer to a lookup
    // is "not found", as for any other key nobody used.
    if validate_client_key(&params.client_key).is_err() {
        return Err(ApiError::NotFound("file"));
    }
    Ok(axum::Json(
        state
            .store
            .resolve_file(auth.tenant_id(), &params.client_key, app)
            .await?,
    ))
}

/// Renames and/or moves a live file within its space.
#[utoipa::path(
    patch, path = "/files/{id}", tag = "files", request_body = UpdateFile, params(("id" = Uuid, Path)),
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 200, body = File), (status = 400), (status = 404), (status = 409), (status = 422))
)]
pub async fn update_file(
    auth: Authorized<FilesWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Json(body): Json<UpdateFile>,
) -> Result<axum::Json<File>, ApiError> {
    if let Some(name) = &body.original_name {
        validate_entry_name(name)?;
    }
    let update = FileUpdate {
        original_name: body.original_name,
        folder_id: body.folder_id,
    };
    Ok(axum::Json(
        state
            .store
            .update_file(auth.tenant_id(), id, &update)
            .await?,
    ))
}

/// Moves a file to the Trash: its bytes still count, its raw links stop serving.
#[utoipa::path(
    delete, path = "/files/{id}", tag = "files", params(("id" = Uuid, Path)),
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 200, body = File), (status = 404))
)]
pub async fn trash_file(
    auth: Authorized<FilesWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<axum::Json<File>, ApiError> {
    Ok(axum::Json(
        state.store.trash_file(auth.tenant_id(), id).await?,
    ))
}

/// Brings a file back from the Trash (to the space root if its folder is gone).
#[utoipa::path(
    post, path = "/files/{id}/restore", tag = "files", params(("id" = Uuid, Path)),
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 200, body = File), (status = 404))
)]
pub async fn restore_file(
    auth: Authorized<FilesWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<axum::Json<File>, ApiError> {
    Ok(axum::Json(
        state.store.restore_file(auth.tenant_id(), id).await?,
    ))
}

/// A short-lived URL that downloads the file as an attachment. 409 unless clean.
#[utoipa::path(
    get, path = "/files/{id}/download", tag = "files", params(("id" = Uuid, Path)),
    security(("api_key" = ["files:read"]), ("bearer" = ["files:read"])),
    responses((status = 200, body = SignedUrl), (status = 404), (status = 409))
)]
pub async fn download_url(
    auth: Authorized<FilesRead>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<axum::Json<SignedUrl>, ApiError> {
    signed_url(&state, auth.tenant_id(), id, Disposition::Attachment).await
}

/// A short-lived URL that shows the file inline (active types still download).
/// 409 unless clean.
#[utoipa::path(
    get, path = "/files/{id}/preview", tag = "files", params(("id" = Uuid, Path)),
    security(("api_key" = ["files:read"]), ("bearer" = ["files:read"])),
    responses((status = 200, body = SignedUrl), (status = 404), (status = 409))
)]
pub async fn preview_url(
    auth: Authorized<FilesRead>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<axum::Json<SignedUrl>, ApiError> {
    signed_url(&state, auth.tenant_id(), id, Disposition::Inline).await
}

async fn signed_url(
    state: &AppState,
    tenant: Uuid,
    id: Uuid,
    disposition: Disposition,
) -> Result<axum::Json<SignedUrl>, ApiError> {
    let file = state.store.file(tenant, id).await?;
    ensure_servable(&file, "downloadable")?;
    let ttl = chrono::TimeDelta::seconds(
        i64::try_from(state.settings.files.download_url_ttl_secs).unwrap_or(300),
    );
    let expires_at = now() + ttl;
    let signed = state.signer.sign_download(&DownloadGrant {
        file_id: id,
        expires_at: expires_at.timestamp(),
        disposition,
    });
    let base = state.settings.files.public_url.trim_end_matches('/');
    Ok(axum::Json(SignedUrl {
        url: format!("{base}/d/{signed}"),
        expires_at: expires_at.trunc_subsecs_to_seconds(),
    }))
}

/// 409 unless the file is clean and out of the Trash.
pub(crate) fn ensure_servable(file: &File, what: &str) -> Result<(), ApiError> {
    if file.scan_status != ScanStatus::Clean {
        return Err(ApiError::Conflict(format!(
            "File is not {what} yet (scan_status='{}'); must be 'clean'.",
            file.scan_status.as_str()
        )));
    }
    if file.deleted_at.is_some() {
        return Err(ApiError::Conflict(format!(
            "File is not {what}: it is in the Trash; restore it first."
        )));
    }
    Ok(())
}

trait WholeSeconds {
    fn trunc_subsecs_to_seconds(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    /// The signed URL carries whole seconds; report the same instant.
    fn trunc_subsecs_to_seconds(self) -> Self {
        DateTime::from_timestamp(self.timestamp(), 0).unwrap_or(self)
    }
}
