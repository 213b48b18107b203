//! Tenants, their plans, and their API keys.

use fluidcloud_core::api_key::{KeyDigest, KeyMode, MintedKey};
use fluidcloud_core::model::{ApiKey, Plan, Tenant};
use fluidcloud_core::scope::Scopes;
use fluidcloud_core::time::now;
use uuid::Uuid;

use crate::backend::{Dialect, Store};
use crate::changes::{Change, Publish};
use crate::error::{StoreError, StoreResult};

const TENANT_COLUMNS: &str = "id, name, api_access, bytes_limit, links_limit, max_file_size, \
     requests_per_minute, shares_per_minute, initiates_per_minute, imports_per_minute, created_at, updated_at";
const KEY_COLUMNS: &str = "id, tenant_id, label, mode, prefix, scopes, created_at, revoked_at";

/// A tenant to create.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub plan: Plan,
}

/// Changes to a tenant; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub api_access: Option<bool>,
    pub bytes_limit: Option<i64>,
    pub links_limit: Option<i64>,
    pub max_file_size: Option<i64>,
    pub requests_per_minute: Option<i64>,
    pub shares_per_minute: Option<i64>,
    pub initiates_per_minute: Option<i64>,
    pub imports_per_minute: Option<i64>,
    /// Every per-minute budget not given above goes back to the server default.
    pub default_rate_limits: bool,
}

/// A key to mint.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub tenant_id: Uuid,
    pub label: String,
    pub mode: KeyMode,
    pub scopes: Scopes,
}

/// What an API request acts as: a live key and its tenant's current plan.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub key: ApiKey,
    pub plan: Plan,
}

#[derive(sqlx::FromRow)]
struct AuthRow {
    #[sqlx(flatten)]
    key: ApiKey,
    #[sqlx(flatten)]
    plan: Plan,
}

impl Store {
    pub async fn create_tenant(&self, new: &NewTenant) -> StoreResult<Tenant> {
        let at = now();
        let sql = format!(
            "INSERT INTO tenants (id, name, api_access, bytes_limit, links_limit, max_file_size, \
             requests_per_minute, shares_per_minute, initiates_per_minute, imports_per_minute, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {TENANT_COLUMNS}"
        );
        let tenant = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(Uuid::new_v4())
                .bind(&new.name)
                .bind(new.plan.api_access)
                .bind(new.plan.bytes_limit)
                .bind(new.plan.links_limit)
                .bind(new.plan.max_file_size)
                .bind(new.plan.rate_limits.requests_per_minute)
                .bind(new.plan.rate_limits.shares_per_minute)
                .bind(new.plan.rate_limits.initiates_per_minute)
                .bind(new.plan.rate_limits.imports_per_minute)
                .bind(at)
                .fetch_one(pool)
                .await
        })?;
        Ok(tenant)
    }

    pub async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY created_at, id");
        Ok(with_pool!(self, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await)?)
    }

    pub async fn tenant(&self, id: Uuid) -> StoreResult<Tenant> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?
        .ok_or(StoreError::NotFound("tenant"))
    }

    /// Changes a tenant; every process drops its cached view of the plan at once.
    pub async fn update_tenant(&self, id: Uuid, update: &TenantUpdate) -> StoreResult<Tenant> {
        let sql = format!(
            "UPDATE tenants SET name = COALESCE($2, name), api_access = COALESCE($3, api_access), \
             bytes_limit = COALESCE($4, bytes_limit), links_limit = COALESCE($5, links_limit), \
             max_file_size = COALESCE($6, max_file_size), \
             requests_per_minute = CASE WHEN $8 IS NOT NULL THEN $8 WHEN $12 THEN NULL ELSE requests_per_minute END, \
             shares_per_minute = CASE WHEN $9 IS NOT NULL THEN $9 WHEN $12 THEN NULL ELSE shares_per_minute END, \
             initiates_per_minute = CASE WHEN $10 IS NOT NULL THEN $10 WHEN $12 THEN NULL ELSE initiates_per_minute END, \
             imports_per_minute = CASE WHEN $11 IS NOT NULL THEN $11 WHEN $12 THEN NULL ELSE imports_per_minute END, \
             updated_at = $7 WHERE id = $1 RETURNING {TENANT_COLUMNS}"
        );
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let tenant: Option<Tenant> = sqlx::query_as(&sql)
                .bind(id)
                .bind(&update.name)
                .bind(update.api_access)
                .bind(update.bytes_limit)
                .bind(update.links_limit)
                .bind(update.max_file_size)
                .bind(now())
                .bind(update.requests_per_minute)
                .bind(update.shares_per_minute)
                .bind(update.initiates_per_minute)
                .bind(update.imports_per_minute)
                .bind(update.default_rate_limits)
                .fetch_optional(&mut *tx)
                .await?;
            let tenant = tenant.ok_or(StoreError::NotFound("tenant"))?;
            Db::publish(&mut tx, &Change::Tenant(id)).await?;
            tx.commit().await?;
            Ok(tenant)
        })
    }

    /// Mints a key for an existing tenant and returns it with its plaintext, which is
    /// not stored anywhere.
    pub async fn create_api_key(&self, new: &NewApiKey) -> StoreResult<(ApiKey, String)> {
        let minted = MintedKey::generate(new.mode);
        let sql = format!(
            "INSERT INTO api_keys (id, tenant_id, label, mode, prefix, digest, scopes, created_at) \
             SELECT $1, id, $2, $3, $4, $5, $6, $7 FROM tenants WHERE id = $8 RETURNING {KEY_COLUMNS}"
        );
        let key = with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let key: Option<ApiKey> = sqlx::query_as(&sql)
                .bind(Uuid::new_v4())
                .bind(&new.label)
                .bind(new.mode.as_str())
                .bind(&minted.prefix)
                .bind(&minted.digest.0[..])
                .bind(new.scopes.to_db_string())
                .bind(now())
                .bind(new.tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            let key = key.ok_or(StoreError::NotFound("tenant"))?;
            // A lookup of this digest may have been cached as a miss.
            Db::publish(&mut tx, &Change::ApiKey(minted.digest.0)).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(key)
        })?;
        Ok((key, minted.plaintext))
    }

    /// Every key of a tenant, revoked ones included, oldest first.
    pub async fn list_api_keys(&self, tenant_id: Uuid) -> StoreResult<Vec<ApiKey>> {
        self.tenant(tenant_id).await?;
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id"
        );
        Ok(with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant_id)
            .fetch_all(pool)
            .await)?)
    }

    /// Revokes a key; revoking a revoked key changes nothing. Every process refuses the
    /// key as soon as the change feed delivers the revocation.
    pub async fn revoke_api_key(&self, key_id: Uuid) -> StoreResult<ApiKey> {
        let sql = format!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING {KEY_COLUMNS}, digest"
        );
        with_pool!(self, |pool, Db| {
            let mut tx = Db::begin_write(pool).await?;
            let row: Option<RevokedRow> = sqlx::query_as(&sql)
                .bind(key_id)
                .bind(now())
                .fetch_optional(&mut *tx)
                .await?;
            let row = row.ok_or(StoreError::NotFound("API key"))?;
            let digest: [u8; 32] = row
                .digest
                .try_into()
                .map_err(|_| StoreError::Schema("api_keys.digest is not 32 bytes".into()))?;
            Db::publish(&mut tx, &Change::ApiKey(digest)).await?;
            tx.commit().await?;
            Ok(row.key)
        })
    }

    /// The live key with this digest and its tenant's plan, in one round-trip.
    /// Unknown and revoked keys are both `None`.
    pub async fn authenticate(&self, digest: &KeyDigest) -> StoreResult<Option<Authenticated>> {
        const SQL: &str = "SELECT k.id, k.tenant_id, k.label, k.mode, k.prefix, k.scopes, k.created_at, k.revoked_at, \
             t.api_access, t.bytes_limit, t.links_limit, t.max_file_size, t.requests_per_minute, \
             t.shares_per_minute, t.initiates_per_minute, t.imports_per_minute \
             FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.digest = $1 AND k.revoked_at IS NULL";
        let row: Option<AuthRow> = with_pool!(self, |pool| {
            sqlx::query_as(SQL)
                .bind(&digest.0[..])
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|row| Authenticated {
            key: row.key,
            plan: row.plan,
        }))
    }
}

#[derive(sqlx::FromRow)]
struct RevokedRow {
    #[sqlx(flatten)]
    key: ApiKey,
    digest: Vec<u8>,
}
