//! `GET /me`: which tenant and key a request acts as.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use fluidcloud_core::Scope;
use fluidcloud_core::api_key::KeyMode;
use fluidcloud_core::model::Plan;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AnyScope, Authorized};

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub tenant_id: Uuid,
    pub key: KeyInfo,
    /// The plan, with the request budgets in force (per `window_secs`).
    pub plan: Plan,
    /// Seconds in a rate-limit window (60: budgets are per minute).
    pub rate_limit_window_secs: u64,
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
pub async fn me(auth: Authorized<AnyScope>, State(state): State<AppState>) -> Json<Me> {
    let key = auth.key();
    let mut plan = auth.plan().clone();
    plan.rate_limits = state.limiter.effective(&plan.rate_limits);
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
        plan,
        rate_limit_window_secs: state.limiter.window_secs(),
    })
}
