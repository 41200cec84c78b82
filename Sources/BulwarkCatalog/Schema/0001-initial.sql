-- Bulwark catalog, schema version 1.
--
-- Applied by Catalog on open inside one transaction, which then sets PRAGMA user_version = 1. Never edit a
-- migration that has shipped: add the next numbered file instead.
--
-- Times are UTC text 'YYYY-MM-DD HH:MM:SS.SSS' (GRDB's encoding), so they sort and compare as text.
-- UUIDs (VMs, recovery points, jobs, alerts) are lower-case text.
-- Names of groups and datastores compare case-insensitively, as users expect of names.
-- Recovery points are what Bulwark must never lose: nothing deletes one by cascade (RESTRICT everywhere it is a
-- child), so removing a VM, a datastore or an agent never silently drops points.

CREATE TABLE server_identity (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    server_id   TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE admin_token (
    id          INTEGER PRIMARY KEY,
    digest      BLOB NOT NULL UNIQUE CHECK (length(digest) = 32),   -- SHA-256 of the token; never the token
    label       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE datastore (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    path        TEXT NOT NULL UNIQUE,
    chunk_size  INTEGER NOT NULL
                CHECK (chunk_size BETWEEN 65536 AND 16777216 AND (chunk_size & (chunk_size - 1)) = 0),
    created_at  TEXT NOT NULL
);

CREATE TABLE agent (
    id                       INTEGER PRIMARY KEY,
    host                     TEXT NOT NULL UNIQUE COLLATE NOCASE,
    certificate_fingerprint  TEXT NOT NULL,
    certificate_pem          TEXT NOT NULL,
    enrolled_at              TEXT NOT NULL,
    last_seen_at             TEXT
);

CREATE TABLE enrollment_token (
    id            INTEGER PRIMARY KEY,
    digest        BLOB NOT NULL UNIQUE CHECK (length(digest) = 32),  -- SHA-256 of the token
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT,                                              -- single use: set once, never cleared
    used_by_host  TEXT,
    CHECK ((used_at IS NULL) = (used_by_host IS NULL))
);

-- A VM is its libvirt UUID; host_id follows it as agents report it (live migration moves it). A VM its host no
-- longer reports keeps its row, with host_id NULL, while it is protected or has recovery points.
CREATE TABLE vm (
    uuid                   TEXT PRIMARY KEY,
    host_id                INTEGER REFERENCES agent(id) ON DELETE SET NULL,
    name                   TEXT NOT NULL,
    state                  TEXT NOT NULL,
    guest_agent_answering  INTEGER NOT NULL CHECK (guest_agent_answering IN (0, 1)),
    last_reported_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX vm_host_name ON vm(host_id, name);
CREATE INDEX vm_name ON vm(name);

CREATE TABLE vm_disk (
    vm_uuid         TEXT NOT NULL REFERENCES vm(uuid) ON DELETE CASCADE,
    target          TEXT NOT NULL,        -- vda, sdb, ...
    format          TEXT NOT NULL,        -- qcow2, raw, ...
    capacity_bytes  INTEGER NOT NULL CHECK (capacity_bytes >= 0),
    path            TEXT,                 -- source file or device on the host; NULL for network disks
    PRIMARY KEY (vm_uuid, target)
) WITHOUT ROWID;

CREATE TABLE protection_group (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    datastore_id  INTEGER NOT NULL REFERENCES datastore(id) ON DELETE RESTRICT,
    policy        TEXT NOT NULL CHECK (json_valid(policy)),
    created_at    TEXT NOT NULL,
    modified_at   TEXT NOT NULL
);
CREATE INDEX protection_group_datastore ON protection_group(datastore_id);

-- The primary key on vm_uuid is what makes a VM a member of one group at most. Deleting a group ends its
-- memberships (its points stay); a VM cannot be deleted while it is a member.
CREATE TABLE group_member (
    vm_uuid   TEXT PRIMARY KEY REFERENCES vm(uuid) ON DELETE RESTRICT,
    group_id  INTEGER NOT NULL REFERENCES protection_group(id) ON DELETE CASCADE,
    added_at  TEXT NOT NULL
);
CREATE INDEX group_member_group ON group_member(group_id);

-- Checkpoints are the catalog's record of each VM's change-tracking chain, kept so a chain can be validated and
-- redefined on another host. They go with their VM.
CREATE TABLE checkpoint (
    id          INTEGER PRIMARY KEY,
    vm_uuid     TEXT NOT NULL REFERENCES vm(uuid) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    host        TEXT NOT NULL,            -- where it was made; text so it outlives the agent row
    xml         TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (vm_uuid, name)
);
CREATE INDEX checkpoint_vm_created ON checkpoint(vm_uuid, created_at);

CREATE TABLE recovery_point (
    id                 TEXT PRIMARY KEY,
    vm_uuid            TEXT NOT NULL REFERENCES vm(uuid) ON DELETE RESTRICT,
    group_id           INTEGER REFERENCES protection_group(id) ON DELETE SET NULL,
    datastore_id       INTEGER NOT NULL REFERENCES datastore(id) ON DELETE RESTRICT,
    created_at         TEXT NOT NULL,
    sync_kind          TEXT NOT NULL,
    consistency        TEXT NOT NULL,
    logical_bytes      INTEGER NOT NULL CHECK (logical_bytes >= 0),
    stored_bytes       INTEGER NOT NULL CHECK (stored_bytes >= 0),
    transferred_bytes  INTEGER NOT NULL CHECK (transferred_bytes >= 0),
    state              TEXT NOT NULL,
    retain_until       TEXT NOT NULL,
    checkpoint_name    TEXT
) WITHOUT ROWID;
CREATE INDEX recovery_point_vm_created ON recovery_point(vm_uuid, created_at DESC, id DESC);
CREATE INDEX recovery_point_datastore ON recovery_point(datastore_id);
CREATE INDEX recovery_point_group ON recovery_point(group_id);
CREATE INDEX recovery_point_retain ON recovery_point(retain_until);

-- Jobs outlive what they were about: references are cleared, and subject keeps a readable name.
CREATE TABLE job (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    vm_uuid       TEXT REFERENCES vm(uuid) ON DELETE SET NULL,
    group_id      INTEGER REFERENCES protection_group(id) ON DELETE SET NULL,
    datastore_id  INTEGER REFERENCES datastore(id) ON DELETE SET NULL,
    state         TEXT NOT NULL,
    phase         TEXT,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    ended_at      TEXT,
    error         TEXT,
    progress      REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1)
) WITHOUT ROWID;
CREATE INDEX job_state ON job(state, created_at);
CREATE INDEX job_vm_created ON job(vm_uuid, created_at);
CREATE INDEX job_created ON job(created_at);
CREATE INDEX job_group ON job(group_id);
CREATE INDEX job_datastore ON job(datastore_id);

CREATE TABLE job_log (
    id       INTEGER PRIMARY KEY,
    job_id   TEXT NOT NULL REFERENCES job(id) ON DELETE CASCADE,
    time     TEXT NOT NULL,
    level    TEXT NOT NULL,
    message  TEXT NOT NULL
);
CREATE INDEX job_log_job ON job_log(job_id, id);

CREATE TABLE alert (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    subject      TEXT NOT NULL,
    message      TEXT NOT NULL,
    raised_at    TEXT NOT NULL,
    resolved_at  TEXT
) WITHOUT ROWID;
-- One active alert per kind and subject: raising it again updates the one that is open.
CREATE UNIQUE INDEX alert_active ON alert(kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX alert_raised ON alert(raised_at);
