-- First scans are claimed before any other due job (a new upload waits for its verdict;
-- rescans, deletions and purges can wait): their own slice of the due index.
CREATE INDEX jobs_due_scans ON jobs (run_at, id) WHERE NOT dead AND kind = 'scan';

-- Which claim holds a job: renewing, finishing and failing it check the token, so a
-- worker whose lease lapsed (a pause, a database outage) cannot disturb the claim
-- that took the job over.
ALTER TABLE jobs ADD COLUMN lease_token uuid;
