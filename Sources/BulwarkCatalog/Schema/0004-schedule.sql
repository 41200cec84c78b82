-- Bulwark catalog, schema version 4: what the scheduler has acted on.
--
-- One row per protected VM and kind of scheduled run (sync, express-full, consistency-check): the slot the last
-- job of that kind was queued for (UTC). A slot at or before it is settled, so a restart, a clock that jumps back
-- or a pass that runs twice never queues the same slot again, and slots missed while bulwarkd was down run once.

CREATE TABLE schedule_state (
    vm_uuid  TEXT NOT NULL REFERENCES vm(uuid) ON DELETE CASCADE,
    run      TEXT NOT NULL CHECK (run IN ('sync', 'express-full', 'consistency-check')),
    slot     TEXT NOT NULL,
    PRIMARY KEY (vm_uuid, run)
) WITHOUT ROWID;
