-- SQLite twin of migrations/postgres/0005_trash_retention.sql (the same statements).
-- Finding what has been in the Trash longer than the retention period.
CREATE INDEX files_by_deleted_at ON files (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX folders_by_deleted_at ON folders (deleted_at) WHERE deleted_at IS NOT NULL;
