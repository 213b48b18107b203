-- SQLite twin of migrations/postgres/0004_rate_limits.sql.

-- Per-key request budgets shared by every API instance, and plan overrides.

-- Requests counted per key, bucket (`requests`, `shares`, `initiates`, `imports`) and
-- fixed window. Rows of past windows are deleted by the API instances.
CREATE TABLE rate_counters (
    key_id       BLOB    NOT NULL,
    bucket       TEXT    NOT NULL,
    window_start INTEGER  NOT NULL,
    count        INTEGER  NOT NULL,
    PRIMARY KEY (key_id, bucket, window_start)
);

-- Per-minute limits of the tenant's plan; NULL means the server default, -1 unlimited.
ALTER TABLE tenants ADD COLUMN requests_per_minute INTEGER CHECK (requests_per_minute >= -1);
ALTER TABLE tenants ADD COLUMN shares_per_minute INTEGER CHECK (shares_per_minute >= -1);
ALTER TABLE tenants ADD COLUMN initiates_per_minute INTEGER CHECK (initiates_per_minute >= -1);
ALTER TABLE tenants ADD COLUMN imports_per_minute INTEGER CHECK (imports_per_minute >= -1);
