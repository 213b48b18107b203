//! The macros every domain operation is written with: [`with_pool!`] runs one body
//! against whichever backend the store uses, and [`check_target!`], [`reserve_bytes!`],
//! [`release_used!`] and [`lock_tenant!`] are the checks, counter updates and locks
//! several operations share inside such a body.
//!
//! Lock order: a transaction that changes a tenant's counters takes the tenant row
//! first ([`lock_tenant!`], or the counter update itself when that is its first write),
//! and rows of files, uploads and shares after it. Two transactions taking the same
//! rows in opposite orders deadlock on PostgreSQL (a purge holding a file while a link
//! for it waits with the tenant row was one, found by the soak).
//!
//! Why macros and not generic functions: `PgPool` and `SqlitePool` are different types,
//! and so are their transactions, rows and argument buffers. A function generic over
//! `sqlx::Database` would have to spell out, for every query in it, bounds such as
//! `for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>`, `Uuid: Type<DB> +
//! for<'q> Encode<'q, DB>` for each bound type and `T: for<'r> FromRow<'r, DB::Row>` for
//! each row type, and keep its futures `Send` through those higher-ranked bounds. A
//! macro instead pastes the same SQL and Rust into one `match` arm per backend, where
//! each copy is type-checked against that driver's concrete types: the query is written
//! once and compiled twice. The helpers below are macros for the same reason (they run
//! on the concrete transaction of the arm they are pasted into), which also lets them
//! fail the enclosing operation with `return Err(..)` and `?` as if written inline.
//!
//! Declared first in `lib.rs` so every later module can use them.

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend the store
/// uses. The body is type-checked once per backend, so every query is written once and
/// still compiled against each driver's own types. The second form also names the
/// backend's database type (`sqlx::Postgres` or `sqlx::Sqlite`), through which the
/// body reaches `Dialect`, `Publish` and `Enqueue`.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::backend::Pool::Postgres($pool) => $body,
            $crate::backend::Pool::Sqlite($pool) => $body,
        }
    };
    ($store:expr, |$pool:ident, $db:ident| $body:expr) => {
        match &$store.pool {
            $crate::backend::Pool::Postgres($pool) => {
                type $db = ::sqlx::Postgres;
                $body
            }
            $crate::backend::Pool::Sqlite($pool) => {
                type $db = ::sqlx::Sqlite;
                $body
            }
        }
    };
}

/// Inside a `with_pool!` transaction: fails with 404 unless the space is live and the
/// tenant's and the folder, when given, is live; with 400 when the folder is in
/// another space. Used wherever something is placed in a space or folder. Holds the
/// space row in share mode until the transaction ends, so a folder cannot be trashed
/// (which takes the row exclusively) between this check and the write it guards.
macro_rules! check_target {
    ($tx:ident, $db:ident, $tenant_id:expr, $space_id:expr, $folder_id:expr) => {{
        let space_id: ::uuid::Uuid = $space_id;
        let space: Option<::uuid::Uuid> = ::sqlx::query_scalar(&format!(
            "SELECT id FROM spaces WHERE id = $1 AND tenant_id = $2 AND NOT deleting{}",
            <$db as $crate::backend::Dialect>::FOR_SHARE
        ))
        .bind(space_id)
        .bind($tenant_id)
        .fetch_optional(&mut *$tx)
        .await?;
        if space.is_none() {
            return Err($crate::error::StoreError::NotFound("space"));
        }
        let folder_id: Option<::uuid::Uuid> = $folder_id;
        if let Some(folder_id) = folder_id {
            let folder: Option<(::uuid::Uuid, bool)> = ::sqlx::query_as(
                "SELECT space_id, deleted_at IS NULL FROM folders WHERE id = $1 AND tenant_id = $2",
            )
            .bind(folder_id)
            .bind($tenant_id)
            .fetch_optional(&mut *$tx)
            .await?;
            match folder {
                None | Some((_, false)) => {
                    return Err($crate::error::StoreError::NotFound("folder"));
                }
                Some((folder_space, true)) if folder_space != space_id => {
                    return Err($crate::error::StoreError::Invalid(
                        "the folder is in another space".into(),
                    ));
                }
                Some(_) => {}
            }
        }
    }};
}

/// Inside a `with_pool!` transaction: reserves `size` bytes of the tenant's storage pool
/// with one conditional update, or fails with 402 naming the limit. Concurrent
/// reservations can never together pass the limit.
macro_rules! reserve_bytes {
    ($tx:ident, $tenant_id:expr, $size:expr) => {{
        let size: i64 = $size;
        let reserved = ::sqlx::query(
            "UPDATE tenants SET bytes_reserved = bytes_reserved + $2 \
             WHERE id = $1 AND (bytes_limit < 0 OR bytes_used + bytes_reserved + $2 <= bytes_limit)",
        )
        .bind($tenant_id)
        .bind(size)
        .execute(&mut *$tx)
        .await?;
        if reserved.rows_affected() == 0 {
            let (used, limit): (i64, i64) =
                ::sqlx::query_as("SELECT bytes_used + bytes_reserved, bytes_limit FROM tenants WHERE id = $1")
                    .bind($tenant_id)
                    .fetch_one(&mut *$tx)
                    .await?;
            return Err($crate::error::StoreError::QuotaExceeded($crate::error::QuotaExceeded {
                limit: "storage",
                used,
                limit_value: limit,
                requested: size,
            }));
        }
    }};
}

/// Inside a `with_pool!` transaction: `bytes` of the tenant's pool stop counting as used
/// (a purge, an erased infected file).
macro_rules! release_used {
    ($tx:ident, $tenant_id:expr, $bytes:expr) => {{
        let bytes: i64 = $bytes;
        ::sqlx::query("UPDATE tenants SET bytes_used = bytes_used - $2 WHERE id = $1")
            .bind($tenant_id)
            .bind(bytes)
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Inside a `with_pool!` transaction: adds `bytes` and `files` (either may be negative)
/// to the tenant's usage of one app namespace (`GET /quota`'s `by_app`), wherever
/// `bytes_used` changes. After the tenant row in the lock order.
macro_rules! count_app {
    ($tx:ident, $tenant_id:expr, $app:expr, $bytes:expr, $files:expr) => {{
        let (bytes, files): (i64, i64) = ($bytes, $files);
        if bytes != 0 || files != 0 {
            ::sqlx::query(
                "INSERT INTO app_usage (tenant_id, app, bytes, files) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, app) DO UPDATE \
                 SET bytes = app_usage.bytes + excluded.bytes, files = app_usage.files + excluded.files",
            )
            .bind($tenant_id)
            .bind($app)
            .bind(bytes)
            .bind(files)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Inside a `with_pool!` transaction (`$db` the backend type): takes the tenant's row
/// for the rest of the transaction, before any file, upload or share row (the lock
/// order in this module's documentation). SQLite's write transactions are serialised
/// already, so there it locks nothing.
macro_rules! lock_tenant {
    ($tx:ident, $db:ident, $tenant_id:expr) => {{
        ::sqlx::query(&format!(
            "SELECT id FROM tenants WHERE id = $1{}",
            <$db as $crate::backend::Dialect>::FOR_UPDATE
        ))
        .bind($tenant_id)
        .fetch_optional(&mut *$tx)
        .await?;
    }};
}
