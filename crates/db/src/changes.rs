//! The change feed: how every process learns, within a second, that cached facts
//! (an API key, a tenant's plan, later a share or a file) changed elsewhere.
//!
//! Writers publish a [`Change`] inside the transaction that makes it (see
//! [`crate::backend::Dialect::publish`]). On PostgreSQL it travels by `NOTIFY`; on
//! SQLite it is a row in `change_log` that each process polls. Readers subscribe with
//! [`Store::subscribe`] and must stop trusting their caches while
//! [`Store::change_feed_is_live`] is false: a disconnected feed may have missed changes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::backend::{Pool, Store};

/// PostgreSQL channel the feed uses.
pub(crate) const CHANNEL: &str = "fluidcloud_changes";

/// How often SQLite processes look for new rows in `change_log`.
const SQLITE_POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Rows older than this are deleted from `change_log` by whoever polls.
const SQLITE_RETENTION: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// Wait before reconnecting a lost PostgreSQL listener.
const RECONNECT_DELAY: Duration = Duration::from_millis(250);

/// Something cached elsewhere is no longer true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The feed (re)connected and may have missed changes: drop every cached entry.
    All,
    /// An API key was created or revoked; identified by its digest, the cache key.
    ApiKey([u8; 32]),
    /// A tenant's plan or name changed.
    Tenant(Uuid),
    /// A file was trashed, restored, purged or given a verdict: raw-link caches must
    /// look again before serving it.
    File(Uuid),
    /// A share link was revoked.
    Share(Uuid),
}

impl Change {
    pub(crate) fn to_topic(&self) -> String {
        match self {
            Change::All => "all".to_owned(),
            Change::ApiKey(digest) => format!("key:{}", hex::encode(digest)),
            Change::Tenant(id) => format!("tenant:{id}"),
            Change::File(id) => format!("file:{id}"),
            Change::Share(id) => format!("share:{id}"),
        }
    }

    fn from_topic(topic: &str) -> Option<Change> {
        let (kind, value) = topic.split_once(':').unwrap_or((topic, ""));
        match kind {
            "all" => Some(Change::All),
            "key" => {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(value, &mut digest).ok()?;
                Some(Change::ApiKey(digest))
            }
            "tenant" => value.parse().ok().map(Change::Tenant),
            "file" => value.parse().ok().map(Change::File),
            "share" => value.parse().ok().map(Change::Share),
            _ => None,
        }
    }
}

/// The in-process end of the feed: a broadcast channel and whether it is connected.
#[derive(Debug)]
pub struct ChangeFeed {
    sender: broadcast::Sender<Change>,
    live: AtomicBool,
    /// Signalled when jobs may have been enqueued.
    pub(crate) jobs: tokio::sync::Notify,
}

impl ChangeFeed {
    pub(crate) fn new() -> Self {
        ChangeFeed {
            sender: broadcast::channel(1024).0,
            live: AtomicBool::new(false),
            jobs: tokio::sync::Notify::new(),
        }
    }

    fn set_live(&self, live: bool) {
        let was = self.live.swap(live, Ordering::SeqCst);
        if was != live {
            // Either way, what was cached may be stale now.
            let _ = self.sender.send(Change::All);
            if live {
                tracing::info!("change feed connected");
            } else {
                tracing::warn!("change feed disconnected; caches are bypassed until it is back");
            }
        }
    }

    fn emit(&self, topic: &str) {
        match Change::from_topic(topic) {
            Some(change) => {
                let _ = self.sender.send(change);
            }
            None => tracing::warn!(topic, "ignoring unknown change topic"),
        }
    }
}

impl Store {
    /// Receives every change published by any process from now on. A receiver that
    /// lags behind gets `RecvError::Lagged` and must treat it as [`Change::All`].
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.feed.sender.subscribe()
    }

    /// Whether the feed is connected; caches must not be trusted while it is not.
    pub fn change_feed_is_live(&self) -> bool {
        self.feed.live.load(Ordering::SeqCst)
    }

    /// Starts listening for changes in the background. Call once per process.
    pub fn start_change_feed(&self) -> JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            match &store.pool {
                Pool::Postgres(pool) => listen_postgres(&store, pool).await,
                Pool::Sqlite(pool) => poll_sqlite(&store, pool).await,
            }
        })
    }
}

async fn listen_postgres(store: &Store, pool: &sqlx::PgPool) {
    loop {
        let mut listener = match PgListener::connect_with(pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "change feed: cannot connect to PostgreSQL");
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        if let Err(err) = listener
            .listen_all([CHANNEL, crate::jobs::JOBS_CHANNEL])
            .await
        {
            tracing::warn!(error = %err, "change feed: LISTEN failed");
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        }
        store.feed.set_live(true);
        // `try_recv` reports a lost connection as `Ok(None)` instead of silently
        // reconnecting, so the gap is noticed and caches are flushed.
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) if notification.channel() == crate::jobs::JOBS_CHANNEL => {
                    store.feed.jobs.notify_one();
                }
                Ok(Some(notification)) => store.feed.emit(notification.payload()),
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "change feed: connection error");
                    break;
                }
            }
        }
        store.feed.set_live(false);
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

async fn poll_sqlite(store: &Store, pool: &sqlx::SqlitePool) {
    let mut last_seq: Option<i64> = None;
    let mut interval = tokio::time::interval(SQLITE_POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut polls: u64 = 0;
    loop {
        interval.tick().await;
        polls += 1;
        let result = match last_seq {
            None => sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(seq) FROM change_log")
                .fetch_one(pool)
                .await
                .map(|max| {
                    last_seq = Some(max.unwrap_or(0));
                }),
            Some(after) => sqlx::query_as::<_, (i64, String)>(
                "SELECT seq, topic FROM change_log WHERE seq > $1 ORDER BY seq",
            )
            .bind(after)
            .fetch_all(pool)
            .await
            .map(|rows| {
                for (seq, topic) in rows {
                    store.feed.emit(&topic);
                    last_seq = Some(seq);
                }
            }),
        };
        match result {
            Ok(()) => store.feed.set_live(true),
            Err(err) => {
                tracing::warn!(error = %err, "change feed: polling change_log failed");
                store.feed.set_live(false);
            }
        }
        // About once a minute, forget what every process has long since seen.
        if polls.is_multiple_of(300) {
            let cutoff = fluidcloud_core::time::now() - SQLITE_RETENTION;
            if let Err(err) = sqlx::query("DELETE FROM change_log WHERE created_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await
            {
                tracing::debug!(error = %err, "change feed: pruning change_log failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        for change in [
            Change::All,
            Change::ApiKey([7; 32]),
            Change::Tenant(Uuid::new_v4()),
        ] {
            assert_eq!(Change::from_topic(&change.to_topic()), Some(change));
        }
        assert_eq!(Change::from_topic("key:zz"), None);
        assert_eq!(Change::from_topic("bogus:1"), None);
    }
}
