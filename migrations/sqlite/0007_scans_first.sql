-- First scans are claimed before any other due job (a new upload waits for its verdict;
-- rescans, deletions and purges can wait): their own slice of the due index.
CREATE INDEX jobs_due_scans ON jobs (run_at, id) WHERE NOT dead AND kind = 'scan';
