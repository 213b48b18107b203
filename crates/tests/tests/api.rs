//! The `/api/v1` service and the raw-link server over real HTTP: the edge, spaces,
//! folders, uploads, files, scanning, shares and raw links, on the embedded default (or on PostgreSQL, a real S3 store and clamd when
//! the `FLUIDCLOUD_TEST_*` variables name them).

mod api {
    mod auth;
    mod content_types;
    mod cors;
    mod files;
    mod folders;
    mod hosted_fields;
    mod hostile;
    mod import;
    mod leniency;
    mod links;
    mod listeners;
    mod matrices;
    mod openapi_document;
    mod operations;
    mod quota;
    mod races;
    mod ratelimits;
    mod scanning;
    mod shares;
    mod spaces;
    mod store_outage;
    mod upload_lifecycle;
    mod uploads;
}
