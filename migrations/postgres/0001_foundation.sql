-- Tenants and their plans, API keys, spaces, folders, and the files table that folder
-- statistics and space deletion look at.

CREATE TABLE tenants (
    id            uuid PRIMARY KEY,
    name          text        NOT NULL,
    api_access    boolean     NOT NULL,
    bytes_limit   bigint      NOT NULL CHECK (bytes_limit >= -1),
    links_limit   bigint      NOT NULL CHECK (links_limit >= -1),
    max_file_size bigint      NOT NULL CHECK (max_file_size >= -1),
    -- Bytes of completed files not yet purged (infected files leave it when erased).
    bytes_used    bigint      NOT NULL DEFAULT 0 CHECK (bytes_used >= 0),
    -- Bytes declared by uploads initiated but not yet completed or expired.
    bytes_reserved bigint     NOT NULL DEFAULT 0 CHECK (bytes_reserved >= 0),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    tenant_id  uuid        NOT NULL REFERENCES tenants (id),
    label      text        NOT NULL,
    mode       text        NOT NULL CHECK (mode IN ('live', 'test')),
    prefix     text        NOT NULL,
    -- SHA-256 of the whole key; the plaintext is never stored.
    digest     bytea       NOT NULL UNIQUE,
    -- Space-separated scope names.
    scopes     text        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at, id);

CREATE TABLE spaces (
    id         uuid PRIMARY KEY,
    tenant_id  uuid        NOT NULL REFERENCES tenants (id),
    name       text        NOT NULL,
    app        text,
    -- Set when `DELETE /spaces/{id}?purge=true` has started: hidden from every listing
    -- while the worker erases its contents.
    deleting   boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX spaces_by_tenant ON spaces (tenant_id, created_at, id);

CREATE TABLE folders (
    id         uuid PRIMARY KEY,
    tenant_id  uuid        NOT NULL REFERENCES tenants (id),
    space_id   uuid        NOT NULL REFERENCES spaces (id),
    parent_id  uuid        REFERENCES folders (id),
    name       text        NOT NULL,
    deleted_at timestamptz,
    -- The folder whose DELETE put this row in the Trash (itself for the folder deleted),
    -- so a restore brings back exactly what that delete trashed.
    trashed_by uuid,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX folders_by_parent ON folders (space_id, parent_id, created_at, id);
CREATE INDEX folders_trashed_by ON folders (trashed_by) WHERE trashed_by IS NOT NULL;

CREATE TABLE files (
    id              uuid PRIMARY KEY,
    tenant_id       uuid        NOT NULL REFERENCES tenants (id),
    space_id        uuid        NOT NULL REFERENCES spaces (id),
    folder_id       uuid        REFERENCES folders (id),
    original_name   text        NOT NULL,
    mime            text        NOT NULL,
    size            bigint      NOT NULL CHECK (size >= 0),
    sha256          text        NOT NULL,
    -- Server-chosen, never reused; the bytes behind it never change.
    object_key      text        NOT NULL UNIQUE,
    scan_status     text        NOT NULL CHECK (scan_status IN ('pending', 'clean', 'infected', 'failed')),
    status          text        NOT NULL CHECK (status IN ('draft', 'ready', 'quarantined')),
    -- Which scanner and signature version gave the verdict, and what it found.
    scanner         text,
    scan_signature  text,
    scanned_at      timestamptz,
    source_app      text        NOT NULL,
    client_key      text,
    created_by      uuid,
    deleted_at      timestamptz,
    trashed_by      uuid,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX files_by_folder ON files (space_id, folder_id, created_at, id);
CREATE INDEX files_trashed_by ON files (trashed_by) WHERE trashed_by IS NOT NULL;
CREATE INDEX files_by_client_key ON files (tenant_id, source_app, client_key, created_at)
    WHERE client_key IS NOT NULL;
