//! The object store: any S3-compatible service through `aws-sdk-s3`, and an S3 endpoint
//! embedded in the process (`s3s` over a local folder) for `fluidcloud dev` and tests.
//!
//! Both are reached through the same [`ObjectStore`] client, so presigned URLs, SigV4
//! checks, multipart uploads and ranged reads take one code path everywhere.

pub mod embedded;
mod store;

pub use store::{
    ObjectInfo, ObjectStore, ObjectStream, PresignedPut, StorageError, StorageResult,
    StoreSettings, StoreTimeouts,
};
