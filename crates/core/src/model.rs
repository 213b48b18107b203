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
    /// Per-key request budgets; `null` fields follow the server's defaults.
    #[sqlx(flatten)]
    pub rate_limits: RateLimits,
}

/// Requests per minute a key may make, overall and per costly action (SPEC §5). A
/// `None` takes the server default; `-1` means unlimited.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, ToSchema,
)]
pub struct RateLimits {
    pub requests_per_minute: Option<i64>,
    pub shares_per_minute: Option<i64>,
    pub initiates_per_minute: Option<i64>,
    pub imports_per_minute: Option<i64>,
}

impl Plan {
    /// The plan of `fluidcloud dev`'s tenant and of tenants created without limits
    /// (request budgets stay at the server defaults).
    pub fn unlimited() -> Self {
        Plan {
            api_access: true,
            bytes_limit: UNLIMITED,
            links_limit: UNLIMITED,
            max_file_size: UNLIMITED,
            rate_limits: RateLimits::default(),
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
    /// The partner product the space belongs to: as named at creation (`null` when
    /// none was), `fluidcloud` for the default space.
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

/// Where a file's scan stands (SPEC §4). Only `clean` files can be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScanStatus {
    Pending,
    Clean,
    Infected,
    /// The scanner could not decide (error, timeout, too large): never served.
    Failed,
}

/// A file's lifecycle: `draft` until the scan ends, then `ready` or `quarantined`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Draft,
    Ready,
    Quarantined,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            pub const fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)*
                    other => Err(UnknownValue(other.to_owned())),
                }
            }
        }

        crate::sql_text::text_column!($ty);
    };
}

/// A stored value that is not one of an enum's names.
#[derive(Debug, thiserror::Error)]
#[error("unexpected stored value {0:?}")]
pub struct UnknownValue(pub String);

text_enum!(ScanStatus { Pending => "pending", Clean => "clean", Infected => "infected", Failed => "failed" });
text_enum!(FileStatus { Draft => "draft", Ready => "ready", Quarantined => "quarantined" });
text_enum!(UploadState { Open => "open", Completed => "completed", Expired => "expired", Rejected => "rejected" });

/// Where an upload stands. Only an `open` upload holds a reservation and can be
/// completed; the other three are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Initiated: its size is reserved and its URLs may be used.
    Open,
    /// Turned into a file.
    Completed,
    /// Closed by the worker after its deadline passed without `complete`.
    Expired,
    /// Closed without a file: its bytes did not match, or presigning failed.
    Rejected,
}

/// A stored file (SPEC §4). `name` repeats `original_name` for the SDK.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct File {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub space_id: Uuid,
    pub folder_id: Option<Uuid>,
    pub original_name: String,
    /// Same as `original_name`.
    #[sqlx(skip)]
    pub name: String,
    /// Detected from the bytes by the scanner; the client's declared type until then.
    pub mime: String,
    pub size: i64,
    /// Hex SHA-256 of the bytes: as declared until the scan, then as computed; `null`
    /// while unknown (neither declared nor scanned yet). Stored as `''` then.
    #[serde(serialize_with = "empty_as_null")]
    #[schema(value_type = Option<String>)]
    pub sha256: String,
    pub scan_status: ScanStatus,
    pub status: FileStatus,
    /// The app namespace the file belongs to (`fluidcloud` unless named).
    pub source_app: String,
    /// The caller's own key for the file, for `GET /files/resolve`.
    pub client_key: Option<String>,
    /// The API key that uploaded it.
    pub created_by: Option<Uuid>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where the bytes are; never shown to clients.
    #[serde(skip)]
    pub object_key: String,
    /// The store's entity tag of the bytes the scanner judged; never shown to clients.
    #[serde(skip)]
    pub object_etag: Option<String>,
}

/// Serializes an empty string as `null`: the stored form of "not known yet".
fn empty_as_null<S: serde::Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_empty() {
        serializer.serialize_none()
    } else {
        serializer.serialize_str(value)
    }
}

impl File {
    /// Fills the derived fields after loading.
    pub fn finish(mut self) -> Self {
        self.name.clone_from(&self.original_name);
        self
    }

    /// Whether the bytes may be served: scanned clean and not in the Trash.
    pub fn is_servable(&self) -> bool {
        self.scan_status == ScanStatus::Clean && self.deleted_at.is_none()
    }
}

impl Keyed for File {
    fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// How a share link serves the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Inline (active types still download).
    View,
    /// As an attachment.
    Download,
}

text_enum!(Permission { View => "view", Download => "download" });

/// A share link as listed (SPEC §4). The token is never part of it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Share {
    pub id: Uuid,
    pub file_id: Uuid,
    pub permission: Permission,
    /// `null` for a permanent link.
    pub expires_at: Option<DateTime<Utc>>,
    pub max_downloads: Option<i64>,
    /// GET responses that started at byte 0.
    pub download_count: i64,
    pub revoked: bool,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Keyed for Share {
    fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}
