-- Bulwark catalog, schema version 2: jobs an agent runs (syncs and consistency checks of one VM).
--
-- A task is a job with `parameters`; it is queued for a VM, claimed by the agent of the host the VM lives on
-- (`host` is set then), reports progress and a heartbeat while it runs, and ends by committing a recovery point
-- (the job and the point change in one transaction) or by failing. An admin's cancel of a running task only sets
-- `cancel_requested`: the agent stops and finishes the task itself, so nothing is cut off half-written.

ALTER TABLE job ADD COLUMN host TEXT;                       -- the agent host the task runs on; text, like checkpoint.host
ALTER TABLE job ADD COLUMN parameters TEXT CHECK (parameters IS NULL OR json_valid(parameters));
ALTER TABLE job ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1));
ALTER TABLE job ADD COLUMN bytes_total INTEGER CHECK (bytes_total >= 0);
ALTER TABLE job ADD COLUMN bytes_scanned INTEGER CHECK (bytes_scanned >= 0);
ALTER TABLE job ADD COLUMN bytes_sent INTEGER CHECK (bytes_sent >= 0);
-- Pruning a point clears the reference; the job keeps its history.
ALTER TABLE job ADD COLUMN recovery_point_id TEXT REFERENCES recovery_point(id) ON DELETE SET NULL;
ALTER TABLE job ADD COLUMN heartbeat_at TEXT;
-- Set by the agent's first call about the task (status, base, chunks, commit): proof that the claim reached it. A
-- poll whose agent died while it waited can still claim a task (the server cannot see the dead connection until
-- it writes); such a task is queued again instead of failed when the agent's next poll does not list it.
ALTER TABLE job ADD COLUMN acknowledged INTEGER NOT NULL DEFAULT 0 CHECK (acknowledged IN (0, 1));

-- What an agent's poll looks for: queued tasks by age, and the running tasks of one host.
CREATE INDEX job_task_queue ON job(state, created_at) WHERE parameters IS NOT NULL;
CREATE INDEX job_host_state ON job(host, state) WHERE host IS NOT NULL;
CREATE INDEX job_recovery_point ON job(recovery_point_id) WHERE recovery_point_id IS NOT NULL;
