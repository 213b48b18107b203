//! Migration 0009 gives the default spaces made before it the default app namespace.
//! Its statement is run over a scratch `spaces` table on SQLite and, when
//! `FLUIDCLOUD_TEST_DATABASE_URL` names a server, on PostgreSQL.

use sqlx::Connection;

mod common;

/// (name, app before) → app after.
const CASES: &[(&str, Option<&str>, Option<&str>)] = &[
    ("My files", None, Some("fluidcloud")),
    ("My files", Some("fluidtalk"), Some("fluidtalk")),
    ("Brand assets", None, None),
    ("my files", None, None),
];

macro_rules! run_cases {
    ($conn:expr, $create:literal, $sql:expr) => {{
        sqlx::query($create).execute(&mut $conn).await.unwrap();
        for (i, (name, app, _)) in CASES.iter().enumerate() {
            sqlx::query("INSERT INTO spaces (n, name, app) VALUES ($1, $2, $3)")
                .bind(i64::try_from(i).unwrap())
                .bind(name)
                .bind(app)
                .execute(&mut $conn)
                .await
                .unwrap();
        }
        sqlx::query($sql).execute(&mut $conn).await.unwrap();
        let again = sqlx::query($sql).execute(&mut $conn).await.unwrap();
        assert_eq!(again.rows_affected(), 0, "the migration is idempotent");
        let rows: Vec<(i64, Option<String>)> = sqlx::query_as("SELECT n, app FROM spaces")
            .fetch_all(&mut $conn)
            .await
            .unwrap();
        for (n, app) in rows {
            let (name, before, after) = CASES[usize::try_from(n).unwrap()];
            assert_eq!(app.as_deref(), after, "{name:?} with app {before:?}");
        }
    }};
}

#[tokio::test]
async fn sqlite_default_spaces_get_the_default_app() {
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .unwrap();
    run_cases!(
        conn,
        "CREATE TABLE spaces (n INTEGER NOT NULL, name TEXT NOT NULL, app TEXT)",
        include_str!("../../../migrations/sqlite/0009_default_space_app.sql")
    );
}

#[tokio::test]
async fn postgres_default_spaces_get_the_default_app() {
    let Some(mut conn) = common::postgres().await else {
        return;
    };
    // A temporary table shadows any `spaces` of that database for this connection.
    run_cases!(
        conn,
        "CREATE TEMP TABLE spaces (n bigint NOT NULL, name text NOT NULL, app text)",
        include_str!("../../../migrations/postgres/0009_default_space_app.sql")
    );
}
