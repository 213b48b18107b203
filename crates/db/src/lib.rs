//! The metadata store: one set of domain operations over PostgreSQL and SQLite.
//!
//! Callers speak of tenants, keys, spaces and folders, never of SQL. Each operation is
//! written once; `with_pool!` (see `macros`) compiles its body against both backends.
//! Where the backends differ, one trait per concern has an implementation for each:
//! `backend::Dialect` for SQL primitives (row locks, write transactions),
//! `changes::Publish` for announcing a change, `jobs::Enqueue` for queueing work. PostgreSQL keeps its native types (uuid,
//! timestamptz, LISTEN/NOTIFY); SQLite runs in WAL mode with 16-byte BLOB ids.

#[macro_use]
mod macros;
mod backend;
pub mod cache;
pub mod changes;
mod error;
mod files;
mod folders;
pub mod jobs;
mod migrations;
mod rate;
mod shares;
mod spaces;
mod tenants;
mod uploads;

pub use backend::{BackendKind, ConnectOptions, Store, redact};
pub use changes::{Change, ChangeFeed};
pub use error::{QuotaExceeded, StoreError, StoreResult};
pub use files::{
    AppUsage, FileFilter, FileRef, FileUpdate, Purged, Quota, RescanFilter, ScanOutcome,
    ScanTarget, TrashEmptied,
};
pub use folders::FolderUpdate;
pub use shares::{NewShare, ShareAccess};
pub use tenants::{Authenticated, NewApiKey, NewTenant, TenantUpdate};
pub use uploads::{Completed, Completion, NewUpload, Upload, object_key};
