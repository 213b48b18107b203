//! Per-key rate limits (SPEC §5): an overall budget plus separate budgets for the
//! costly actions, counted in fixed windows, in memory (one process) or in the database
//! (shared by every API instance, which lease slices of each budget: see `leases`).
//!
//! Fixed windows are exact and cheap to share; their known trade-off is that a client
//! may spend one window's budget at its end and the next one's at the start of the next.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use fluidcloud_core::config::{RateLimitBackend, RateLimitSettings};
use fluidcloud_core::model::RateLimits;
use fluidcloud_core::window::{WindowCounter, window_of};
use fluidcloud_db::{BackendKind, Store};
use uuid::Uuid;

mod leases;

/// The detail of every 429.
pub const TOO_MANY: &str = "Too many requests — please slow down and try again shortly.";

/// A costly action with its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateShare,
    InitiateUpload,
    ImportUrl,
}

impl Action {
    /// The action a route is, if any.
    pub fn of(method: &axum::http::Method, path: &str) -> Option<Action> {
        if method != axum::http::Method::POST {
            return None;
        }
        match path {
            "/api/v1/shares" => Some(Action::CreateShare),
            // `POST /uploads` is the same action under the hosted service's other name.
            "/api/v1/uploads/initiate" | "/api/v1/uploads" => Some(Action::InitiateUpload),
            "/api/v1/uploads/import-url" => Some(Action::ImportUrl),
            _ => None,
        }
    }

    fn bucket(self) -> &'static str {
        match self {
            Action::CreateShare => "shares",
            Action::InitiateUpload => "initiates",
            Action::ImportUrl => "imports",
        }
    }
}

/// The outcome for one request: the overall budget's state, and whether to refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The overall budget per window (`X-RateLimit-Limit`).
    pub limit: i64,
    /// What is left of it in this window (`X-RateLimit-Remaining`).
    pub remaining: i64,
    /// Seconds until the window resets (`X-RateLimit-Reset`).
    pub reset_secs: i64,
    /// `Some(seconds)` when the request must be refused (`Retry-After`).
    pub retry_after: Option<i64>,
}

enum Counters {
    Memory(WindowCounter<(Uuid, &'static str)>),
    Database(Store, leases::Leases),
    Off,
}

pub struct RateLimiter {
    counters: Counters,
    settings: RateLimitSettings,
    /// When the last "limiter unavailable" warning was logged (Unix seconds).
    last_warning: AtomicI64,
}

impl RateLimiter {
    pub fn new(store: &Store, settings: &RateLimitSettings) -> Arc<Self> {
        let counters = match (settings.backend, store.kind()) {
            (RateLimitBackend::Off, _) => Counters::Off,
            (RateLimitBackend::Memory, _) | (RateLimitBackend::Auto, BackendKind::Sqlite) => {
                Counters::Memory(WindowCounter::default())
            }
            (RateLimitBackend::Database, _) | (RateLimitBackend::Auto, BackendKind::Postgres) => {
                Counters::Database(store.clone(), leases::Leases::new(store.clone()))
            }
        };
        let limiter = Arc::new(RateLimiter {
            counters,
            settings: settings.clone(),
            last_warning: AtomicI64::new(0),
        });
        if let Counters::Database(store, _) = &limiter.counters {
            tokio::spawn(prune(store.clone(), settings.window_secs));
        }
        limiter
    }

    /// A plan's budgets with the server defaults filled in (`-1` = unlimited, and every
    /// budget unlimited when rate limiting is off).
    pub fn effective(&self, plan: &RateLimits) -> RateLimits {
        let off = matches!(self.counters, Counters::Off);
        let pick =
            |own: Option<i64>, default: i64| Some(if off { -1 } else { own.unwrap_or(default) });
        RateLimits {
            requests_per_minute: pick(plan.requests_per_minute, self.settings.requests_per_minute),
            shares_per_minute: pick(plan.shares_per_minute, self.settings.shares_per_minute),
            initiates_per_minute: pick(
                plan.initiates_per_minute,
                self.settings.initiates_per_minute,
            ),
            imports_per_minute: pick(plan.imports_per_minute, self.settings.imports_per_minute),
        }
    }

    /// Seconds in a rate-limit window.
    pub fn window_secs(&self) -> u64 {
        self.settings.window_secs
    }

    /// Counts a request of `key_id` (under its plan's budgets) and decides. `None` when
    /// nothing limits it.
    pub async fn check(
        &self,
        key_id: Uuid,
        plan: &RateLimits,
        action: Option<Action>,
    ) -> Option<Verdict> {
        let overall = plan
            .requests_per_minute
            .unwrap_or(self.settings.requests_per_minute);
        let action_limit = action.map(|action| {
            let limit = match action {
                Action::CreateShare => plan
                    .shares_per_minute
                    .unwrap_or(self.settings.shares_per_minute),
                Action::InitiateUpload => plan
                    .initiates_per_minute
                    .unwrap_or(self.settings.initiates_per_minute),
                Action::ImportUrl => plan
                    .imports_per_minute
                    .unwrap_or(self.settings.imports_per_minute),
            };
            (action.bucket(), limit)
        });
        let mut buckets: Vec<(&'static str, i64)> = Vec::with_capacity(2);
        if overall >= 0 {
            buckets.push(("requests", overall));
        }
        if let Some((bucket, limit)) = action_limit
            && limit >= 0
        {
            buckets.push((bucket, limit));
        }
        if buckets.is_empty() || matches!(self.counters, Counters::Off) {
            return None;
        }
        let now = chrono::Utc::now().timestamp();
        let window = i64::try_from(self.settings.window_secs).unwrap_or(60);
        let (window_start, reset_secs) = window_of(now, window);
        let counts = match &self.counters {
            Counters::Memory(counter) => buckets
                .iter()
                .map(|(name, _)| counter.hit(&(key_id, name), window_start))
                .collect(),
            Counters::Database(_, leases) => {
                match leases.take(key_id, window_start, &buckets).await {
                    Ok(counts) => counts,
                    Err(err) => {
                        // Fail open, deliberately: see the module documentation.
                        if self.last_warning.swap(now, Ordering::Relaxed) < now - 10 {
                            tracing::warn!(error = %err, "rate limiter unavailable; letting requests through");
                        }
                        return None;
                    }
                }
            }
            Counters::Off => return None,
        };
        let exceeded = buckets
            .iter()
            .zip(&counts)
            .any(|((_, limit), count)| count > limit);
        let (limit, remaining) = if overall >= 0 {
            (overall, (overall - counts[0]).max(0))
        } else {
            (-1, -1)
        };
        Some(Verdict {
            limit,
            remaining,
            reset_secs,
            retry_after: exceeded.then_some(reset_secs),
        })
    }
}

/// Deletes counters of past windows, once a window.
async fn prune(store: Store, window_secs: u64) {
    let window = Duration::from_secs(window_secs.max(1));
    let mut ticker = tokio::time::interval(window);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let before =
            chrono::Utc::now().timestamp() - 2 * i64::try_from(window.as_secs()).unwrap_or(60);
        if let Err(err) = store.prune_rate_counters(before).await {
            tracing::debug!(error = %err, "pruning rate counters failed");
        }
    }
}
