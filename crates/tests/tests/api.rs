//! The `/api/v1` edge and the spaces and folders endpoints, over real HTTP, on SQLite
//! (and on PostgreSQL when `FLUIDCLOUD_TEST_DATABASE_URL` is set).

mod api {
    mod auth;
    mod folders;
    mod matrices;
    mod spaces;
}
