//! A throwaway metadata database per test.

use fluidcloud_db::{ConnectOptions, Store};
use sqlx::Connection;
use tempfile::TempDir;

/// Names a PostgreSQL server to run the suites against instead of SQLite.
pub const DATABASE_ENV: &str = "FLUIDCLOUD_TEST_DATABASE_URL";

/// A migrated, empty database that lives as long as this value.
pub struct TestDb {
    pub url: String,
    /// Holds the SQLite file (and, later, stored objects) until the test ends.
    pub dir: TempDir,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = match std::env::var(DATABASE_ENV) {
            Ok(server) if !server.is_empty() => fresh_postgres_database(&server).await.1,
            _ => format!("sqlite://{}", dir.path().join("fluidcloud.db").display()),
        };
        let store = Store::connect(&url, &ConnectOptions::default())
            .await
            .expect("connect to the test database");
        store.migrate().await.expect("migrate the test database");
        store.close().await;
        TestDb { url, dir }
    }

    /// A new store on this database with its change feed running, as a service
    /// process would have.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url, &ConnectOptions::default())
            .await
            .expect("connect to the test database");
        store.start_change_feed();
        store
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    /// Moves every expiring link's expiry an hour into the past (nothing the API
    /// offers can, and tests cannot wait a day).
    pub async fn expire_links(&self) {
        const EXPIRE: &str = "UPDATE shares SET expires_at = $1 WHERE expires_at IS NOT NULL";
        let past = chrono::Utc::now() - chrono::TimeDelta::hours(1);
        if self.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query(EXPIRE)
                .bind(past)
                .execute(&mut conn)
                .await
                .unwrap();
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query(EXPIRE)
                .bind(past)
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

impl TestDb {
    /// Gives key `key_id` the digest of `plaintext`, as if that had been issued: keys of
    /// an earlier format can no longer be minted, and must still authenticate.
    pub async fn reissue_key(&self, key_id: uuid::Uuid, plaintext: &str) {
        const REISSUE: &str = "UPDATE api_keys SET digest = $1 WHERE id = $2";
        let digest = fluidcloud_core::api_key::PresentedKey::parse(plaintext)
            .expect("a well-formed key")
            .digest();
        let done = if self.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query(REISSUE)
                .bind(&digest.0[..])
                .bind(key_id)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query(REISSUE)
                .bind(&digest.0[..])
                .bind(key_id)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        };
        assert_eq!(done, 1, "key {key_id} exists");
    }
}

/// Creates `fc_test_<random>` on the server and returns its name and URL.
pub async fn fresh_postgres_database(server_url: &str) -> (String, String) {
    let name = format!("fc_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(server_url)
        .await
        .expect("connect to FLUIDCLOUD_TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    conn.close().await.ok();
    // Swap the database name: everything up to the last '/' of the URL is the server.
    let (base, rest) = server_url
        .rsplit_once('/')
        .expect("a PostgreSQL URL ends in /<database>");
    let query = rest
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{base}/{name}{query}");
    (name, url)
}
