//! `GET /me`: which tenant and key a request acts as.

use axum::Json;
use chrono::{DateTime, Utc};
use fluidcloud_core::Scope;
use fluidcloud_core::api_key::KeyMode;
use fluidcloud_core::model::Plan;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AnyScope, Authorized};

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub tenant_id: Uuid,
    pub key: KeyInfo,
    pub plan: Plan,
}

#[derive(Serialize, ToSchema)]
pub struct KeyInfo {
    pub id: Uuid,
    pub label: String,
    pub mode: KeyMode,
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
}

/// The calling key, its tenant and the tenant's plan. Any valid key may call it.
#[utoipa::path(
    get, path = "/me", tag = "identity",
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = Me), (status = 401), (status = 403))
)]
pub async fn me(auth: Authorized<AnyScope>) -> Json<Me> {
    let key = auth.key();
    Json(Me {
        tenant_id: key.tenant_id,
        key: KeyInfo {
            id: key.id,
            label: key.label.clone(),
            mode: key.mode,
            prefix: key.prefix.clone(),
            scopes: key.scopes.iter().collect(),
            created_at: key.created_at,
        },
        plan: auth.plan().clone(),
    })
}
