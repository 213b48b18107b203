//! What the migration tests share: a connection to the PostgreSQL server the suites
//! run on, when `FLUIDCLOUD_TEST_DATABASE_URL` names one.

use sqlx::Connection;

/// A connection to the test server, or `None` when the suites run on SQLite only.
pub async fn postgres() -> Option<sqlx::PgConnection> {
    let url = std::env::var("FLUIDCLOUD_TEST_DATABASE_URL").ok()?;
    if url.is_empty() {
        return None;
    }
    Some(sqlx::PgConnection::connect(&url).await.unwrap())
}
