//! Shared helpers of the behaviour suites: a throwaway database on either backend, the
//! API served on port 0, and one helper per endpoint.
//!
//! Every suite runs on the embedded default: SQLite and the in-process S3 endpoint.
//! When `FLUIDCLOUD_TEST_DATABASE_URL` names a PostgreSQL server (any database on it),
//! each test gets a fresh database there instead; when `FLUIDCLOUD_TEST_S3_ENDPOINT`
//! names an S3 store, objects go to it (see [`objects`]).

pub mod app;
pub mod client;
pub mod db;
pub mod objects;

pub use app::{ApiClient, TestApp};
pub use db::TestDb;
pub use objects::TestObjects;
