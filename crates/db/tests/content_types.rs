//! Migration 0008 canonicalises every stored content type. Its expression is run over a
//! scratch table on SQLite and, when `FLUIDCLOUD_TEST_DATABASE_URL` names a server, on
//! PostgreSQL, and must agree with the API's own canonical form.

use fluidcloud_core::content_type::canonical_content_type;
use sqlx::Connection;

mod common;

/// Stored value → what it must become.
const CASES: &[(&str, &str)] = &[
    ("text/plain", "text/plain"),
    ("Image/PNG", "image/png"),
    (" text/csv ", "text/csv"),
    ("text/html; charset=UTF-8", "text/html; charset=utf-8"),
    ("text/plain;charset=\"utf-8\"", "text/plain; charset=utf-8"),
    (
        "text/plain ;  Charset = iso-8859-1",
        "text/plain; charset=iso-8859-1",
    ),
    ("multipart/form-data; boundary=abc", "multipart/form-data"),
    ("text/plain;,text/html", "application/octet-stream"),
    ("text/plain, image/svg+xml", "application/octet-stream"),
    (
        "text/plain; charset=utf-8, text/html",
        "application/octet-stream",
    ),
    ("nonsense", "application/octet-stream"),
    ("a/b/c", "application/octet-stream"),
    ("", "application/octet-stream"),
];

/// The migration's `UPDATE files …` statement, pointed at the scratch table.
fn statement(sql: &str) -> String {
    let files = sql
        .split(";\n\n")
        .find(|s| s.contains("UPDATE files"))
        .expect("the migration updates files");
    let start = files.find("UPDATE files").unwrap();
    files[start..].replace("UPDATE files", "UPDATE probe")
}

fn check(rows: Vec<(String, String)>) {
    for (input, expected) in CASES {
        let got = &rows.iter().find(|(i, _)| i == input).unwrap().1;
        assert_eq!(got, expected, "{input:?}");
        // The API refuses what the migration replaces, and agrees on the rest.
        if *expected != "application/octet-stream" || *input == "application/octet-stream" {
            if !input.contains("boundary") {
                assert_eq!(canonical_content_type(input).as_deref(), Ok(*expected));
            }
        } else {
            assert!(canonical_content_type(input).is_err(), "{input:?}");
        }
    }
}

/// Fills a scratch table with the cases, runs the migration's statement over it twice
/// (the second run must change nothing) and checks the outcome.
macro_rules! run_cases {
    ($conn:expr, $create:literal, $sql:expr) => {{
        sqlx::query($create).execute(&mut $conn).await.unwrap();
        for (input, _) in CASES {
            sqlx::query("INSERT INTO probe (input, mime) VALUES ($1, $1)")
                .bind(input)
                .execute(&mut $conn)
                .await
                .unwrap();
        }
        let sql = statement($sql);
        sqlx::query(&sql).execute(&mut $conn).await.unwrap();
        let again = sqlx::query(&sql).execute(&mut $conn).await.unwrap();
        assert_eq!(again.rows_affected(), 0, "the migration is idempotent");
        check(
            sqlx::query_as("SELECT input, mime FROM probe")
                .fetch_all(&mut $conn)
                .await
                .unwrap(),
        );
    }};
}

#[tokio::test]
async fn sqlite_rows_become_canonical() {
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .unwrap();
    run_cases!(
        conn,
        "CREATE TABLE probe (input TEXT NOT NULL, mime TEXT NOT NULL)",
        include_str!("../../../migrations/sqlite/0008_canonical_content_types.sql")
    );
}

#[tokio::test]
async fn postgres_rows_become_canonical() {
    let Some(mut conn) = common::postgres().await else {
        return;
    };
    run_cases!(
        conn,
        "CREATE TEMP TABLE probe (input text NOT NULL, mime text NOT NULL)",
        include_str!("../../../migrations/postgres/0008_canonical_content_types.sql")
    );
}
