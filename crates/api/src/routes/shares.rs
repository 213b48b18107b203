//! `/shares`: raw links to clean files, served by the files server at `/s/<token>`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, TimeDelta, Utc};
use fluidcloud_core::lenient;
use fluidcloud_core::model::{Permission, Share};
use fluidcloud_core::passwords::hash_password_bounded;
use fluidcloud_core::time::now;
use fluidcloud_db::NewShare;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Listed;
use crate::AppState;
use crate::auth::{Authorized, SharesRead, SharesWrite};
use crate::error::ApiError;
use crate::extract::{Json, Paging, PathId, Query};

#[derive(Deserialize, ToSchema)]
pub struct CreateShare {
    pub file_id: Uuid,
    /// 1–365 for an expiring link; `null` or absent for a permanent public link.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<i64>,
    /// `view` (inline) or `download` (attachment). Default: `view` for permanent
    /// links, `download` for expiring ones.
    pub permission: Option<Permission>,
    /// 4–128 characters; the link then asks for it with HTTP Basic auth.
    #[schema(min_length = 4, max_length = 128)]
    pub password: Option<String>,
    /// After this many full downloads the link answers 410.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(minimum = 1)]
    pub max_downloads: Option<i64>,
}

/// A created link. `url` holds the token and is returned only here.
#[derive(Serialize, ToSchema)]
pub struct Link {
    pub id: Uuid,
    pub url: String,
    pub file_id: Uuid,
    pub permission: Permission,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_downloads: Option<i64>,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListShares {
    /// Only this file's links.
    pub file_id: Option<Uuid>,
    /// Also revoked, expired and exhausted links.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[param(value_type = Option<bool>)]
    pub include_inactive: Option<bool>,
}

/// Creates a link to a clean file: permanent (a public hotlink, free) or expiring
/// (counts against `links_limit` while live).
#[utoipa::path(
    post, path = "/shares", tag = "shares", request_body = CreateShare,
    security(("api_key" = ["shares:write"]), ("bearer" = ["shares:write"])),
    responses((status = 201, body = Link), (status = 402), (status = 404), (status = 409), (status = 422))
)]
pub async fn create_share(
    auth: Authorized<SharesWrite>,
    State(state): State<AppState>,
    Json(body): Json<CreateShare>,
) -> Result<impl IntoResponse, ApiError> {
    let expires_at = match body.expires_in_days {
        None => None,
        Some(days @ 1..=365) => Some(now() + TimeDelta::days(days)),
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "expires_in_days: must be 1–365, or null for a permanent link".into(),
            ));
        }
    };
    if body.max_downloads.is_some_and(|max| max < 1) {
        return Err(ApiError::Unprocessable(
            "max_downloads: must be at least 1".into(),
        ));
    }
    if let Some(password) = &body.password
        && !(4..=128).contains(&password.chars().count())
    {
        return Err(ApiError::Unprocessable(
            "password: must be 4–128 characters".into(),
        ));
    }
    let permission = body.permission.unwrap_or(if expires_at.is_some() {
        Permission::Download
    } else {
        Permission::View
    });
    // Argon2 is slow on purpose: off the async workers, a bounded number at a time.
    let password_hash = match body.password.clone() {
        Some(password) => Some(
            hash_password_bounded(password)
                .await
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("password hashing failed")))?,
        ),
        None => None,
    };
    let (token, token_digest) = state.signer.mint_share_token();
    let share = state
        .store
        .create_share(&NewShare {
            tenant_id: auth.tenant_id(),
            file_id: body.file_id,
            token_digest,
            permission,
            expires_at,
            max_downloads: body.max_downloads,
            password_hash,
        })
        .await?;
    let base = state.settings.files.public_url.trim_end_matches('/');
    let link = Link {
        id: share.id,
        url: format!("{base}/s/{token}"),
        file_id: share.file_id,
        permission: share.permission,
        expires_at: share.expires_at,
        max_downloads: share.max_downloads,
        has_password: share.has_password,
        created_at: share.created_at,
    };
    Ok((StatusCode::CREATED, axum::Json(link)))
}

/// The tenant's active links (of one file, or all); `include_inactive=true` adds
/// revoked, expired and exhausted ones. Tokens are never returned.
#[utoipa::path(
    get, path = "/shares", tag = "shares", params(ListShares, Paging),
    security(("api_key" = ["shares:read"]), ("bearer" = ["shares:read"])),
    responses((status = 200, body = [Share]), (status = 404), (status = 422))
)]
pub async fn list_shares(
    auth: Authorized<SharesRead>,
    State(state): State<AppState>,
    Query(params): Query<ListShares>,
    Query(paging): Query<Paging>,
) -> Result<Listed<Share>, ApiError> {
    let page = paging.to_request()?;
    let shares = state
        .store
        .list_shares(
            auth.tenant_id(),
            params.file_id,
            params.include_inactive == Some(true),
            &page,
        )
        .await?;
    Ok(Listed(shares))
}

/// Revokes a link (again is fine): every files server stops serving it within a
/// second.
#[utoipa::path(
    delete, path = "/shares/{id}", tag = "shares", params(("id" = Uuid, Path)),
    security(("api_key" = ["shares:write"]), ("bearer" = ["shares:write"])),
    responses((status = 204), (status = 404))
)]
pub async fn revoke_share(
    auth: Authorized<SharesWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.store.revoke_share(auth.tenant_id(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
