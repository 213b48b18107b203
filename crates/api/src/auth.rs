//! Authentication, the plan gate and scopes: the checks every `/api/v1` request passes
//! in SPEC order (401 → 403 `feature_not_in_plan` → 403 `insufficient_scope`).
//!
//! Key lookups are cached so the hot path costs no database round-trip. Entries are
//! evicted by the store's change feed the moment a key is created or revoked or a plan
//! changes, on every instance; while the feed is down the cache is bypassed.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use fluidcloud_core::Scope;
use fluidcloud_core::api_key::{KeyDigest, PresentedKey};
use fluidcloud_core::model::{ApiKey, Plan};
use fluidcloud_db::cache::LookupCache;
use fluidcloud_db::{Authenticated, Change, Store};
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::error::ApiError;
use crate::ratelimit::Action;
use crate::request_id::RateSlot;

/// Digest → key lookups, shared by every request of one process.
pub struct KeyCache {
    store: Store,
    lookups: LookupCache<KeyDigest, Authenticated>,
}

impl KeyCache {
    pub fn new(store: Store, ttl: Duration, max_entries: usize) -> Arc<Self> {
        Arc::new(KeyCache {
            lookups: LookupCache::new(store.clone(), ttl, max_entries),
            store,
        })
    }

    /// Evicts entries as the change feed reports changes. Runs until the store's feed
    /// closes; spawn it once per cache.
    pub async fn follow_changes(self: Arc<Self>) {
        let mut changes = self.store.subscribe();
        loop {
            match changes.recv().await {
                Ok(Change::ApiKey(digest)) => self.lookups.evict(|d, _| *d == KeyDigest(digest)),
                Ok(Change::Tenant(tenant)) => {
                    self.lookups
                        .evict(|_, auth| auth.is_some_and(|a| a.key.tenant_id == tenant));
                }
                Ok(Change::All) | Err(RecvError::Lagged(_)) => self.lookups.clear(),
                // Files and links are not cached here.
                Ok(Change::File(_) | Change::Share(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Lookups answered from the cache and from the database so far.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        self.lookups.hits_and_misses()
    }

    /// The live key behind `digest`, from the cache when it can be trusted.
    pub async fn lookup(&self, digest: KeyDigest) -> Result<Option<Arc<Authenticated>>, ApiError> {
        Ok(self
            .lookups
            .get_or_load(digest, self.store.authenticate(&digest))
            .await?)
    }
}

/// The key a request presents: `X-API-Key`, else `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    if let Some(value) = headers.get("x-api-key") {
        return value
            .to_str()
            .map_err(|_| ApiError::Unauthorized(INVALID_KEY));
    }
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::Unauthorized(INVALID_KEY))?;
        let (scheme, token) = value
            .split_once(' ')
            .ok_or(ApiError::Unauthorized(INVALID_KEY))?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::Unauthorized(
                "unsupported Authorization scheme: use `Bearer <api key>` or X-API-Key",
            ));
        }
        return Ok(token.trim());
    }
    Err(ApiError::Unauthorized(
        "missing API key: send it in X-API-Key or Authorization: Bearer",
    ))
}

const INVALID_KEY: &str = "invalid or revoked API key";

/// A scope a route requires, as a type, so the requirement is visible in the handler's
/// signature and checked before the handler's own extractors run.
pub trait RequiredScope: Send + Sync + 'static {
    const SCOPE: Option<Scope>;
}

macro_rules! scope_markers {
    ($($marker:ident => $scope:expr),* $(,)?) => {
        $(
            #[doc = concat!("Requires `", stringify!($scope), "`.")]
            pub struct $marker;
            impl RequiredScope for $marker {
                const SCOPE: Option<Scope> = $scope;
            }
        )*
    };
}

scope_markers! {
    AnyScope => None,
    SpacesRead => Some(Scope::SpacesRead),
    SpacesWrite => Some(Scope::SpacesWrite),
    FoldersRead => Some(Scope::FoldersRead),
    FoldersWrite => Some(Scope::FoldersWrite),
    FilesRead => Some(Scope::FilesRead),
    FilesWrite => Some(Scope::FilesWrite),
    SharesRead => Some(Scope::SharesRead),
    SharesWrite => Some(Scope::SharesWrite),
    QuotaRead => Some(Scope::QuotaRead),
}

/// An authenticated request whose tenant may use the API and whose key holds `S`.
/// Put it first among a handler's arguments so its 401/403 win over body errors.
pub struct Authorized<S: RequiredScope> {
    auth: Arc<Authenticated>,
    _scope: PhantomData<S>,
}

impl<S: RequiredScope> Authorized<S> {
    pub fn tenant_id(&self) -> uuid::Uuid {
        self.auth.key.tenant_id
    }

    pub fn key(&self) -> &ApiKey {
        &self.auth.key
    }

    pub fn plan(&self) -> &Plan {
        &self.auth.plan
    }
}

impl<S: RequiredScope> FromRequestParts<AppState> for Authorized<S> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let raw = presented_key(&parts.headers)?;
        // Shape first: a key that cannot be ours costs no lookup at all.
        let key = PresentedKey::parse(raw).ok_or(ApiError::Unauthorized(INVALID_KEY))?;
        let auth = state
            .keys
            .lookup(key.digest())
            .await?
            .ok_or(ApiError::Unauthorized(INVALID_KEY))?;
        fluidcloud_http::request::record_tenant(auth.key.tenant_id);
        if !auth.plan.api_access {
            return Err(ApiError::FeatureNotInPlan);
        }
        if let Some(scope) = S::SCOPE
            && !auth.key.scopes.contains(scope)
        {
            return Err(ApiError::InsufficientScope {
                required: vec![scope],
                missing: vec![scope],
            });
        }
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map_or(parts.uri.path(), MatchedPath::as_str);
        let action = Action::of(&parts.method, path);
        if let Some(verdict) = state
            .limiter
            .check(auth.key.id, &auth.plan.rate_limits, action)
            .await
        {
            if let Some(slot) = parts.extensions.get::<RateSlot>() {
                let _ = slot.0.set(verdict);
            }
            if let Some(retry_after) = verdict.retry_after {
                return Err(ApiError::TooManyRequests { retry_after });
            }
        }
        Ok(Authorized {
            auth,
            _scope: PhantomData,
        })
    }
}
