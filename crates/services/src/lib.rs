//! The layer under the binaries: what more than one of them runs.
//!
//! `fluidcloud-api` completes uploads and scans small files inline, `fluidcloud-worker`
//! scans the rest, and `fluidcloud admin` reconciles the bucket; each would otherwise
//! have to import another service to share that code. Here live the [`ServiceContext`]
//! they share (metadata store, object store, scanner, settings, metrics), the scan
//! pipeline ([`scan`]), [`reconcile`], and the upload workflows ([`uploads`]) that the
//! HTTP handlers call. Nothing here knows about HTTP.

mod context;
pub mod fetch;
pub mod reconcile;
pub mod scan;
pub mod uploads;

pub use context::{ServiceContext, sample_queue_depth, scanner};
