//! The `/api/v1` service over real HTTP: the edge, spaces, folders, uploads, files and
//! scanning, on the embedded default (or on PostgreSQL, a real S3 store and clamd when
//! the `FLUIDCLOUD_TEST_*` variables name them).

mod api {
    mod auth;
    mod files;
    mod folders;
    mod import;
    mod matrices;
    mod scanning;
    mod spaces;
    mod uploads;
}
