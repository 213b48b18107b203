//! After every migration, PostgreSQL and SQLite have the same tables with the same
//! column names (their types differ by design: uuid against BLOB, timestamptz against
//! TEXT, …), so one set of queries serves both.
//!
//! The SQLite schema is always migrated and read. It is compared with PostgreSQL's when
//! `FLUIDCLOUD_TEST_DATABASE_URL` names a server: the test creates a fresh database
//! there, as the behaviour suites do, and drops it afterwards.

use std::collections::{BTreeMap, BTreeSet};

use fluidcloud_db::{ConnectOptions, Store};
use fluidcloud_tests::db::fresh_postgres_database;
use sqlx::Connection;

/// Names a PostgreSQL server to compare against (the same variable the suites use).
const DATABASE_ENV: &str = "FLUIDCLOUD_TEST_DATABASE_URL";

/// Tables only SQLite has, on purpose: PostgreSQL carries the change feed by
/// `NOTIFY`, SQLite processes poll `change_log`.
const ONLY_SQLITE: &[&str] = &["change_log"];

/// Tables only PostgreSQL has, on purpose.
const ONLY_POSTGRES: &[&str] = &[];

/// Table → its column names.
type Schema = BTreeMap<String, BTreeSet<String>>;

fn schema(rows: Vec<(String, String)>) -> Schema {
    let mut schema = Schema::new();
    for (table, column) in rows {
        schema.entry(table).or_default().insert(column);
    }
    schema
}

async fn migrated(url: &str) {
    let store = Store::connect(url, &ConnectOptions::default())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store.close().await;
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    schema(rows)
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c \
         JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    schema(rows)
}

async fn drop_postgres_database(server_url: &str, name: &str) {
    let mut conn = sqlx::PgConnection::connect(server_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
}

/// Every difference between the two schemas, beyond the tables one backend has on
/// purpose, as readable lines.
fn differences(postgres: &Schema, sqlite: &Schema) -> Vec<String> {
    let mut found = Vec::new();
    let tables: BTreeSet<&String> = postgres.keys().chain(sqlite.keys()).collect();
    for table in tables {
        match (postgres.get(table), sqlite.get(table)) {
            (Some(_), None) if !ONLY_POSTGRES.contains(&table.as_str()) => {
                found.push(format!("table {table} is only in PostgreSQL"));
            }
            (None, Some(_)) if !ONLY_SQLITE.contains(&table.as_str()) => {
                found.push(format!("table {table} is only in SQLite"));
            }
            (Some(pg), Some(lite)) => {
                for column in pg.difference(lite) {
                    found.push(format!("column {table}.{column} is only in PostgreSQL"));
                }
                for column in lite.difference(pg) {
                    found.push(format!("column {table}.{column} is only in SQLite"));
                }
            }
            _ => {}
        }
    }
    for table in ONLY_POSTGRES {
        if !postgres.contains_key(*table) || sqlite.contains_key(*table) {
            found.push(format!("{table} is listed as PostgreSQL-only but is not"));
        }
    }
    for table in ONLY_SQLITE {
        if !sqlite.contains_key(*table) || postgres.contains_key(*table) {
            found.push(format!("{table} is listed as SQLite-only but is not"));
        }
    }
    found
}

#[tokio::test]
async fn both_backends_have_the_same_tables_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("schema.db").display());
    migrated(&sqlite_url).await;
    let sqlite = sqlite_schema(&sqlite_url).await;
    assert!(sqlite.contains_key("files") && sqlite.contains_key("_sqlx_migrations"));
    for table in ONLY_SQLITE {
        assert!(sqlite.contains_key(*table), "{table} is not in SQLite");
    }

    let server = match std::env::var(DATABASE_ENV) {
        Ok(server) if !server.is_empty() => server,
        _ => {
            eprintln!(
                "{DATABASE_ENV} is not set: SQLite's schema was not compared with PostgreSQL"
            );
            return;
        }
    };
    let (name, postgres_url) = fresh_postgres_database(&server).await;
    migrated(&postgres_url).await;
    let postgres = postgres_schema(&postgres_url).await;
    drop_postgres_database(&server, &name).await;

    let found = differences(&postgres, &sqlite);
    assert!(
        found.is_empty(),
        "the migrated schemas differ:\n{}",
        found.join("\n")
    );
}

#[test]
fn differences_are_all_reported() {
    let schema = |tables: &[(&str, &[&str])]| -> Schema {
        tables
            .iter()
            .map(|(table, columns)| {
                (
                    table.to_string(),
                    columns.iter().map(|c| c.to_string()).collect(),
                )
            })
            .collect()
    };
    let postgres = schema(&[("files", &["id", "size"]), ("extra", &["id"])]);
    let sqlite = schema(&[("files", &["id", "mime"]), ("change_log", &["seq"])]);
    assert_eq!(
        differences(&postgres, &sqlite),
        [
            "table extra is only in PostgreSQL",
            "column files.size is only in PostgreSQL",
            "column files.mime is only in SQLite",
        ]
    );
}
