-- Each tenant's usage per app namespace as running counters, kept in the same
-- transactions as `tenants.bytes_used`, so `GET /quota` reads a few rows instead of
-- summing every file. Backfilled from the rows with the quota rule (an infected file's
-- bytes no longer count).
CREATE TABLE app_usage (
    tenant_id BLOB    NOT NULL REFERENCES tenants (id),
    app       TEXT    NOT NULL,
    bytes     INTEGER NOT NULL,
    files     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, app)
);
INSERT INTO app_usage (tenant_id, app, bytes, files)
SELECT tenant_id, source_app, SUM(size), COUNT(*) FROM files
WHERE scan_status <> 'infected'
GROUP BY tenant_id, source_app;
