-- Bulwark catalog, schema version 5: retries of failed tasks, verification of points, the disk paths a point was
-- read from, and restore tasks.
--
-- A task that fails for a reason that may pass (its agent restarted, bulwarkd stopped, the agent lost the server or
-- the NBD connection) is queued again as a new job, `attempt` one higher, `retry_of` naming the job it retries and
-- `start_at` set by the back-off; the failed job keeps its own history.
--
-- `verified_at` is when a verify last read every chunk of the point back; NULL: never.
-- `disk_paths` is a JSON object of target → path on the host when the point was committed, so that a disk moved to
-- another path (a storage migration) is seen; NULL for points from before schema 5.

ALTER TABLE job ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1);
ALTER TABLE job ADD COLUMN retry_of TEXT REFERENCES job(id) ON DELETE SET NULL;
CREATE INDEX job_retry_of ON job(retry_of) WHERE retry_of IS NOT NULL;

ALTER TABLE recovery_point ADD COLUMN verified_at TEXT;
ALTER TABLE recovery_point ADD COLUMN disk_paths TEXT CHECK (disk_paths IS NULL OR json_valid(disk_paths));

-- A restore task runs on the host it writes to (`target_host`), which for a new VM on another host is not the host
-- the VM lives on; NULL for every other task, which runs where its VM is. Its `recovery_point_id` names the point it
-- reads, which retention keeps while the task is queued or running.
ALTER TABLE job ADD COLUMN target_host TEXT;
