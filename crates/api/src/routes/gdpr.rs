//! `/gdpr`: permanent deletion of a file, or of everything in the Trash.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use fluidcloud_db::{Purged, TrashEmptied};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Authorized, FilesWrite};
use crate::error::ApiError;
use crate::extract::{PathId, Query};

#[derive(Serialize, ToSchema)]
pub struct FilePurged {
    pub id: Uuid,
    pub bytes_freed: i64,
    pub shares_revoked: i64,
}

#[derive(Serialize, ToSchema)]
pub struct TrashPurge {
    pub files: i64,
    pub folders: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrashParams {
    /// Only this space's Trash; omitted means every space of the tenant.
    pub space_id: Option<Uuid>,
}

/// Erases a file, live or trashed: its links stop serving first, then its bytes, its
/// quota and its record go. Afterwards the id is 404.
#[utoipa::path(
    delete, path = "/gdpr/files/{id}", tag = "gdpr", params(("id" = Uuid, Path)),
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 200, body = FilePurged), (status = 404))
)]
pub async fn purge_file(
    auth: Authorized<FilesWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<axum::Json<FilePurged>, ApiError> {
    let (
        Purged {
            bytes_freed,
            shares_revoked,
        },
        object_key,
    ) = state.store.purge_file(auth.tenant_id(), id).await?;
    // The record is gone; erase the bytes now (a job retries if the store is down).
    if let Err(err) = state.objects.delete(&object_key).await {
        tracing::warn!(%id, error = %err, "could not erase purged bytes yet; a job will");
    }
    Ok(axum::Json(FilePurged {
        id,
        bytes_freed,
        shares_revoked,
    }))
}

/// Erases everything in the Trash (of one space, or all). The items vanish from every
/// listing at once; their bytes are deleted in the background.
#[utoipa::path(
    delete, path = "/gdpr/trash", tag = "gdpr", params(TrashParams),
    security(("api_key" = ["files:write"]), ("bearer" = ["files:write"])),
    responses((status = 202, body = TrashPurge), (status = 404), (status = 422))
)]
pub async fn empty_trash(
    auth: Authorized<FilesWrite>,
    State(state): State<AppState>,
    Query(params): Query<TrashParams>,
) -> Result<impl IntoResponse, ApiError> {
    let TrashEmptied { files, folders } = state
        .store
        .empty_trash(auth.tenant_id(), params.space_id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(TrashPurge { files, folders }),
    ))
}
