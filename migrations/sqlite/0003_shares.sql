-- SQLite twin of migrations/postgres/0003_shares.sql.

-- Share links (raw links). Only a digest of each token is stored.
CREATE TABLE shares (
    id             BLOB PRIMARY KEY,
    tenant_id      BLOB        NOT NULL REFERENCES tenants (id),
    file_id        BLOB        NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    -- SHA-256 of the token; the token itself is shown once, at creation.
    token_digest   BLOB       NOT NULL UNIQUE,
    permission     TEXT        NOT NULL CHECK (permission IN ('view', 'download')),
    -- NULL: a permanent public link, not counted against links_limit.
    expires_at     TEXT,
    max_downloads  INTEGER      CHECK (max_downloads >= 1),
    download_count INTEGER      NOT NULL DEFAULT 0,
    -- Argon2id PHC string; NULL when the link has no password.
    password_hash  TEXT,
    revoked_at     TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX shares_by_file ON shares (file_id, created_at, id);
CREATE INDEX shares_by_tenant ON shares (tenant_id, created_at, id);
-- Counting a tenant's live expiring links.
CREATE INDEX shares_expiring ON shares (tenant_id, expires_at)
    WHERE expires_at IS NOT NULL AND revoked_at IS NULL;
