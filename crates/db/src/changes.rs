//! The change feed: how every process learns, within a second, that cached facts
//! (an API key, a tenant's plan, a share link, a file) changed elsewhere.
//!
//! Writers publish a [`Change`] inside the transaction that makes it (the crate's
//! `Publish` trait). On PostgreSQL it travels by `NOTIFY`; on SQLite it is a row in
//! `change_log` that each process polls. Readers subscribe with
//! [`Store::subscribe`](crate::Store::subscribe) and must stop trusting their caches
//! while [`Store::change_feed_is_live`](crate::Store::change_feed_is_live) is false: a
//! disconnected feed may have missed changes.
//!
//! The same listener also hears job wake-ups (`JOBS_CHANNEL`, sent with each enqueue
//! on PostgreSQL) and passes them to the workers of this process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use uuid::Uuid;

/// PostgreSQL channel the feed uses.
pub(crate) const CHANNEL: &str = "fluidcloud_changes";

/// PostgreSQL channel on which enqueues wake the workers.
pub(crate) const JOBS_CHANNEL: &str = "fluidcloud_jobs";

/// The most files one transaction announces one by one; see [`Publish::publish_files`].
pub(crate) const MAX_FILE_CHANGES: usize = 1000;

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

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
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

/// How a transaction announces a change: each backend's own transport, written into
/// the caller's transaction so the change is heard exactly when it commits.
pub(crate) trait Publish: sqlx::Database {
    /// Announces a change to every process once the transaction commits.
    fn publish(
        conn: &mut Self::Connection,
        change: &Change,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Announces that these files changed in a way raw links must see (trashed,
    /// restored, renamed, going away). Past [`MAX_FILE_CHANGES`] ids one
    /// [`Change::All`] costs every listener less than a message per file.
    fn publish_files(
        conn: &mut Self::Connection,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        async move {
            if ids.len() > MAX_FILE_CHANGES {
                return Self::publish(conn, &Change::All).await;
            }
            for id in ids {
                Self::publish(&mut *conn, &Change::File(*id)).await?;
            }
            Ok(())
        }
    }
}

impl Publish for sqlx::Postgres {
    async fn publish(conn: &mut sqlx::PgConnection, change: &Change) -> Result<(), sqlx::Error> {
        // NOTIFY is transactional: listeners hear it only if the change commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(change.to_topic())
            .execute(conn)
            .await
            .map(drop)
    }
}

impl Publish for sqlx::Sqlite {
    async fn publish(
        conn: &mut sqlx::SqliteConnection,
        change: &Change,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO change_log (topic, created_at) VALUES ($1, $2)")
            .bind(change.to_topic())
            .bind(fluidcloud_core::time::now())
            .execute(conn)
            .await
            .map(drop)
    }
}

/// Follows PostgreSQL's notifications into `feed`, reconnecting forever.
pub(crate) async fn listen_postgres(feed: Arc<ChangeFeed>, pool: sqlx::PgPool) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "change feed: cannot connect to PostgreSQL");
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        if let Err(err) = listener.listen_all([CHANNEL, JOBS_CHANNEL]).await {
            tracing::warn!(error = %err, "change feed: LISTEN failed");
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        }
        feed.set_live(true);
        // `try_recv` reports a lost connection as `Ok(None)` instead of silently
        // reconnecting, so the gap is noticed and caches are flushed.
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) if notification.channel() == JOBS_CHANNEL => {
                    feed.jobs.notify_one();
                }
                Ok(Some(notification)) => feed.emit(notification.payload()),
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "change feed: connection error");
                    break;
                }
            }
        }
        feed.set_live(false);
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

/// Polls SQLite's `change_log` into `feed`, forever.
pub(crate) async fn poll_sqlite(feed: Arc<ChangeFeed>, pool: sqlx::SqlitePool) {
    let mut last_seq: Option<i64> = None;
    let mut interval = tokio::time::interval(SQLITE_POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut polls: u64 = 0;
    loop {
        interval.tick().await;
        polls += 1;
        let result = match last_seq {
            None => sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(seq) FROM change_log")
                .fetch_one(&pool)
                .await
                .map(|max| {
                    last_seq = Some(max.unwrap_or(0));
                }),
            Some(after) => sqlx::query_as::<_, (i64, String)>(
                "SELECT seq, topic FROM change_log WHERE seq > $1 ORDER BY seq",
            )
            .bind(after)
            .fetch_all(&pool)
            .await
            .map(|rows| {
                for (seq, topic) in rows {
                    feed.emit(&topic);
                    last_seq = Some(seq);
                }
            }),
        };
        match result {
            Ok(()) => feed.set_live(true),
            Err(err) => {
                tracing::warn!(error = %err, "change feed: polling change_log failed");
                feed.set_live(false);
            }
        }
        // About once a minute, forget what every process has long since seen.
        if polls.is_multiple_of(300) {
            let cutoff = fluidcloud_core::time::now() - SQLITE_RETENTION;
            if let Err(err) = sqlx::query("DELETE FROM change_log WHERE created_at < $1")
                .bind(cutoff)
                .execute(&pool)
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
