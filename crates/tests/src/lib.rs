//! Shared helpers of the behaviour suites: a throwaway database on either backend, the
//! API served on port 0, and one helper per endpoint.
//!
//! Every suite runs on SQLite. When `FLUIDCLOUD_TEST_DATABASE_URL` names a PostgreSQL
//! server (any database on it), each test gets a fresh database there instead.

pub mod app;
pub mod db;

pub use app::{ApiClient, TestApp};
pub use db::TestDb;
