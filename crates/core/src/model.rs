//! The records of the data model (SPEC §1): tenants and their plans, API keys, spaces
//! and folders. They serialize to the API's JSON shapes and load from either metadata
//! backend.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api_key::KeyMode;
use crate::paging::{Cursor, Keyed};
use crate::scope::Scopes;

/// Value of a limit that does not apply.
pub const UNLIMITED: i64 = -1;

/// What a tenant may do and store. `-1` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct Plan {
    /// Whether the tenant's keys may call `/api/v1` at all.
    pub api_access: bool,
    /// Storage pool in bytes, counting every completed file until it is purged.
    pub bytes_limit: i64,
    /// Live expiring share links.
    pub links_limit: i64,
    /// Largest single file, in bytes.
    pub max_file_size: i64,
}

impl Plan {
    /// The plan of `fluidcloud dev`'s tenant and of tenants created without limits.
    pub fn unlimited() -> Self {
        Plan {
            api_access: true,
            bytes_limit: UNLIMITED,
            links_limit: UNLIMITED,
            max_file_size: UNLIMITED,
        }
    }
}

/// The isolation and billing unit. Never named in a request: the API key is the tenant.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    #[sqlx(flatten)]
    pub plan: Plan,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An API key as stored: never the plaintext, only what identifies and describes it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub label: String,
    pub mode: KeyMode,
    /// The first characters of the key, enough to recognise it in a list.
    pub prefix: String,
    #[schema(value_type = Vec<crate::Scope>)]
    pub scopes: Scopes,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A top-level container of folders and files.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Space {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    /// The partner product the space belongs to, when one was named at creation.
    pub app: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Keyed for Space {
    fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// A folder in a space's tree; `parent_id` null means the space root.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Folder {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub space_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    /// Set while the folder is in the Trash.
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Keyed for Folder {
    fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// Counts over a folder's live subtree (the folder itself excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FolderStats {
    pub folder_id: Uuid,
    pub file_count: i64,
    pub folder_count: i64,
    pub total_bytes: i64,
}
