//! One example per request and response body schema, shown in the document (and used
//! by schemathesis' example phase). Kept in one table rather than on each type because
//! the types live in several crates (core, db, services) that know nothing of the
//! document; `api::openapi_document` fails when a body has no example here.

use serde_json::{Value, json};
use utoipa::openapi::schema::ArrayItems;
use utoipa::openapi::{RefOr, Schema};

const TENANT: &str = "0f8e4c2a-6b1d-4e5f-9a3c-7d2b1e0f4a68";
const SPACE: &str = "3c9a1e55-2f7b-4d08-b6e1-84a2c0d9f713";
const FOLDER: &str = "a41d7b20-9c3e-4f6a-8e15-0b7c2d94e8f1";
const FILE: &str = "6e2f0a9d-41c8-4b73-9d5e-c18a3f7b2064";
const KEY: &str = "d5b8e1f0-7a24-4c69-b3e2-9f1a0c6d8e47";
const SHARE: &str = "b7c3f9e1-5d2a-4e80-a6f4-2c9e1b0d7a35";
const CREATED: &str = "2026-03-14T09:26:53.589Z";
const UPDATED: &str = "2026-03-14T09:27:01.112Z";

/// The example of a component schema, by name; `None` for schemas only ever nested
/// (enums, parts of a body), whose example is part of their parent's.
pub fn for_schema(name: &str) -> Option<Value> {
    Some(match name {
        "Space" => json!({
            "id": SPACE, "tenant_id": TENANT, "name": "Invoices", "app": "billing",
            "created_at": CREATED, "updated_at": CREATED
        }),
        "CreateSpace" => json!({"name": "Invoices", "app": "billing"}),
        "RenameSpace" => json!({"name": "Invoices 2026"}),
        "SpaceDeleted" => json!({"id": SPACE, "status": "deleted"}),
        "Folder" => json!({
            "id": FOLDER, "tenant_id": TENANT, "space_id": SPACE, "parent_id": null,
            "name": "March", "deleted_at": null, "created_at": CREATED, "updated_at": CREATED
        }),
        "CreateFolder" => json!({"name": "March", "space_id": SPACE, "parent_id": null}),
        "UpdateFolder" => json!({"name": "March (paid)", "parent_id": null}),
        "FolderStats" => json!({
            "folder_id": FOLDER, "file_count": 12, "folder_count": 2, "total_bytes": 5_242_880
        }),
        "File" => json!({
            "id": FILE, "tenant_id": TENANT, "space_id": SPACE, "folder_id": FOLDER,
            "original_name": "invoice-0042.pdf", "name": "invoice-0042.pdf",
            "mime": "application/pdf", "size": 48_213,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "scan_status": "clean", "status": "ready", "source_app": "billing",
            "client_key": "invoice-0042", "created_by": KEY, "deleted_at": null,
            "created_at": CREATED, "updated_at": UPDATED
        }),
        "UpdateFile" => json!({"original_name": "invoice-0042 (paid).pdf", "folder_id": FOLDER}),
        "SignedUrl" => json!({
            "url": "https://files.example.com/d/eyJmIjoiNmUyZjBhOWQifQ.c2lnbmF0dXJl",
            "expires_at": "2026-03-14T09:31:53Z"
        }),
        "InitiateUpload" => json!({
            "original_name": "invoice-0042.pdf", "content_type": "application/pdf",
            "size": 48_213, "space_id": SPACE, "folder_id": FOLDER, "app": "billing"
        }),
        "UploadTicket" => json!({
            "mode": "single", "file_id": FILE, "key": format!("t/{TENANT}/f/{FILE}"),
            "expires_at": "2026-03-14T10:26:53Z",
            "upload_url": format!("https://s3.example.com/fluidcloud/t/{TENANT}/f/{FILE}?X-Amz-Signature=…"),
            "headers": {"Content-Type": "application/pdf"}
        }),
        "CompleteUpload" => json!({
            "file_id": FILE, "key": format!("t/{TENANT}/f/{FILE}"),
            "original_name": "invoice-0042.pdf", "mime": "application/pdf", "size": 48_213,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "space_id": SPACE, "folder_id": FOLDER, "app": "billing",
            "client_key": "invoice-0042"
        }),
        "ImportUrl" => json!({
            "url": "https://example.com/reports/q1.pdf", "space_id": SPACE,
            "folder_id": null, "original_name": "q1.pdf", "client_key": "report-q1",
            "app": "billing"
        }),
        "CreateShare" => json!({"file_id": FILE, "expires_in_days": 7, "permission": "download"}),
        "Link" => json!({
            "id": SHARE, "url": "https://files.example.com/s/Zm9vYmFyYmF6.bWFj",
            "file_id": FILE, "permission": "download", "expires_at": "2026-03-21T09:26:53Z",
            "max_downloads": null, "has_password": false, "created_at": CREATED
        }),
        "Share" => json!({
            "id": SHARE, "file_id": FILE, "permission": "download",
            "expires_at": "2026-03-21T09:26:53Z", "max_downloads": null,
            "download_count": 3, "revoked": false, "has_password": false,
            "created_at": CREATED, "updated_at": UPDATED
        }),
        "Quota" => json!({
            "bytes_used": 5_242_880, "bytes_limit": 10_737_418_240_i64, "bytes_reserved": 0,
            "links_used": 2, "links_limit": 100,
            "by_app": [{"app": "billing", "bytes": 5_242_880, "files": 12}]
        }),
        "FilePurged" => json!({"id": FILE, "bytes_freed": 48_213, "shares_revoked": 1}),
        "TrashPurge" => json!({"files": 4, "folders": 1}),
        "Me" => json!({
            "tenant_id": TENANT,
            "key": {
                "id": KEY, "label": "billing backend", "mode": "live", "prefix": "fck_live_3f2a",
                "scopes": ["spaces:read", "spaces:write", "folders:read", "folders:write",
                           "files:read", "files:write", "shares:read", "shares:write",
                           "quota:read"],
                "created_at": CREATED
            },
            "plan": {
                "api_access": true, "bytes_limit": 10_737_418_240_i64,
                "links_limit": 100, "max_file_size": -1,
                "rate_limits": {"requests_per_minute": 600, "shares_per_minute": 120,
                                "initiates_per_minute": 300, "imports_per_minute": 30}
            },
            "rate_limit_window_secs": 60
        }),
        _ => return None,
    })
}

/// The example of a body: its schema's, or a one-item list of its items' schema's.
pub fn for_body(schema: &RefOr<Schema>) -> Option<Value> {
    match schema {
        RefOr::Ref(reference) => for_schema(schema_name(&reference.ref_location)),
        RefOr::T(Schema::Array(array)) => match &array.items {
            ArrayItems::RefOrSchema(items) => match items.as_ref() {
                RefOr::Ref(reference) => {
                    for_schema(schema_name(&reference.ref_location)).map(|item| json!([item]))
                }
                RefOr::T(_) => None,
            },
            ArrayItems::False => None,
        },
        RefOr::T(_) => None,
    }
}

fn schema_name(location: &str) -> &str {
    location.rsplit('/').next().unwrap_or(location)
}
