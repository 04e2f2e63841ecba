-- 0003: as state/migrations/0003_groups.sql: directory groups pushed to the
-- platform as groups (groups.push), one row per group keyed by its stable
-- directory ID; their changes are in the journal (ops group-create,
-- group-adopt, group-update, group-delete; user_id the group's ID).

CREATE TABLE groups (
    id           TEXT    COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
    platform_id  TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'deleted')),
    name         TEXT    NOT NULL DEFAULT '',
    dn           TEXT    NOT NULL DEFAULT '',
    members_hash TEXT    NOT NULL DEFAULT '',
    members_json TEXT,
    first_seen   TEXT,
    last_seen    TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX groups_platform_id ON groups (platform_id) WHERE platform_id <> '';
