//! `fluidcloud-worker`: the background job runner.
//!
//! Claims jobs from the queue in the metadata database (woken by `NOTIFY` or by this
//! process's own enqueues, polling as a fallback), runs up to `worker.concurrency` at
//! once, renews their leases while they run, retries failures with backoff, and sweeps
//! expired uploads. On shutdown it stops claiming and finishes the jobs in hand.

mod jobs;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fluidcloud_core::config::WorkerSettings;
use fluidcloud_db::Store;
use fluidcloud_db::jobs::Job;
use fluidcloud_services::ServiceContext;
use tokio::sync::Semaphore;
use tracing::Instrument;

/// Runs jobs until `shutdown` completes, then waits up to `grace` for the jobs in hand.
pub async fn run(
    context: ServiceContext,
    settings: WorkerSettings,
    grace: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let lease = Duration::from_secs(settings.lease_secs.max(3));
    let poll = Duration::from_millis(settings.poll_interval_ms.max(10));
    let sweeper = tokio::spawn(sweep(
        context.store.clone(),
        Duration::from_secs(settings.sweep_interval_secs.max(1)),
        context.settings.trash.retention_days,
    ));
    tracing::info!(backend = ?context.store.kind(), concurrency = settings.concurrency, "worker running");
    let mut shutdown = std::pin::pin!(shutdown);
    let mut store = StoreGate::default();
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&slots).acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        // Every job touches the object store: while it does not answer, claiming would
        // only burn the jobs' attempts.
        if !store.open(&context).await {
            drop(permit);
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(STORE_RECHECK) => {}
            }
            continue;
        }
        match context.store.claim_job(lease).await {
            Ok(Some(job)) => {
                let context = context.clone();
                let limit = Duration::from_secs(settings.job_timeout_secs.max(1));
                tokio::spawn(async move {
                    execute(&context, job, lease, limit).await;
                    drop(permit);
                });
            }
            Ok(None) => {
                drop(permit);
                tokio::select! {
                    () = &mut shutdown => break,
                    () = context.store.jobs_wakeup() => {}
                    () = tokio::time::sleep(poll) => {}
                }
            }
            Err(err) => {
                drop(permit);
                tracing::warn!(error = %err, "cannot claim jobs; retrying");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
    }
    sweeper.abort();
    tracing::info!("worker stopping; finishing jobs in hand");
    let all = u32::try_from(settings.concurrency.max(1)).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        // Their leases lapse and another worker takes them up again.
        tracing::warn!("grace period over; leaving unfinished jobs to be retried");
    }
    tracing::info!("worker stopped");
}

/// How often the object store is checked while claiming, and while it is down.
const STORE_RECHECK: Duration = Duration::from_secs(2);

/// Whether the object store answers, checked at most every [`STORE_RECHECK`].
#[derive(Default)]
struct StoreGate {
    checked: Option<(std::time::Instant, bool)>,
}

impl StoreGate {
    async fn open(&mut self, context: &ServiceContext) -> bool {
        if let Some((at, open)) = self.checked
            && at.elapsed() < STORE_RECHECK
        {
            return open;
        }
        let open = match context.objects.ping().await {
            Ok(()) => {
                if self.checked.is_some_and(|(_, was)| !was) {
                    tracing::info!("object store answers again; claiming jobs");
                }
                true
            }
            Err(err) => {
                if self.checked.is_none_or(|(_, was)| was) {
                    tracing::warn!(error = %err, "object store unreachable; not claiming jobs until it answers");
                }
                false
            }
        };
        self.checked = Some((std::time::Instant::now(), open));
        open
    }
}

/// Runs one job inside its own span (job id, kind, attempt), so every line logged on
/// its behalf — by the job, its heartbeat, the scan pipeline — carries them.
async fn execute(context: &ServiceContext, job: Job, lease: Duration, limit: Duration) {
    let span = tracing::info_span!(
        "job",
        job_id = job.id,
        kind = job.kind.as_ref().map_or("unknown", |kind| kind.name()),
        attempt = job.attempts,
    );
    run_job(context, job, lease, limit).instrument(span).await;
}

/// Runs one job, renewing its lease meanwhile, and records how it went.
async fn run_job(context: &ServiceContext, job: Job, lease: Duration, limit: Duration) {
    let store = context.store.clone();
    let claim = job.clone();
    let heartbeat = tokio::spawn(
        async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match store.extend_lease(&claim, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        // Jobs are idempotent, so finishing is harmless; the other claim
                        // records the outcome.
                        tracing::warn!("lost the job's lease to another claim");
                        return;
                    }
                    Err(err) => tracing::warn!(error = %err, "cannot renew job lease"),
                }
            }
        }
        .in_current_span(),
    );
    let name = job.kind.as_ref().map_or("unknown", |kind| kind.name());
    let result = match &job.kind {
        // Its own task, so a panic is a failure like any other: recorded, retried,
        // eventually dead — and the heartbeat below stops either way.
        Ok(kind) => {
            let (context, kind, attempts) = (context.clone(), kind.clone(), job.attempts);
            let mut running = tokio::spawn(
                async move { jobs::run(&context, &kind, attempts).await }.in_current_span(),
            );
            match tokio::time::timeout(limit, &mut running).await {
                Ok(done) => {
                    done.unwrap_or_else(|join| Err(anyhow::anyhow!("the job panicked: {join}")))
                }
                Err(_) => {
                    running.abort();
                    Err(anyhow::anyhow!(
                        "the job ran longer than {} s",
                        limit.as_secs()
                    ))
                }
            }
        }
        Err(payload) => Err(anyhow::anyhow!("unknown job payload {payload:?}")),
    };
    heartbeat.abort();
    let outcome = if result.is_ok() { "done" } else { "failed" };
    context.metrics.job_ran(name, outcome);
    match result {
        Ok(()) => {
            tracing::debug!("job done");
            if let Err(err) = context.store.finish_job(&job).await {
                tracing::warn!(error = %err, "cannot remove finished job; it will run again");
            }
        }
        Err(err) => {
            let message = format!("{err:#}");
            match context.store.fail_job(&job, &message).await {
                Ok(true) => {
                    tracing::warn!(error = %message, "job failed; will retry")
                }
                Ok(false) => {
                    tracing::error!(error = %message, "job failed for good")
                }
                Err(store_err) => {
                    tracing::warn!(error = %store_err, "cannot record job failure")
                }
            }
        }
    }
}

/// `/healthz`, `/readyz` and `/metrics` of a worker process. Starts sampling the job
/// queue's depth for the metrics.
pub fn health_router(context: ServiceContext) -> axum::Router {
    use axum::extract::State;
    use axum::routing::get;
    async fn ready(State(context): State<ServiceContext>) -> axum::response::Response {
        use axum::response::IntoResponse;
        fluidcloud_http::ready::check(&context.store, &context.objects, Some(&context.scanner))
            .await
            .into_response()
    }
    async fn metrics(State(context): State<ServiceContext>) -> axum::response::Response {
        fluidcloud_http::observe::metrics_response(&context.metrics)
    }
    fluidcloud_services::sample_queue_depth(&context);
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(context)
}

/// Every `interval`: closes uploads past their deadline and, when a retention period is
/// set, erases what has been in the Trash longer. Several workers may sweep at once;
/// each step is conditional, so nothing is done twice.
async fn sweep(store: Store, interval: Duration, trash_retention_days: u64) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        loop {
            match store.expire_uploads(100).await {
                Ok(0) => break,
                Ok(expired) => tracing::info!(expired, "expired uploads released"),
                Err(err) => {
                    tracing::warn!(error = %err, "sweeping expired uploads failed");
                    break;
                }
            }
        }
        if trash_retention_days == 0 {
            continue;
        }
        let days = i64::try_from(trash_retention_days).unwrap_or(i64::MAX / 86_400);
        let cutoff = fluidcloud_core::time::now() - chrono::TimeDelta::days(days);
        loop {
            match store.purge_trash_before(cutoff, 200).await {
                Ok(emptied) if emptied.files == 0 && emptied.folders == 0 => break,
                Ok(emptied) => tracing::info!(
                    files = emptied.files,
                    folders = emptied.folders,
                    "trash retention purge"
                ),
                Err(err) => {
                    tracing::warn!(error = %err, "trash retention purge failed");
                    break;
                }
            }
        }
    }
}
