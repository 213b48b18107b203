//! `/spaces`: list (with the default space), create, rename, delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use fluidcloud_core::lenient;
use fluidcloud_core::model::Space;
use fluidcloud_core::names::{validate_app_name, validate_space_name};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Listed;
use crate::AppState;
use crate::auth::{Authorized, SpacesRead, SpacesWrite};
use crate::error::ApiError;
use crate::extract::{Json, Paging, PathId, Query};

#[derive(Deserialize, ToSchema)]
pub struct CreateSpace {
    #[schema(schema_with = fluidcloud_core::names::json_schema::space_name)]
    pub name: String,
    /// The partner product the space belongs to.
    #[schema(schema_with = fluidcloud_core::names::json_schema::opt_app)]
    pub app: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RenameSpace {
    #[schema(schema_with = fluidcloud_core::names::json_schema::space_name)]
    pub name: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Erase everything inside, in the background (202).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[param(value_type = Option<bool>)]
    pub purge: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct SpaceDeleted {
    pub id: Uuid,
    /// `deleted`, or `deleting` while a purge runs.
    pub status: &'static str,
}

/// All spaces, oldest first. A tenant with none gets `My files` created.
#[utoipa::path(
    get, path = "/spaces", tag = "spaces", params(Paging),
    security(("api_key" = ["spaces:read"]), ("bearer" = ["spaces:read"])),
    responses((status = 200, body = [Space]))
)]
pub async fn list_spaces(
    auth: Authorized<SpacesRead>,
    State(state): State<AppState>,
    Query(paging): Query<Paging>,
) -> Result<Listed<Space>, ApiError> {
    let page = paging.to_request()?;
    Ok(Listed(
        state.store.list_spaces(auth.tenant_id(), &page).await?,
    ))
}

/// Creates a space.
#[utoipa::path(
    post, path = "/spaces", tag = "spaces", request_body = CreateSpace,
    security(("api_key" = ["spaces:write"]), ("bearer" = ["spaces:write"])),
    responses((status = 201, body = Space), (status = 400), (status = 422))
)]
pub async fn create_space(
    auth: Authorized<SpacesWrite>,
    State(state): State<AppState>,
    Json(body): Json<CreateSpace>,
) -> Result<impl IntoResponse, ApiError> {
    validate_space_name(&body.name)?;
    if let Some(app) = &body.app {
        validate_app_name(app)?;
    }
    let space = state
        .store
        .create_space(auth.tenant_id(), &body.name, body.app.as_deref())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(space)))
}

/// Renames a space.
#[utoipa::path(
    patch, path = "/spaces/{id}", tag = "spaces", request_body = RenameSpace,
    params(("id" = Uuid, Path)),
    security(("api_key" = ["spaces:write"]), ("bearer" = ["spaces:write"])),
    responses((status = 200, body = Space), (status = 400), (status = 404), (status = 422))
)]
pub async fn rename_space(
    auth: Authorized<SpacesWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Json(body): Json<RenameSpace>,
) -> Result<axum::Json<Space>, ApiError> {
    validate_space_name(&body.name)?;
    Ok(axum::Json(
        state
            .store
            .rename_space(auth.tenant_id(), id, &body.name)
            .await?,
    ))
}

/// Deletes an empty space (409 while it holds anything, live or trashed), or with
/// `purge=true` erases it and everything in it in the background.
#[utoipa::path(
    delete, path = "/spaces/{id}", tag = "spaces",
    params(("id" = Uuid, Path), DeleteParams),
    security(("api_key" = ["spaces:write"]), ("bearer" = ["spaces:write"])),
    responses(
        (status = 200, body = SpaceDeleted),
        (status = 202, body = SpaceDeleted),
        (status = 404),
        (status = 409)
    )
)]
pub async fn delete_space(
    auth: Authorized<SpacesWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
    Query(params): Query<DeleteParams>,
) -> Result<impl IntoResponse, ApiError> {
    if params.purge == Some(true) {
        state.store.start_space_purge(auth.tenant_id(), id).await?;
        let deleting = SpaceDeleted {
            id,
            status: "deleting",
        };
        return Ok((StatusCode::ACCEPTED, axum::Json(deleting)));
    }
    state.store.delete_space(auth.tenant_id(), id).await?;
    let deleted = SpaceDeleted {
        id,
        status: "deleted",
    };
    Ok((StatusCode::OK, axum::Json(deleted)))
}
