//! The two metadata backends behind one [`Store`], and the little that differs between
//! their SQL dialects.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool, Transaction};

use chrono::{DateTime, Utc};
use fluidcloud_core::config::ExposeSecret;

use crate::changes::{Change, ChangeFeed};
use crate::error::{StoreError, StoreResult};
use crate::jobs::{self, JobKind};
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

/// Inside a `with_pool!` transaction: fails with 404 unless the space is live and the
/// tenant's and the folder, when given, is live; with 400 when the folder is in
/// another space. Used wherever something is placed in a space or folder. Holds the
/// space row in share mode until the transaction ends, so a folder cannot be trashed
/// (which takes the row exclusively) between this check and the write it guards.
macro_rules! check_target {
    ($tx:ident, $db:ident, $tenant_id:expr, $space_id:expr, $folder_id:expr) => {{
        let space_id: ::uuid::Uuid = $space_id;
        let space: Option<::uuid::Uuid> = ::sqlx::query_scalar(&format!(
            "SELECT id FROM spaces WHERE id = $1 AND tenant_id = $2 AND NOT deleting{}",
            <$db as $crate::backend::Dialect>::FOR_SHARE
        ))
        .bind(space_id)
        .bind($tenant_id)
        .fetch_optional(&mut *$tx)
        .await?;
        if space.is_none() {
            return Err($crate::error::StoreError::NotFound("space"));
        }
        let folder_id: Option<::uuid::Uuid> = $folder_id;
        if let Some(folder_id) = folder_id {
            let folder: Option<(::uuid::Uuid, bool)> = ::sqlx::query_as(
                "SELECT space_id, deleted_at IS NULL FROM folders WHERE id = $1 AND tenant_id = $2",
            )
            .bind(folder_id)
            .bind($tenant_id)
            .fetch_optional(&mut *$tx)
            .await?;
            match folder {
                None | Some((_, false)) => {
                    return Err($crate::error::StoreError::NotFound("folder"));
                }
                Some((folder_space, true)) if folder_space != space_id => {
                    return Err($crate::error::StoreError::Invalid(
                        "the folder is in another space".into(),
                    ));
                }
                Some(_) => {}
            }
        }
    }};
}

/// Inside a `with_pool!` transaction: reserves `size` bytes of the tenant's storage pool
/// with one conditional update, or fails with 402 naming the limit. Concurrent
/// reservations can never together pass the limit.
macro_rules! reserve_bytes {
    ($tx:ident, $tenant_id:expr, $size:expr) => {{
        let size: i64 = $size;
        let reserved = ::sqlx::query(
            "UPDATE tenants SET bytes_reserved = bytes_reserved + $2 \
             WHERE id = $1 AND (bytes_limit < 0 OR bytes_used + bytes_reserved + $2 <= bytes_limit)",
        )
        .bind($tenant_id)
        .bind(size)
        .execute(&mut *$tx)
        .await?;
        if reserved.rows_affected() == 0 {
            let (used, limit): (i64, i64) =
                ::sqlx::query_as("SELECT bytes_used + bytes_reserved, bytes_limit FROM tenants WHERE id = $1")
                    .bind($tenant_id)
                    .fetch_one(&mut *$tx)
                    .await?;
            return Err($crate::error::StoreError::QuotaExceeded($crate::error::QuotaExceeded {
                limit: "storage",
                used,
                limit_value: limit,
                requested: size,
            }));
        }
    }};
}

/// Inside a `with_pool!` transaction: `bytes` of the tenant's pool stop counting as used
/// (a purge, an erased infected file).
macro_rules! release_used {
    ($tx:ident, $tenant_id:expr, $bytes:expr) => {{
        let bytes: i64 = $bytes;
        ::sqlx::query("UPDATE tenants SET bytes_used = bytes_used - $2 WHERE id = $1")
            .bind($tenant_id)
            .bind(bytes)
            .execute(&mut *$tx)
            .await?;
    }};
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
        ids: &[uuid::Uuid],
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

    /// Inserts a job in the caller's transaction, so it exists exactly when the change
    /// that needs it commits.
    fn enqueue(
        conn: &mut Self::Connection,
        kind: &JobKind,
        run_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// The most files one transaction announces one by one; see [`Dialect::publish_files`].
pub(crate) const MAX_FILE_CHANGES: usize = 1000;

const INSERT_JOB: &str =
    "INSERT INTO jobs (kind, payload, run_at, created_at) VALUES ($1, $2, $3, $4)";

impl Dialect for sqlx::Postgres {
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const FOR_SHARE: &'static str = " FOR SHARE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

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

    async fn enqueue(
        conn: &mut sqlx::PgConnection,
        kind: &JobKind,
        run_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(INSERT_JOB)
            .bind(kind.name())
            .bind(jobs::encode(kind))
            .bind(run_at)
            .bind(fluidcloud_core::time::now())
            .execute(&mut *conn)
            .await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(jobs::JOBS_CHANNEL)
            .execute(conn)
            .await
            .map(drop)
    }
}

impl Dialect for sqlx::Sqlite {
    const FOR_UPDATE: &'static str = "";
    const FOR_SHARE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";

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

    async fn enqueue(
        conn: &mut sqlx::SqliteConnection,
        kind: &JobKind,
        run_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(INSERT_JOB)
            .bind(kind.name())
            .bind(jobs::encode(kind))
            .bind(run_at)
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
