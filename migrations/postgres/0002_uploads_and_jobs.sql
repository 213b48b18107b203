-- Direct-to-store uploads and the job queue.

-- One row per initiated upload. The declared size stays reserved against the tenant's
-- storage pool while the upload is open; `complete` turns it into used bytes, expiry
-- or rejection releases it.
CREATE TABLE uploads (
    file_id        uuid PRIMARY KEY,
    tenant_id      uuid        NOT NULL REFERENCES tenants (id),
    space_id       uuid        NOT NULL REFERENCES spaces (id),
    -- No foreign key: the folder may be purged while the upload is open; the file then
    -- lands at the space root.
    folder_id      uuid,
    object_key     text        NOT NULL UNIQUE,
    original_name  text        NOT NULL,
    content_type   text        NOT NULL,
    size           bigint      NOT NULL CHECK (size >= 0),
    source_app     text        NOT NULL,
    multipart_id   text,
    part_size      bigint,
    state          text        NOT NULL CHECK (state IN ('open', 'completed', 'expired', 'rejected')),
    -- Fingerprint of the completing request: a repeat with the same data is answered
    -- with the same file, one with different data is a conflict.
    completion     text,
    created_by     uuid        NOT NULL,
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX uploads_open_by_expiry ON uploads (expires_at) WHERE state = 'open';
CREATE INDEX uploads_by_space ON uploads (space_id);

-- Background work, inserted in the same transaction as the change that needs it.
-- A claimed job is leased until `locked_until`; a worker that dies lets the lease
-- lapse and another worker takes the job again. Jobs are idempotent.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text        NOT NULL,
    payload      text        NOT NULL,
    run_at       timestamptz NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    locked_until timestamptz,
    last_error   text,
    -- Gave up after too many attempts; kept for the operator to inspect.
    dead         boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE NOT dead;
