-- SQLite twin of migrations/postgres/0001_foundation.sql: ids are 16-byte BLOBs,
-- timestamps RFC 3339 TEXT (UTC, so they sort as text), booleans 0/1.

-- Tenants and their plans, API keys, spaces, folders, and the files table that folder
-- statistics and space deletion look at.

CREATE TABLE tenants (
    id            BLOB PRIMARY KEY,
    name          TEXT NOT NULL,
    api_access    INTEGER NOT NULL,
    bytes_limit   INTEGER NOT NULL CHECK (bytes_limit >= -1),
    links_limit   INTEGER NOT NULL CHECK (links_limit >= -1),
    max_file_size INTEGER NOT NULL CHECK (max_file_size >= -1),
    -- Bytes of completed files not yet purged (infected files leave it when erased).
    bytes_used    INTEGER NOT NULL DEFAULT 0 CHECK (bytes_used >= 0),
    -- Bytes declared by uploads initiated but not yet completed or expired.
    bytes_reserved INTEGER NOT NULL DEFAULT 0 CHECK (bytes_reserved >= 0),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE api_keys (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    label      TEXT NOT NULL,
    mode       TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    prefix     TEXT NOT NULL,
    -- SHA-256 of the whole key; the plaintext is never stored.
    digest     BLOB NOT NULL UNIQUE,
    -- Space-separated scope names.
    scopes     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at, id);

CREATE TABLE spaces (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    app        TEXT,
    -- Set when `DELETE /spaces/{id}?purge=true` has started: hidden from every listing
    -- while the worker erases its contents.
    deleting   INTEGER NOT NULL DEFAULT false,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX spaces_by_tenant ON spaces (tenant_id, created_at, id);

CREATE TABLE folders (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    space_id   BLOB NOT NULL REFERENCES spaces (id),
    parent_id  BLOB REFERENCES folders (id),
    name       TEXT NOT NULL,
    deleted_at TEXT,
    -- The folder whose DELETE put this row in the Trash (itself for the folder deleted),
    -- so a restore brings back exactly what that delete trashed.
    trashed_by BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX folders_by_parent ON folders (space_id, parent_id, created_at, id);
CREATE INDEX folders_trashed_by ON folders (trashed_by) WHERE trashed_by IS NOT NULL;

CREATE TABLE files (
    id              BLOB PRIMARY KEY,
    tenant_id       BLOB NOT NULL REFERENCES tenants (id),
    space_id        BLOB NOT NULL REFERENCES spaces (id),
    folder_id       BLOB REFERENCES folders (id),
    original_name   TEXT NOT NULL,
    mime            TEXT NOT NULL,
    size            INTEGER NOT NULL CHECK (size >= 0),
    sha256          TEXT NOT NULL,
    -- Server-chosen, never reused; the bytes behind it never change.
    object_key      TEXT NOT NULL UNIQUE,
    scan_status     TEXT NOT NULL CHECK (scan_status IN ('pending', 'clean', 'infected', 'failed')),
    status          TEXT NOT NULL CHECK (status IN ('draft', 'ready', 'quarantined')),
    -- Which scanner and signature version gave the verdict, and what it found.
    scanner         TEXT,
    scan_signature  TEXT,
    scanned_at      TEXT,
    source_app      TEXT NOT NULL,
    client_key      TEXT,
    created_by      BLOB,
    deleted_at      TEXT,
    trashed_by      BLOB,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX files_by_folder ON files (space_id, folder_id, created_at, id);
CREATE INDEX files_trashed_by ON files (trashed_by) WHERE trashed_by IS NOT NULL;
CREATE INDEX files_by_client_key ON files (tenant_id, source_app, client_key, created_at)
    WHERE client_key IS NOT NULL;

-- The change feed that PostgreSQL deployments get from LISTEN/NOTIFY: every process
-- polls rows newer than the last it saw and evicts the cached entries they name. SQLite
-- has a single writer, so sequence numbers become visible in order and none is missed.
CREATE TABLE change_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    topic      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
