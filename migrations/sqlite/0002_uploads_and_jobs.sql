-- SQLite twin of migrations/postgres/0002_uploads_and_jobs.sql.

-- Direct-to-store uploads and the job queue.

-- One row per initiated upload. The declared size stays reserved against the tenant's
-- storage pool while the upload is open; `complete` turns it into used bytes, expiry
-- or rejection releases it.
CREATE TABLE uploads (
    file_id        BLOB PRIMARY KEY,
    tenant_id      BLOB        NOT NULL REFERENCES tenants (id),
    space_id       BLOB        NOT NULL REFERENCES spaces (id),
    -- No foreign key: the folder may be purged while the upload is open; the file then
    -- lands at the space root.
    folder_id      BLOB,
    object_key     TEXT        NOT NULL UNIQUE,
    original_name  TEXT        NOT NULL,
    content_type   TEXT        NOT NULL,
    size           INTEGER      NOT NULL CHECK (size >= 0),
    source_app     TEXT        NOT NULL,
    multipart_id   TEXT,
    part_size      INTEGER,
    state          TEXT        NOT NULL CHECK (state IN ('open', 'completed', 'expired', 'rejected')),
    -- Fingerprint of the completing request: a repeat with the same data is answered
    -- with the same file, one with different data is a conflict.
    completion     TEXT,
    created_by     BLOB        NOT NULL,
    expires_at     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX uploads_open_by_expiry ON uploads (expires_at) WHERE state = 'open';
CREATE INDEX uploads_by_space ON uploads (space_id);

-- Background work, inserted in the same transaction as the change that needs it.
-- A claimed job is leased until `locked_until`; a worker that dies lets the lease
-- lapse and another worker takes the job again. Jobs are idempotent.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT        NOT NULL,
    payload      TEXT        NOT NULL,
    run_at       TEXT NOT NULL,
    attempts     INTEGER     NOT NULL DEFAULT 0,
    locked_until TEXT,
    last_error   TEXT,
    -- Gave up after too many attempts; kept for the operator to inspect.
    dead         INTEGER     NOT NULL DEFAULT false,
    created_at   TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE NOT dead;
