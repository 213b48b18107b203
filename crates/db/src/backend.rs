//! The two metadata backends behind one [`Store`]: connecting, the schema check, the
//! change feed's start, and [`Dialect`], the few SQL primitives that differ between
//! PostgreSQL and SQLite (row locks, starting a write transaction).
//!
//! What a transaction announces lives in `changes`, what it enqueues in `jobs`. The
//! modules depend one way: `changes` on none of these, `backend` on `changes` (for the
//! feed `Store` carries and starts), `jobs` and the domain modules on both.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool, Transaction};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use fluidcloud_core::config::ExposeSecret;

use crate::changes::{self, Change, ChangeFeed};
use crate::error::{StoreError, StoreResult};
use crate::migrations;

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// What differs between the two SQL dialects.
pub(crate) trait Dialect: sqlx::Database {
    /// Appended to a `SELECT` that must lock the rows it reads. PostgreSQL locks the
    /// rows; SQLite write transactions already exclude every other writer.
    const FOR_UPDATE: &'static str;

    /// Like [`Dialect::FOR_UPDATE`], but other readers in share mode go on: many
    /// placements into one space at once, none while its tree is being trashed.
    const FOR_SHARE: &'static str;

    /// Appended to the sub-select that picks a job to claim: concurrent workers skip
    /// rows another is claiming instead of waiting for it.
    const SKIP_LOCKED: &'static str;

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first cannot upgrade if
    /// another connection committed in between.
    fn begin_write(
        pool: &sqlx::Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send;
}

impl Dialect for sqlx::Postgres {
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const FOR_SHARE: &'static str = " FOR SHARE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Self>, sqlx::Error> {
        pool.begin().await
    }
}

impl Dialect for sqlx::Sqlite {
    const FOR_UPDATE: &'static str = "";
    const FOR_SHARE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";

    async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Self>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }
}

/// Connection settings for [`Store::connect`].
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl From<&fluidcloud_core::config::DatabaseSettings> for ConnectOptions {
    fn from(settings: &fluidcloud_core::config::DatabaseSettings) -> Self {
        ConnectOptions {
            max_connections: settings.max_connections,
            acquire_timeout: Duration::from_secs(settings.acquire_timeout_secs),
        }
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The metadata store. Cheap to clone; clones share the pool and the change feed.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    pub(crate) feed: Arc<ChangeFeed>,
}

impl Store {
    /// Opens a pool on `postgres://…` or `sqlite://…`. A SQLite file (and its folder
    /// is expected to exist) is created when missing. Does not migrate.
    pub async fn connect(url: &str, options: &ConnectOptions) -> StoreResult<Store> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect(url)
                .await?;
            Pool::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Schema(format!("invalid SQLite URL: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                // Other processes (the admin CLI next to `fluidcloud dev`) may hold the
                // write lock briefly; wait for it rather than failing.
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            Pool::Sqlite(pool)
        } else {
            return Err(StoreError::Schema(format!(
                "unsupported database URL {:?}: expected postgres:// or sqlite://",
                redact(url)
            )));
        };
        Ok(Store {
            pool,
            feed: Arc::new(ChangeFeed::new()),
        })
    }

    /// What every service process does first: connect, refuse a schema older than this
    /// build (services never migrate), and start following the change feed.
    pub async fn open_for_service(
        settings: &fluidcloud_core::config::DatabaseSettings,
    ) -> StoreResult<Store> {
        let store = Store::connect(settings.url.expose_secret(), &settings.into()).await?;
        store.check_schema().await?;
        store.start_change_feed();
        Ok(store)
    }

    pub fn kind(&self) -> BackendKind {
        match self.pool {
            Pool::Postgres(_) => BackendKind::Postgres,
            Pool::Sqlite(_) => BackendKind::Sqlite,
        }
    }

    /// Applies every pending migration. Only `fluidcloud migrate` and `fluidcloud dev`
    /// call this; the services refuse to start on an old schema instead.
    pub async fn migrate(&self) -> StoreResult<()> {
        let result = match &self.pool {
            Pool::Postgres(pool) => migrations::postgres().await.run(pool).await,
            Pool::Sqlite(pool) => migrations::sqlite().await.run(pool).await,
        };
        result.map_err(|e| StoreError::Schema(format!("migration failed: {e}")))
    }

    /// Fails unless every migration this build knows has been applied.
    pub async fn check_schema(&self) -> StoreResult<()> {
        let (known, applied): (Vec<i64>, Result<Vec<i64>, sqlx::Error>) = match &self.pool {
            Pool::Postgres(pool) => (
                migrations::postgres()
                    .await
                    .iter()
                    .map(|m| m.version)
                    .collect(),
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(pool)
                    .await,
            ),
            Pool::Sqlite(pool) => (
                migrations::sqlite()
                    .await
                    .iter()
                    .map(|m| m.version)
                    .collect(),
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(pool)
                    .await,
            ),
        };
        let applied = match applied {
            Ok(applied) => applied,
            Err(sqlx::Error::Database(_)) => Vec::new(),
            Err(other) => return Err(other.into()),
        };
        let missing: Vec<_> = known.iter().filter(|v| !applied.contains(v)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Schema(format!(
                "the database schema is missing migrations {missing:?}: run `fluidcloud migrate --database-url URL` first"
            )))
        }
    }

    /// One round-trip to the database, for readiness probes.
    pub async fn ping(&self) -> StoreResult<()> {
        with_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await);
    }

    /// Receives every change published by any process from now on. A receiver that
    /// lags behind gets `RecvError::Lagged` and must treat it as [`Change::All`].
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.feed.subscribe()
    }

    /// Whether the feed is connected; caches must not be trusted while it is not.
    pub fn change_feed_is_live(&self) -> bool {
        self.feed.is_live()
    }

    /// Starts listening for changes in the background. Call once per process.
    pub fn start_change_feed(&self) -> JoinHandle<()> {
        let feed = Arc::clone(&self.feed);
        match &self.pool {
            Pool::Postgres(pool) => tokio::spawn(changes::listen_postgres(feed, pool.clone())),
            Pool::Sqlite(pool) => tokio::spawn(changes::poll_sqlite(feed, pool.clone())),
        }
    }
}

/// A database URL without its password, for error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{user}:***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The `(created_at, id)` pair a page starts after. Without a cursor it is a point
/// before every row (the Unix epoch and the nil id), so one SQL text serves both cases.
pub(crate) fn page_bounds(
    page: &fluidcloud_core::paging::PageRequest,
) -> (chrono::DateTime<chrono::Utc>, uuid::Uuid) {
    match page.after {
        Some(cursor) => (cursor.created_at, cursor.id),
        None => (chrono::DateTime::UNIX_EPOCH, uuid::Uuid::nil()),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
