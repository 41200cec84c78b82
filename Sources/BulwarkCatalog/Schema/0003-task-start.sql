-- Bulwark catalog, schema version 3: tasks that wait for their time.
--
-- A group's `--replica-creation at:TIME` queues each new member's initial replica to start then (UTC, like every
-- time in the catalog). An agent's poll claims only tasks whose start time has come; NULL means at once.

ALTER TABLE job ADD COLUMN start_at TEXT;
