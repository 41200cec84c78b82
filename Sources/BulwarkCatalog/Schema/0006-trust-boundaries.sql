-- Bulwark catalog, schema version 6: trust boundaries between the server and its hosts.
--
-- An enrollment token is issued for one host name (`host`), and only a token issued with `reenroll` may replace
-- the certificate of a host that is enrolled already. Tokens made before version 6 have no host and enroll nothing.
--
-- `vm_claim` records a VM that a second live host reports while the catalog keeps it with its own host: the VM does
-- not move on one host's word. The claim goes when the claimant stops reporting it, when the VM's host stops (then
-- the claimant's next report takes the VM), or when an admin moves the VM (`bulwark vm move`).

ALTER TABLE enrollment_token ADD COLUMN host TEXT COLLATE NOCASE;
ALTER TABLE enrollment_token ADD COLUMN reenroll INTEGER NOT NULL DEFAULT 0 CHECK (reenroll IN (0, 1));

CREATE TABLE vm_claim (
    vm_uuid        TEXT NOT NULL REFERENCES vm(uuid) ON DELETE CASCADE,
    host_id        INTEGER NOT NULL REFERENCES agent(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,        -- the name the claimant reports, for the alert and `vm show`
    first_seen_at  TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    PRIMARY KEY (vm_uuid, host_id)
);
CREATE INDEX vm_claim_host ON vm_claim(host_id);

-- A lease keeps a recovery point from retention and from `--delete-data` while bulwarkd reads it (an NBD export,
-- a browse, an item-level copy). Taking one and deleting a point are each one transaction, so neither can slip
-- between the other's check and its change. Leases belong to one bulwarkd process: it clears them when it starts.
-- Restore tasks need none: their job row (`recovery_point_id`, queued or running) is their lease.
CREATE TABLE point_lease (
    id                 TEXT PRIMARY KEY,
    recovery_point_id  TEXT NOT NULL REFERENCES recovery_point(id) ON DELETE RESTRICT,
    holder             TEXT NOT NULL,     -- what reads it: "export 1a2b3c4d", "browse", "item copy <job>"
    taken_at           TEXT NOT NULL
);
CREATE INDEX point_lease_point ON point_lease(recovery_point_id);
