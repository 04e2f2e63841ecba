-- 0003: directory groups pushed to the platform as groups (groups.push).
--
-- groups: one row per directory group dirsync pushed, keyed by the group's
-- stable directory ID (the platform group's externalId). members_json holds
-- the platform ids of the accounts dirsync made members (a sorted JSON
-- array), members_hash their digest. Their changes are in the journal, with
-- ops group-create, group-adopt, group-update, group-delete; the journal's
-- user_id holds the group's ID and username its name.
CREATE TABLE groups (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
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
) WITHOUT ROWID;

CREATE INDEX groups_platform_id ON groups (platform_id) WHERE platform_id <> '';
