-- Share links (raw links). Only a digest of each token is stored.
CREATE TABLE shares (
    id             uuid PRIMARY KEY,
    tenant_id      uuid        NOT NULL REFERENCES tenants (id),
    file_id        uuid        NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    -- SHA-256 of the token; the token itself is shown once, at creation.
    token_digest   bytea       NOT NULL UNIQUE,
    permission     text        NOT NULL CHECK (permission IN ('view', 'download')),
    -- NULL: a permanent public link, not counted against links_limit.
    expires_at     timestamptz,
    max_downloads  bigint      CHECK (max_downloads >= 1),
    download_count bigint      NOT NULL DEFAULT 0,
    -- Argon2id PHC string; NULL when the link has no password.
    password_hash  text,
    revoked_at     timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX shares_by_file ON shares (file_id, created_at, id);
CREATE INDEX shares_by_tenant ON shares (tenant_id, created_at, id);
-- Counting a tenant's live expiring links.
CREATE INDEX shares_expiring ON shares (tenant_id, expires_at)
    WHERE expires_at IS NOT NULL AND revoked_at IS NULL;
