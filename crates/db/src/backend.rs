//! The two metadata backends behind one [`Store`], and the little that differs between
//! their SQL dialects.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool, Transaction};

use crate::changes::{Change, ChangeFeed};
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

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend the store
/// uses. The body is type-checked once per backend, so every query is written once and
/// still compiled against each driver's own types. The second form also names the
/// backend's [`Dialect`] type.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::backend::Pool::Postgres($pool) => $body,
            $crate::backend::Pool::Sqlite($pool) => $body,
        }
    };
    ($store:expr, |$pool:ident, $db:ident| $body:expr) => {
        match &$store.pool {
            $crate::backend::Pool::Postgres($pool) => {
                type $db = ::sqlx::Postgres;
                $body
            }
            $crate::backend::Pool::Sqlite($pool) => {
                type $db = ::sqlx::Sqlite;
                $body
            }
        }
    };
}

/// What differs between the two SQL dialects.
pub(crate) trait Dialect: sqlx::Database {
    /// Appended to a `SELECT` that must lock the rows it reads. PostgreSQL locks the
    /// rows; SQLite write transactions already exclude every other writer.
    const FOR_UPDATE: &'static str;

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first cannot upgrade if
    /// another connection committed in between.
    fn begin_write(
        pool: &sqlx::Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send;

    /// Announces a change to every process once the transaction commits.
    fn publish(
        conn: &mut Self::Connection,
        change: &Change,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

impl Dialect for sqlx::Postgres {
    const FOR_UPDATE: &'static str = " FOR UPDATE";

    async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Self>, sqlx::Error> {
        pool.begin().await
    }

    async fn publish(conn: &mut sqlx::PgConnection, change: &Change) -> Result<(), sqlx::Error> {
        // NOTIFY is transactional: listeners hear it only if the change commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::changes::CHANNEL)
            .bind(change.to_topic())
            .execute(conn)
            .await
            .map(drop)
    }
}

impl Dialect for sqlx::Sqlite {
    const FOR_UPDATE: &'static str = "";

    async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Self>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

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
