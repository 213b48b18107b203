//! `/folders`: trees inside a space, the Trash, restore and statistics.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use fluidcloud_core::lenient;
use fluidcloud_core::model::{Folder, FolderStats};
use fluidcloud_core::names::validate_entry_name;
use fluidcloud_db::FolderUpdate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Listed;
use crate::AppState;
use crate::auth::{Authorized, FoldersRead, FoldersWrite};
use crate::error::ApiError;
use crate::extract::{Json, Paging, PathId, Query, explicit_null};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListFolders {
    pub space_id: Uuid,
    /// Parent folder; omitted means the space root.
    pub parent_id: Option<Uuid>,
    /// `true`: every trashed folder of the space, flat.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[param(value_type = Option<bool>)]
    pub trash: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateFolder {
    #[schema(schema_with = fluidcloud_core::names::json_schema::entry_name)]
    pub name: String,
    pub space_id: Uuid,
    pub parent_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateFolder {
    /// New name; absent leaves it.
    #[schema(schema_with = fluidcloud_core::names::json_schema::opt_entry_name)]
    pub name: Option<String>,
    /// New parent; absent leaves it, `null` moves the folder to the space root.
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
}

/// Live folders under a parent, or (`trash=true`) every trashed folder of the space.
#[utoipa::path(
    get, path = "/folders", tag = "folders", params(ListFolders, Paging),
    security(("api_key" = ["folders:read"]), ("bearer" = ["folders:read"])),
    responses((status = 200, body = [Folder]), (status = 404), (status = 422))
)]
pub async fn list_folders(
    auth: Authorized<FoldersRead>,
    State(state): State<AppState>,
    Query(params): Query<ListFolders>,
    Query(paging): Query<Paging>,
) -> Result<Listed<Folder>, ApiError> {
    let page = paging.to_request()?;
    let tenant = auth.tenant_id();
    let folders = if params.trash == Some(true) {
        state
            .store
            .list_trashed_folders(tenant, params.space_id, &page)
            .await?
    } else {
        state
            .store
            .list_folders(tenant, params.space_id, params.parent_id, &page)
            .await?
    };
    Ok(Listed(folders))
}

/// Creates a folder at the space root or under a live parent of the same space.
#[utoipa::path(
    post, path = "/folders", tag = "folders", request_body = CreateFolder,
    security(("api_key" = ["folders:write"]), ("bearer" = ["folders:write"])),
    responses((status = 201, body = Folder), (status = 400), (status = 404), (status = 422))
)]
pub async fn create_folder(
    auth: Authorized<FoldersWrite>,
    State(state): State<AppState>,
    Json(body): Json<CreateFolder>,
) -> Result<impl IntoResponse, ApiError> {
    validate_entry_name(&body.name)?;
    let folder = state
        .store
        .create_folder(auth.tenant_id(), body.space_id, body.parent_id, &body.name)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(folder)))
}

/// A folder, live or in the Trash.
#[utoipa::path(
    get, path = "/folders/{id}", tag = "folders", params(("id" = Uuid, Path)),
    security(("api_key" = ["folders:read"]), ("bearer" = ["folders:read"])),
    responses((status = 200, body = Folder), (status = 404))
)]
pub async fn get_folder(
    auth: Authorized<FoldersRead>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<axum::Json<Folder>, ApiError> {
    Ok(axum::Json(state.store.folder(auth.tenant_id(), id).await?))
}

/// Renames and/or moves a folder. Moving into itself or a descendant, or to another
/// space, is 400; a folder in the Trash must be restored first (409).
#[utoipa::path(
    patch, path = "/folders/{id}", tag = "folders", request_body = UpdateFolder,
    params(("id" = Uuid, Path)),
    security(("api_key" = ["folders:write"]), ("bearer" = ["folders:write"])),
    responses((status = 200, body = Folder), (status = 400), (status = 404), (status = 409), (status = 422))
)]
pub async fn update_folder(
    auth: Authorized<FoldersWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Json(body): Json<UpdateFolder>,
) -> Result<axum::Json<Folder>, ApiError> {
    if let Some(name) = &body.name {
        validate_entry_name(name)?;
    }
    let update = FolderUpdate {
        name: body.name,
        parent_id: body.parent_id,
    };
    Ok(axum::Json(
        state
            .store
            .update_folder(auth.tenant_id(), id, &update)
            .await?,
    ))
}

/// Moves the folder, its subfolders and their files to the Trash.
#[utoipa::path(
    delete, path = "/folders/{id}", tag = "folders", params(("id" = Uuid, Path)),
    security(("api_key" = ["folders:write"]), ("bearer" = ["folders:write"])),
    responses((status = 200, body = Folder), (status = 404))
)]
pub async fn trash_folder(
    auth: Authorized<FoldersWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<axum::Json<Folder>, ApiError> {
    Ok(axum::Json(
        state.store.trash_folder(auth.tenant_id(), id).await?,
    ))
}

/// Restores what the folder's delete trashed; lands at the root if its parent is gone.
#[utoipa::path(
    post, path = "/folders/{id}/restore", tag = "folders", params(("id" = Uuid, Path)),
    security(("api_key" = ["folders:write"]), ("bearer" = ["folders:write"])),
    responses((status = 200, body = Folder), (status = 404))
)]
pub async fn restore_folder(
    auth: Authorized<FoldersWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<axum::Json<Folder>, ApiError> {
    Ok(axum::Json(
        state.store.restore_folder(auth.tenant_id(), id).await?,
    ))
}

/// Counts over the folder's live subtree.
#[utoipa::path(
    get, path = "/folders/{id}/stats", tag = "folders", params(("id" = Uuid, Path)),
    security(("api_key" = ["folders:read"]), ("bearer" = ["folders:read"])),
    responses((status = 200, body = FolderStats), (status = 404))
)]
pub async fn folder_stats(
    auth: Authorized<FoldersRead>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<axum::Json<FolderStats>, ApiError> {
    Ok(axum::Json(
        state.store.folder_stats(auth.tenant_id(), id).await?,
    ))
}
