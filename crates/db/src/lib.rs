//! The metadata store: one set of domain operations over PostgreSQL and SQLite.
//!
//! Callers speak of tenants, keys, spaces and folders, never of SQL. Each operation is
//! written once; `with_pool!` (see `macros`) compiles its body against both backends.
//! Where the backends differ, one trait per concern has an implementation for each:
//! `backend::Dialect` for SQL primitives (row locks, write transactions),
//! `changes::Publish` for announcing a change, `jobs::Enqueue` for queueing work.
//! PostgreSQL keeps its native types (uuid, timestamptz, LISTEN/NOTIFY); SQLite runs
//! in WAL mode with 16-byte BLOB ids.

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
mod quota;
mod rate;
mod reconcile;
mod scans;
mod shares;
mod spaces;
mod tenants;
mod trash;
mod uploads;

pub use backend::{BackendKind, ConnectOptions, Store, redact};
pub use changes::{Change, ChangeFeed};
pub use error::{QuotaExceeded, StoreError, StoreResult};
pub use files::{FileFilter, FileUpdate};
pub use folders::FolderUpdate;
pub use quota::{AppUsage, Quota};
pub use reconcile::FileRef;
pub use scans::{RescanFilter, ScanOutcome, ScanTarget};
pub use shares::{NewShare, ShareAccess};
pub use tenants::{Authenticated, NewApiKey, NewTenant, TenantUpdate};
pub use trash::{Purged, TrashEmptied};
pub use uploads::{Completed, Completion, NewUpload, Upload, object_key};
