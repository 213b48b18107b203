//! `GET /quota`: usage and limits.

use axum::extract::State;
use fluidcloud_db::Quota;

use crate::AppState;
use crate::auth::{Authorized, QuotaRead};
use crate::error::ApiError;

/// Bytes and links used against the plan's limits (`-1` = unlimited), and each app
/// namespace's share of the storage pool.
#[utoipa::path(
    get, path = "/quota", tag = "quota",
    security(("api_key" = ["quota:read"]), ("bearer" = ["quota:read"])),
    responses((status = 200, body = Quota))
)]
pub async fn quota(
    auth: Authorized<QuotaRead>,
    State(state): State<AppState>,
) -> Result<axum::Json<Quota>, ApiError> {
    Ok(axum::Json(state.store.quota(auth.tenant_id()).await?))
}
