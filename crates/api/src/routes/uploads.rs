//! `/uploads`: presigned direct-to-store uploads. File bytes never pass through here;
//! the workflows themselves live in [`fluidcloud_services::uploads`].

use axum::extract::State;
use axum::http::StatusCode;
use fluidcloud_core::model::File;
use fluidcloud_services::uploads::{
    self, CompleteUpload, ImportUrl, InitiateUpload, UploadTicket, Uploader,
};

use crate::AppState;
use crate::auth::{Authorized, FilesWrite};
use crate::error::ApiError;
use crate::extract::{Json, PathId};

fn uploader(auth: &Authorized<FilesWrite>) -> Uploader {
    Uploader {
        tenant_id: auth.tenant_id(),
        key_id: auth.key().id,
        max_file_size: auth.plan().max_file_size,
    }
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
    let ticket = uploads::initiate(&state.services(), &uploader(&auth), &body).await?;
    Ok(axum::Json(ticket))
}

/// The same as `POST /uploads/initiate`, which the hosted service's rate-limit page
/// names as `POST /uploads`; both count against the one initiate budget.
#[utoipa::path(
    post, path = "/uploads", tag = "uploads", request_body = InitiateUpload,
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 200, body = UploadTicket), (status = 400), (status = 402), (status = 404), (status = 413), (status = 422))
)]
pub async fn initiate_alias(
    auth: Authorized<FilesWrite>,
    state: State<AppState>,
    body: Json<InitiateUpload>,
) -> Result<axum::Json<UploadTicket>, ApiError> {
    initiate(auth, state, body).await
}

/// Turns an uploaded object into a file and waits for its scan up to
/// `scan.inline_budget_secs`: the answer is then already `clean`, `infected` or
/// `failed`; a slower scan answers `pending` and the worker finishes it. Repeating the same call returns the same file.
#[utoipa::path(
    post, path = "/uploads/complete", tag = "uploads", request_body = CompleteUpload,
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 201, body = File), (status = 400), (status = 404), (status = 409), (status = 422), (status = 503))
)]
pub async fn complete(
    auth: Authorized<FilesWrite>,
    State(state): State<AppState>,
    Json(body): Json<CompleteUpload>,
) -> Result<(StatusCode, axum::Json<File>), ApiError> {
    let file = uploads::complete(&state.services(), &uploader(&auth), body).await?;
    Ok((StatusCode::CREATED, axum::Json(file)))
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
) -> Result<(StatusCode, axum::Json<File>), ApiError> {
    let file =
        uploads::import_url(&state.services(), &state.importer, &uploader(&auth), &body).await?;
    Ok((StatusCode::CREATED, axum::Json(file)))
}

/// Cancels an upload that was not completed: its reservation is released at once and
/// what was sent is erased. Cancelling again is fine; a completed upload is 409.
#[utoipa::path(
    delete, path = "/uploads/{file_id}", tag = "uploads", params(("file_id" = Uuid, Path)),
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 204), (status = 404), (status = 409), (status = 422))
)]
pub async fn cancel(
    auth: Authorized<FilesWrite>,
    State(state): State<AppState>,
    PathId(file_id): PathId,
) -> Result<StatusCode, ApiError> {
    uploads::cancel(&state.services(), &uploader(&auth), file_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
